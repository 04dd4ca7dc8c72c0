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
/// prepare → convert → train the tiny OpenVLA per agent (openvla-oft by default; the agents at the same time, one
/// core each) → evaluate the trained agents together on held-out seeds (and the scripted expert as a sanity check,
/// with videos) → report.md.
/// </summary>
public static class QuickstartCommand
{
    /// <summary>What one quickstart run does; the defaults are what `./robofactory quickstart` runs.</summary>
    public sealed record QuickstartOptions
    {
        public string Task { get; init; } = "LiftBarrier";
        public string Policy { get; init; } = "openvla-oft";
        public int Demos { get; init; } = 100;
        /// <summary>
        /// Wall-clock budget of the whole run; sizes training when <see cref="TrainSteps"/> is not given. 26 minutes
        /// leave room for the set-up and the first build within half an hour on a fresh machine.
        /// </summary>
        public double Minutes { get; init; } = 26;
        /// <summary>Optimizer steps per agent; null = as many as fit in <see cref="Minutes"/>.</summary>
        public int? TrainSteps { get; init; }
        public int BatchSize { get; init; } = 8;
        /// <summary>Peak learning rate of the cosine schedule (train --lr); null = train's default.</summary>
        public double? Lr { get; init; }
        /// <summary>Learning rate at the end of the cosine decay (train --min-lr); null = train's default.</summary>
        public double? MinLr { get; init; }
        /// <summary>
        /// 84 px. 56 px trains 1.5× faster (12.9–13.6 vs 8.5 samples/s per agent, two agents at once) but did not solve
        /// more held-out episodes in the same budget (10/50 on seeds 1000–1049; 84 px: 12/50 and 27/50; docs/results.md,
        /// runs Q3 and Q4), and its run ends nearer the half-hour.
        /// </summary>
        public int ImageSize { get; init; } = 84;
        /// <summary>
        /// Camera views per agent, in the order head, global, wrist. One (the agent's own head camera) trains 1.75×
        /// faster than three on a 2-core machine (16.1 vs 9.2 samples/s per agent, two agents at once); the
        /// RoboFactory paper found each agent's local view best for its Diffusion Policy.
        /// </summary>
        public int Views { get; init; } = 3;
        public bool ImageAug { get; init; } = false;
        /// <summary>Training weights and compute: fp32, or bf16 with fp32 master weights in the optimizer.</summary>
        public string DType { get; init; } = "fp32";
        public bool Proprio { get; init; } = true;
        /// <summary>
        /// The tiny model's prompt ids (train --prompt-stand-in). Words: 187 positions per openvla-oft sample instead of
        /// 238 with bytes, 12.4 against 10.1 samples/s per agent at calibration, 1,617 steps in the budget instead of
        /// 1,267 (docs/results.md, runs Q6–Q8).
        /// </summary>
        public PromptStandIn PromptStandIn { get; init; } = PromptStandIn.Words;
        /// <summary>null = the policy's default (openvla-oft: 8; openvla: 1).</summary>
        public int? ActionChunk { get; init; }
        /// <summary>Evaluation: actions executed of each chunk before the next call (null = the whole chunk).</summary>
        public int? ExecuteSteps { get; init; }
        /// <summary>The agents train at the same time, each with its share of the cores (run E: 23.8 samples/s for two one-thread trainers, 14.3 for one two-thread trainer).</summary>
        public bool Concurrent { get; init; } = true;
        public string Decoding { get; init; } = "expected";
        public int EvalEpisodes { get; init; } = 50;
        public int EvalSeedStart { get; init; } = 1000;
        /// <summary>null = the RoboFactory paper's rule: twice the demonstrations' mean length.</summary>
        public int? EvalMaxSteps { get; init; }
        public int ExpertEpisodes { get; init; } = 4;
        public int Workers { get; init; } = Math.Max(1, Environment.ProcessorCount);
        public string OutDir { get; init; } = Path.Combine("runs", "quickstart");
    }

    /// <summary>train's defaults, for what the quickstart leaves to train.</summary>
    static readonly TrainOptions TrainDefaults = new();

    public static Command Build()
    {
        var d = new QuickstartOptions();
        var cmd = new Command("quickstart", "Run the pipeline end to end at a small size (prepare → convert → train the tiny OpenVLA per agent → eval on held-out seeds) and write runs/quickstart/report.md.");
        var task = new Option<string>("--task") { Description = "Task to run", DefaultValueFactory = _ => d.Task };
        var policy = new Option<string>("--policy") { Description = $"Policy to train and evaluate: {string.Join(" | ", PolicyRegistry.Names)}", DefaultValueFactory = _ => d.Policy };
        policy.AcceptOnlyFromAmong(PolicyRegistry.Names.ToArray());
        var demos = new Option<int>("--demos") { Description = "Demonstrations to record", DefaultValueFactory = _ => d.Demos };
        var minutes = new Option<double>("--minutes") { Description = "Wall-clock budget of the whole run: training gets what prepare, convert and the evaluation estimate leave (ignored with --train-steps)", DefaultValueFactory = _ => d.Minutes };
        var trainSteps = new Option<int?>("--train-steps") { Description = "Optimizer steps of the tiny model per agent (default: as many as fit in --minutes, measured on this machine)" };
        var batch = new Option<int>("--batch-size") { Description = "Training batch size", DefaultValueFactory = _ => d.BatchSize };
        var lr = new Option<double?>("--lr") { Description = FormattableString.Invariant($"Peak learning rate of the tiny model (train --lr; default {d.Lr ?? TrainDefaults.Lr})") };
        var minLr = new Option<double?>("--min-lr") { Description = FormattableString.Invariant($"Learning rate at the end of the cosine decay (train --min-lr; default {d.MinLr ?? TrainDefaults.MinLr})") };
        var imageSize = new Option<int>("--image-size") { Description = "Input size of the tiny vision towers (px, a multiple of 14)", DefaultValueFactory = _ => d.ImageSize };
        var views = new Option<int>("--views") { Description = "Camera views per agent fed to the model, in the order head, global, wrist (1: the agent's own head camera only, 1.75x faster to train than 3 but it learned less in the same time: docs/results.md, runs Q1 and Q2)", DefaultValueFactory = _ => d.Views };
        var dtype = new Option<string>("--dtype") { Description = "Training weights and compute: fp32 | bf16 (fp32 master weights in the optimizer; faster where the CPU has AVX512_BF16 or AMX)", DefaultValueFactory = _ => d.DType };
        dtype.AcceptOnlyFromAmong("fp32", "bf16");
        var aug = new Option<bool>("--image-aug") { Description = "Train with random-resized-crop + colour jitter (off by default here: the fixed cameras make absolute image position informative)" };
        var proprio = new Option<bool>("--proprio") { Description = "Joint-state tokens in the prompt (train --proprio); `--proprio false` trains on images and instruction only", DefaultValueFactory = _ => d.Proprio };
        var standIn = PromptOptions.StandIn(d.PromptStandIn);
        var chunk = new Option<int?>("--action-chunk") { Description = "Actions predicted per model call (train --action-chunk; default: the policy's, 8 for openvla-oft)" };
        var execute = new Option<int?>("--execute-steps") { Description = "Evaluation: actions executed of each chunk before the policy is asked again (default: the whole chunk)" };
        var sequential = new Option<bool>("--sequential") { Description = "Train the agents one after the other with all cores each, instead of at the same time with one share each" };
        var decoding = new Option<string>("--decoding") { Description = "--policy openvla: how action tokens are read at evaluation: greedy | action-greedy | expected (see `eval --help`)", DefaultValueFactory = _ => d.Decoding };
        decoding.AcceptOnlyFromAmong("greedy", "action-greedy", "expected");
        var episodes = new Option<int>("--eval-episodes") { Description = "Held-out evaluation episodes of the trained agents", DefaultValueFactory = _ => d.EvalEpisodes };
        var seedStart = new Option<int>("--eval-seed-start") { Description = "First evaluation seed (the demonstrations use seeds 0 and up; choose settings on seeds other than the reported 1000+)", DefaultValueFactory = _ => d.EvalSeedStart };
        var evalSteps = new Option<int?>("--eval-max-steps") { Description = "Control steps per evaluation episode of the trained agents (default: the RoboFactory paper's rule, twice the demonstrations' mean length)" };
        var expertEpisodes = new Option<int>("--expert-episodes") { Description = "Episodes of the scripted expert on the same seeds (a check of the simulation; 0 = none)", DefaultValueFactory = _ => d.ExpertEpisodes };
        var workers = new Option<int>("--workers") { Description = "Parallel simulation workers", DefaultValueFactory = _ => d.Workers };
        var outDir = new Option<string>("--out") { Description = "Run folder (replaced)", DefaultValueFactory = _ => d.OutDir };
        foreach (var o in new Option[] { task, policy, demos, minutes, trainSteps, batch, lr, minLr, imageSize, views, aug, dtype, proprio, standIn, chunk, execute, sequential, decoding, episodes, seedStart, evalSteps, expertEpisodes, workers, outDir }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() => Run(new QuickstartOptions
        {
            Task = r.GetValue(task)!, Policy = r.GetValue(policy)!, Demos = r.GetValue(demos), Minutes = r.GetValue(minutes), TrainSteps = r.GetValue(trainSteps),
            BatchSize = r.GetValue(batch), Lr = r.GetValue(lr), MinLr = r.GetValue(minLr), ImageSize = r.GetValue(imageSize), Views = r.GetValue(views), ImageAug = r.GetValue(aug), DType = r.GetValue(dtype)!, Proprio = r.GetValue(proprio), PromptStandIn = PromptOptions.Parse(r, standIn),
            ActionChunk = r.GetValue(chunk), ExecuteSteps = r.GetValue(execute), Concurrent = !r.GetValue(sequential), Decoding = r.GetValue(decoding)!,
            EvalEpisodes = r.GetValue(episodes), EvalSeedStart = r.GetValue(seedStart), EvalMaxSteps = r.GetValue(evalSteps), ExpertEpisodes = r.GetValue(expertEpisodes),
            Workers = r.GetValue(workers), OutDir = r.GetValue(outDir)!,
        })));
        return cmd;
    }

    /// <summary>
    /// Planning figures for the evaluation reserve only, in wall seconds per control step of two tiny agents with three
    /// views, over all workers, rounded up: openvla decodes every action token (`bench eval` measured 6.2 steps/s on
    /// one worker of a 2-core machine); openvla-oft calls its policy once per chunk, so the simulation dominates (run G
    /// in docs/results.md: 0.050 s per step on each of 2 workers, 17 ms of it in the policies; a quickstart with one view
    /// at 84 px: 222.7 s for 50 + 4 episodes, 10,600 steps, on 2 workers: 0.042 s per step and worker).
    /// </summary>
    static double EvalSecondsPerStep(string policy, int workers) =>
        policy == "openvla" ? 0.2 : 0.045 / Math.Clamp(workers, 1, Environment.ProcessorCount);

    public static string Run(QuickstartOptions q)
    {
        if (q.Demos < 2) throw new ArgumentException("--demos must be at least 2 (one episode is held out for validation)");
        if (q.Lr is <= 0 || q.MinLr is < 0) throw new ArgumentException("--lr must be positive and --min-lr not negative");
        if (q.Minutes <= 0) throw new ArgumentException("--minutes must be positive");
        if (q.EvalEpisodes < 1 || q.EvalMaxSteps is < 1) throw new ArgumentException("--eval-episodes and --eval-max-steps must be positive");
        if (q.ExpertEpisodes < 0) throw new ArgumentException("--expert-episodes must not be negative");
        var entry = PolicyRegistry.Get(q.Policy);
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

        // the paper's step limit: twice the mean length of the expert's episodes (here: the demonstrations)
        double demoMeanLength = (double)datasets[0].NumTransitions / datasets[0].NumEpisodes;
        int evalMaxSteps = q.EvalMaxSteps ?? (int)Math.Round(2 * demoMeanLength);
        string stepLimitNote = q.EvalMaxSteps is null
            ? FormattableString.Invariant($"{evalMaxSteps} steps, twice the demonstrations' mean length of {demoMeanLength:0.0} (the RoboFactory paper's rule)")
            : $"{evalMaxSteps} steps (--eval-max-steps)";

        // 3. the tiny OpenVLA, one per agent, on its own dataset
        sw.Restart();
        string ckptRoot = Path.Combine(outDir, "checkpoints");
        int parallel = q.Concurrent ? datasets.Count : 1;
        int threadsEach = TorchThreads.PerWorker(parallel);
        TrainOptions Options(int agent, string dataset, int maxSteps) => new()
        {
            Policy = q.Policy, Task = cfg.Name, AgentId = agent, DataPath = dataset, Model = "tiny", ImageSize = q.ImageSize, Views = q.Views, ImageAug = q.ImageAug,
            DType = q.DType, Proprio = q.Proprio, PromptStandIn = q.PromptStandIn, ActionChunk = q.ActionChunk, BatchSize = q.BatchSize, Lr = q.Lr ?? TrainDefaults.Lr, MinLr = q.MinLr ?? TrainDefaults.MinLr, MaxSteps = maxSteps, SaveEvery = maxSteps, ValEvery = Math.Max(1, maxSteps / 10),
            CheckpointRoot = ckptRoot, Logger = "jsonl", Plots = false, LogEvery = 1, // per-step curves in the report (a CPU read per step costs nothing here)
            DecodeThreads = q.Concurrent ? 1 : null,
        };
        string budgetNote;
        int trainSteps;
        double evalReserve = (q.EvalEpisodes * evalMaxSteps * EvalSecondsPerStep(q.Policy, q.Workers)
                              + q.ExpertEpisodes * demoMeanLength * EvalSecondsPerStep("expert", q.Workers)) + 30;
        if (q.TrainSteps is int fixedSteps)
        {
            trainSteps = fixedSteps;
            budgetNote = $"{fixedSteps} steps per agent (--train-steps)";
        }
        else
        {
            double wall = q.Minutes * 60 - total.Elapsed.TotalSeconds - evalReserve;
            double perAgent = q.Concurrent ? wall : wall / datasets.Count;
            double rate = MeasureSamplesPerSecond(Enumerable.Range(0, parallel)
                .Select(i => Options(i, datasets[i].DatasetDirectory, 12) with { OutDir = Path.Combine(outDir, $"calibration{i}") }).ToList(), threadsEach);
            trainSteps = Math.Max(10, (int)(perAgent * rate / q.BatchSize));
            budgetNote = FormattableString.Invariant(
                $"{trainSteps} steps per agent: {perAgent / 60:0.0} min each at the measured {rate:0.0} samples/s{(q.Concurrent ? $" per agent ({parallel} at once, {threadsEach} thread(s) each)" : "")}, from the {q.Minutes:0.#}-minute budget less prepare, convert and an evaluation reserve of {evalReserve / 60:0.0} min");
        }
        Console.WriteLine($"training: {budgetNote}");
        var runs = new TrainSummary[datasets.Count];
        var runDirs = new string[datasets.Count];
        void TrainAgent(int i, Action<double, string> report, Action<string> log)
        {
            using var trainer = VlaTrainer.Create(Options(i, datasets[i].DatasetDirectory, trainSteps));
            runDirs[i] = trainer.RunDirectory;
            string last = "";
            runs[i] = trainer.Run((step, m) =>
            {
                if (m is not null) last = FormattableString.Invariant($" loss {m.Loss:0.000}") + (q.Policy == "openvla" ? FormattableString.Invariant($" acc {m.Accuracy:P0}") : "");
                report(step, $"step {step}/{trainSteps}{last}");
            }, v => log(v.ToString()));
        }
        if (q.Concurrent)
        {
            int mainThreads = TorchThreads.Get();
            try
            {
                Progress.RunParallel(datasets.Select((_, i) => $"3/4 train agent {i}").ToList(), trainSteps, (i, report, log) =>
                {
                    TorchThreads.Set(threadsEach);
                    TrainAgent(i, report, log);
                });
            }
            finally { TorchThreads.Set(mainThreads); }
        }
        else
            for (int i = 0; i < datasets.Count; i++)
            {
                int agent = i;
                Progress.Run($"3/4 train agent {agent}", trainSteps, (report, log) => TrainAgent(agent, report, log));
            }
        var plots = new List<string>();
        foreach (var dir in runDirs)
            try { plots.AddRange(TrainPlots.Write(dir)); }
            catch (Exception e) when (e is not OutOfMemoryException) { Console.Error.WriteLine($"warning: plots not written: {e.Message}"); }
        int chunk = q.ActionChunk ?? entry.DefaultActionChunk;
        string recipeFlags = (q.ImageAug ? "" : " --no-image-aug") + (q.Proprio ? " --proprio" : "") + $" --prompt-stand-in {PromptOptions.Name(q.PromptStandIn)}" + (chunk > 1 ? $" --action-chunk {chunk}" : "")
            + (q.Lr is double lrSet ? FormattableString.Invariant($" --lr {lrSet}") : "") + (q.MinLr is double minLrSet ? FormattableString.Invariant($" --min-lr {minLrSet}") : "");
        string concurrency = q.Concurrent ? $" (the {datasets.Count} at once, OMP_NUM_THREADS={threadsEach} each)" : "";
        steps.Add(($"train tiny {q.Policy} (per agent{concurrency})", sw.Elapsed.TotalSeconds,
            $"./robofactory train --policy {q.Policy} --task {cfg.EnvId} --agent-id I --model tiny --image-size {q.ImageSize} --views {q.Views}{recipeFlags} --batch-size {q.BatchSize} --max-steps {trainSteps} --data {Path.Combine(data, DataNames.RldsFolder, DataNames.RldsDataset(cfg.Name, "I"), DataNames.RldsVersion)} --out {Path.Combine(ckptRoot, RunNames.AgentRun(cfg.Name, "I"))}"));

        // 4. closed-loop evaluation on held-out seeds: the trained agents together, and the expert as a sanity check
        sw.Restart();
        EvalReport? learned = null, expert = null;
        string evalRoot = Path.Combine(outDir, "eval");
        var ckptDirs = LearnedPolicy.CheckpointDirs(ckptRoot, cfg, q.Policy);
        int evalEpisodes = q.EvalEpisodes;
        var loadOptions = new PolicyLoadOptions(Decoding: decoding, ExecuteSteps: q.ExecuteSteps);
        Progress.Run("4/4 eval", evalEpisodes + q.ExpertEpisodes, (report, log) =>
        {
            int done = 0;
            var tick = new SyncProgress<EpisodeResult>(_ => report(++done, $"{done}/{evalEpisodes + q.ExpertEpisodes} episodes"));
            learned = Evaluator.Run(new EvalOptions(cfg.Name, evalEpisodes, q.EvalSeedStart, MaxSteps: evalMaxSteps, Workers: q.Workers, Videos: 1, OutRoot: evalRoot, Run: q.Policy),
                () => LearnedPolicy.Load(ckptDirs, q.Policy, loadOptions), tick, log);
            if (q.ExpertEpisodes > 0)
                expert = Evaluator.Run(new EvalOptions(cfg.Name, q.ExpertEpisodes, q.EvalSeedStart, Workers: q.Workers, Videos: 1, OutRoot: evalRoot, Run: "expert"),
                    () => new ExpertPolicy(cfg.Name), tick, log);
        });
        string evalFlags = (q.Policy == "openvla" ? $" --decoding {q.Decoding}" : "") + (q.ExecuteSteps is int n ? $" --execute-steps {n}" : "");
        steps.Add(("eval (trained agents + expert)", sw.Elapsed.TotalSeconds,
            $"./robofactory eval --policy {q.Policy} --task {cfg.EnvId} --checkpoints {ckptRoot} --episodes {evalEpisodes} --seed-start {q.EvalSeedStart} --max-steps {evalMaxSteps}{evalFlags} --workers {q.Workers} --video 1"));

        string reportPath = Path.Combine(outDir, "report.md");
        var md = new StringBuilder();
        var sum = learned!.Summary;
        md.AppendLine($"# Quickstart: {cfg.EnvId}");
        md.AppendLine();
        md.AppendLine(FormattableString.Invariant(
            $"**The trained agents solved {sum.Successes} of {sum.Episodes} held-out episodes ({sum.SuccessRate:P0}, Wilson 95 % [{sum.WilsonLow:P0}, {sum.WilsonHigh:P0}]), seeds {q.EvalSeedStart}–{q.EvalSeedStart + evalEpisodes - 1}, at most {evalMaxSteps} steps each.**"));
        md.AppendLine();
        string decodingNote = q.Policy == "openvla" ? $"decoding: {q.Decoding}" : $"{q.ExecuteSteps ?? chunk} of each chunk executed";
        md.AppendLine($"Instruction: \"{cfg.Instruction}\"; {cfg.Agents.Count} agents; {q.Demos} demonstrations; policy {q.Policy}; training: {budgetNote}; {q.Views} view(s) at {q.ImageSize} px{(q.Proprio ? ", joint state" : "")}, prompt ids: {PromptOptions.Name(q.PromptStandIn)}, {q.DType} weights, learning rate {(q.Lr ?? TrainDefaults.Lr).ToString(inv)} cosine to {(q.MinLr ?? TrainDefaults.MinLr).ToString(inv)}, batch {q.BatchSize}, {chunk} action(s) per call; {decodingNote}; step limit: {stepLimitNote}; success at any step (protocol robofactory-net); measured on this machine ({Environment.ProcessorCount} cores) in {total.Elapsed.TotalMinutes.ToString("0.0", inv)} min.");
        md.AppendLine();
        md.AppendLine("| step | time (s) | reproduce |");
        md.AppendLine("|---|---|---|");
        foreach (var s in steps) md.AppendLine($"| {s.Name} | {s.Seconds.ToString("0.0", inv)} | `{s.Command}` |");
        md.AppendLine();
        md.AppendLine("## Results");
        md.AppendLine();
        md.AppendLine("| policy | seeds | success | 95% Wilson interval | mean steps | policy calls per env step | ms in the policies per env step |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        var rows = new List<(string, EvalReport)> { ($"tiny {q.Policy} (all agents)", learned!) };
        if (expert is not null) rows.Add(("scripted expert", expert));
        foreach (var (name, rep) in rows)
        {
            int envSteps = Math.Max(1, rep.Results.Sum(e => e.Steps));
            string calls = rep == learned ? FormattableString.Invariant($"{(double)rep.Results.Sum(e => e.PolicyCalls) / envSteps:0.00}") : "–";
            string ms = rep == learned ? FormattableString.Invariant($"{1000 * rep.Results.Sum(e => e.PolicySeconds) / envSteps:0.0}") : "–";
            md.AppendLine(FormattableString.Invariant(
                $"| {name} | {q.EvalSeedStart}–{q.EvalSeedStart + rep.Summary.Episodes - 1} | {rep.Summary.Successes}/{rep.Summary.Episodes} ({rep.Summary.SuccessRate:P0}) | [{rep.Summary.WilsonLow:P0}, {rep.Summary.WilsonHigh:P0}] | {rep.Summary.MeanSteps:0.0} | {calls} | {ms} |"));
        }
        var reasons = learned.Results.Where(e => !e.Success).GroupBy(e => e.FailureReason ?? "unknown").OrderByDescending(g => g.Count()).ToList();
        if (reasons.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Failures: " + string.Join("; ", reasons.Select(g => $"{g.Count()} × {g.Key}")) + $" (per episode in `{Path.GetRelativePath(outDir, learned.ResultsPath)}`).");
        }
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
                $"- agent {i}: {run.FinalStep} steps in {run.Seconds:0} s; last train loss {run.LastTrain?.Loss:0.000}, L1 {run.LastTrain?.L1:0.000}; validation L1 {run.LastValidation?.L1:0.000}{(q.Policy == "openvla" ? FormattableString.Invariant($", validation action-token accuracy {run.LastValidation?.Accuracy:P0}") : "")}; checkpoint `{run.LastCheckpoint}`"));
        foreach (var p in plots) md.AppendLine($"- ![{Path.GetFileNameWithoutExtension(p)}]({Path.GetRelativePath(outDir, p)})");
        md.AppendLine();
        md.AppendLine("These are this run's measured figures. docs/results.md lists the settings tried and their success rates;");
        md.AppendLine("scale up with `--demos`, `--minutes` or `--train-steps`, or fine-tune a real base model: `./robofactory train --model path/to/openvla-7b`.");
        md.AppendLine();
        md.AppendLine("## Videos");
        md.AppendLine();
        foreach (var (name, rep) in rows)
            foreach (var v in rep.Results.Where(e => e.Video is not null))
                md.AppendLine($"- {name}, seed {v.Seed}: [{v.Video}]({Path.GetRelativePath(outDir, Path.Combine(rep.Directory, v.Video!))})");
        File.WriteAllText(reportPath, md.ToString());
        Console.WriteLine(md.ToString());
        Console.WriteLine($"report: {reportPath}");
        return reportPath;
    }

    /// <summary>
    /// Training throughput per trainer on this machine: a few steps of throw-away runs, all at once as the real ones
    /// will run (the first step of each warms up); the slowest sets the pace.
    /// </summary>
    static double MeasureSamplesPerSecond(IReadOnlyList<TrainOptions> probes, int threadsEach)
    {
        var rates = new double[probes.Count];
        var errors = new Exception?[probes.Count];
        int mainThreads = TorchThreads.Get();
        try
        {
            var threads = probes.Select((probe, i) => new Thread(() =>
            {
                try
                {
                    TorchThreads.Set(threadsEach);
                    using var t = VlaTrainer.Create(probe with { ValEvery = 0, SaveEvery = 0, Logger = "none", Plots = false, Overwrite = true });
                    // two untimed steps: the first ones pay for allocation and the data decoder's warm-up
                    t.TrainStep(); t.TrainStep();
                    var sw = Stopwatch.StartNew();
                    int n = 0;
                    while (t.Step < probe.MaxSteps) { t.TrainStep(); n++; }
                    rates[i] = n * probe.SamplesPerStep / Math.Max(sw.Elapsed.TotalSeconds, 1e-6);
                }
                catch (Exception e) { errors[i] = e; }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            if (errors.FirstOrDefault(e => e is not null) is Exception error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
            return rates.Min();
        }
        finally
        {
            TorchThreads.Set(mainThreads);
            foreach (var probe in probes)
                if (probe.OutDir is string dir && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
