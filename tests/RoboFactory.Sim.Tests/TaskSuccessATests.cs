using RoboFactory.Planning;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Tests;

/// <summary>
/// Success checks of PickMeat, StackCube, TwoRobotsStackCube, PassShoe and StrikeCube: objects are placed directly in
/// qpos (then mj_forward, no stepping) on both sides of each threshold.
/// </summary>
public class TaskSuccessATests
{
    private static MultiAgentEnv Reset(string task)
    {
        var env = TaskRegistry.CreateEnv(task, new EnvOptions(RenderObservations: false));
        env.Reset(0);
        return env;
    }

    /// <summary>The task's sub-conditions that do not hold, in the task's order.</summary>
    private static string[] Unmet(MultiAgentEnv env) => env.Logic.Evaluate(env).Unmet.ToArray();

    /// <summary>Moves a free-floating object to <paramref name="p"/>, keeping its orientation unless <paramref name="q"/> is given.</summary>
    private static void Place(MultiAgentEnv env, string obj, Vec3 p, Quat? q = null)
    {
        int a = env.Scene.Object(obj).QposAddress;
        var qpos = env.Data.Qpos;
        qpos[a] = p.X; qpos[a + 1] = p.Y; qpos[a + 2] = p.Z;
        if (q is { } r) { qpos[a + 3] = r.W; qpos[a + 4] = r.X; qpos[a + 5] = r.Y; qpos[a + 6] = r.Z; }
        env.Data.Forward();
    }

    [Fact]
    public void PickMeatSucceedsOnlyWhenTheMeatIsAboveTheThreshold()
    {
        using var env = Reset("PickMeat-rf");
        Assert.False(env.Logic.IsSuccess(env));
        var meat = env.ObjectPose("meat").P;
        Place(env, "meat", meat with { Z = 0.149 });
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["meat_lifted"], Unmet(env));
        Place(env, "meat", meat with { Z = 0.151 });
        Assert.True(env.Logic.IsSuccess(env));
        Assert.Equal("pick up the meat", env.Task.Instruction);
        Assert.Equal(500, env.Task.MaxEpisodeSteps);
    }

    [Theory]
    [InlineData(0.03, 0.0, 0.04, true)]     // ‖Δxy‖ 0.03 ≤ 0.0333
    [InlineData(0.024, 0.024, 0.04, false)] // ‖Δxy‖ 0.0339 > 0.0333
    [InlineData(0.0, 0.0, 0.0449, true)]    // |Δz − 0.04| ≤ 0.005
    [InlineData(0.0, 0.0, 0.0452, false)]
    [InlineData(0.0, 0.0, 0.0348, false)]
    public void StackCubeNeedsCubeAOnCubeB(double dx, double dy, double dz, bool success)
    {
        using var env = Reset("StackCube");
        Assert.False(env.Logic.IsSuccess(env));
        var b = env.ObjectPose("cubeB").P;
        Place(env, "cubeA", b + new Vec3(dx, dy, dz));
        Assert.Equal(success, env.Logic.IsSuccess(env));
        Assert.Equal(success, env.Logic.Evaluate(env)["cube_a_on_cube_b"]);
    }

    [Fact]
    public void StackCubeIsNotSolvedByPuttingBOnA()
    {
        using var env = Reset("StackCube");
        Place(env, "cubeB", env.ObjectPose("cubeA").P + new Vec3(0, 0, 0.04));
        Assert.False(env.Logic.IsSuccess(env));
    }

    [Fact]
    public void TwoRobotsStackCubeNeedsBOnAInsideTheGoalAndBothCubesReleased()
    {
        using var env = Reset("TwoRobotsStackCube");
        Assert.False(env.Logic.IsSuccess(env));
        int goal = env.Scene.Object("goal_region").MocapIndex;

        // the stack in agent 0's open hand: cube A centred on the TCP, faces square to the fingers
        var tcp = env.TcpPose(0);
        Place(env, "cubeA", tcp.P, tcp.Q);
        Place(env, "cubeB", tcp.P + new Vec3(0, 0, 0.04), tcp.Q);
        env.Data.SetMocapPose(goal, new Pose(tcp.P with { Z = 0.001 } + new Vec3(0.109, 0, 0), Quat.Identity));
        env.Data.Forward();
        Assert.False(env.IsGrasping(0, "cubeA"));
        Assert.True(env.Logic.IsSuccess(env));

        // A's centre 0.111 m from the goal centre: outside the 0.11 m region
        env.Data.SetMocapPose(goal, new Pose(tcp.P with { Z = 0.001 } + new Vec3(0.111, 0, 0), Quat.Identity));
        env.Data.Forward();
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["cube_a_on_goal"], Unmet(env));

        // back inside, but agent 0 closes its hand on A: a grasp by ManiSkill's rule needs the fingers to press (a
        // contact force of 0.5 N or more along their closing direction), so the drive squeezes A for a few steps
        env.Data.SetMocapPose(goal, new Pose(tcp.P with { Z = 0.001 }, Quat.Identity));
        var fingers = env.Scene.Arms[0].QposAddress;
        env.Data.Qpos[fingers[7]] = 0.019;
        env.Data.Qpos[fingers[8]] = 0.019;
        env.Data.Forward();
        var squeeze = Enumerable.Range(0, env.AgentCount).Select(i => env.ArmQpos(i).Take(7).Append(i == 0 ? -1.0 : 1.0).ToArray()).ToArray();
        for (int t = 0; t < 5; t++) env.Step(squeeze);
        Assert.True(env.IsGrasping(0, "cubeA"));
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["cube_a_released"], Unmet(env));
    }

    [Fact]
    public void PassShoeSucceedsWithinTenCentimetresOfTheGoal()
    {
        using var env = Reset("PassShoe");
        Assert.False(env.Logic.IsSuccess(env)); // the shoe starts on the other side of the table
        var goal = env.ObjectPose("goal_region").P;
        double z = env.ObjectPose("shoe").P.Z;
        Place(env, "shoe", new Vec3(goal.X + 0.07, goal.Y - 0.07, z)); // 0.099 m
        Assert.True(env.Logic.IsSuccess(env));
        Place(env, "shoe", new Vec3(goal.X + 0.0715, goal.Y - 0.0715, z)); // 0.1011 m
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["shoe_on_goal"], Unmet(env));
    }

    [Fact]
    public void StrikeCubeSucceedsWhenTheHammerFaceIsOnTheCubeTop()
    {
        using var env = Reset("StrikeCube");
        Assert.False(env.Logic.IsSuccess(env));
        var top = env.ObjectPose("cube").P + new Vec3(0, 0, 0.02);
        // the hammer's frame origin is its striking face (success.hammer_face_* = 0)
        Place(env, "hammer", top + new Vec3(0, 0, 0.024));
        Assert.True(env.Logic.IsSuccess(env));
        Place(env, "hammer", top + new Vec3(0.015, 0.015, 0.0135)); // 0.0251 m, sideways and up
        Assert.False(env.Logic.IsSuccess(env));
        Place(env, "hammer", top + new Vec3(0, 0, 0.026));
        Assert.False(env.Logic.IsSuccess(env));
        Assert.Equal(["hammer_on_cube_top"], Unmet(env));
    }
}
