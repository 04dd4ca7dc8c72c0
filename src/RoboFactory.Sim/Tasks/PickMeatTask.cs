using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>PickMeat: success when the meat is higher than the agent's base by success.lift_height (upstream: 0.15 m).</summary>
public sealed class PickMeatTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double liftHeight = config.Success["lift_height"];
    private readonly string meat = config.Object("meat").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env) =>
        new(new TaskCondition("meat_lifted", env.ObjectPose(meat).P.Z > env.BasePose(0).P.Z + liftHeight));
}
