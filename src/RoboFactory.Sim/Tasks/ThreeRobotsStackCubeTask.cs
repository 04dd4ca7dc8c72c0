using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Tasks;

/// <summary>
/// ThreeRobotsStackCube: B rests on A and C on B (each pair within success.stack_xy in the plane and
/// success.stack_dz ± stack_dz_tolerance in height), B and C lie within success.goal_radius of the goal centre, and no
/// cube is still held by the arm that carries it (A: agent 0, B: agent 1, C: agent 2). Upstream checks C's grasp
/// against agent 0, which effectively never fails; checking the arm that actually carries C is the fix, and
/// success.cube_c_release_agent: 0 restores upstream's check for comparisons with the paper.
/// </summary>
public sealed class ThreeRobotsStackCubeTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double stackXy = config.Success["stack_xy"];
    private readonly double stackDz = config.Success["stack_dz"];
    private readonly double stackDzTolerance = config.Success["stack_dz_tolerance"];
    private readonly double goalRadius = config.Success["goal_radius"];
    private readonly int cubeCReleaseAgent = ReleaseAgent(config);
    private readonly string goal = config.Object("goal_region").Name;
    private readonly string[] cubes = [config.Object("cubeA").Name, config.Object("cubeB").Name, config.Object("cubeC").Name];

    public override TaskEvaluation Evaluate(MultiAgentEnv env)
    {
        var a = env.ObjectPose(cubes[0]).P;
        var b = env.ObjectPose(cubes[1]).P;
        var c = env.ObjectPose(cubes[2]).P;
        var g = env.ObjectPose(goal).P;
        return new(
            new("cube_b_on_cube_a", IsStacked(b, a)),
            new("cube_c_on_cube_b", IsStacked(c, b)),
            new("cube_b_on_goal", PlanarDistance(b, g) < goalRadius),
            new("cube_c_on_goal", PlanarDistance(c, g) < goalRadius),
            // each cube is checked against the arm that carries it: A agent 0, B agent 1, C agent 2 (or upstream's 0)
            new("cube_a_released", !env.IsGrasping(0, cubes[0])),
            new("cube_b_released", !env.IsGrasping(1, cubes[1])),
            new("cube_c_released", !env.IsGrasping(cubeCReleaseAgent, cubes[2])));
    }

    private static int ReleaseAgent(TaskConfig config)
    {
        double v = config.Success["cube_c_release_agent"];
        if (v is not (0 or 2))
            throw new RoboFactory.Sim.Config.ConfigException($"{config.Name}: success.cube_c_release_agent: {v}; expected 2 (the arm that carries C) or 0 (upstream's check)");
        return (int)v;
    }

    private bool IsStacked(Vec3 top, Vec3 bottom) =>
        PlanarDistance(top, bottom) <= stackXy && System.Math.Abs(top.Z - bottom.Z - stackDz) <= stackDzTolerance;

    public static double PlanarDistance(Vec3 a, Vec3 b) => System.Math.Sqrt((a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y));
}
