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
