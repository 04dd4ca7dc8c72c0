using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>What of a task cannot be data: its success check. (Its expert lives in the Planning layer.)</summary>
public abstract class TaskLogic(TaskConfig config)
{
    public TaskConfig Config { get; } = config;

    /// <summary>
    /// The task's named sub-conditions at the current state, as ManiSkill's evaluate() reports them; the task succeeds
    /// when all hold. Evaluated after every control step.
    /// </summary>
    public abstract TaskEvaluation Evaluate(MultiAgentEnv env);

    public bool IsSuccess(MultiAgentEnv env) => Evaluate(env).Success;
}

/// <summary>One named sub-condition of a task's success check (snake_case, e.g. "barrier_lifted").</summary>
public readonly record struct TaskCondition(string Name, bool Met);

/// <summary>
/// A task's success check at one state: its sub-conditions in a fixed order; success is their conjunction, so a
/// failure names what was missing.
/// </summary>
public sealed class TaskEvaluation
{
    public TaskEvaluation(params TaskCondition[] conditions)
    {
        if (conditions.Length == 0) throw new ArgumentException("a task evaluation needs at least one condition");
        if (conditions.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count() != conditions.Length)
            throw new ArgumentException($"duplicate condition names: {string.Join(", ", conditions.Select(c => c.Name))}");
        Conditions = conditions;
    }

    public IReadOnlyList<TaskCondition> Conditions { get; }

    public bool Success => Conditions.All(c => c.Met);

    /// <summary>Names of the conditions that do not hold, in order.</summary>
    public IEnumerable<string> Unmet => Conditions.Where(c => !c.Met).Select(c => c.Name);

    public bool this[string name] =>
        Conditions.FirstOrDefault(c => c.Name == name) is { Name: not null } c
            ? c.Met
            : throw new KeyNotFoundException($"no condition '{name}'; conditions: {string.Join(", ", Conditions.Select(k => k.Name))}");

    public override string ToString() => string.Join(", ", Conditions.Select(c => $"{c.Name}={(c.Met ? "true" : "false")}"));
}
