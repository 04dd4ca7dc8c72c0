using System.CommandLine;
using RoboFactory.Core.Naming;
using RoboFactory.Data.Rlds;
using RoboFactory.Data.Zarr;
using RoboFactory.Planning;

namespace RoboFactory.Cli.Commands;

/// <summary>`convert`: ZARR demonstrations → RLDS (TFDS on-disk layout) + OpenVLA dataset_statistics.json, per agent.</summary>
public static class ConvertCommand
{
    public static Command Build()
    {
        var cmd = new Command("convert", "Convert recorded ZARR stores to RLDS datasets in the TFDS layout (data/rlds/{task}_agent{i}/1.0.0/) with dataset_statistics.json.");
        var task = SimCommands.TaskOption();
        var agent = new Option<int?>("--agent-id") { Description = "Convert only this agent (default: every agent)" };
        var zarr = new Option<string?>("--zarr") { Description = "Store to convert (default: the single data/zarr/{Task}_Agent{i}_*.zarr); with --agent-id only" };
        var data = new Option<string>("--data") { Description = "Data folder holding zarr/", DefaultValueFactory = _ => "data" };
        var outDir = new Option<string>("--out") { Description = "RLDS output root", DefaultValueFactory = _ => DataNames.DefaultRldsRoot };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace existing datasets of the same name" };
        var config = SimCommands.ConfigOption();
        foreach (var o in new Option[] { task, agent, zarr, data, outDir, overwrite, config }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var (cfg, _) = TaskRegistry.Load(r.GetValue(task)!, r.GetValue(config));
            int? only = r.GetValue(agent);
            string? explicitStore = r.GetValue(zarr);
            if (explicitStore is not null && only is null) throw new ArgumentException("--zarr needs --agent-id (which agent the store belongs to)");
            if (only is { } a && (a < 0 || a >= cfg.Agents.Count)) throw new ArgumentException($"--agent-id {a}: {cfg.Name} has agents 0..{cfg.Agents.Count - 1}");
            var agents = only is { } one ? [one] : Enumerable.Range(0, cfg.Agents.Count).ToArray();
            foreach (int i in agents)
            {
                string store = explicitStore ?? FindStore(Path.Combine(r.GetValue(data)!, DataNames.ZarrFolder), cfg.Name, i);
                ZarrToRldsResult? result = null;
                Progress.Run($"convert agent {i}", 1, (report, _) =>
                {
                    result = ZarrToRlds.Convert(store, r.GetValue(outDir)!, new ZarrToRldsOptions
                    {
                        Overwrite = r.GetValue(overwrite),
                        LanguageInstruction = cfg.Instruction,
                        Progress = (done, total) => report((double)done / total, $"{done}/{total} episodes"),
                    });
                });
                var d = result!.Dataset;
                Console.WriteLine(FormattableString.Invariant(
                    $"{store} -> {d.DatasetDirectory}: {d.NumEpisodes} episodes, {d.NumTransitions} steps, {d.ShardLengths.Count} shard(s), {d.NumBytes / 1e6:0.0} MB, {result.MegabytesPerSecond:0.0} MB/s"));
            }
        }));
        return cmd;
    }

    /// <summary>The single finished store data/zarr/{Task}_Agent{i}_*.zarr, or a clear error.</summary>
    public static string FindStore(string zarrRoot, string task, int agent)
    {
        string pattern = DataNames.ZarrStorePattern(task, agent);
        var found = Directory.Exists(zarrRoot)
            ? Directory.GetDirectories(zarrRoot, pattern).Where(ZarrEpisodeWriter.IsComplete).Order().ToList()
            : [];
        return found.Count switch
        {
            0 => throw new FileNotFoundException($"no finished {pattern} under {zarrRoot}; run `prepare --task {task}` first"),
            1 => found[0],
            _ => throw new ArgumentException($"several recordings for agent {agent} under {zarrRoot} ({string.Join(", ", found.Select(Path.GetFileName))}); choose one with --zarr"),
        };
    }
}
