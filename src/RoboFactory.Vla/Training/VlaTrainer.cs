using RoboFactory.Data.Datasets;
using RoboFactory.Core.Rng;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Data;
using RoboFactory.Data.Rlds;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Training;

/// <summary>What one finished (or interrupted) run produced.</summary>
public sealed record TrainSummary(string RunDirectory, long FinalStep, string? LastCheckpoint, StepMetrics? LastTrain, StepMetrics? LastValidation,
    long TrainableParameters, long TotalParameters, double Seconds);

/// <summary>
/// The per-agent OpenVLA fine-tuning loop: LoRA (PEFT layout) or a full fine-tune, AdamW with linear warmup + cosine
/// decay per step, gradient clipping, gradient accumulation, loss on the action tokens and EOS only, action-token
/// accuracy and L1 per step, validation on held-out episodes, atomic resumable checkpoints.
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
    readonly string? datasetStatsPath;
    readonly LoraConfig? lora;
    readonly WarmupCosineSchedule schedule;
    MetricsLog? metrics;
    readonly Stopwatch clock = new();

    public TrainOptions Options { get; }
    public string RunDirectory { get; }
    public OpenVlaForActionPrediction Model { get; }
    public AdamW Optimizer { get; }
    public VlaTrainingData Train { get; }
    public VlaTrainingData? Validation { get; }
    public string DatasetName { get; }
    public long Step { get; private set; }
    public bool FullFinetune => lora is null;
    public LoraConfig? Lora => lora;
    public StepMetrics? LastTrain { get; private set; }
    public StepMetrics? LastValidation { get; private set; }
    public string? LastCheckpoint { get; private set; }
    public long TotalParameters { get; }

    VlaTrainer(TrainOptions o, TextWriter log, string runDir, OpenVlaForActionPrediction model, LoraConfig? lora, AdamW opt,
        VlaTrainingData train, VlaTrainingData? val, string datasetName, string? statsPath, long step)
    {
        Options = o; this.log = log; RunDirectory = runDir; Model = model; this.lora = lora; Optimizer = opt;
        Train = train; Validation = val; DatasetName = datasetName; datasetStatsPath = statsPath; Step = step;
        schedule = new WarmupCosineSchedule(o.Lr, o.MinLr, o.EffectiveWarmup, o.MaxSteps);
        TotalParameters = model.parameters().Sum(p => p.NumberOfElements);
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
    public static VlaTrainer Create(TrainOptions requested, TextWriter? log = null)
    {
        log ??= TextWriter.Null;
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
            // The saved recipe wins; only the horizon and the bookkeeping may change.
            o = saved with
            {
                MaxSteps = requested.MaxSteps, ValEvery = requested.ValEvery, SaveEvery = requested.SaveEvery,
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
            foreach (var d in Directory.GetDirectories(runDir, "step_*")) Directory.Delete(d, true);
            foreach (var f in new[] { LatestFile, MetricsLog.FileName }) if (File.Exists(Path.Combine(runDir, f))) File.Delete(Path.Combine(runDir, f));
            if (Directory.Exists(Path.Combine(runDir, "tb"))) Directory.Delete(Path.Combine(runDir, "tb"), true);
        }
        if (o.Resume && resumeFrom is null) o = o with { Resume = false };

        // ---- data ----
        string dataPath = o.ResolvedDataPath;
        if (!Directory.Exists(dataPath))
            throw new DirectoryNotFoundException($"no dataset at {dataPath}; create it with `robofactory prepare` + `robofactory convert`, or pass --data");
        var ds = EpisodeDatasets.Open(dataPath);
        var norm = ds.Statistics ?? throw new FileNotFoundException($"{dataPath} has no dataset_statistics.json entry for '{ds.Spec.Name}' (re-run convert)");
        var stats = VlaTrainingData.ToActionStatistics(norm);
        var (trainEps, valEps) = ds.EpisodeCount > 1 ? EpisodeSplit.Compute(ds.EpisodeCount, o.ValFraction, (ulong)o.Seed) : ([0], []);

        // ---- model ----
        var device = Pretrained.ParseDevice(o.Device);
        var dtype = Pretrained.ParseDType(o.DType);
        OpenVlaForActionPrediction model;
        LlamaTextTokenizer? tokenizer = null;
        if (o.IsTinyFromScratch) model = Pretrained.Create(o.TinyConfig, device, dtype, seed: o.Seed);
        else
        {
            if (!Directory.Exists(o.Model)) throw new DirectoryNotFoundException($"--model {o.Model}: not 'tiny' and not a model folder");
            log.WriteLine($"loading {o.Model} ({o.DType})…");
            model = Pretrained.Load(o.Model, device, dtype);
        }
        string? tokPath = o.Tokenizer ?? (o.IsTinyFromScratch ? null : Path.Combine(o.Model, "tokenizer.model"));
        if (tokPath is not null && File.Exists(tokPath)) tokenizer = LlamaTextTokenizer.Load(tokPath);
        else if (!o.IsTinyFromScratch) log.WriteLine("warning: no tokenizer.model; prompts use the byte-level stand-in (only sensible for models trained on it)");
        var prompts = new PromptEncoder(model.Config, tokenizer);

        LoraConfig? lora = null;
        List<(string, Parameter)> trainable;
        if (o.UsesFullFinetune)
        {
            if (resumeFrom is not null && o.Resume) CheckpointIO.Load(model, resumeFrom, strict: true);
            foreach (var (_, p) in model.named_parameters()) p.requires_grad = true;
            trainable = model.named_parameters().Select(x => (x.name, x.parameter)).ToList();
        }
        else
        {
            if (resumeFrom is not null && o.Resume)
            {
                using var loaded = LoraModel.Load(model, resumeFrom);
                lora = loaded.Config;
            }
            else
            {
                lora = new LoraConfig
                {
                    R = o.LoraRank, Alpha = o.LoraAlpha, Dropout = o.LoraDropout, InitLoraWeights = o.LoraInit,
                    TargetModules = o.LoraTargets ?? LoraConfig.LlamaProjections,
                    ModulesToSave = o.TrainProjector ? ["projector"] : [],
                    BaseModelNameOrPath = o.IsTinyFromScratch ? "tiny" : Path.GetFullPath(o.Model),
                };
                LoraModel.Attach(model, lora, LoraModel.DefaultAdapter, seed: o.Seed + 1);
            }
            trainable = LoraModel.PrepareForTraining(model, LoraModel.DefaultAdapter, o.TrainProjector);
        }
        var opt = new AdamW(trainable, weightDecay: o.WeightDecay);
        if (resumeFrom is not null && o.Resume) opt.Load(resumeFrom);

        int threads = o.DecodeThreads ?? Math.Max(1, Environment.ProcessorCount);
        ProprioStatistics? proprio = null;
        if (o.Proprio)
        {
            if (norm.Proprio.Q01.Length != ds.Spec.StateDim)
                throw new InvalidDataException($"{Path.Combine(dataPath, StatsFile)}: proprio statistics have {norm.Proprio.Q01.Length} dims, the dataset's state {ds.Spec.StateDim} (re-run convert)");
            proprio = new ProprioStatistics(norm.Proprio.Q01, norm.Proprio.Q99);
        }
        var train = new VlaTrainingData(ds, trainEps, stats, model.Config, prompts, o.Views, o.ImageAug, shuffle: true, (ulong)o.Seed, o.ShuffleWindow)
            { DecodeThreads = threads, Proprio = proprio, ActionChunk = o.ActionChunk };
        var val = valEps.Length > 0
            ? new VlaTrainingData(ds, valEps, stats, model.Config, prompts, o.Views, augment: false, shuffle: false, (ulong)o.Seed, o.ShuffleWindow)
                { DecodeThreads = threads, Proprio = proprio, ActionChunk = o.ActionChunk }
            : null;
        Directory.CreateDirectory(runDir);
        var t = new VlaTrainer(o, log, runDir, model, lora, opt, train, val, ds.Spec.Name, Path.Combine(dataPath, StatsFile), step);
        t.metrics = new MetricsLog(runDir, o.Logger, step);
        log.WriteLine(FormattableString.Invariant(
            $"{(lora is null ? "full fine-tune" : $"LoRA r={lora.R} alpha={lora.Alpha:0.##}")}: {opt.TrainableCount:N0} trainable of {t.TotalParameters:N0} parameters ({100.0 * opt.TrainableCount / t.TotalParameters:0.###} %)"));
        log.WriteLine($"data: {dataPath} ({ds.Spec.Name}): {trainEps.Length} train episodes ({train.StepsPerEpoch} steps), {valEps.Length} validation episodes; views: {string.Join(", ", DatasetViews.Descriptions.Take(o.Views))}; prompts: {prompts.Kind}{(o.Proprio ? " + joint-state tokens" : "")}; actions per sample: {o.ActionChunk}");
        return t;
    }

    /// <summary>Runs until <see cref="TrainOptions.MaxSteps"/> (or cancellation, which saves a checkpoint first).</summary>
    public TrainSummary Run(Action<StepMetrics>? onStep = null, Action<StepMetrics>? onValidation = null, CancellationToken cancel = default)
    {
        var sw = Stopwatch.StartNew();
        while (Step < Options.MaxSteps)
        {
            if (cancel.IsCancellationRequested) { SaveCheckpoint(); break; }
            var m = TrainStep();
            onStep?.Invoke(m);
            if (Validation is not null && Options.ValEvery > 0 && (Step % Options.ValEvery == 0 || Step == Options.MaxSteps))
            {
                var v = Validate();
                onValidation?.Invoke(v);
            }
            if ((Options.SaveEvery > 0 && Step % Options.SaveEvery == 0) || Step == Options.MaxSteps) SaveCheckpoint();
        }
        return new TrainSummary(RunDirectory, Step, LastCheckpoint, LastTrain, LastValidation, Optimizer.TrainableCount, TotalParameters, sw.Elapsed.TotalSeconds);
    }

    static ulong Mix(ulong a, ulong b) => new SplitMix64(a * 0x9E3779B97F4A7C15UL ^ b).Next();

    /// <summary>Counts correct action tokens and sums |decoded − true normalised action| over one forward.</summary>
    (long Correct, long Total, double L1Sum, long L1Count) Score(VlaOutput output, VlaBatch batch, VlaTrainingData data)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        int nImg = output.NumImageTokens;
        long len = batch.InputIds.shape[1];
        // text position j (label j + 1) sits at sequence position nImg + j; the logits may start later (labels only)
        long j0 = Math.Max(0, output.LogitsOffset - nImg);
        long n = len - 1 - j0;
        var pred = output.Logits[.., (int)(nImg + j0 - output.LogitsOffset)..(int)(nImg + len - 1 - output.LogitsOffset)].argmax(-1).cpu();
        var predArr = pred.data<long>().ToArray();
        var gtArr = batch.Labels[.., (int)(j0 + 1)..].contiguous().data<long>().ToArray();
        var tok = data.Actions;
        long correct = 0, total = 0, l1n = 0;
        double l1 = 0;
        for (int b = 0; b < batch.Size; b++)
        {
            int d = 0;
            for (long j = 0; j < n; j++)
            {
                long gt = gtArr[b * n + j];
                if (!tok.IsActionToken(gt)) continue;
                long p = predArr[b * n + j];
                total++;
                if (p == gt) correct++;
                if (d < batch.NormalizedActions[b].Length) { l1 += Math.Abs(tok.Decode(p) - batch.NormalizedActions[b][d]); l1n++; }
                d++;
            }
        }
        return (correct, total, l1, l1n);
    }

    /// <summary>One optimizer step (GradAccum micro-batches of BatchSize samples).</summary>
    public StepMetrics TrainStep()
    {
        if (!clock.IsRunning) clock.Start();
        var t0 = clock.Elapsed.TotalSeconds;
        Model.train();
        int accum = Options.GradAccum, bs = Options.BatchSize;
        double loss = 0; long correct = 0, total = 0, l1n = 0; double l1 = 0;
        for (int micro = 0; micro < accum; micro++)
        {
            long first = (Step * accum + micro) * bs;
            using var batch = Train.Batch(first, bs);
            torch.manual_seed((long)(Mix((ulong)Options.Seed, (ulong)(Step * accum + micro)) >> 1));
            using var scope = NewDisposeScope();
            using var output = Model.Forward(batch.PixelValues, batch.InputIds, batch.AttentionMask, batch.Labels, labelLogitsOnly: true);
            using Scalar accumScalar = (double)accum; // explicit (see Model.TensorMath)
            var scaled = accum == 1 ? output.Loss! : output.Loss!.div(accumScalar);
            scaled.backward();
            loss += output.Loss!.item<float>() / accum;
            var s = Score(output, batch, Train);
            correct += s.Correct; total += s.Total; l1 += s.L1Sum; l1n += s.L1Count;
        }
        double gradNorm = Optimizer.ClipGradNorm(Options.MaxGradNorm);
        double lr = schedule.At(Step);
        Optimizer.Step(lr);
        Optimizer.ZeroGrad();
        Step++;
        double dt = clock.Elapsed.TotalSeconds - t0;
        var m = new StepMetrics(Step, "train", loss, total > 0 ? (double)correct / total : 0, l1n > 0 ? l1 / l1n : 0, lr, gradNorm,
            Options.SamplesPerStep / Math.Max(dt, 1e-9), clock.Elapsed.TotalSeconds, Step * Options.SamplesPerStep);
        LastTrain = m;
        metrics?.Write(m);
        return m;
    }

    /// <summary>Loss / accuracy / L1 on held-out episodes: up to ValBatches batches of samples spread evenly over the split.</summary>
    public StepMetrics Validate()
    {
        if (Validation is null) throw new InvalidOperationException("no validation episodes");
        Model.eval();
        using var noGrad = torch.no_grad();
        long n = Math.Min(Validation.StepsPerEpoch, (long)Options.ValBatches * Options.BatchSize);
        var idx = Enumerable.Range(0, (int)n).Select(i => (long)(i * (double)Validation.StepsPerEpoch / n)).ToArray();
        double loss = 0; int batches = 0; long correct = 0, total = 0, l1n = 0; double l1 = 0;
        for (int i = 0; i < idx.Length; i += Options.BatchSize)
        {
            using var batch = Validation.FlatBatch(idx.Skip(i).Take(Options.BatchSize).ToArray());
            using var scope = NewDisposeScope();
            using var output = Model.Forward(batch.PixelValues, batch.InputIds, batch.AttentionMask, batch.Labels, labelLogitsOnly: true);
            loss += output.Loss!.item<float>(); batches++;
            var s = Score(output, batch, Validation);
            correct += s.Correct; total += s.Total; l1 += s.L1Sum; l1n += s.L1Count;
        }
        Model.train();
        var m = new StepMetrics(Step, "val", loss / Math.Max(1, batches), total > 0 ? (double)correct / total : 0, l1n > 0 ? l1 / l1n : 0,
            0, 0, 0, clock.Elapsed.TotalSeconds, n);
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
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        var statsDict = new Dictionary<string, ActionStatistics> { [DatasetName] = Train.Statistics };
        var config = Model.Config with { NormStats = statsDict };
        if (lora is null) CheckpointIO.Save(Model, tmp);
        else LoraModel.Save(Model, lora, tmp);
        ConfigJson.Write(config, Path.Combine(tmp, "config.json"));
        if (datasetStatsPath is not null && File.Exists(datasetStatsPath)) File.Copy(datasetStatsPath, Path.Combine(tmp, StatsFile));
        else File.WriteAllText(Path.Combine(tmp, StatsFile), NormStatsJson.ToJson(statsDict).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (Train.Prompts.Tokenizer is not null && !Options.IsTinyFromScratch)
        {
            var tok = Options.Tokenizer ?? Path.Combine(Options.Model, "tokenizer.model");
            if (File.Exists(tok)) File.Copy(tok, Path.Combine(tmp, "tokenizer.model"));
        }
        Optimizer.Save(tmp);
        var indented = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(tmp, WarmupCosineSchedule.FileName), schedule.ToJson(Step).ToJsonString(indented));
        File.WriteAllText(Path.Combine(tmp, RngStateFile), new JsonObject
        {
            ["seed"] = Options.Seed,
            ["next_sample_index"] = Step * Options.SamplesPerStep,
            ["scheme"] = "data order and augmentation are functions of (seed, sample index); dropout re-seeds torch per micro-batch from (seed, step·accum + micro)",
        }.ToJsonString(indented));
        File.WriteAllText(Path.Combine(tmp, TrainerStateFile), new JsonObject
        {
            ["global_step"] = Step,
            ["samples_seen"] = Step * Options.SamplesPerStep,
            ["epoch"] = (double)(Step * Options.SamplesPerStep) / Math.Max(1, Train.StepsPerEpoch),
            ["mode"] = lora is null ? "full" : "lora",
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
        new VlaPolicyInfo
        {
            Mode = lora is null ? "full" : "lora",
            BaseModel = Options.IsTinyFromScratch ? "tiny" : Path.GetFullPath(Options.Model),
            BaseSeed = Options.Seed,
            Views = Options.Views,
            CenterCrop = Options.ImageAug,
            UnnormKey = DatasetName,
            Prompt = Train.Prompts.Kind,
            ActionDim = Train.Statistics.Dimension,
            ActionChunk = Options.ActionChunk,
            ProprioQ01 = Train.Proprio?.Q01,
            ProprioQ99 = Train.Proprio?.Q99,
            Step = Step,
        }.Write(Path.Combine(tmp, PolicyFile));

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
        Optimizer.Dispose();
        Model.Dispose();
    }
}
