using RoboFactory.Data.Datasets;
using RoboFactory.Core.Rng;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Data;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Policies;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Training;

/// <summary>What one finished (or interrupted) run produced.</summary>
public sealed record TrainSummary(string RunDirectory, long FinalStep, string? LastCheckpoint, StepMetrics? LastTrain, StepMetrics? LastValidation,
    long TrainableParameters, long TotalParameters, double Seconds);

/// <summary>
/// The generic per-agent training loop for any <see cref="ITrainablePolicy"/> (chosen by <see cref="TrainOptions.Policy"/>
/// from <see cref="PolicyRegistry"/>): AdamW with linear warmup + cosine decay per step, one stacked-norm gradient clip,
/// gradient accumulation, metrics summed on the device and read once per log interval, validation on held-out
/// episodes, atomic resumable checkpoints. The policy owns its model, data pipeline and weight files.
/// Determinism: the data stream is a function of (seed, sample index) and the dropout generator is re-seeded per
/// micro-batch from (seed, step), so resuming from step N reproduces an uninterrupted run.
/// </summary>
public sealed class VlaTrainer : IDisposable
{
    public const string LatestFile = "latest";
    public const string TrainerStateFile = "trainer_state.json";
    public const string RngStateFile = "rng_state.json";
    public const string PolicyFile = "policy.json";
    public const string StatsFile = "dataset_statistics.json";

    readonly TextWriter log;
    readonly WarmupCosineSchedule schedule;
    MetricsLog? metrics;
    readonly Stopwatch clock = new();
    readonly IntervalMetrics interval;
    double intervalStart;

    public TrainOptions Options { get; }
    public string RunDirectory { get; }
    public ITrainablePolicy Policy { get; }
    public AdamW Optimizer { get; }
    public IPolicyData Train => Policy.TrainData;
    public IPolicyData? Validation => Policy.ValidationData;
    public string DatasetName { get; }
    public long Step { get; private set; }
    public StepMetrics? LastTrain { get; private set; }
    public StepMetrics? LastValidation { get; private set; }
    public string? LastCheckpoint { get; private set; }
    public long TotalParameters => Policy.TotalParameters;
    /// <summary>The data-parallel ranks (<see cref="Communicator.Single"/> for one process).</summary>
    public Communicator Ranks { get; }
    /// <summary>Samples per optimizer step over all ranks: ranks × batch size × accumulation.</summary>
    public long GlobalSamplesPerStep => Options.SamplesPerStep * Ranks.Size;

    VlaTrainer(TrainOptions o, TextWriter log, string runDir, ITrainablePolicy policy, AdamW opt, string datasetName, long step, Communicator ranks)
    {
        Options = o; this.log = log; RunDirectory = runDir; Policy = policy; Optimizer = opt;
        DatasetName = datasetName; Step = step; Ranks = ranks;
        schedule = new WarmupCosineSchedule(o.Lr, o.MinLr, o.EffectiveWarmup, o.MaxSteps);
        interval = new IntervalMetrics(Pretrained.ParseDevice(o.Device));
    }

    /// <summary>The step folder `latest` points to, or null.</summary>
    public static string? LatestCheckpoint(string runDir)
    {
        var p = Path.Combine(runDir, LatestFile);
        if (!File.Exists(p)) return null;
        var dir = Path.Combine(runDir, File.ReadAllText(p).Trim());
        return Directory.Exists(dir) ? dir : throw new DirectoryNotFoundException($"{p} points to {dir}, which does not exist");
    }

    /// <summary>Builds (or, with <see cref="TrainOptions.Resume"/>, restores) a run.</summary>
    /// <param name="ranks">data-parallel ranks (default one process): each reads its part of every global batch of
    /// ranks × batch size samples, gradients are averaged over the ranks, and rank 0 alone writes files</param>
    public static VlaTrainer Create(TrainOptions requested, TextWriter? log = null, Communicator? ranks = null)
    {
        log ??= TextWriter.Null;
        ranks ??= Communicator.Single;
        requested.Validate();
        string runDir = requested.ResolvedOutDir;
        string? resumeFrom = Directory.Exists(runDir) ? LatestCheckpoint(runDir) : null;
        var o = requested;
        long step = 0;
        if (requested.Resume && resumeFrom is not null)
        {
            var state = JsonNode.Parse(File.ReadAllText(Path.Combine(resumeFrom, TrainerStateFile)))!;
            var saved = TrainOptions.FromJson(state["options"]!);
            step = state["global_step"]!.GetValue<long>();
            int savedRanks = state["world_size"]?.GetValue<int>() ?? 1;
            long savedGlobal = saved.SamplesPerStep * savedRanks, global = saved.SamplesPerStep * ranks.Size;
            if (savedGlobal != global)
                throw new ArgumentException($"{resumeFrom} was trained with {savedRanks} rank(s) × {saved.SamplesPerStep} samples per step = {savedGlobal} per global step; resuming with {ranks.Size} rank(s) would make it {global} and change the run (use {savedGlobal / saved.SamplesPerStep} rank(s))");
            // The saved recipe wins; only the horizon and the bookkeeping may change.
            o = saved with
            {
                MaxSteps = requested.MaxSteps, ValEvery = requested.ValEvery, LogEvery = requested.LogEvery, SaveEvery = requested.SaveEvery,
                Logger = requested.Logger, Resume = true, OutDir = requested.OutDir ?? saved.OutDir, DecodeThreads = requested.DecodeThreads,
                Plots = requested.Plots,
            };
            if (saved.MaxSteps != requested.MaxSteps)
                log.WriteLine($"note: --max-steps {requested.MaxSteps} differs from the run's {saved.MaxSteps}; the cosine schedule follows the new horizon");
            if (step >= o.MaxSteps) log.WriteLine($"note: the run is already at step {step} (max {o.MaxSteps})");
            log.WriteLine($"resuming from {resumeFrom} (step {step})");
        }
        else if (requested.Resume) log.WriteLine($"no checkpoint in {runDir}; starting a new run");
        else if (resumeFrom is not null)
        {
            if (!requested.Overwrite)
                throw new ArgumentException($"{runDir} already holds a run (latest: {Path.GetFileName(resumeFrom)}); pass --resume to continue it, --overwrite to replace it, or --out for another folder");
            if (ranks.IsRoot)
            {
                foreach (var d in Directory.GetDirectories(runDir, "step_*")) Directory.Delete(d, true);
                foreach (var f in new[] { LatestFile, MetricsLog.FileName }) if (File.Exists(Path.Combine(runDir, f))) File.Delete(Path.Combine(runDir, f));
                if (Directory.Exists(Path.Combine(runDir, "tb"))) Directory.Delete(Path.Combine(runDir, "tb"), true);
            }
        }
        ranks.Barrier(); // the run folder is settled before any rank reads it
        if (o.Resume && resumeFrom is null) o = o with { Resume = false };

        // ---- data ----
        string dataPath = o.ResolvedDataPath;
        if (!Directory.Exists(dataPath))
            throw new DirectoryNotFoundException($"no dataset at {dataPath}; create it with `robofactory prepare` + `robofactory convert`, or pass --data");
        var ds = EpisodeDatasets.Open(dataPath);
        _ = ds.Statistics ?? throw new FileNotFoundException($"{dataPath} has no dataset_statistics.json entry for '{ds.Spec.Name}' (re-run convert)");
        var (trainEps, valEps) = ds.EpisodeCount > 1 ? EpisodeSplit.Compute(ds.EpisodeCount, o.ValFraction, (ulong)o.Seed) : ([0], []);

        // ---- policy ----
        var entry = PolicyRegistry.Get(o.Policy);
        var policy = entry.CreateForTraining(new PolicyTrainingSetup(o, ds, trainEps, valEps, o.Resume ? resumeFrom : null, Path.Combine(dataPath, StatsFile), log));
        var opt = new AdamW(policy.Trainable, weightDecay: o.WeightDecay) { DecayAllParameters = o.DecayAllParameters };
        if (resumeFrom is not null && o.Resume) opt.Load(resumeFrom);
        // every rank starts from rank 0's weights (a fresh LoRA or head init is seeded, but this makes it a guarantee)
        ranks.BroadcastFromRoot(policy.Trainable.Select(x => (Tensor)x.P).ToList());
        if (ranks.IsRoot) Directory.CreateDirectory(runDir);
        var t = new VlaTrainer(o, log, runDir, policy, opt, ds.Spec.Name, step, ranks);
        t.metrics = ranks.IsRoot ? new MetricsLog(runDir, o.Logger, step) : null;
        if (ranks.Size > 1) log.WriteLine($"data parallel: rank {ranks.Rank} of {ranks.Size}, global batch {t.GlobalSamplesPerStep} ({ranks.Size} × {o.SamplesPerStep})");
        log.WriteLine(policy.Description);
        log.WriteLine($"data: {dataPath} ({ds.Spec.Name}): {trainEps.Length} train episodes ({policy.TrainData.StepsPerEpoch} steps), {valEps.Length} validation episodes; views: {string.Join(", ", DatasetViews.Descriptions.Take(o.Views))}");
        return t;
    }

    /// <summary>Runs until <see cref="TrainOptions.MaxSteps"/> (or cancellation, which saves a checkpoint first).</summary>
    public TrainSummary Run(Action<long, StepMetrics?>? onStep = null, Action<StepMetrics>? onValidation = null, CancellationToken cancel = default)
    {
        var sw = Stopwatch.StartNew();
        while (Step < Options.MaxSteps)
        {
            if (cancel.IsCancellationRequested) { SaveCheckpoint(); break; }
            var m = TrainStep();
            onStep?.Invoke(Step, m);
            if (Validation is not null && Options.ValEvery > 0 && (Step % Options.ValEvery == 0 || Step == Options.MaxSteps))
            {
                var v = Validate();
                onValidation?.Invoke(v);
            }
            if ((Options.SaveEvery > 0 && Step % Options.SaveEvery == 0) || Step == Options.MaxSteps) SaveCheckpoint();
        }
        Ranks.Barrier(); // rank 0's last checkpoint is written before any rank reports the run finished
        return new TrainSummary(RunDirectory, Step, LastCheckpoint, LastTrain, LastValidation, Optimizer.TrainableCount, TotalParameters, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// One optimizer step (GradAccum micro-batches of BatchSize samples). Loss and metrics stay on the device and are
    /// read once per <see cref="TrainOptions.LogEvery"/> steps (and at the last step): the returned metrics average that
    /// interval; between log steps it returns null.
    /// </summary>
    public StepMetrics? TrainStep()
    {
        if (!clock.IsRunning) clock.Start();
        Policy.Module.train();
        int accum = Options.GradAccum, bs = Options.BatchSize;
        using Scalar accumScalar = (double)accum; // explicit (see Model.TensorMath)
        for (int micro = 0; micro < accum; micro++)
        {
            // this rank's slice of the global batch: with N ranks of batch B the stream is cut exactly as one rank of batch N·B
            long first = ((Step * accum + micro) * Ranks.Size + Ranks.Rank) * bs;
            using var batch = Train.Batch(first, bs);
            torch.manual_seed((long)(SplitMix64.Mix((ulong)Options.Seed, (ulong)(Step * accum + micro)) >> 1));
            using var scope = NewDisposeScope();
            var output = Policy.Forward(batch);
            var scaled = accum == 1 ? output.Loss : output.Loss.div(accumScalar);
            scaled.backward();
            interval.Add(output.Loss.detach().div(accumScalar), output.Metrics);
        }
        Ranks.AverageGradients(Policy.Trainable.Select(x => (Tensor)x.P).ToList());
        var gradNorm = Optimizer.ClipGradNorm(Options.MaxGradNorm);
        interval.AddGradNorm(gradNorm);
        gradNorm.Dispose();
        double lr = schedule.At(Step);
        Optimizer.Step(lr);
        Optimizer.ZeroGrad();
        Step++;
        if (Step % Math.Max(1, Options.LogEvery) != 0 && Step != Options.MaxSteps) return null;
        double now = clock.Elapsed.TotalSeconds;
        var r = interval.Read(Ranks);
        var m = new StepMetrics(Step, "train", r.Loss, r.Accuracy, r.L1, lr, r.GradNorm,
            r.Steps * GlobalSamplesPerStep / Math.Max(now - intervalStart, 1e-9), now, Step * GlobalSamplesPerStep);
        intervalStart = now;
        LastTrain = m;
        metrics?.Write(m);
        return m;
    }

    /// <summary>Loss / accuracy / L1 on held-out episodes: up to ValBatches batches of samples spread evenly over the split.</summary>
    public StepMetrics Validate()
    {
        if (Validation is null) throw new InvalidOperationException("no validation episodes");
        Policy.Module.eval();
        using var noGrad = torch.no_grad();
        long n = Math.Min(Validation.StepsPerEpoch, (long)Options.ValBatches * Options.BatchSize);
        var idx = Enumerable.Range(0, (int)n).Select(i => (long)(i * (double)Validation.StepsPerEpoch / n)).ToArray();
        using var sums = new IntervalMetrics(Pretrained.ParseDevice(Options.Device));
        for (int i = 0; i < idx.Length; i += Options.BatchSize)
        {
            using var batch = Validation.FlatBatch(idx.Skip(i).Take(Options.BatchSize).ToArray());
            using var scope = NewDisposeScope();
            var output = Policy.Forward(batch);
            sums.Add(output.Loss.detach(), output.Metrics);
        }
        Policy.Module.train();
        var r = sums.Read();
        var m = new StepMetrics(Step, "val", r.Loss, r.Accuracy, r.L1, 0, 0, 0, clock.Elapsed.TotalSeconds, n);
        LastValidation = m;
        metrics?.Write(m);
        return m;
    }

    /// <summary>
    /// Writes step_{N}/ atomically (into step_{N}.tmp, then a rename; then the `latest` pointer is replaced atomically),
    /// and prunes older step folders beyond KeepCheckpoints. Returns the folder.
    /// </summary>
    public string SaveCheckpoint()
    {
        string name = $"step_{Step}";
        string final = Path.Combine(RunDirectory, name), tmp = final + ".tmp";
        if (!Ranks.IsRoot) return LastCheckpoint = final; // the ranks hold the same weights: rank 0 writes them
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        Policy.Save(tmp, Step);
        Optimizer.Save(tmp);
        var indented = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(tmp, WarmupCosineSchedule.FileName), schedule.ToJson(Step).ToJsonString(indented));
        File.WriteAllText(Path.Combine(tmp, RngStateFile), new JsonObject
        {
            ["seed"] = Options.Seed,
            ["next_sample_index"] = Step * GlobalSamplesPerStep,
            ["scheme"] = "data order and augmentation are functions of (seed, sample index); dropout re-seeds torch per micro-batch from (seed, step·accum + micro)",
        }.ToJsonString(indented));
        File.WriteAllText(Path.Combine(tmp, TrainerStateFile), new JsonObject
        {
            ["global_step"] = Step,
            ["world_size"] = Ranks.Size,
            ["samples_seen"] = Step * GlobalSamplesPerStep,
            ["epoch"] = (double)(Step * GlobalSamplesPerStep) / Math.Max(1, Train.StepsPerEpoch),
            ["policy"] = Policy.Name,
            ["trainable_parameters"] = Optimizer.TrainableCount,
            ["total_parameters"] = TotalParameters,
            ["dataset"] = new JsonObject
            {
                ["name"] = DatasetName, ["path"] = Path.GetFullPath(Train.Dataset.Directory),
                ["train_episodes"] = new JsonArray(Train.Episodes.Select(e => (JsonNode)e).ToArray()),
                ["validation_episodes"] = new JsonArray((Validation?.Episodes ?? []).Select(e => (JsonNode)e).ToArray()),
            },
            ["last_train"] = LastTrain?.ToJson(),
            ["last_validation"] = LastValidation?.ToJson(),
            ["options"] = Options.ToJson(),
        }.ToJsonString(indented));

        string? old = null;
        if (Directory.Exists(final)) { old = final + ".old"; if (Directory.Exists(old)) Directory.Delete(old, true); Directory.Move(final, old); }
        Directory.Move(tmp, final);
        AtomicFile.WriteAllText(Path.Combine(RunDirectory, LatestFile), name + "\n");
        if (old is not null) Directory.Delete(old, true);
        Prune();
        LastCheckpoint = final;
        return final;
    }

    void Prune()
    {
        if (Options.KeepCheckpoints <= 0) return;
        var dirs = Directory.GetDirectories(RunDirectory, "step_*")
            .Select(d => (Dir: d, N: long.TryParse(Path.GetFileName(d)["step_".Length..], out var n) ? n : -1))
            .Where(x => x.N >= 0).OrderByDescending(x => x.N).ToList();
        foreach (var (dir, _) in dirs.Skip(Options.KeepCheckpoints)) Directory.Delete(dir, true);
    }

    public void Dispose()
    {
        metrics?.Dispose();
        interval.Dispose();
        Optimizer.Dispose();
        Policy.Dispose();
    }
}
