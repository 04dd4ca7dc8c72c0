using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RoboFactory.Core.Naming;
using RoboFactory.Planning;
using RoboFactory.Recording;
using RoboFactory.Data.Rlds;
using RoboFactory.Eval;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;
using RoboFactory.Vla.Policies;

namespace RoboFactory.Cli.Commands;

/// <summary>
/// `quickstart`: the whole loop on one task at a small size, with one progress display:
/// prepare → convert → train the tiny OpenVLA per agent → evaluate the trained agents together on held-out seeds
/// (and the scripted expert as a sanity check, with videos) → report.md.
/// </summary>
public static class QuickstartCommand
{
    /// <summary>What one quickstart run does; the defaults are what `./robofactory quickstart` runs.</summary>
    public sealed record QuickstartOptions
    {
        public string Task { get; init; } = "LiftBarrier";
        public int Demos { get; init; } = 40;
        /// <summary>Wall-clock budget of the whole run; sizes training when <see cref="TrainSteps"/> is not given.</summary>
        public double Minutes { get; init; } = 25;
        /// <summary>Optimizer steps per agent; null = as many as fit in <see cref="Minutes"/>.</summary>
        public int? TrainSteps { get; init; }
        public int BatchSize { get; init; } = 8;
        public int ImageSize { get; init; } = 84;
        public bool ImageAug { get; init; } = false;
        public bool Proprio { get; init; } = true;
        public int ActionChunk { get; init; } = 4;
        public string Decoding { get; init; } = "expected";
        public int EvalEpisodes { get; init; } = 4;
        public int EvalMaxSteps { get; init; } = 200;
        public int Workers { get; init; } = Math.Max(1, Environment.ProcessorCount);
        public string OutDir { get; init; } = Path.Combine("runs", "quickstart");
    }

    public static Command Build()
    {
        var d = new QuickstartOptions();
        var cmd = new Command("quickstart", "Run the pipeline end to end at a small size (prepare → convert → train the tiny OpenVLA per agent → eval on held-out seeds) and write runs/quickstart/report.md.");
        var task = new Option<string>("--task") { Description = "Task to run", DefaultValueFactory = _ => d.Task };
        var demos = new Option<int>("--demos") { Description = "Demonstrations to record", DefaultValueFactory = _ => d.Demos };
        var minutes = new Option<double>("--minutes") { Description = "Wall-clock budget of the whole run: training gets what prepare, convert and the evaluation estimate leave (ignored with --train-steps)", DefaultValueFactory = _ => d.Minutes };
        var trainSteps = new Option<int?>("--train-steps") { Description = "Optimizer steps of the tiny model per agent (default: as many as fit in --minutes, measured on this machine)" };
        var batch = new Option<int>("--batch-size") { Description = "Training batch size", DefaultValueFactory = _ => d.BatchSize };
        var imageSize = new Option<int>("--image-size") { Description = "Input size of the tiny vision towers (px, a multiple of 14)", DefaultValueFactory = _ => d.ImageSize };
        var aug = new Option<bool>("--image-aug") { Description = "Train with random-resized-crop + colour jitter (off by default here: the fixed cameras make absolute image position informative)" };
        var proprio = new Option<bool>("--proprio") { Description = "Joint-state tokens in the prompt (train --proprio); `--proprio false` trains on images and instruction only", DefaultValueFactory = _ => d.Proprio };
        var chunk = new Option<int>("--action-chunk") { Description = "Actions predicted per model call and executed in turn (train --action-chunk)", DefaultValueFactory = _ => d.ActionChunk };
        var decoding = new Option<string>("--decoding") { Description = "How action tokens are read at evaluation: greedy | action-greedy | expected (see `eval --help`)", DefaultValueFactory = _ => d.Decoding };
        decoding.AcceptOnlyFromAmong("greedy", "action-greedy", "expected");
        var episodes = new Option<int>("--eval-episodes") { Description = "Held-out evaluation episodes (seeds 1000+)", DefaultValueFactory = _ => d.EvalEpisodes };
        var evalSteps = new Option<int>("--eval-max-steps") { Description = "Control steps per evaluation episode of the trained policy", DefaultValueFactory = _ => d.EvalMaxSteps };
        var workers = new Option<int>("--workers") { Description = "Parallel simulation workers", DefaultValueFactory = _ => d.Workers };
        var outDir = new Option<string>("--out") { Description = "Run folder (replaced)", DefaultValueFactory = _ => d.OutDir };
        foreach (var o in new Option[] { task, demos, minutes, trainSteps, batch, imageSize, aug, proprio, chunk, decoding, episodes, evalSteps, workers, outDir }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() => Run(new QuickstartOptions
        {
            Task = r.GetValue(task)!, Demos = r.GetValue(demos), Minutes = r.GetValue(minutes), TrainSteps = r.GetValue(trainSteps),
            BatchSize = r.GetValue(batch), ImageSize = r.GetValue(imageSize), ImageAug = r.GetValue(aug), Proprio = r.GetValue(proprio),
            ActionChunk = r.GetValue(chunk), Decoding = r.GetValue(decoding)!,
            EvalEpisodes = r.GetValue(episodes), EvalMaxSteps = r.GetValue(evalSteps), Workers = r.GetValue(workers), OutDir = r.GetValue(outDir)!,
        })));
        return cmd;
    }

    /// <summary>
    /// Planning figure for the evaluation reserve only: seconds per control step of two tiny agents with three views
    /// each (`bench eval` measured 6.2 steps/s on a 2-core machine), rounded up.
    /// </summary>
    const double EvalSecondsPerStep = 0.2;

    public static string Run(QuickstartOptions q)
    {
        if (q.Demos < 2) throw new ArgumentException("--demos must be at least 2 (one episode is held out for validation)");
        if (q.Minutes <= 0) throw new ArgumentException("--minutes must be positive");
        if (q.EvalEpisodes < 1 || q.EvalMaxSteps < 1) throw new ArgumentException("--eval-episodes and --eval-max-steps must be positive");
        var decoding = ActionDecoder.Parse(q.Decoding);
        var (cfg, _) = TaskRegistry.Load(q.Task);
        string outDir = q.OutDir;
        var total = Stopwatch.StartNew();
        string data = Path.Combine(outDir, "data");
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);
        var steps = new List<(string Name, double Seconds, string Command)>();
        var inv = CultureInfo.InvariantCulture;

        // 1. demonstrations
        var sw = Stopwatch.StartNew();
        PrepareResult? prep = null;
        Progress.Run("1/4 prepare", q.Demos, (report, log) =>
            prep = DemoRecorder.Run(new PrepareOptions(cfg.Name, q.Demos, q.Workers, OutRoot: Path.Combine(data, DataNames.ZarrFolder)),
                new SyncProgress<PrepareProgress>(p => report(p.Successes, $"{p.Successes}/{p.Target} demos ({p.Failures} failed seeds)")), log));
        steps.Add(("prepare", sw.Elapsed.TotalSeconds, $"./robofactory prepare --task {cfg.Name} --num {q.Demos} --out {data}"));

        // 2. RLDS + statistics per agent
        sw.Restart();
        var datasets = new List<RldsWriteResult>();
        Progress.Run("2/4 convert", prep!.Stores.Count, (report, _) =>
        {
            foreach (var (store, i) in prep.Stores.Select((s, i) => (s, i)))
            {
                datasets.Add(ZarrToRlds.Convert(store, Path.Combine(data, DataNames.RldsFolder), new ZarrToRldsOptions { LanguageInstruction = cfg.Instruction }).Dataset);
                report(i + 1, $"agent {i + 1}/{prep.Stores.Count}");
            }
        });
        steps.Add(("convert", sw.Elapsed.TotalSeconds, $"./robofactory convert --task {cfg.Name} --data {data} --out {Path.Combine(data, DataNames.RldsFolder)}"));

        // 3. the tiny OpenVLA, one per agent, on its own dataset
        sw.Restart();
        string ckptRoot = Path.Combine(outDir, "checkpoints");
        TrainOptions Options(int agent, string dataset, int maxSteps) => new()
        {
            Task = cfg.Name, AgentId = agent, DataPath = dataset, Model = "tiny", ImageSize = q.ImageSize, ImageAug = q.ImageAug,
            Proprio = q.Proprio, ActionChunk = q.ActionChunk, BatchSize = q.BatchSize, MaxSteps = maxSteps, SaveEvery = maxSteps, ValEvery = Math.Max(1, maxSteps / 10),
            CheckpointRoot = ckptRoot, Logger = "jsonl", Plots = false, LogEvery = 1, // per-step curves in the report (a CPU read per step costs nothing here)
        };
        string budgetNote;
        int trainSteps;
        if (q.TrainSteps is int fixedSteps)
        {
            trainSteps = fixedSteps;
            budgetNote = $"{fixedSteps} steps per agent (--train-steps)";
        }
        else
        {
            double reserve = q.EvalEpisodes * q.EvalMaxSteps * EvalSecondsPerStep + 30;
            double perAgent = (q.Minutes * 60 - total.Elapsed.TotalSeconds - reserve) / datasets.Count;
            double rate = MeasureSamplesPerSecond(Options(0, datasets[0].DatasetDirectory, 4) with { OutDir = Path.Combine(outDir, "calibration") });
            trainSteps = Math.Max(10, (int)(perAgent * rate / q.BatchSize));
            budgetNote = FormattableString.Invariant(
                $"{trainSteps} steps per agent: {perAgent / 60:0.0} min each at the measured {rate:0.0} samples/s, from the {q.Minutes:0.#}-minute budget less prepare, convert and an evaluation reserve of {reserve / 60:0.0} min");
        }
        Console.WriteLine($"training: {budgetNote}");
        var runs = new List<TrainSummary>();
        var plots = new List<string>();
        foreach (var (ds, i) in datasets.Select((d, i) => (d, i)))
        {
            using var trainer = VlaTrainer.Create(Options(i, ds.DatasetDirectory, trainSteps));
            Progress.Run($"3/4 train agent {i}", trainSteps, (report, log) =>
            {
                string last = "";
                runs.Add(trainer.Run((step, m) =>
                {
                    if (m is not null) last = FormattableString.Invariant($" loss {m.Loss:0.000} acc {m.Accuracy:P0}");
                    report(step, $"step {step}/{trainSteps}{last}");
                }, v => log(v.ToString())));
            });
            try { plots.AddRange(TrainPlots.Write(trainer.RunDirectory)); }
            catch (Exception e) when (e is not OutOfMemoryException) { Console.Error.WriteLine($"warning: plots not written: {e.Message}"); }
        }
        string recipeFlags = (q.ImageAug ? "" : " --no-image-aug") + (q.Proprio ? " --proprio" : "") + (q.ActionChunk > 1 ? $" --action-chunk {q.ActionChunk}" : "");
        steps.Add(("train tiny (per agent)", sw.Elapsed.TotalSeconds,
            $"./robofactory train --policy openvla --task {cfg.EnvId} --agent-id I --model tiny --image-size {q.ImageSize}{recipeFlags} --batch-size {q.BatchSize} --max-steps {trainSteps} --data {Path.Combine(data, DataNames.RldsFolder, DataNames.RldsDataset(cfg.Name, "I"), DataNames.RldsVersion)} --out {Path.Combine(ckptRoot, RunNames.AgentRun(cfg.Name, "I"))}"));

        // 4. closed-loop evaluation on held-out seeds: the trained agents together, and the expert as a sanity check
        sw.Restart();
        EvalReport? learned = null, expert = null;
        string evalRoot = Path.Combine(outDir, "eval");
        var ckptDirs = LearnedPolicy.CheckpointDirs(ckptRoot, cfg);
        int evalEpisodes = q.EvalEpisodes;
        Progress.Run("4/4 eval", 2 * evalEpisodes, (report, log) =>
        {
            int done = 0;
            var tick = new SyncProgress<EpisodeResult>(_ => report(++done, $"{done}/{2 * evalEpisodes} episodes"));
            learned = Evaluator.Run(new EvalOptions(cfg.Name, evalEpisodes, 1000, MaxSteps: q.EvalMaxSteps, Workers: 1, Videos: 1, OutRoot: evalRoot, Run: "openvla"),
                () => LearnedPolicy.Load(ckptDirs, options: new PolicyLoadOptions(Decoding: decoding)), tick, log);
            expert = Evaluator.Run(new EvalOptions(cfg.Name, evalEpisodes, 1000, Workers: q.Workers, Videos: 1, OutRoot: evalRoot, Run: "expert"),
                () => new ExpertPolicy(cfg.Name), tick, log);
        });
        steps.Add(("eval (tiny OpenVLA + expert, seeds 1000+)", sw.Elapsed.TotalSeconds,
            $"./robofactory eval --policy openvla --task {cfg.EnvId} --checkpoints {ckptRoot} --episodes {evalEpisodes} --seed-start 1000 --max-steps {q.EvalMaxSteps} --decoding {q.Decoding} --video 1"));

        string reportPath = Path.Combine(outDir, "report.md");
        var md = new StringBuilder();
        md.AppendLine($"# Quickstart: {cfg.EnvId}");
        md.AppendLine();
        md.AppendLine($"Instruction: \"{cfg.Instruction}\"; {cfg.Agents.Count} agents; {q.Demos} demonstrations; training: {budgetNote}; {q.ImageSize} px{(q.Proprio ? ", joint-state tokens" : "")}, {q.ActionChunk} action(s) per call; decoding: {q.Decoding}; measured on this machine ({Environment.ProcessorCount} cores) in {total.Elapsed.TotalMinutes.ToString("0.0", inv)} min.");
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
        md.AppendLine("These are this run's measured figures. docs/results.md lists the settings tried and their success rates;");
        md.AppendLine("scale up with `--demos`, `--minutes` or `--train-steps`, or fine-tune a real base model: `./robofactory train --model path/to/openvla-7b`.");
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

    /// <summary>Training throughput on this machine: a few steps of a throw-away run (the first step warms up).</summary>
    static double MeasureSamplesPerSecond(TrainOptions probe)
    {
        try
        {
            using var t = VlaTrainer.Create(probe with { ValEvery = 0, SaveEvery = 0, Logger = "none", Plots = false, Overwrite = true });
            t.TrainStep();
            var sw = Stopwatch.StartNew();
            int n = 0;
            while (t.Step < probe.MaxSteps) { t.TrainStep(); n++; }
            return n * probe.SamplesPerStep / Math.Max(sw.Elapsed.TotalSeconds, 1e-6);
        }
        finally
        {
            if (probe.OutDir is string dir && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
