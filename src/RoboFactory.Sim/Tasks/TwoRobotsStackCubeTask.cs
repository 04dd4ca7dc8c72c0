using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>
/// TwoRobotsStackCube (upstream): cube B rests on cube A, A lies within success.goal_radius of the goal region's
/// centre (horizontally), and both arms have let go: A is not grasped by agent 0 nor B by agent 1.
/// </summary>
public sealed class TwoRobotsStackCubeTask(TaskConfig config) : TaskLogic(config)
{
    private readonly StackTolerance tolerance = StackTolerance.From(config.Success);
    private readonly double goalRadius = config.Success["goal_radius"];
    private readonly string cubeA = config.Object("cubeA").Name, cubeB = config.Object("cubeB").Name;
    private readonly string goal = config.Object("goal_region").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env)
    {
        var a = env.ObjectPose(cubeA).P;
        var g = env.ObjectPose(goal).P;
        double dx = a.X - g.X, dy = a.Y - g.Y;
        return new(
            new("cube_b_on_cube_a", tolerance.IsOnTop(env.ObjectPose(cubeB).P, a)),
            new("cube_a_on_goal", System.Math.Sqrt(dx * dx + dy * dy) < goalRadius),
            new("cube_a_released", !env.IsGrasping(0, cubeA)),
            new("cube_b_released", !env.IsGrasping(1, cubeB)));
    }
}
