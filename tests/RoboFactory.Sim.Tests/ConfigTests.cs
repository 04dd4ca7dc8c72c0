using RoboFactory.Planning;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Tests;

public class ConfigTests
{
    private static ConfigException Bad(string yaml) =>
        Assert.Throws<ConfigException>(() => TaskConfigLoader.Parse(yaml, "bad.yaml"));

    [Fact]
    public void LiftBarrierConfigHasTheUpstreamLayout()
    {
        var (cfg, _) = TaskRegistry.Load("LiftBarrier-rf");
        Assert.Equal("LiftBarrier-rf", cfg.EnvId);
        Assert.Equal(2, cfg.Agents.Count);
        Assert.Equal(new Vec3(0, -0.75, 0), cfg.Agents[0].Base.P);
        Assert.Equal(System.Math.PI / 2, cfg.Agents[0].Base.Q.Yaw, 9);
        Assert.Equal(-System.Math.PI / 2, cfg.Agents[1].Base.Q.Yaw, 9);
        Assert.Equal(-5 * System.Math.PI / 8, cfg.Agents[1].InitQpos[3], 12);
        Assert.Equal(0.15, cfg.Success["lift_height"]);
        Assert.All(cfg.Cameras.Where(c => c.Name != TaskConfig.RenderCameraName), c => Assert.Equal((320, 240, 90.0), (c.Width, c.Height, c.FovyDegrees)));
        Assert.Equal(0.1, cfg.Object("barrier").Mass);
        Assert.Equal(new Vec3(0.3, 0.05, 0), cfg.Object("barrier").RandomizeP);
    }

    [Fact]
    public void LookAtCameraPointsAtItsTarget()
    {
        var pose = TaskConfigLoader.LookAt(new Vec3(-0.5, 0.115, 0.4), new Vec3(0, -0.235, 0.1));
        var forward = pose.Q.Rotate(-Vec3.UnitZ); // MuJoCo cameras look along -z
        var expected = (new Vec3(0, -0.235, 0.1) - new Vec3(-0.5, 0.115, 0.4)).Normalized();
        Assert.True((forward - expected).Length < 1e-9);
        Assert.True(pose.Q.Rotate(Vec3.UnitY).Z > 0, "image up is world up");
    }

    [Fact]
    public void SapienCameraPoseLooksAlongItsXAxis()
    {
        var sapien = new Pose(Vec3.Zero, Quat.FromYaw(System.Math.PI / 2)); // SAPIEN camera looking along world +y
        var mj = TaskConfigLoader.SapienCameraToMuJoCo(sapien);
        Assert.True((mj.Q.Rotate(-Vec3.UnitZ) - Vec3.UnitY).Length < 1e-9);
        Assert.True((mj.Q.Rotate(Vec3.UnitY) - Vec3.UnitZ).Length < 1e-9);
    }

    private static readonly string Good = TestScenes.OneArmCube();

    [Fact]
    public void EnvIdMustBeTheNameWithTheRfSuffix()
    {
        var e = Bad(Good.Replace("env_id: OneArmCube-rf", "env_id: OneArmCube-v1"));
        Assert.Contains("env_id", e.Message);
        Assert.Contains("OneArmCube-rf", e.Message);
    }

    [Fact]
    public void TheTestSceneItselfIsValid() => Assert.Equal("OneArmCube", TaskConfigLoader.Parse(Good, "ok.yaml").Name);

    [Fact]
    public void MissingKeyIsNamed()
    {
        var e = Bad(Good.Replace("instruction: pick up the cube\n", ""));
        Assert.Contains("bad.yaml", e.Message);
        Assert.Contains("'instruction'", e.Message);
    }

    [Fact]
    public void WrongTypeNamesTheKeyPathAndTheExpectation()
    {
        var e = Bad(Good.Replace("p: [-0.615, 0, 0]", "p: [-0.615, zero, 0]"));
        Assert.Contains("agents[0].base.p", e.Message);
        Assert.Contains("expected a list of 3 numbers", e.Message);
        Assert.Matches(@"bad\.yaml:\d+:", e.Message);
    }

    [Fact]
    public void UnknownKeyIsRejected()
    {
        var e = Bad(Good.Replace("mass: 0.05", "mass: 0.05\n    colour: red"));
        Assert.Contains("objects[0].colour", e.Message);
        Assert.Contains("unknown key", e.Message);
    }

    [Fact]
    public void BadGeomTypeListsTheChoices()
    {
        var e = Bad(Good.Replace("type: box", "type: mesh"));
        Assert.Contains("objects[0].geoms[0].type", e.Message);
        Assert.Contains("box, cylinder, capsule, sphere", e.Message);
    }

    [Fact]
    public void InitialJointsOutsideThePandaLimitsAreRejected()
    {
        var e = Bad(Good.Replace("-5*pi/8", "0.5"));
        Assert.Contains("joint 4", e.Message);
        Assert.Contains("init_qpos", e.Message);
    }

    [Fact]
    public void MissingHeadCameraIsRejected()
    {
        var e = Bad(Good.Replace("head_camera_agent0", "side_camera"));
        Assert.Contains("head_camera_agent0", e.Message);
    }

    [Fact]
    public void InvalidYamlReportsTheLine()
    {
        var e = Bad("name: [unclosed\nenv_id: x");
        Assert.Contains("invalid YAML", e.Message);
    }

    [Fact]
    public void MissingSuccessThresholdIsNamedWhenTheTaskNeedsIt()
    {
        string yaml = File.ReadAllText(TestScenes.RepoFile("configs", "table", "lift_barrier.yaml")).Replace("lift_height: 0.15", "lift: 0.15");
        string path = Path.Combine(Path.GetTempPath(), $"lb_{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        try
        {
            var e = Assert.Throws<ConfigException>(() => TaskRegistry.Load("LiftBarrier", path));
            Assert.Contains("success.lift_height", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void UnknownTaskListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => TaskRegistry.Get("LiftBarrel"));
        Assert.Contains("LiftBarrier", e.Message);
    }

    [Fact]
    public void PiExpressionsAreAccepted()
    {
        var cfg = TaskConfigLoader.Parse(Good.Replace("yaw: 0", "yaw: -3*pi/4"), "ok.yaml");
        Assert.Equal(-3 * System.Math.PI / 4, cfg.Agents[0].Base.Q.Yaw, 9);
    }
}
