using System.Diagnostics;
using System.Text.Json.Nodes;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Bench;

/// <summary>What `bench train --torch` compares: the tiny model's training step at the quickstart recipe's shapes.</summary>
public sealed record TrainVsTorchOptions
{
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);
    public int BatchSize { get; init; } = 8;
    /// <summary>Timed optimizer steps per round and side.</summary>
    public int Steps { get; init; } = 5;
    /// <summary>Untimed steps at the start of each round.</summary>
    public int Warmup { get; init; } = 2;
    /// <summary>Rounds of (ours, PyTorch), alternated; both models live across the rounds.</summary>
    public int Rounds { get; init; } = 4;
    // the quickstart defaults (QuickstartCommand.QuickstartOptions): 84 px, 3 views, joint-state tokens, 4 actions per sample
    public int ImageSize { get; init; } = 84;
    public int Views { get; init; } = 3;
    public int StateDim { get; init; } = 8;
    public int ActionDim { get; init; } = 8;
    public int ActionChunk { get; init; } = 4;
    public string Instruction { get; init; } = "lift the barrier";
    public long Seed { get; init; } = 42;
    public string Python { get; init; } = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/// <summary>Mean seconds of the four parts of one training step.</summary>
public sealed record StepPhases(double Forward, double Backward, double Clip, double Optimizer)
{
    public double Total => Forward + Backward + Clip + Optimizer;
}

public sealed record TrainVsTorchResult(Timing Ours, Timing Torch, Timing OursCpu, Timing TorchCpu, Timing Trainer, StepPhases OursPhases, StepPhases TorchPhases,
    long OursParameters, long TorchParameters, double OursInitialLoss, double TorchInitialLoss, IReadOnlyList<string> Facts)
{
    /// <summary>The figure: median samples/s ours / median PyTorch (target ≥ 1).</summary>
    public double MedianRatio => Ours.Median / Torch.Median;
    /// <summary>Fastest step ours / fastest PyTorch (the minimum step time of each: the least disturbed on a busy machine).</summary>
    public double BestRatio => Ours.Max / Torch.Max;
}

/// <summary>
/// `bench train --torch`: our tiny full fine-tune step against the same model in Debian's PyTorch
/// (scripts/vla/tiny_train_torch.py), same threads, batch, shapes and step count, alternated round by round in one run.
/// Both sides time only the compute step on one synthetic batch of the trainer's shapes — forward with the LM head on
/// the label positions only (OpenVlaForActionPrediction.Forward(labelLogitsOnly: true), as VlaTrainer.TrainStep calls
/// it), backward, gradient clipping to 1.0, AdamW with the warmup-cosine learning rate, zero-grad — not the data
/// pipeline (PNG decode, resize) nor the trainer's per-step metrics.
/// </summary>
public static class TrainTorchBench
{
    public const string ScriptName = "tiny_train_torch.py";
    /// <summary>
    /// Debian's OpenBLAS in its OpenMP build (libopenblas0-openmp): put first on the child's library path when present.
    /// It shares torch's OpenMP threads; the pthread build runs a second pool of its own, and with 2 threads on 2 cores
    /// the two pools made PyTorch several times slower.
    /// </summary>
    const string OpenBlasDir = "/usr/lib/x86_64-linux-gnu/openblas-openmp";

    public static TrainVsTorchResult Run(TrainVsTorchOptions o, TextWriter log)
    {
        if (o.BatchSize <= 0 || o.Steps <= 0 || o.Rounds <= 0 || o.Threads <= 0 || o.Warmup < 0)
            throw new ArgumentException("--batch-size, --steps, --rounds and --threads must be positive");
        string script = FindScript();
        CheckTorch(o.Python);
        torch.set_num_threads(o.Threads);
        var cfg = OpenVlaConfig.TinyAt(o.ImageSize);
        using var batch = SyntheticBatch(cfg, o);
        int promptTokens = (int)(batch.Labels.shape[1] - o.ActionDim * o.ActionChunk - 1);
        var facts = new List<string>
        {
            "measures: the training compute step only (forward with the LM head on label positions, cross-entropy, backward, clip to 1.0, AdamW + warmup-cosine lr, zero-grad) on one synthetic batch; no data pipeline, no per-step metrics",
            FormattableString.Invariant($"shapes: pixel_values [{string.Join(", ", batch.PixelValues.shape)}], input_ids [{string.Join(", ", batch.InputIds.shape)}] ({promptTokens} prompt+state tokens, {o.ActionDim * o.ActionChunk + 1} label tokens), {o.Views * cfg.PatchesPerView} image tokens; {o.Threads} threads"),
        };

        using var ours = new OursTrainer(cfg, o.Seed);
        using var py = new TorchServer(o, script, promptTokens);
        CheckSameProblem(py.Ready, ours.Parameters, batch, o);
        log.WriteLine(FormattableString.Invariant($"tiny@{o.ImageSize}px: {ours.Parameters:N0} parameters; {o.Rounds} rounds of ours then PyTorch, {o.Warmup} warm-up + {o.Steps} timed steps each"));
        var oursRates = new List<double>();
        var torchRates = new List<double>();
        var oursCpu = new List<double>();
        var torchCpu = new List<double>();
        var oursPhases = new List<StepPhases>();
        var torchPhases = new List<StepPhases>();
        double? oursLoss0 = null, torchLoss0 = null;
        long torchParams = 0;
        JsonNode? torchInfo = null;
        for (int round = 0; round < o.Rounds; round++)
        {
            var (rates, cpu, phases, loss0) = ours.Round(batch, o.Warmup, o.Steps);
            oursLoss0 ??= loss0;
            oursRates.AddRange(rates);
            oursCpu.AddRange(cpu);
            oursPhases.Add(phases);
            log.WriteLine(FormattableString.Invariant($"  round {round + 1} ours:    median {Median(rates),6:0.00} samples/s  (forward {phases.Forward:0.000} s, backward {phases.Backward:0.000} s, clip {phases.Clip:0.000} s, optimizer {phases.Optimizer:0.000} s)"));

            var j = py.Round(o.Warmup, o.Steps);
            torchInfo ??= j;
            torchLoss0 ??= j["initial_loss"]!.GetValue<double>();
            torchParams = j["parameters"]!.GetValue<long>();
            var tr = j["samples_per_s"]!.AsArray().Select(x => x!.GetValue<double>()).ToList();
            var ph = j["phase_s"]!;
            var tp = new StepPhases(ph["forward"]!.GetValue<double>(), ph["backward"]!.GetValue<double>(), ph["clip"]!.GetValue<double>(), ph["optimizer"]!.GetValue<double>());
            torchRates.AddRange(tr);
            torchCpu.AddRange(j["cpu_s_per_step"]!.AsArray().Select(x => x!.GetValue<double>()));
            torchPhases.Add(tp);
            log.WriteLine(FormattableString.Invariant($"  round {round + 1} PyTorch: median {Median(tr),6:0.00} samples/s  (forward {tp.Forward:0.000} s, backward {tp.Backward:0.000} s, clip {tp.Clip:0.000} s, optimizer {tp.Optimizer:0.000} s)"));
        }

        // For scale: the whole VlaTrainer.TrainStep of the same recipe, with its data pipeline (PNG decode + resize of
        // 3 views of 240x320 frames, no augmentation) and per-step metrics, on a small synthetic RLDS dataset.
        var trainer = TrainerSamplesPerSecond(o, log);
        string blas = string.Join(", ", torchInfo!["blas"]!.AsArray().Select(x => x!.GetValue<string>()));
        string core = torchInfo["openblas_core"]?.GetValue<string>() ?? "";
        facts.Add($"PyTorch {torchInfo["torch"]} ({o.Python}); BLAS: {(blas.Length == 0 ? "none found" : blas)}{(core.Length > 0 ? $", OpenBLAS kernel {core}" : "")}");
        if (blas.Contains("/blas/libblas", StringComparison.Ordinal) && !blas.Contains("openblas", StringComparison.Ordinal))
            facts.Add("WARNING: PyTorch ran on the netlib reference BLAS (about 10x slower than OpenBLAS here): install libopenblas0-openmp (scripts/setup.sh) for a fair comparison");
        if (blas.Contains("openblas-pthread", StringComparison.Ordinal) && o.Threads > 1)
            facts.Add("WARNING: PyTorch ran on OpenBLAS's pthread build, whose thread pool competes with torch's OpenMP threads: install libopenblas0-openmp (scripts/setup.sh) for a fair comparison");
        if (torchInfo["openblas_env"] is JsonObject env && env.Any(kv => kv.Key != "OPENBLAS_NUM_THREADS"))
            facts.Add($"note: {string.Join(" ", env.Where(kv => kv.Key != "OPENBLAS_NUM_THREADS").Select(kv => $"{kv.Key}={kv.Value}"))} is set and may slow OpenBLAS (see docs/training.md)");
        facts.Add($"ours: TorchSharp {typeof(torch).Assembly.GetName().Version} (libtorch's bundled MKL for the matmuls)");
        return new TrainVsTorchResult(
            new Timing($"ours (TorchSharp), batch {o.BatchSize}", oursRates, "samples/s"),
            new Timing($"PyTorch {torchInfo["torch"]}, batch {o.BatchSize}", torchRates, "samples/s"),
            new Timing("ours, process CPU per step", oursCpu, "CPU s"), new Timing($"PyTorch, process CPU per step", torchCpu, "CPU s"),
            trainer, MeanPhases(oursPhases), MeanPhases(torchPhases), ours.Parameters, torchParams, oursLoss0!.Value, torchLoss0!.Value, facts);
    }

    public static void Print(TrainVsTorchResult r, TextWriter w)
    {
        foreach (var f in r.Facts) w.WriteLine(f);
        w.WriteLine(FormattableString.Invariant($"parameters: ours {r.OursParameters:N0}, PyTorch {r.TorchParameters:N0} ({(r.OursParameters == r.TorchParameters ? "equal" : "DIFFERENT")})"));
        w.WriteLine(FormattableString.Invariant($"step-0 loss: ours {r.OursInitialLoss:0.000}, PyTorch {r.TorchInitialLoss:0.000}; ln(vocab 4160) = {Math.Log(4160):0.000}"));
        w.WriteLine(FormattableString.Invariant($"{"phase (mean s/step)",-20} {"ours",9} {"PyTorch",9}"));
        foreach (var (name, a, b) in new[]
        {
            ("forward + loss", r.OursPhases.Forward, r.TorchPhases.Forward), ("backward", r.OursPhases.Backward, r.TorchPhases.Backward),
            ("clip", r.OursPhases.Clip, r.TorchPhases.Clip), ("AdamW + zero-grad", r.OursPhases.Optimizer, r.TorchPhases.Optimizer),
            ("total", r.OursPhases.Total, r.TorchPhases.Total),
        })
            w.WriteLine(FormattableString.Invariant($"{name,-20} {a,9:0.0000} {b,9:0.0000}"));
        w.WriteLine(r.Ours);
        w.WriteLine(r.Torch);
        w.WriteLine(r.Trainer);
        w.WriteLine(r.OursCpu);
        w.WriteLine(r.TorchCpu);
        w.WriteLine(FormattableString.Invariant($"{"CPU-time ratio PyTorch / ours",-44} median {r.TorchCpu.Median / r.OursCpu.Median:0.00} x   (work per step; with 1 thread a contention-robust stand-in)"));
        w.WriteLine(FormattableString.Invariant($"{"ours / PyTorch (target >= 1.0)",-44} median {r.MedianRatio:0.00} x   (fastest step vs fastest step {r.BestRatio:0.00} x)"));
    }

    static Timing TrainerSamplesPerSecond(TrainVsTorchOptions o, TextWriter log)
    {
        string tmp = Directory.CreateTempSubdirectory("robofactory-bench-train-torch-").FullName;
        try
        {
            var to = new TrainOptions
            {
                DataPath = TrainBench.MakeDataset(Path.Combine(tmp, "rlds")), OutDir = Path.Combine(tmp, "run"), Model = "tiny",
                ImageSize = o.ImageSize, ImageAug = false, Proprio = o.StateDim > 0, ActionChunk = o.ActionChunk, BatchSize = o.BatchSize,
                Seed = o.Seed, Logger = "none", ValEvery = 0, SaveEvery = 0, ValFraction = 0, Plots = false, LogEvery = 1,
            };
            using var t = VlaTrainer.Create(to);
            for (int i = 0; i < o.Warmup; i++) t.TrainStep();
            var rates = new List<double>();
            for (int i = 0; i < o.Steps; i++) rates.Add(t.TrainStep()!.SamplesPerSecond);
            var timing = new Timing("ours, VlaTrainer.TrainStep incl. data", rates, "samples/s");
            log.WriteLine(FormattableString.Invariant($"  trainer (data pipeline + metrics included): median {timing.Median,6:0.00} samples/s"));
            return timing;
        }
        finally { try { Directory.Delete(tmp, true); } catch (IOException) { } }
    }

    /// <summary>Our side: the tiny model and AdamW as VlaTrainer builds them for a from-scratch full fine-tune.</summary>
    sealed class OursTrainer : IDisposable
    {
        readonly OpenVlaForActionPrediction model;
        readonly AdamW opt;
        readonly WarmupCosineSchedule schedule;
        readonly long seed;
        long step;
        public long Parameters { get; }

        public OursTrainer(OpenVlaConfig cfg, long seed)
        {
            this.seed = seed;
            var o = new TrainOptions { ImageSize = cfg.ImageSize, Seed = seed }; // the trainer's defaults: lr, warmup, decay, clip
            model = Pretrained.Create(cfg, CPU, ScalarType.Float32, seed: seed);
            foreach (var (_, p) in model.named_parameters()) p.requires_grad = true;
            opt = new AdamW(model.named_parameters().Select(x => (x.name, x.parameter)).ToList(), weightDecay: o.WeightDecay);
            schedule = new WarmupCosineSchedule(o.Lr, o.MinLr, o.EffectiveWarmup, o.MaxSteps);
            Parameters = model.parameters().Sum(p => p.NumberOfElements);
            model.train();
        }

        /// <summary><paramref name="warmup"/> untimed then <paramref name="steps"/> timed steps: samples/s per step, mean phases, first loss.</summary>
        public (List<double> Rates, List<double> CpuSeconds, StepPhases Phases, double FirstLoss) Round(VlaBatch batch, int warmup, int steps)
        {
            var rates = new List<double>();
            var cpu = new List<double>();
            using var self = Process.GetCurrentProcess();
            double f = 0, b = 0, c = 0, a = 0, first = double.NaN;
            var sw = new Stopwatch();
            for (int i = 0; i < warmup + steps; i++)
            {
                // the body of VlaTrainer.TrainStep (accum 1) without the data loader and the metrics
                self.Refresh();
                var c0 = self.TotalProcessorTime;
                sw.Restart();
                torch.manual_seed(seed + step);
                double t1, t2, t3, t4, loss;
                using (var scope = NewDisposeScope())
                {
                    using var output = model.Forward(batch.PixelValues, batch.InputIds, batch.AttentionMask, batch.Labels, labelLogitsOnly: true);
                    t1 = sw.Elapsed.TotalSeconds;
                    output.Loss!.backward();
                    loss = output.Loss.item<float>();
                    t2 = sw.Elapsed.TotalSeconds;
                }
                opt.ClipGradNorm(1.0).Dispose(); // the norm stays on the device, as in VlaTrainer
                t3 = sw.Elapsed.TotalSeconds;
                opt.Step(schedule.At(step));
                opt.ZeroGrad();
                t4 = sw.Elapsed.TotalSeconds;
                self.Refresh();
                var c4 = self.TotalProcessorTime;
                step++;
                if (double.IsNaN(first)) first = loss;
                if (i < warmup) continue;
                rates.Add(batch.Size / t4);
                cpu.Add((c4 - c0).TotalSeconds);
                f += t1; b += t2 - t1; c += t3 - t2; a += t4 - t3;
            }
            return (rates, cpu, new StepPhases(f / steps, b / steps, c / steps, a / steps), first);
        }

        public void Dispose() { opt.Dispose(); model.Dispose(); }
    }

    /// <summary>
    /// A batch of the trainer's layout built with the trainer's own prompt code (PromptEncoder.TrainingExample, the
    /// byte stand-in prompt of the from-scratch tiny model): BOS + prompt + state tokens, action tokens + EOS; random
    /// normalised pixels, random action and state bins; no padding (one instruction).
    /// </summary>
    static VlaBatch SyntheticBatch(OpenVlaConfig cfg, TrainVsTorchOptions o)
    {
        var rng = new Random((int)o.Seed);
        var prompts = new PromptEncoder(cfg, null);
        int b = o.BatchSize;
        long[][] ids = new long[b][], labels = new long[b][];
        for (int i = 0; i < b; i++)
        {
            var actions = Enumerable.Range(0, o.ActionDim * o.ActionChunk).Select(_ => cfg.ActionTokenBegin + rng.Next(cfg.NActionBins)).ToArray();
            int[]? state = o.StateDim > 0 ? Enumerable.Range(0, o.StateDim).Select(_ => cfg.ActionTokenBegin + rng.Next(cfg.NActionBins)).ToArray() : null;
            (ids[i], labels[i]) = prompts.TrainingExample(o.Instruction, actions, state);
        }
        int len = ids[0].Length;
        using var gen = new Generator((ulong)o.Seed, CPU);
        return new VlaBatch
        {
            PixelValues = torch.randn([b, 6 * o.Views, o.ImageSize, o.ImageSize], generator: gen),
            InputIds = torch.tensor(ids.SelectMany(x => x).ToArray(), [b, len]),
            AttentionMask = torch.ones([b, len], ScalarType.Bool),
            Labels = torch.tensor(labels.SelectMany(x => x).ToArray(), [b, len]),
            NormalizedActions = Enumerable.Range(0, b).Select(_ => new float[o.ActionDim * o.ActionChunk]).ToArray(),
            ActionTargets = torch.zeros([b, len], ScalarType.Float64),
            Targets = torch.zeros([b, o.ActionDim * o.ActionChunk]),
            PlaceholderIndex = torch.zeros([b, o.ActionDim * o.ActionChunk], ScalarType.Int64),
            Origins = Enumerable.Range(0, b).Select(i => (0, i)).ToArray(),
        };
    }

    static void CheckSameProblem(JsonNode j, long oursParams, VlaBatch batch, TrainVsTorchOptions o)
    {
        long tp = j["parameters"]!.GetValue<long>();
        var ids = j["input_ids"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
        var px = j["pixel_values"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
        var problems = new List<string>();
        if (tp != oursParams) problems.Add($"parameter counts differ: ours {oursParams:N0}, PyTorch {tp:N0}");
        if (!ids.SequenceEqual(batch.InputIds.shape)) problems.Add($"input_ids [{string.Join(",", batch.InputIds.shape)}] vs PyTorch [{string.Join(",", ids)}]");
        if (!px.SequenceEqual(batch.PixelValues.shape)) problems.Add($"pixel_values [{string.Join(",", batch.PixelValues.shape)}] vs PyTorch [{string.Join(",", px)}]");
        if (j["threads"]!.GetValue<int>() != o.Threads) problems.Add($"PyTorch ran {j["threads"]} threads, ours {o.Threads}");
        if (problems.Count > 0) throw new InvalidDataException("the two sides do not train the same problem: " + string.Join("; ", problems));
    }

    /// <summary>scripts/vla/tiny_train_torch.py --serve: one Python process whose model lives across the rounds, as ours does.</summary>
    sealed class TorchServer : IDisposable
    {
        readonly Process p;
        readonly Task<string> stderr;

        public TorchServer(TrainVsTorchOptions o, string script, int promptTokens)
        {
            var psi = new ProcessStartInfo(o.Python) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            foreach (var a in new[]
            {
                script, "--serve", "--threads", $"{o.Threads}", "--batch-size", $"{o.BatchSize}",
                "--image-size", $"{o.ImageSize}", "--views", $"{o.Views}", "--state-dim", $"{o.StateDim}", "--action-dim", $"{o.ActionDim}",
                "--action-chunk", $"{o.ActionChunk}", "--prompt-tokens", $"{promptTokens}", "--seed", $"{o.Seed}",
            })
                psi.ArgumentList.Add(a);
            // Debian's torch takes libblas.so.3 from the alternatives system; prefer OpenBLAS (OpenMP build) when installed.
            if (Directory.Exists(OpenBlasDir))
            {
                string? old = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
                psi.Environment["LD_LIBRARY_PATH"] = string.IsNullOrEmpty(old) ? OpenBlasDir : OpenBlasDir + ":" + old;
            }
            p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {o.Python}");
            stderr = p.StandardError.ReadToEndAsync();
            Ready = ReadJson();
            if (Ready["ready"] is null) throw new InvalidDataException($"{ScriptName}: unexpected first line {Ready.ToJsonString()}");
        }

        /// <summary>The first line: parameter count, threads and batch shapes of the built model.</summary>
        public JsonNode Ready { get; }

        public JsonNode Round(int warmup, int steps)
        {
            p.StandardInput.WriteLine(FormattableString.Invariant($"run {warmup} {steps}"));
            p.StandardInput.Flush();
            var j = ReadJson();
            if (j["error"] is { } e) throw new InvalidDataException($"{ScriptName}: {e}");
            return j;
        }

        JsonNode ReadJson()
        {
            while (true)
            {
                string? line = p.StandardOutput.ReadLine();
                if (line is null)
                {
                    p.WaitForExit();
                    throw new InvalidDataException($"{ScriptName} exited with {p.ExitCode}: {stderr.Result.Trim()}");
                }
                if (line.TrimStart().StartsWith('{')) return JsonNode.Parse(line)!;
            }
        }

        public void Dispose()
        {
            try
            {
                if (!p.HasExited) { p.StandardInput.WriteLine("quit"); p.StandardInput.Close(); }
                if (!p.WaitForExit(10_000)) p.Kill();
            }
            catch (InvalidOperationException) { }
            catch (IOException) { }
            p.Dispose();
        }
    }

    static void CheckTorch(string python)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import torch");
        Process? p = null;
        try { p = Process.Start(psi); }
        catch (System.ComponentModel.Win32Exception) { }
        if (p is null) throw new FileNotFoundException($"{python} not found: install python3-torch (sudo apt-get install -y python3-torch libopenblas0-openmp, or scripts/setup.sh)");
        using (p)
        {
            p.StandardOutput.ReadToEnd(); p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new FileNotFoundException($"{python} cannot import torch: install Debian's PyTorch with `sudo apt-get install -y python3-torch libopenblas0-openmp` (or scripts/setup.sh)");
        }
    }

    static string FindScript()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
            {
                string p = Path.Combine(d.FullName, "scripts", "vla", ScriptName);
                if (File.Exists(p)) return p;
            }
        throw new FileNotFoundException($"scripts/vla/{ScriptName} not found above {Directory.GetCurrentDirectory()}");
    }

    static double Median(IReadOnlyList<double> v) => new Timing("", v, "").Median;

    static StepPhases MeanPhases(List<StepPhases> l) =>
        new(l.Average(x => x.Forward), l.Average(x => x.Backward), l.Average(x => x.Clip), l.Average(x => x.Optimizer));
}
