using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RoboFactory.Data.Recording;
using RoboFactory.Data.Rlds;
using RoboFactory.Eval;
using RoboFactory.Sim.Tasks;
using RoboFactory.Vla.Training;

namespace RoboFactory.Cli.Commands;

/// <summary>
/// `quickstart`: the whole loop on one task at a small size, with one progress display:
/// prepare → convert → train the tiny OpenVLA per agent → evaluate the trained agents together on held-out seeds
/// (and the scripted expert as a sanity check, with videos) → report.md.
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
        var trainSteps = new Option<int>("--train-steps") { Description = "Optimizer steps of the tiny model per agent (batch 8)", DefaultValueFactory = _ => 40 };
        var evalSteps = new Option<int>("--eval-max-steps") { Description = "Control steps per evaluation episode of the trained policy", DefaultValueFactory = _ => 120 };
        foreach (var o in new Option[] { task, demos, episodes, outDir, workers, trainSteps, evalSteps }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(task)!, r.GetValue(demos), r.GetValue(episodes), r.GetValue(outDir)!, r.GetValue(workers),
            r.GetValue(trainSteps), r.GetValue(evalSteps))));
        return cmd;
    }

    public static string Run(string taskName, int demos, int evalEpisodes, string outDir, int workers, int trainSteps = 40, int evalMaxSteps = 120)
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
        Progress.Run("1/4 prepare", demos, (report, log) =>
            prep = DemoRecorder.Run(new PrepareOptions(cfg.Name, demos, workers, OutRoot: Path.Combine(data, "zarr")),
                new SyncProgress<PrepareProgress>(p => report(p.Successes, $"{p.Successes}/{p.Target} demos ({p.Failures} failed seeds)")), log));
        steps.Add(("prepare", sw.Elapsed.TotalSeconds, $"./robofactory prepare --task {cfg.Name} --num {demos} --out {data}"));

        // 2. RLDS + statistics per agent
        sw.Restart();
        var datasets = new List<RldsWriteResult>();
        Progress.Run("2/4 convert", prep!.Stores.Count, (report, _) =>
        {
            foreach (var (store, i) in prep.Stores.Select((s, i) => (s, i)))
            {
                datasets.Add(ZarrToRlds.Convert(store, Path.Combine(data, "rlds"), new ZarrToRldsOptions { LanguageInstruction = cfg.Instruction }).Dataset);
                report(i + 1, $"agent {i + 1}/{prep.Stores.Count}");
            }
        });
        steps.Add(("convert", sw.Elapsed.TotalSeconds, $"./robofactory convert --task {cfg.Name} --data {data} --out {Path.Combine(data, "rlds")}"));

        // 3. the tiny OpenVLA, one per agent, on its own dataset
        sw.Restart();
        string ckptRoot = Path.Combine(outDir, "checkpoints");
        var runs = new List<TrainSummary>();
        var plots = new List<string>();
        foreach (var (ds, i) in datasets.Select((d, i) => (d, i)))
        {
            var opts = new TrainOptions
            {
                Task = cfg.Name, AgentId = i, DataPath = ds.DatasetDirectory, Model = "tiny", MaxSteps = trainSteps,
                SaveEvery = trainSteps, ValEvery = Math.Max(1, trainSteps / 2), CheckpointRoot = ckptRoot, Logger = "jsonl", Plots = false,
            };
            using var trainer = VlaTrainer.Create(opts);
            Progress.Run($"3/4 train agent {i}", trainSteps, (report, log) =>
                runs.Add(trainer.Run(m => report(m.Step, FormattableString.Invariant($"step {m.Step}/{trainSteps} loss {m.Loss:0.000} acc {m.Accuracy:P0}")), v => log(v.ToString()))));
            try { plots.AddRange(TrainPlots.Write(trainer.RunDirectory)); }
            catch (Exception e) when (e is not OutOfMemoryException) { Console.Error.WriteLine($"warning: plots not written: {e.Message}"); }
        }
        steps.Add(("train tiny (per agent)", sw.Elapsed.TotalSeconds,
            $"./robofactory train --policy openvla --task {cfg.EnvId} --agent-id I --model tiny --max-steps {trainSteps} --data {Path.Combine(data, "rlds", "<dataset>_agentI", "1.0.0")} --out {Path.Combine(ckptRoot, $"{cfg.Name}_AgentI")}"));

        // 4. closed-loop evaluation on held-out seeds: the trained agents together, and the expert as a sanity check
        sw.Restart();
        EvalReport? learned = null, expert = null;
        string evalRoot = Path.Combine(outDir, "eval");
        var ckptDirs = OpenVlaPolicy.CheckpointDirs(ckptRoot, cfg);
        Progress.Run("4/4 eval", 2 * evalEpisodes, (report, log) =>
        {
            int done = 0;
            var tick = new SyncProgress<EpisodeResult>(_ => report(++done, $"{done}/{2 * evalEpisodes} episodes"));
            learned = Evaluator.Run(new EvalOptions(cfg.Name, evalEpisodes, 1000, MaxSteps: evalMaxSteps, Workers: 1, Videos: 1, OutRoot: evalRoot, Run: "openvla"),
                () => OpenVlaPolicy.Load(ckptDirs), tick, log);
            expert = Evaluator.Run(new EvalOptions(cfg.Name, evalEpisodes, 1000, Workers: workers, Videos: 1, OutRoot: evalRoot, Run: "expert"),
                () => new ExpertPolicy(cfg.Name), tick, log);
        });
        steps.Add(("eval (tiny OpenVLA + expert, seeds 1000+)", sw.Elapsed.TotalSeconds,
            $"./robofactory eval --policy openvla --task {cfg.EnvId} --checkpoints {ckptRoot} --episodes {evalEpisodes} --seed-start 1000 --max-steps {evalMaxSteps} --video 1"));

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
        foreach (var (name, rep, seeds) in new[] { ("tiny OpenVLA (all agents)", learned!, "1000+"), ("scripted expert", expert!, "1000+") })
            md.AppendLine(FormattableString.Invariant(
                $"| {name} | {seeds} | {rep.Summary.Successes}/{rep.Summary.Episodes} ({rep.Summary.SuccessRate:P0}) | [{rep.Summary.WilsonLow:P0}, {rep.Summary.WilsonHigh:P0}] | {rep.Summary.MeanSteps:0.0} |"));
        md.AppendLine();
        md.AppendLine("## Data");
        md.AppendLine();
        foreach (var s in prep.Stores) md.AppendLine($"- ZARR: `{s}`");
        foreach (var d in datasets) md.AppendLine(FormattableString.Invariant($"- RLDS: `{d.DatasetDirectory}` ({d.NumEpisodes} episodes, {d.NumTransitions} steps, {d.NumBytes / 1e6:0.0} MB) with `dataset_statistics.json`"));
        md.AppendLine();
        md.AppendLine("## Training");
        md.AppendLine();
        foreach (var (run, i) in runs.Select((r, i) => (r, i)))
            md.AppendLine(FormattableString.Invariant(
                $"- agent {i}: {run.FinalStep} steps in {run.Seconds:0} s; last train loss {run.LastTrain?.Loss:0.000}, action-token accuracy {run.LastTrain?.Accuracy:P0}, L1 {run.LastTrain?.L1:0.000}; validation accuracy {run.LastValidation?.Accuracy:P0}; checkpoint `{run.LastCheckpoint}`"));
        foreach (var p in plots) md.AppendLine($"- ![{Path.GetFileNameWithoutExtension(p)}]({Path.GetRelativePath(outDir, p)})");
        md.AppendLine();
        md.AppendLine("With a few demonstrations and a few dozen steps the tiny policy does not solve the task; this run checks that");
        md.AppendLine("every stage works. Scale it up with `--demos`, `--train-steps`, or a real base model: `./robofactory train --model path/to/openvla-7b`.");
        md.AppendLine();
        md.AppendLine("## Videos");
        md.AppendLine();
        foreach (var (name, rep) in new[] { ("tiny OpenVLA", learned!), ("expert", expert!) })
            foreach (var v in rep.Results.Where(e => e.Video is not null))
                md.AppendLine($"- {name}, seed {v.Seed}: [{v.Video}]({Path.GetRelativePath(outDir, Path.Combine(rep.Directory, v.Video!))})");
        File.WriteAllText(reportPath, md.ToString());
        Console.WriteLine(md.ToString());
        Console.WriteLine($"report: {reportPath}");
        return reportPath;
    }
}
