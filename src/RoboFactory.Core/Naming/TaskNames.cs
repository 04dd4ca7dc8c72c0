using System.Text.RegularExpressions;

namespace RoboFactory.Core.Naming;

/// <summary>
/// The one home of a task's names: its stem ("LiftBarrier", the name in its YAML, stores and run folders) and its env
/// id ("LiftBarrier-rf", as upstream registers it with ManiSkill and as evaluation results are filed).
/// </summary>
public static class TaskNames
{
    /// <summary>Upstream registers every task as "&lt;Name&gt;-rf"; users may type either form.</summary>
    public const string EnvIdSuffix = "-rf";

    /// <summary>"LiftBarrier-rf" or "LiftBarrier" → "LiftBarrier".</summary>
    public static string Stem(string task) =>
        task.EndsWith(EnvIdSuffix, StringComparison.Ordinal) ? task[..^EnvIdSuffix.Length] : task;

    /// <summary>"LiftBarrier" or "LiftBarrier-rf" → "LiftBarrier-rf".</summary>
    public static string EnvId(string task) => Stem(task) + EnvIdSuffix;

    /// <summary>"LiftBarrier" → "lift_barrier" (the RLDS dataset naming; a '-' becomes '_' too).</summary>
    public static string Snake(string taskStem) => SnakeCase.From(taskStem.Replace('-', '_'));
}

/// <summary>CamelCase → snake_case as TFDS names datasets: "LiftBarrier_Agent0" → "lift_barrier_agent0".</summary>
public static partial class SnakeCase
{
    public static string From(string name) =>
        Underscores().Replace(WordStart().Replace(name, "_$1").ToLowerInvariant(), "_");

    [GeneratedRegex("(?<=[a-z0-9])([A-Z])")]
    private static partial Regex WordStart();

    [GeneratedRegex("_+")]
    private static partial Regex Underscores();
}
