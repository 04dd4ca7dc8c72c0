using RoboFactory.Planning;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Tests;

/// <summary>Success checks of the second batch of tasks, probed by placing objects directly around their thresholds.</summary>
public class TaskSuccessBTests
{
    private static MultiAgentEnv Create(string task, int seed = 0)
    {
        var env = TaskRegistry.CreateEnv(task, new EnvOptions(RenderObservations: false));
        env.Reset(seed);
        return env;
    }

    /// <summary>The task's sub-conditions that do not hold, in the task's order.</summary>
    private static string[] Unmet(MultiAgentEnv env) => env.Logic.Evaluate(env).Unmet.ToArray();

    /// <summary>Puts a dynamic object at <paramref name="p"/> with orientation <paramref name="q"/> (identity by default), at rest.</summary>
    private static void Place(MultiAgentEnv env, string obj, Vec3 p, Quat? q = null)
    {
        var idx = env.Scene.Object(obj);
        int a = idx.QposAddress;
        var r = q ?? Quat.Identity;
        double[] v = [p.X, p.Y, p.Z, r.W, r.X, r.Y, r.Z];
        for (int k = 0; k < 7; k++) env.Data.Qpos[a + k] = v[k];
        env.Data.Forward();
    }

    [Fact]
    public void ThreeRobotsStackCubeNeedsBOnAAndCOnBNearTheGoal()
    {
        using var env = Create("ThreeRobotsStackCube");
        Assert.False(env.Logic.IsSuccess(env));
        var g = env.ObjectPose("goal_region").P;
        void Stack(Vec3 a, Vec3 bOffset, Vec3 cOffset)
        {
            Place(env, "cubeA", a);
            Place(env, "cubeB", a + new Vec3(0, 0, 0.04) + bOffset);
            Place(env, "cubeC", a + new Vec3(0, 0, 0.08) + bOffset + cOffset);
        }
        var onGoal = new Vec3(g.X, g.Y, 0.02);
        Stack(onGoal, Vec3.Zero, Vec3.Zero);
        Assert.True(env.Logic.IsSuccess(env));
        // C beside B by just under / just over the 0.03328 m planar tolerance
        Stack(onGoal, Vec3.Zero, new Vec3(0.033, 0, 0));
        Assert.True(env.Logic.IsSuccess(env));
        Stack(onGoal, Vec3.Zero, new Vec3(0.034, 0, 0));
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["cube_c_on_cube_b"], Unmet(env));
        // B floating 6 mm above A (tolerance 5 mm); 4 mm is still stacked
        Stack(onGoal, new Vec3(0, 0, 0.006), Vec3.Zero);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["cube_b_on_cube_a"], Unmet(env));
        Stack(onGoal, new Vec3(0, 0, 0.004), Vec3.Zero);
        Assert.True(env.Logic.IsSuccess(env));
        // the whole stack just inside / outside the 0.12 m goal radius
        Stack(onGoal + new Vec3(0, 0.119, 0), Vec3.Zero, Vec3.Zero);
        Assert.True(env.Logic.IsSuccess(env));
        Stack(onGoal + new Vec3(0, 0.121, 0), Vec3.Zero, Vec3.Zero);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["cube_b_on_goal", "cube_c_on_goal"], Unmet(env));
        // order matters: A on B is not B on A
        Place(env, "cubeB", onGoal);
        Place(env, "cubeA", onGoal + new Vec3(0, 0, 0.04));
        Place(env, "cubeC", onGoal + new Vec3(0, 0, 0.08));
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal("stack the cubes", env.Task.Instruction);
        Assert.Equal(800, env.Task.MaxEpisodeSteps);
    }

    [Fact]
    public void CameraAlignmentNeedsTheCameraAndTheMeatBothAboveTheThreshold()
    {
        using var env = Create("CameraAlignment");
        Assert.False(env.Logic.IsSuccess(env));
        var camera = env.ObjectPose("camera");
        var meat = env.ObjectPose("meat");
        void Lift(double cameraZ, double meatZ)
        {
            Place(env, "camera", camera.P with { Z = cameraZ }, camera.Q);
            Place(env, "meat", meat.P with { Z = meatZ }, meat.Q);
        }
        Lift(0.201, 0.201);
        Assert.True(env.Logic.IsSuccess(env));
        Lift(0.199, 0.25);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["camera_lifted"], Unmet(env));
        Lift(0.25, 0.199);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["meat_lifted"], Unmet(env));
        Assert.Equal("align the camera", env.Task.Instruction);
        Assert.Equal(1500, env.Task.MaxEpisodeSteps);
    }

    [Fact]
    public void PlaceFoodNeedsTheMeatInsideThePotRadiusAndLow()
    {
        using var env = Create("PlaceFood");
        Assert.False(env.Logic.IsSuccess(env)); // the meat starts 0.25 m in front of the pot
        var pot = env.ObjectPose("pot").P;
        var q = env.ObjectPose("meat").Q;
        Place(env, "meat", pot + new Vec3(0.099, 0, 0.05), q);
        Assert.True(env.Logic.IsSuccess(env));
        Place(env, "meat", pot + new Vec3(0, -0.101, 0.05), q);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["meat_over_pot"], Unmet(env));
        Place(env, "meat", pot + new Vec3(0, 0, 0.099), q);
        Assert.True(env.Logic.IsSuccess(env));
        Place(env, "meat", pot + new Vec3(0, 0, 0.101), q); // held above the pot
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["meat_below_max_height"], Unmet(env));
        Assert.Equal(500, env.Task.MaxEpisodeSteps);
    }

    [Fact]
    public void LongPipelineDeliveryNeedsTheShoeWithinTheGoalRadius()
    {
        using var env = Create("LongPipelineDelivery");
        Assert.False(env.Logic.IsSuccess(env)); // the shoe starts at the far end of the table
        var goal = env.ObjectPose("goal_region").P;
        Place(env, "shoe", new Vec3(goal.X + 0.099, goal.Y, 0));
        Assert.True(env.Logic.IsSuccess(env));
        Place(env, "shoe", new Vec3(goal.X, goal.Y - 0.101, 0));
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["shoe_on_goal"], Unmet(env));
        Place(env, "shoe", new Vec3(goal.X + 0.07, goal.Y + 0.07, 0.3)); // planar distance only, as upstream
        Assert.True(env.Logic.IsSuccess(env));
        Assert.Equal("deliver the object", env.Task.Instruction);
        Assert.Equal(1500, env.Task.MaxEpisodeSteps);
    }

    [Fact]
    public void TakePhotoNeedsTheShutterPressedWithCameraAndMeatUpAndTheMeatHeld()
    {
        using var env = Create("TakePhoto");
        Assert.False(env.Logic.IsSuccess(env));
        var finger = env.TcpPose(3).P;   // agent 3 stays put; the camera is moved so that its button point is under the finger
        var holder = env.TcpPose(2).P;
        var cameraQ = env.ObjectPose("camera").Q;
        var meatQ = env.ObjectPose("meat").Q;
        void Scene(double bx = 0, double by = 0, double cameraZ = 0.25, double meatZ = 0.25, double holdDy = 0.0)
        {
            // button point b = camera xy + (0.035, −0.09); put b at the finger + (bx, by)
            Place(env, "camera", new Vec3(finger.X + bx - 0.035, finger.Y + by + 0.09, cameraZ), cameraQ);
            Place(env, "meat", new Vec3(holder.X, holder.Y - holdDy, meatZ), meatQ);
        }
        Scene();
        Assert.True(env.Logic.IsSuccess(env));
        Scene(bx: 0.034);
        Assert.True(env.Logic.IsSuccess(env));
        Scene(bx: 0.036);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["button_pressed"], Unmet(env));
        Scene(by: -0.036);
        Assert.False(env.Logic.IsSuccess(env));
        Scene(cameraZ: 0.199);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["camera_lifted"], Unmet(env));
        Scene(meatZ: 0.199);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["meat_lifted"], Unmet(env));
        Scene(holdDy: 0.079);   // agent 2's TCP y − meat y just under 0.08
        Assert.True(env.Logic.IsSuccess(env));
        Scene(holdDy: 0.081);
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["meat_held"], Unmet(env));
        Assert.Equal("take a photo", env.Task.Instruction);
        Assert.Equal(1500, env.Task.MaxEpisodeSteps);
    }

    [Theory]
    [InlineData("TakePhoto", "camera", "pedestal", 0.0, 0.0)]
    [InlineData("CameraAlignment", "camera", "pedestal", 0.0, 0.0)]
    [InlineData("PlaceFood", "meat", "pot", 0.0, -0.25)]
    [InlineData("PlaceFood", "lid", "pot", 0.0, 0.0)]
    public void AttachedObjectsStartAtTheirAnchorsXyPlusTheOffset(string task, string obj, string anchor, double dx, double dy)
    {
        using var env = TaskRegistry.CreateEnv(task, new EnvOptions(RenderObservations: false));
        var seen = new HashSet<double>();
        for (int seed = 0; seed < 5; seed++)
        {
            env.Reset(seed);
            var a = env.ObjectPose(anchor).P;
            var o = env.ObjectPose(obj).P;
            Assert.Equal(a.X + dx, o.X, 9);
            Assert.Equal(a.Y + dy, o.Y, 9);
            seen.Add(a.X);
        }
        Assert.True(seen.Count > 1, "the anchor itself is randomised");
    }

    [Theory]
    [InlineData("meat")]      // listed after the camera: its position is not drawn yet
    [InlineData("nowhere")]
    public void AttachXyToMustNameAnObjectListedBefore(string anchor)
    {
        string yaml = File.ReadAllText(TestScenes.RepoFile("configs", "table", "camera_alignment.yaml"))
            .Replace("attach_xy_to: {object: pedestal}", $"attach_xy_to: {{object: {anchor}}}");
        var e = Assert.Throws<ConfigException>(() => TaskConfigLoader.Parse(yaml, "camera_alignment.yaml"));
        Assert.Contains($"attach_xy_to names '{anchor}'", e.Message);
        Assert.Contains("camera_alignment.yaml", e.Message);
    }

    [Fact]
    public void ThePotLidSlidesOnItsJoint_RestsOnTheRim_AndFallsBackWhenLet_Go()
    {
        using var env = Create("PlaceFood");
        var lid = env.Scene.Object("lid");
        Assert.Equal(RoboFactory.Sim.Scene.ObjectMotion.Jointed, lid.Motion);
        double rim = env.Task.Object("lid").Pose.P.Z;
        for (int seed = 0; seed < 3; seed++)
        {
            env.Reset(seed);
            var pot = env.ObjectPose("pot");
            var l = env.ObjectPose("lid");
            Assert.Equal(pot.P.X, l.P.X, 9);
            Assert.Equal(pot.P.Y, l.P.Y, 9);
            Assert.Equal(pot.P.Z + rim, l.P.Z, 9);
            Assert.Equal(0, env.Data.Qpos[lid.QposAddress]);
        }
        env.Data.Qpos[lid.QposAddress] = 0.2; // lifted along the joint: straight up, nothing else moves
        env.Data.Forward();
        var up = env.ObjectPose("lid").P;
        Assert.Equal(env.ObjectPose("pot").P.Z + rim + 0.2, up.Z, 9);
        Assert.Equal(env.ObjectPose("pot").P.X, up.X, 9);
        var hold = Enumerable.Range(0, env.AgentCount).Select(i => env.ArmQpos(i).Take(7).Append(1.0).ToArray()).ToArray();
        for (int k = 0; k < 40; k++) env.Step(hold);
        Assert.InRange(env.Data.Qpos[lid.QposAddress], -0.002, 0.002); // back on the rim, held by the joint's limit
    }

    /// <summary>The lid's joint line in place_food.yaml, which each case below replaces.</summary>
    private const string LidJoint = "joint: {parent: pot, type: slide, axis: [0, 0, 1], range: [0, 0.4], damping: 0.5}";

    [Theory]
    [InlineData("joint: {parent: meat, type: slide, axis: [0, 0, 1], range: [0, 0.4]}", "joint.parent names 'meat'")]
    [InlineData("joint: {parent: pot, type: slide, axis: [0, 0, 1], range: [0.1, 0.4]}", "the joint starts at 0")]
    [InlineData("joint: {parent: pot, type: ball, axis: [0, 0, 1], range: [0, 0.4]}", "'slide' or 'hinge'")]
    [InlineData("joint: {parent: pot, type: slide, axis: [0, 0, 0], range: [0, 0.4]}", "a non-zero vector")]
    [InlineData("joint: {parent: pot, type: slide, axis: [0, 0, 1], range: [0, 0.4]}\n    randomize: {p: [0.1, 0, 0]}", "neither randomize nor attach_xy_to")]
    public void AJointedObjectIsCheckedWhenLoaded(string to, string expected)
    {
        string yaml = File.ReadAllText(TestScenes.RepoFile("configs", "table", "place_food.yaml"));
        Assert.Contains(LidJoint, yaml);
        var e = Assert.Throws<ConfigException>(() => TaskConfigLoader.Parse(yaml.Replace(LidJoint, to), "place_food.yaml"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("place_food.yaml", e.Message);
    }
}
