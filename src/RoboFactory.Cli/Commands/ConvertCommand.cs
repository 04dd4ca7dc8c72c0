using System.CommandLine;
using RoboFactory.Core.Naming;
using RoboFactory.Data.LeRobot;
using RoboFactory.Data.Rlds;
using RoboFactory.Data.Zarr;
using RoboFactory.Planning;

namespace RoboFactory.Cli.Commands;

/// <summary>`convert`: ZARR demonstrations → RLDS (TFDS on-disk layout) or LeRobotDataset v3.0, + OpenVLA dataset_statistics.json, per agent.</summary>
public static class ConvertCommand
{
    public static Command Build()
    {
        var cmd = new Command("convert", "Convert recorded ZARR stores, per agent, to RLDS datasets in the TFDS layout (data/rlds/{task}_agent{i}/1.0.0/) "
            + "or to LeRobotDataset v3.0 folders (data/lerobot/{task}_agent{i}/: parquet data, one H.264 MP4 per camera), each with OpenVLA's dataset_statistics.json.");
        var task = SimCommands.TaskOption();
        var agent = new Option<int?>("--agent-id") { Description = "Convert only this agent (default: every agent)" };
        var zarr = new Option<string?>("--zarr") { Description = "Store to convert (default: the single data/zarr/{Task}_Agent{i}_*.zarr); with --agent-id only" };
        var data = new Option<string>("--data") { Description = "Data folder holding zarr/", DefaultValueFactory = _ => "data" };
        var format = new Option<string>("--format")
        {
            Description = "Output format: rlds (TFDS layout, OpenVLA's input) or lerobot (LeRobotDataset v3.0)", DefaultValueFactory = _ => "rlds",
        };
        format.AcceptOnlyFromAmong("rlds", "lerobot");
        var outDir = new Option<string?>("--out") { Description = "Output root (default data/rlds, or data/lerobot with --format lerobot)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace existing datasets of the same name" };
        var crf = new Option<int?>("--crf")
        {
            Description = "--format lerobot: x264 constant rate factor of the camera videos, 0 (lossless in YUV) to 51 (default 18; LeRobot's own default is 30)",
        };
        var pixFmt = new Option<string?>("--pix-fmt")
        {
            Description = "--format lerobot: yuv420p (default; every LeRobot decoder reads it) or yuv444p (with --crf 0 within ±2 levels of the recording, but High 4:4:4 H.264, which hardware decoders and browsers cannot play)",
        };
        pixFmt.AcceptOnlyFromAmong([.. LeRobotVideoEncoding.PixelFormats]);
        var config = SimCommands.ConfigOption();
        foreach (var o in new Option[] { task, agent, zarr, data, format, outDir, overwrite, crf, pixFmt, config }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var (cfg, _) = TaskRegistry.Load(r.GetValue(task)!, r.GetValue(config));
            int? only = r.GetValue(agent);
            string? explicitStore = r.GetValue(zarr);
            if (explicitStore is not null && only is null) throw new ArgumentException("--zarr needs --agent-id (which agent the store belongs to)");
            if (only is { } a && (a < 0 || a >= cfg.Agents.Count)) throw new ArgumentException($"--agent-id {a}: {cfg.Name} has agents 0..{cfg.Agents.Count - 1}");
            bool lerobot = r.GetValue(format) == "lerobot";
            if (!lerobot && (r.GetValue(crf) is not null || r.GetValue(pixFmt) is not null))
                throw new ArgumentException("--crf and --pix-fmt set the LeRobot camera videos; add --format lerobot");
            var video = new LeRobotVideoEncoding { Crf = r.GetValue(crf) ?? 18, PixelFormat = r.GetValue(pixFmt) ?? "yuv420p" };
            video.Validate();
            string root = r.GetValue(outDir) ?? (lerobot ? DataNames.DefaultLeRobotRoot : DataNames.DefaultRldsRoot);
            var agents = only is { } one ? [one] : Enumerable.Range(0, cfg.Agents.Count).ToArray();
            foreach (int i in agents)
            {
                string store = explicitStore ?? FindStore(Path.Combine(r.GetValue(data)!, DataNames.ZarrFolder), cfg.Name, i);
                string line = "";
                Progress.Run($"convert agent {i}", 1, (report, _) =>
                {
                    Action<int, int> progress = (done, total) => report((double)done / total, $"{done}/{total} episodes");
                    if (lerobot)
                    {
                        var res = ZarrToLeRobot.Convert(store, root, new ZarrToLeRobotOptions
                        {
                            Overwrite = r.GetValue(overwrite), LanguageInstruction = cfg.Instruction, Fps = cfg.Physics.ControlFreq,
                            Video = video, Progress = progress,
                        });
                        var d = res.Dataset;
                        line = FormattableString.Invariant(
                            $"{store} -> {d.DatasetDirectory}: {d.NumEpisodes} episodes, {d.NumFrames} frames, {d.DataFiles} data file(s), {string.Join("/", d.VideoFilesPerCamera)} mp4 per camera, {d.NumBytes / 1e6:0.0} MB, {res.MegabytesPerSecond:0.0} MB/s");
                    }
                    else
                    {
                        var res = ZarrToRlds.Convert(store, root, new ZarrToRldsOptions
                        {
                            Overwrite = r.GetValue(overwrite), LanguageInstruction = cfg.Instruction, Progress = progress,
                        });
                        var d = res.Dataset;
                        line = FormattableString.Invariant(
                            $"{store} -> {d.DatasetDirectory}: {d.NumEpisodes} episodes, {d.NumTransitions} steps, {d.ShardLengths.Count} shard(s), {d.NumBytes / 1e6:0.0} MB, {res.MegabytesPerSecond:0.0} MB/s");
                    }
                });
                Console.WriteLine(line);
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
