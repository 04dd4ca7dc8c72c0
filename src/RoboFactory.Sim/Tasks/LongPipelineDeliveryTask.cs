using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>LongPipelineDelivery, as upstream: success when the shoe is within success.goal_radius of the goal centre in the plane.</summary>
public sealed class LongPipelineDeliveryTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double goalRadius = config.Success["goal_radius"];
    private readonly string shoe = config.Object("shoe").Name;
    private readonly string goal = config.Object("goal_region").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env)
    {
        var s = env.ObjectPose(shoe).P;
        var g = env.ObjectPose(goal).P;
        double dx = s.X - g.X, dy = s.Y - g.Y;
        return new(new TaskCondition("shoe_on_goal", dx * dx + dy * dy < goalRadius * goalRadius));
    }
}
