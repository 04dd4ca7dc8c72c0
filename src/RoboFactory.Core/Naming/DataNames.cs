using System.Globalization;
using System.Text.RegularExpressions;

namespace RoboFactory.Core.Naming;

/// <summary>
/// The one home of dataset names: per-agent ZARR stores (data/zarr/{Task}_Agent{i}_{num}.zarr, as upstream's
/// parse_pkl_to_zarr_dp.py names them) and the RLDS datasets converted from them (data/rlds/{task_snake}_agent{i}/1.0.0).
/// </summary>
public static partial class DataNames
{
    public const string ZarrFolder = "zarr";
    public const string RldsFolder = "rlds";
    public const string ZarrExtension = ".zarr";
    /// <summary>The TFDS version folder every RLDS dataset is written under.</summary>
    public const string RldsVersion = "1.0.0";
    public const string DefaultZarrRoot = "data/" + ZarrFolder;
    public const string DefaultRldsRoot = "data/" + RldsFolder;
    public const string LeRobotFolder = "lerobot";
    public const string DefaultLeRobotRoot = "data/" + LeRobotFolder;

    /// <summary>"{Task}_Agent{i}_{num}.zarr".</summary>
    public static string ZarrStore(string task, int agentId, int numEpisodes) =>
        ZarrStore(task, agentId.ToString(CultureInfo.InvariantCulture), numEpisodes.ToString(CultureInfo.InvariantCulture));

    /// <summary>The same name with placeholders or wildcards for the agent and the episode count (help texts, globbing).</summary>
    public static string ZarrStore(string task, string agent, string episodes) =>
        $"{TaskNames.Stem(task)}_Agent{agent}_{episodes}{ZarrExtension}";

    /// <summary>Glob of every store of one agent: "{Task}_Agent{i}_*.zarr".</summary>
    public static string ZarrStorePattern(string task, int agentId) =>
        ZarrStore(task, agentId.ToString(CultureInfo.InvariantCulture), "*");

    /// <summary>"{task_snake}_agent{i}", the RLDS dataset of one agent.</summary>
    public static string RldsDataset(string task, int agentId) =>
        RldsDataset(task, agentId.ToString(CultureInfo.InvariantCulture));

    public static string RldsDataset(string task, string agent) => $"{TaskNames.Snake(TaskNames.Stem(task))}_agent{agent}";

    /// <summary>
    /// The RLDS dataset name for any store path: its file name without ".zarr" and the trailing episode count, in
    /// snake case ("LiftBarrier_Agent0_160.zarr" → "lift_barrier_agent0", the same as <see cref="RldsDataset(string, int)"/>).
    /// </summary>
    public static string RldsDatasetForStore(string zarrPath)
    {
        string stem = Path.GetFileName(Path.TrimEndingDirectorySeparator(zarrPath));
        if (stem.EndsWith(ZarrExtension, StringComparison.Ordinal)) stem = stem[..^ZarrExtension.Length];
        return SnakeCase.From(EpisodeCount().Replace(stem, ""));
    }

    [GeneratedRegex(@"_\d+$")]
    private static partial Regex EpisodeCount();
}
