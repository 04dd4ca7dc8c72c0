using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>LiftBarrier: success when the barrier is higher than agent 0's base by success.lift_height.</summary>
public sealed class LiftBarrierTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double liftHeight = config.Success["lift_height"];
    private readonly string barrier = config.Object("barrier").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env) =>
        new(new TaskCondition("barrier_lifted", env.ObjectPose(barrier).P.Z > env.BasePose(0).P.Z + liftHeight));
}
