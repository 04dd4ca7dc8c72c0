using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RoboFactory.Data.Recording;
using RoboFactory.Data.Rlds;
using RoboFactory.Eval;
using RoboFactory.Sim.Tasks;

namespace RoboFactory.Cli.Commands;

/// <summary>
/// `quickstart`: the whole loop on one task at a small size, with one progress display:
/// prepare → convert → evaluate (scripted expert and demo replay, with a video) → report.md.
/// </summary>
public static class QuickstartCommand
{
    public static Command Build()
    {
        var cmd = new Command("quickstart", "Run the pipeline end to end at a small size and write runs/quickstart/report.md.");
        var task = new Option<string>("--task") { Description = "Task to run", DefaultValueFactory = _ => "LiftBarrier" };
        var demos = new Option<int>("--demos") { Description = "Demonstrations to record", DefaultValueFactory = _ => 8 };
        var episodes = new Option<int>("--eval-episodes") { Description = "Held-out evaluation episodes (seeds 1000+)", DefaultValueFactory = _ => 4 };
        var outDir = new Option<string>("--out") { Description = "Run folder", DefaultValueFactory = _ => Path.Combine("runs", "quickstart") };
        var workers = new Option<int>("--workers") { Description = "Parallel simulation workers", DefaultValueFactory = _ => Math.Max(1, Environment.ProcessorCount) };
        foreach (var o in new Option[] { task, demos, episodes, outDir, workers }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(task)!, r.GetValue(demos), r.GetValue(episodes), r.GetValue(outDir)!, r.GetValue(workers))));
        return cmd;
    }

    public static string Run(string taskName, int demos, int evalEpisodes, string outDir, int workers)
    {
        var (cfg, _) = TaskRegistry.Load(taskName);
        var total = Stopwatch.StartNew();
        string data = Path.Combine(outDir, "data");
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);
        var steps = new List<(string Name, double Seconds, string Command)>();
        var inv = CultureInfo.InvariantCulture;

        // 1. demonstrations
        var sw = Stopwatch.StartNew();
        PrepareResult? prep = null;
        Progress.Run("1/3 prepare", demos, (report, log) =>
            prep = DemoRecorder.Run(new PrepareOptions(cfg.Name, demos, workers, OutRoot: Path.Combine(data, "zarr")),
                new SyncProgress<PrepareProgress>(p => report(p.Successes, $"{p.Successes}/{p.Target} demos ({p.Failures} failed seeds)")), log));
        steps.Add(("prepare", sw.Elapsed.TotalSeconds, $"./robofactory prepare --task {cfg.Name} --num {demos} --out {data}"));

        // 2. RLDS + statistics per agent
        sw.Restart();
        var datasets = new List<RldsWriteResult>();
        Progress.Run("2/3 convert", prep!.Stores.Count, (report, _) =>
        {
            foreach (var (store, i) in prep.Stores.Select((s, i) => (s, i)))
            {
                datasets.Add(ZarrToRlds.Convert(store, Path.Combine(data, "rlds"), new ZarrToRldsOptions { LanguageInstruction = cfg.Instruction }).Dataset);
                report(i + 1, $"agent {i + 1}/{prep.Stores.Count}");
            }
        });
        steps.Add(("convert", sw.Elapsed.TotalSeconds, $"./robofactory convert --task {cfg.Name} --data {data} --out {Path.Combine(data, "rlds")}"));

        // 3. closed-loop evaluation on held-out seeds: the expert (sanity) and the recorded demos replayed (data check)
        sw.Restart();
        EvalReport? expert = null, replay = null;
        string evalRoot = Path.Combine(outDir, "eval");
        Progress.Run("3/3 eval", evalEpisodes + demos, (report, log) =>
        {
            int done = 0;
            var tick = new SyncProgress<EpisodeResult>(_ => report(++done, $"{done}/{evalEpisodes + demos} episodes"));
            expert = Evaluator.Run(new EvalOptions(cfg.Name, evalEpisodes, 1000, Workers: workers, Videos: 1, OutRoot: evalRoot, Run: "expert"),
                () => new ExpertPolicy(cfg.Name), tick, log);
            replay = Evaluator.Run(new EvalOptions(cfg.Name, demos, 0, Workers: workers, OutRoot: evalRoot, Run: "replay"),
                () => new ReplayPolicy(prep.Stores.Select(s => new ReplayAgentPolicy(s)).ToList()), tick, log);
        });
        steps.Add(("eval (expert, held-out seeds 1000+)", sw.Elapsed.TotalSeconds,
            $"./robofactory eval --policy expert --task {cfg.EnvId} --episodes {evalEpisodes} --seed-start 1000 --video 1"));
        steps.Add(("eval (replay of the recorded demos)", 0, $"./robofactory eval --policy replay --task {cfg.EnvId} --episodes {demos} --seed-start 0 --data {data}"));

        string reportPath = Path.Combine(outDir, "report.md");
        var md = new StringBuilder();
        md.AppendLine($"# Quickstart: {cfg.EnvId}");
        md.AppendLine();
        md.AppendLine($"Instruction: \"{cfg.Instruction}\"; {cfg.Agents.Count} agents; {demos} demonstrations; measured on this machine ({Environment.ProcessorCount} cores) in {total.Elapsed.TotalMinutes.ToString("0.0", inv)} min.");
        md.AppendLine();
        md.AppendLine("| step | time (s) | reproduce |");
        md.AppendLine("|---|---|---|");
        foreach (var s in steps) md.AppendLine($"| {s.Name} | {s.Seconds.ToString("0.0", inv)} | `{s.Command}` |");
        md.AppendLine();
        md.AppendLine("## Results");
        md.AppendLine();
        md.AppendLine("| policy | seeds | success | 95% Wilson interval | mean steps |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (var (name, rep, seeds) in new[] { ("expert", expert!, "1000+"), ("replay of demos", replay!, "0+") })
            md.AppendLine(FormattableString.Invariant(
                $"| {name} | {seeds} | {rep.Summary.Successes}/{rep.Summary.Episodes} ({rep.Summary.SuccessRate:P0}) | [{rep.Summary.WilsonLow:P0}, {rep.Summary.WilsonHigh:P0}] | {rep.Summary.MeanSteps:0.0} |"));
        md.AppendLine();
        md.AppendLine("## Data");
        md.AppendLine();
        foreach (var s in prep.Stores) md.AppendLine($"- ZARR: `{s}`");
        foreach (var d in datasets) md.AppendLine(FormattableString.Invariant($"- RLDS: `{d.DatasetDirectory}` ({d.NumEpisodes} episodes, {d.NumTransitions} steps, {d.NumBytes / 1e6:0.0} MB) with `dataset_statistics.json`"));
        var video = expert!.Results.FirstOrDefault(e => e.Video is not null);
        if (video is not null)
        {
            md.AppendLine();
            md.AppendLine($"Video of the expert on seed {video.Seed}: [{video.Video}]({Path.GetRelativePath(outDir, Path.Combine(expert.Directory, video.Video!))})");
        }
        File.WriteAllText(reportPath, md.ToString());
        Console.WriteLine(md.ToString());
        Console.WriteLine($"report: {reportPath}");
        return reportPath;
    }
}
