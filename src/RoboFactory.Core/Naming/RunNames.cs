using System.Globalization;

namespace RoboFactory.Core.Naming;

/// <summary>
/// The one home of run folder names: one agent's training run ({root}/{Task}_Agent{i}, as upstream's
/// checkpoints/openvla/{task}_Agent{id}) and an evaluation run ({root}/{policy}/{Task}-rf/{run}).
/// </summary>
public static class RunNames
{
    /// <summary>checkpoints/{policy}: the folder of one policy's per-agent runs (checkpoints/openvla for the default policy).</summary>
    public static string CheckpointRoot(string policy) => Path.Combine("checkpoints", policy);
    public const string DefaultEvalRoot = "eval_results";

    /// <summary>"{Task}_Agent{i}" (task without "-rf"): the folder train writes and eval looks in.</summary>
    public static string AgentRun(string task, int agentId) => AgentRun(task, agentId.ToString(CultureInfo.InvariantCulture));

    /// <summary>The same name with a placeholder for the agent (help texts, printed command lines).</summary>
    public static string AgentRun(string task, string agent) => $"{TaskNames.Stem(task)}_Agent{agent}";

    /// <summary>"{Task}-rf_Agent{i}": the same run named after the env id, which eval also accepts (and tries first).</summary>
    public static string AgentRunByEnvId(string task, int agentId) =>
        $"{TaskNames.EnvId(task)}_Agent{agentId.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>{root}/{policy}/{Task}-rf/{run}: where one evaluation writes results.json and its videos.</summary>
    public static string EvalRun(string root, string policy, string task, string run) =>
        Path.Combine(root, policy, TaskNames.EnvId(task), run);

    /// <summary>Default evaluation run name: the local start time, yyyyMMdd_HHmmss.</summary>
    public static string EvalRunStamp(DateTime localTime) => localTime.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture);
}
