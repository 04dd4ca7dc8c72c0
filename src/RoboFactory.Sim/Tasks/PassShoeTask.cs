using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>PassShoe (upstream): success when the shoe's planar distance to the goal centre is below success.goal_distance.</summary>
public sealed class PassShoeTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double goalDistance = config.Success["goal_distance"];
    private readonly string shoe = config.Object("shoe").Name, goal = config.Object("goal_region").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env)
    {
        var s = env.ObjectPose(shoe).P;
        var g = env.ObjectPose(goal).P;
        double dx = s.X - g.X, dy = s.Y - g.Y;
        return new(new TaskCondition("shoe_on_goal", dx * dx + dy * dy < goalDistance * goalDistance));
    }
}
