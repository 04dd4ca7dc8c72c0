using RoboFactory.Core.Imaging;
using RoboFactory.Planning;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Interop;
using RoboFactory.Sim.Math;
using RoboFactory.Sim.Robots;

namespace RoboFactory.Sim.Tests;

public class EnvTests
{
    private static double[][] Hold(MultiAgentEnv env, double gripper = 1) =>
        Enumerable.Range(0, env.AgentCount).Select(i => env.Task.Agents[i].InitQpos.Take(7).Append(gripper).ToArray()).ToArray();

    [Fact]
    public void ForwardKinematicsMatchesThePublishedPandaFacts()
    {
        using var env = TestScenes.Env(TestScenes.OneArmCube(cubeX: 0.3));
        env.Reset(0);
        var basePose = env.BasePose(0);
        // all joints at zero (joint 4's limit is only enforced by the solver, not by forward kinematics)
        var qpos = env.Data.Qpos;
        foreach (int a in env.Scene.Arms[0].QposAddress.Take(7)) qpos[a] = 0;
        env.Data.Forward();
        var flange = basePose.Inverse() * env.Data.BodyPose(env.Scene.Arms[0].HandBody);
        Assert.Equal(0.088, flange.P.X, 6);
        Assert.Equal(0.0, flange.P.Y, 6);
        Assert.Equal(0.926, flange.P.Z, 6);
        Assert.Equal(-1.0, flange.Q.Rotate(Vec3.UnitZ).Z, 6); // pointing down

        env.Reset(0); // upstream rest pose: TCP at (0.615, 0, 0.170) in the base frame, hand pointing down
        var tcp = basePose.Inverse() * env.TcpPose(0);
        Assert.Equal(0.615, tcp.P.X, 3);
        Assert.Equal(0.0, tcp.P.Y, 3);
        Assert.Equal(0.170, tcp.P.Z, 3);
        Assert.Equal(-1.0, tcp.Q.Rotate(Vec3.UnitZ).Z, 4);
    }

    [Fact]
    public void SameSeedAndActionsGiveBitIdenticalStatesAndImages()
    {
        (ulong Hash, byte[][] Images) Run(int seed)
        {
            using var env = TaskRegistry.CreateEnv("LiftBarrier");
            env.Reset(seed);
            var rng = new EpisodeRng(99);
            StepResult? r = null;
            for (int t = 0; t < 15; t++)
            {
                var actions = Hold(env);
                foreach (var a in actions) for (int j = 0; j < 7; j++) a[j] += 0.2 * (rng.NextDouble() - 0.5);
                r = env.Step(actions);
            }
            var o = r!.Observation.Agents;
            return (env.StateHash(), [o[0].HeadCamera!.Pixels, o[0].WristCamera!.Pixels, o[1].HeadCamera!.Pixels, o[0].GlobalCamera!.Pixels]);
        }
        var a = Run(5);
        var b = Run(5);
        var c = Run(6);
        Assert.Equal(a.Hash, b.Hash);
        for (int i = 0; i < a.Images.Length; i++) Assert.True(a.Images[i].AsSpan().SequenceEqual(b.Images[i]), $"image {i} differs");
        Assert.NotEqual(a.Hash, c.Hash);
    }

    [Fact]
    public void ObjectLayoutIsDrawnFromTheSeedWithinTheConfiguredRange()
    {
        using var env = TaskRegistry.CreateEnv("LiftBarrier", new EnvOptions(false));
        var barrier = env.Task.Object("barrier");
        var seen = new HashSet<double>();
        for (int seed = 0; seed < 20; seed++)
        {
            env.Reset(seed);
            var p = env.ObjectPose("barrier").P;
            Assert.InRange(p.X, barrier.Pose.P.X, barrier.Pose.P.X + barrier.RandomizeP.X);
            Assert.InRange(p.Y, barrier.Pose.P.Y, barrier.Pose.P.Y + barrier.RandomizeP.Y);
            Assert.Equal(barrier.Pose.P.Z, p.Z, 9);
            seen.Add(p.X);
        }
        Assert.Equal(20, seen.Count);
        env.Reset(3);
        var first = env.ObjectPose("barrier").P;
        env.Reset(4);
        env.Reset(3);
        Assert.Equal(first, env.ObjectPose("barrier").P);
    }

    [Fact]
    public void DroppedObjectComesToRestOnTheTable()
    {
        using var env = TestScenes.Env(TestScenes.OneArmCube(cubeX: 0.2, cubeY: 0.3, cubeZ: 0.3));
        env.Reset(0);
        for (int t = 0; t < 40; t++) env.Step(Hold(env));
        var cube = env.ObjectPose("cube");
        Assert.Equal(0.02, cube.P.Z, 2); // half-size 0.02 resting on z = 0
        Assert.InRange(cube.P.Z, 0.015, 0.0205);
        int dof = env.Scene.Object("cube").DofAddress;
        for (int k = 0; k < 6; k++) Assert.InRange(env.Data.Qvel[dof + k], -0.01, 0.01);
    }

    [Fact]
    public void EachArmTracksAJointTargetWithin001RadIn2Seconds()
    {
        using var env = TaskRegistry.CreateEnv("LiftBarrier", new EnvOptions(false));
        env.Reset(0);
        double[] offset = [0.3, -0.25, 0.2, 0.3, -0.3, 0.2, -0.4];
        var targets = Hold(env);
        foreach (var a in targets) for (int j = 0; j < 7; j++) a[j] += offset[j];
        for (int t = 0; t < 40; t++) env.Step(targets); // 2 s at 20 Hz
        for (int i = 0; i < env.AgentCount; i++)
        {
            var q = env.ArmQpos(i);
            for (int j = 0; j < 7; j++)
                Assert.True(System.Math.Abs(q[j] - targets[i][j]) < 0.01, $"agent {i} joint {j + 1}: {q[j]:0.0000} vs target {targets[i][j]:0.0000}");
        }
    }

    /// <summary>The one-arm scene with its cube centred on the rest-pose TCP (0, 0, 0.17), on a kinematic pedestal.</summary>
    static string CubeOnPedestal()
    {
        const string pedestal = """
              - name: pedestal
                kind: kinematic
                pose: {p: [0, 0, 0]}
                geoms:
                  - {type: box, size: [0.015, 0.015, 0.075], pos: [0, 0, 0.075]}
            """;
        return TestScenes.OneArmCube(cubeZ: 0.172).Replace("cameras:", pedestal.TrimEnd() + "\ncameras:");
    }

    [Fact]
    public void GripperClosesOnABoxAndHoldsItWhenLifted()
    {
        using var env = TestScenes.Env(CubeOnPedestal());
        env.Reset(0);
        for (int t = 0; t < 10; t++) env.Step(Hold(env)); // settle
        for (int t = 0; t < 20; t++) env.Step(Hold(env, gripper: -1)); // close
        Assert.True(env.IsGrasping(0, "cube"), "both fingers should touch the cube");
        double z0 = env.ObjectPose("cube").P.Z;
        var lift = Hold(env, gripper: -1);
        lift[0][1] -= 0.35; // shoulder back: the hand rises
        lift[0][3] += 0.15;
        for (int t = 0; t < 60; t++) env.Step(lift);
        var cube = env.ObjectPose("cube").P;
        Assert.True(cube.Z > z0 + 0.08, $"cube rose from {z0:0.000} to {cube.Z:0.000}");
        Assert.True((cube - env.TcpPose(0).P).Length < 0.02, "cube stays between the fingers");
        Assert.True(env.IsGrasping(0, "cube"));
        double width = env.ArmQpos(0)[7] + env.ArmQpos(0)[8];
        Assert.InRange(width, 0.032, 0.041); // fingers stopped by the 4 cm cube (soft contacts: a few mm of squeeze)
    }

    /// <summary>physics.noslip_iterations reaches MuJoCo (0 is refused: omit the key to leave the noslip solver off) and
    /// a grasp of upstream's 64 g cube at friction 0.3 holds with it while lifted. (This short lift holds without it
    /// too: the slips it prevents happen over long carries, measured on the tasks' experts in docs/tasks.md.)</summary>
    [Fact]
    public void NoslipIterations_AreParsed_AndAGraspOfUpstreamsCubeHolds()
    {
        string yaml = CubeOnPedestal()
            .Replace("mass: 0.05", "mass: 0.064").Replace("friction: 0.5", "friction: 0.3")
            .Replace("physics: {control_freq: 20, substeps: 20}", "physics: {control_freq: 20, substeps: 20, noslip_iterations: 10}");
        Assert.Equal(10, RoboFactory.Sim.Config.TaskConfigLoader.Parse(yaml, "t.yaml").Physics.NoslipIterations);
        using var env = TestScenes.Env(yaml);
        env.Reset(0);
        for (int t = 0; t < 10; t++) env.Step(Hold(env));
        for (int t = 0; t < 20; t++) env.Step(Hold(env, gripper: -1));
        Assert.True(env.IsGrasping(0, "cube"));
        double z0 = env.ObjectPose("cube").P.Z;
        var lift = Hold(env, gripper: -1);
        lift[0][1] -= 0.35;
        lift[0][3] += 0.15;
        for (int t = 0; t < 60; t++) env.Step(lift);
        var cube = env.ObjectPose("cube").P;
        Assert.True(cube.Z > z0 + 0.08, $"cube rose from {z0:0.000} to {cube.Z:0.000}");
        Assert.True((cube - env.TcpPose(0).P).Length < 0.02, $"cube slid {(cube - env.TcpPose(0).P).Length:0.000} m from the TCP");
        Assert.True(env.IsGrasping(0, "cube"));
        var bad = Assert.Throws<RoboFactory.Sim.Config.ConfigException>(() => RoboFactory.Sim.Config.TaskConfigLoader.Parse(yaml.Replace("noslip_iterations: 10", "noslip_iterations: 0"), "t.yaml"));
        Assert.Contains("noslip_iterations", bad.Message);
    }

    [Fact]
    public void ImagesAreNotBlankAndTheBarrierIsVisibleInBothHeadCameras()
    {
        using var env = TaskRegistry.CreateEnv("LiftBarrier");
        var obs = env.Reset(0);
        foreach (var agent in obs.Agents)
        {
            foreach (var (name, img) in new[] { ("head", agent.HeadCamera!), ("global", agent.GlobalCamera!), ("wrist", agent.WristCamera!) })
            {
                Assert.Equal(320 * 240 * 3, img.Pixels.Length);
                int colours = Enumerable.Range(0, img.Pixels.Length / 3).Select(k => (img.Pixels[3 * k] << 16) | (img.Pixels[3 * k + 1] << 8) | img.Pixels[3 * k + 2]).Distinct().Count();
                Assert.True(colours > 20, $"{name} camera looks blank ({colours} distinct colours)");
            }
            int yellow = YellowPixels(agent.HeadCamera!);
            Assert.True(yellow > 300, $"head camera: only {yellow} barrier pixels");
        }
        Assert.True(YellowPixels(obs.Agents[0].GlobalCamera!) > 100);
    }

    private static int YellowPixels(Image8 img)
    {
        int n = 0;
        for (int i = 0; i < img.Pixels.Length; i += 3)
            if (img.Pixels[i] > 170 && img.Pixels[i + 1] > 110 && img.Pixels[i + 2] < 70 && img.Pixels[i] - img.Pixels[i + 2] > 120) n++;
        return n;
    }

    [Fact]
    public void LiftBarrierSucceedsOnlyWhenTheBarrierIsAboveTheThreshold()
    {
        using var env = TaskRegistry.CreateEnv("LiftBarrier", new EnvOptions(false));
        env.Reset(0);
        Assert.False(env.Logic.IsSuccess(env));
        int a = env.Scene.Object("barrier").QposAddress;
        env.Data.Qpos[a + 2] = 0.149;
        env.Data.Forward();
        Assert.False(env.Logic.IsSuccess(env));
        env.Data.Qpos[a + 2] = 0.151;
        env.Data.Forward();
        Assert.True(env.Logic.IsSuccess(env));
        Assert.Equal("lift the barrier", env.Task.Instruction);
        Assert.Equal(500, env.Task.MaxEpisodeSteps);
    }

    [Fact]
    public void EpisodeIsTruncatedAtMaxSteps()
    {
        using var env = TestScenes.Env(TestScenes.OneArmCube().Replace("max_episode_steps: 400", "max_episode_steps: 3"));
        env.Reset(0);
        Assert.False(env.Step(Hold(env)).Truncated);
        Assert.False(env.Step(Hold(env)).Truncated);
        var last = env.Step(Hold(env));
        Assert.True(last.Truncated);
        Assert.Equal(3, last.Info.ElapsedSteps);
    }

    [Fact]
    public void MalformedActionsAreRejected()
    {
        using var env = TaskRegistry.CreateEnv("LiftBarrier", new EnvOptions(false));
        env.Reset(0);
        Assert.Throws<ArgumentException>(() => env.Step([new double[8]]));
        Assert.Throws<ArgumentException>(() => env.Step([new double[8], new double[7]]));
        var nan = Hold(env);
        nan[1][3] = double.NaN;
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => env.Step(nan)).Message);
    }

    [Fact]
    public void GripperCommandMapsToFingerTargets()
    {
        Assert.Equal(-0.01, PandaSpec.FingerTarget(-1), 12);
        Assert.Equal(0.04, PandaSpec.FingerTarget(1), 12);
        Assert.Equal(0.015, PandaSpec.FingerTarget(0), 12);
        Assert.Equal(0.04, PandaSpec.FingerTarget(7), 12);
    }

    [Fact]
    public void RenderersCanLiveOnSeveralThreadsAtOnce()
    {
        var hashes = new ulong[3];
        Parallel.For(0, 3, i =>
        {
            using var env = TaskRegistry.CreateEnv("LiftBarrier");
            var obs = env.Reset(1);
            hashes[i] = System.IO.Hashing.XxHash64.HashToUInt64(obs.Agents[1].HeadCamera!.Pixels);
        });
        Assert.Single(hashes.Distinct());
    }
}
