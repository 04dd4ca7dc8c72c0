using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>What of a task cannot be data: its success check. (Its expert lives in the Planning layer.)</summary>
public abstract class TaskLogic(TaskConfig config)
{
    public TaskConfig Config { get; } = config;

    /// <summary>Evaluated after every control step.</summary>
    public abstract bool IsSuccess(MultiAgentEnv env);
}

/// <summary>LiftBarrier: success when the barrier is higher than agent 0's base by success.lift_height.</summary>
public sealed class LiftBarrierTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double liftHeight = config.Success["lift_height"];
    private readonly string barrier = config.Object("barrier").Name;

    public override bool IsSuccess(MultiAgentEnv env) =>
        env.ObjectPose(barrier).P.Z > env.BasePose(0).P.Z + liftHeight;
}
