using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Policies.OpenVlaOft;
using System.Diagnostics;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Bench;

/// <summary>Figures of `bench model`.</summary>
public sealed record ModelBenchResult(
    IReadOnlyList<Timing> Timings,
    double Bf16MatmulGflops, double MemoryBandwidthGBs,
    IReadOnlyList<(string Name, double MeasuredS, double BoundS, string Bound)> VsLimits,
    long PeakRssBytes);

/// <summary>
/// OpenVLA inference latency on this machine: tiny preset (fp32) forward and decode, and the openvla-7b shapes with
/// random bf16 weights (prefill for 1 and 3 views, per-token decode with the KV cache, peak RSS), each compared with the
/// machine's limit: prefill against 2·params·tokens FLOP at the measured bf16 matmul rate, decode against reading every
/// LLM weight once at the measured memory bandwidth.
/// </summary>
public static class ModelBench
{
    static double Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>bf16 matmul 512×4096×4096 (as in stack.md): GFLOP/s, median of <paramref name="repeats"/>.</summary>
    public static double MeasureBf16Matmul(int repeats = 5) => MeasureMatmul(ScalarType.BFloat16, repeats);

    /// <summary>The same matmul in <paramref name="dtype"/>: GFLOP/s, median of <paramref name="repeats"/>.</summary>
    public static double MeasureMatmul(ScalarType dtype, int repeats = 5)
    {
        using var scope = NewDisposeScope();
        var a = torch.randn(512, 4096, dtype: dtype);
        var b = torch.randn(4096, 4096, dtype: dtype);
        double first = Time(() => torch.matmul(a, b).Dispose());
        // where the GEMM is emulated (bf16 without AVX512_BF16 can take a minute) the first run is the figure
        var t = first > 2 ? [first] : Enumerable.Range(0, repeats).Select(_ => Time(() => torch.matmul(a, b).Dispose())).Order().ToArray();
        return 2.0 * 512 * 4096 * 4096 / t[t.Length / 2] / 1e9;
    }

    /// <summary>
    /// The decode step's kernel: one token's hidden state times a Llama MLP weight (11008×4096), in weight GB/s (the
    /// decode bound is the weights read at memory bandwidth). Compares bf16 and fp32 weights and three ways to call it
    /// (F.linear on [1, K], torch.mv, matmul of the weight with a column), median of <paramref name="repeats"/>.
    /// </summary>
    public static IReadOnlyList<(string Kernel, double WeightGBs)> MeasureDecodeKernels(int repeats = 9)
    {
        var result = new List<(string, double)>();
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float32 })
        {
            using var scope = NewDisposeScope();
            var w = torch.randn(11008, 4096, dtype: dtype);
            var x = torch.randn(1, 4096, dtype: dtype);
            var v = x.reshape(4096);
            var col = x.reshape(4096, 1);
            var rows4 = torch.randn(4, 4096, dtype: dtype);
            var rows16 = torch.randn(16, 4096, dtype: dtype);
            var rows64 = torch.randn(64, 4096, dtype: dtype);
            double bytes = w.NumberOfElements * (dtype == ScalarType.BFloat16 ? 2.0 : 4.0);
            foreach (var (name, f) in new (string, Action)[]
                     {
                         ("F.linear(x[1,K], W)", () => torch.nn.functional.linear(x, w).Dispose()),
                         ("torch.mv(W, x)", () => torch.mv(w, v).Dispose()),
                         ("matmul(W, x[K,1])", () => torch.matmul(w, col).Dispose()),
                         // the same weight read, more rows: where the 1-row kernel is compute-starved these cost the same
                         ("F.linear(x[4,K], W)", () => torch.nn.functional.linear(rows4, w).Dispose()),
                         ("F.linear(x[16,K], W)", () => torch.nn.functional.linear(rows16, w).Dispose()),
                         ("F.linear(x[64,K], W)", () => torch.nn.functional.linear(rows64, w).Dispose()),
                     })
            {
                f();
                var t = Enumerable.Range(0, repeats).Select(_ => Time(f)).Order().ToArray();
                result.Add(($"{(dtype == ScalarType.BFloat16 ? "bf16" : "fp32")} {name}", bytes / t[t.Length / 2] / 1e9));
            }
            if (dtype == ScalarType.BFloat16 && CpuLinear.GemvSupported)
            {
                // what the model runs for one row: our GEMV (CpuLinear), on the same weight
                using var noGrad = torch.no_grad();
                var lin = torch.nn.Linear(w.shape[1], w.shape[0], hasBias: false, dtype: dtype);
                lin.weight!.copy_(w);
                using var ourGemv = CpuLinear.UseOneRow(OneRowKernel.Ours);
                Action ours = () => CpuLinear.Forward(lin, x).Dispose();
                ours();
                var t = Enumerable.Range(0, repeats).Select(_ => Time(ours)).Order().ToArray();
                result.Add(("bf16 CpuLinear GEMV (ours)", bytes / t[t.Length / 2] / 1e9));
            }
        }
        return result;
    }

    /// <summary>Read bandwidth estimate: the median of <paramref name="repeats"/> <see cref="BandwidthProbe"/> readings.</summary>
    public static double MeasureMemoryBandwidth(int repeats = 5)
    {
        using var probe = new BandwidthProbe();
        return Enumerable.Range(0, repeats).Select(_ => probe.GBs()).Order().ElementAt(repeats / 2);
    }

    static long[] Prompt(OpenVlaConfig c, int len)
    {
        var ids = new long[len];
        ids[0] = c.Text.BosTokenId;
        for (int i = 1; i < len; i++) ids[i] = 100 + i;
        return ids;
    }

    /// <summary>A persistent 1 GiB fp32 tensor whose sum times the read bandwidth now (one pass, all threads).</summary>
    public sealed class BandwidthProbe : IDisposable
    {
        readonly Tensor x = torch.ones(256L * 1024 * 1024, dtype: ScalarType.Float32).DetachFromDisposeScope();
        public BandwidthProbe() => x.sum().Dispose();
        public double GBs() => x.NumberOfElements * 4.0 / Time(() => x.sum().Dispose()) / 1e9;
        public void Dispose() => x.Dispose();
    }

    /// <summary>Seconds of each decode step, and the read bandwidth just before each (empty without a probe).</summary>
    public sealed record DecodeTimes(IReadOnlyList<double> Seconds, IReadOnlyList<double> BandwidthGBs)
    {
        public static readonly DecodeTimes None = new([], []);
        public double Mean => Seconds.Count > 0 ? Seconds.Average() : 0;
        public double Median => Seconds.Order().ElementAt(Seconds.Count / 2);
        /// <summary>These steps followed by <paramref name="more"/>.</summary>
        public DecodeTimes Then(DecodeTimes more) => new([.. Seconds, .. more.Seconds], [.. BandwidthGBs, .. more.BandwidthGBs]);
        /// <summary>Median over the steps of (seconds) / (<paramref name="bytes"/> at the bandwidth just before).</summary>
        public double MedianRatio(double bytes) =>
            Seconds.Zip(BandwidthGBs, (t, bw) => t / (bytes / (bw * 1e9))).Order().ElementAt(Seconds.Count / 2);
    }

    /// <summary>
    /// Prefill seconds, the decode steps and the sequence length for K views. The decode runs the one-row kernel the
    /// model picks (<see cref="CpuLinear.OneRow"/>); with <paramref name="alsoOther"/> the same cache then decodes as
    /// many tokens again with the other one (our GEMV or libtorch's F.linear). With a
    /// <paramref name="probe"/> the read bandwidth is measured just before every decode step (this machine's varies
    /// by up to 2× within a minute).
    /// </summary>
    public static (double Prefill, DecodeTimes Decode, DecodeTimes? Other, long SeqLen) MeasureInference(
        OpenVlaForActionPrediction m, int views, int promptLen, int decodeTokens, bool alsoOther = false, BandwidthProbe? probe = null)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var c = m.Config;
        var px = torch.randn(1, 6 * views, c.ImageSize, c.ImageSize);
        var ids = torch.tensor(Prompt(c, promptLen)).unsqueeze(0);
        using var cache = new KvCache(c.Text.NumHiddenLayers);
        Tensor logits = null!;
        double prefill = Time(() =>
        {
            var img = m.EmbedImages(px);
            logits = m.LanguageModel.forward(m.BuildInputsEmbeds(img, ids), null, cache, lastOnly: true);
            logits[0, -1].argmax().item<long>();
        });
        long seq = cache.Length;
        DecodeTimes Decode()
        {
            var seconds = new List<double>();
            var bandwidth = new List<double>();
            for (int i = 0; i < decodeTokens; i++)
            {
                long next = logits[0, -1].argmax().item<long>();
                if (probe is not null) bandwidth.Add(probe.GBs());
                seconds.Add(Time(() =>
                {
                    var tok = torch.tensor(new[] { next }).reshape(1, 1);
                    logits = m.LanguageModel.forward(m.LanguageModel.Model.EmbedTokens.forward(tok), null, cache, lastOnly: true);
                    logits[0, -1].argmax().item<long>();
                }));
            }
            return new DecodeTimes(seconds, bandwidth);
        }
        var chosen = Decode();
        DecodeTimes? other = null;
        if (alsoOther)
        {
            using (CpuLinear.UseOneRow(CpuLinear.GemvEnabled ? OneRowKernel.Libtorch : OneRowKernel.Ours))
                other = Decode();
        }
        return (prefill, chosen, other, seq);
    }

    /// <summary>
    /// One openvla-oft call: the prompt, K·D zeroed placeholders and the stop token with the images and the proprio
    /// token in one bidirectional forward pass, then the L1 head: seconds and the sequence length.
    /// </summary>
    public static (double Seconds, long SeqLen) MeasureOftCall(OpenVlaOftModel oft, int views, int promptLen, int chunk)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var c = oft.Vla.Config;
        int n = chunk * oft.ActionHead.ActionDim;
        var ids = Prompt(c, promptLen + n + 1);
        var mask = new bool[ids.Length];
        var index = new long[n];
        for (int i = 0; i < n; i++) { mask[promptLen + i] = true; index[i] = promptLen + i; }
        var px = torch.randn(1, 6 * views, c.ImageSize, c.ImageSize);
        var state = oft.Proprio is null ? null : torch.randn(1, oft.Proprio.StateDim);
        Tensor actions = null!;
        double sec = Time(() =>
        {
            actions = oft.PredictActions(px, torch.tensor(ids).unsqueeze(0), null, torch.tensor(mask).unsqueeze(0), torch.tensor(index).unsqueeze(0), state, causal: false);
            actions.sum().item<float>();
        });
        long patches = (long)views * (c.ImageSize / c.Dino.PatchSize) * (c.ImageSize / c.Dino.PatchSize);
        return (sec, ids.Length + patches + (state is null ? 0 : 1));
    }

    /// <summary>
    /// Per-call latency of both policies on one model: openvla = the measured prefill + (D − 1) decode steps for one
    /// D-dim action (<paramref name="token"/>, from the same run); openvla-oft = one parallel pass for a chunk of
    /// <paramref name="chunk"/> actions, measured here.
    /// </summary>
    /// <returns>the median openvla-oft call (in <paramref name="unit"/>) and its sequence length</returns>
    static (double OftCall, long SeqLen) MeasurePolicyCalls(OpenVlaOftModel oft, string label, string unit, int views, int promptLen, int runs,
        List<double> token, int chunk, List<Timing> timings, TextWriter log)
    {
        double scale = unit == "ms" ? 1000 : 1;
        int actionDim = oft.ActionHead.ActionDim;
        var oftCalls = new List<double>();
        long seq = 0;
        for (int r = 0; r < runs; r++)
        {
            var (o, s) = MeasureOftCall(oft, views, promptLen, chunk);
            oftCalls.Add(o * scale); seq = s;
            log.WriteLine(FormattableString.Invariant($"  {label} {views} view(s): openvla-oft call {oftCalls[^1]:0.000} {unit} ({seq} positions)"));
        }
        timings.Add(new Timing($"{label} openvla call (prefill + {actionDim - 1} decodes, 1 action), {views} view(s)", token, unit));
        timings.Add(new Timing($"{label} openvla-oft call (one pass, {chunk} actions), {views} view(s)", oftCalls, unit));
        log.WriteLine(FormattableString.Invariant(
            $"  {label} {views} view(s): per action openvla {token.Order().ElementAt(token.Count / 2):0.000} {unit}, openvla-oft {oftCalls.Order().ElementAt(oftCalls.Count / 2) / chunk:0.000} {unit}"));
        return (oftCalls.Order().ElementAt(oftCalls.Count / 2), seq);
    }

    public static ModelBenchResult Run(bool include7B, int repeats, int decodeTokens, int promptLen, TextWriter log, bool policyCalls = true, int actionDim = 8, int chunk = 8)
    {
        // the token policy's call for one D-dim action: prefill + (D − 1) decode steps of the same run
        List<double> TokenCalls(List<double> pre, List<double> dec) => pre.Zip(dec, (p, d) => p + (actionDim - 1) * d).ToList();
        var timings = new List<Timing>();
        var limits = new List<(string, double, double, string)>();
        log.WriteLine($"cpu: {CpuFeatures.Describe()}; threads: {torch.get_num_threads()}");
        double gflops = MeasureBf16Matmul();
        double fp32 = MeasureMatmul(ScalarType.Float32);
        double gbs = MeasureMemoryBandwidth();
        log.WriteLine(FormattableString.Invariant($"matmul 512x4096x4096: bf16 {gflops:0.0} GFLOP/s, fp32 {fp32:0.0} GFLOP/s; memory read bandwidth: {gbs:0.0} GB/s"));

        using (var tiny = Pretrained.Create(OpenVlaConfig.Tiny, seed: 0))
        {
            var tinyOft = new OpenVlaOftModel(tiny, actionDim, actionDim); // wraps (and is disposed with) the same model
            tinyOft.eval();
            MeasureInference(tiny, 1, promptLen, 2); // warm-up
            foreach (int views in new[] { 1, 3 })
            {
                var pre = new List<double>(); var dec = new List<double>();
                for (int r = 0; r < repeats; r++)
                {
                    var (p, d, _, _) = MeasureInference(tiny, views, promptLen, decodeTokens);
                    pre.Add(p * 1000); dec.Add(d.Mean * 1000);
                }
                timings.Add(new Timing($"tiny fp32 prefill, {views} view(s)", pre, "ms"));
                timings.Add(new Timing($"tiny fp32 decode per token, {views} view(s)", dec, "ms"));
                if (policyCalls) MeasurePolicyCalls(tinyOft, "tiny fp32", "ms", views, promptLen, repeats, TokenCalls(pre, dec), chunk, timings, log);
            }
        }
        if (include7B)
        {
            var c = OpenVlaConfig.OpenVla7B;
            log.WriteLine("building openvla-7b with random bf16 weights (15.1 GB)…");
            var build = Stopwatch.StartNew();
            using var m = new OpenVlaForActionPrediction(c, new ModelOptions(CPU, ScalarType.BFloat16));
            m.eval();
            log.WriteLine(FormattableString.Invariant($"built in {build.Elapsed.TotalSeconds:0.0} s; peak RSS {ProcessMemory.PeakRssBytes() / 1e9:0.00} GB"));
            var oft7b = policyCalls ? new OpenVlaOftModel(m, actionDim, actionDim) : null; // + the 168 M-parameter fp32 head
            oft7b?.eval();
            long total = ParameterShapes.Total(c);
            // a decode step reads every LLM weight once except the embedding table (one row of it)
            long llm = ParameterShapes.Summary(c).First(x => x.Component == "llm").Params - (long)c.Text.VocabSize * c.Text.HiddenSize;
            // The compute bound takes the faster of the two GEMMs: bf16 layers compute in fp32 where that is faster.
            double best = Math.Max(gflops, fp32);
            string rate = gflops >= fp32 ? "bf16" : "fp32";
            using var probe = new BandwidthProbe();
            var (gemmBf16, gemmFp32) = CpuLinear.AutoTimings;
            var (gemvOurs, gemvTorch) = CpuLinear.GemvTimings;
            string chosenKernel = CpuLinear.GemvEnabled ? "our GEMV" : "libtorch's F.linear", otherKernel = CpuLinear.GemvEnabled ? "libtorch's one-row F.linear" : "our GEMV";
            log.WriteLine(FormattableString.Invariant($"bf16 layers with several rows compute in {(CpuLinear.Fp32ForBf16 ? "fp32" : "bf16")} (--bf16-compute {CpuLinear.Bf16Compute.ToString().ToLowerInvariant()}; auto's {CpuLinear.ProbeRows}x4096x4096 layer took {gemmBf16 * 1e3:0.0} ms in bf16, {gemmFp32 * 1e3:0.0} ms in fp32 with the weight widened); one-row layers run {chosenKernel} (auto's 11008x4096 weight: our GEMV {gemvOurs * 1e3:0.00} ms, libtorch {gemvTorch * 1e3:0.00} ms)"));
            // The first call after building pays one-time costs (oneDNN builds its kernels for each new shape, pages are
            // first touched): it is timed and shown on its own, and the figures below are of the calls after it, as in a
            // closed-loop eval, which calls the policy hundreds of times per load.
            var (firstPrefill, _, _, firstSeq) = MeasureInference(m, 1, promptLen, 1);
            double? firstOft = oft7b is null ? null : MeasureOftCall(oft7b, 1, promptLen, chunk).Seconds;
            log.WriteLine(FormattableString.Invariant($"  7b first calls after building (not counted below): prefill {firstPrefill:0.00} s ({firstSeq} tokens){(firstOft is double f ? $", openvla-oft call {f:0.00} s" : "")}"));
            long headParams = oft7b is null ? 0 : oft7b.ActionHead.parameters().Sum(x => x.numel());
            foreach (int views in new[] { 1, 3 })
            {
                var pre = new List<double>(); var dec = new List<double>(); var decTorch = new List<double>();
                var steps = DecodeTimes.None; var stepsTorch = DecodeTimes.None;
                long seq = 0;
                for (int r = 0; r < Math.Max(1, repeats / 3); r++)
                {
                    var (p, d, dt, s) = MeasureInference(m, views, promptLen, decodeTokens, alsoOther: CpuLinear.GemvSupported, probe: probe);
                    pre.Add(p); dec.Add(d.Mean); seq = s;
                    steps = steps.Then(d);
                    log.WriteLine(FormattableString.Invariant($"  7b {views} view(s): prefill {p:0.00} s ({s} tokens), decode {d.Mean:0.000} s/token = {d.MedianRatio(llm * 2.0):0.00}× its bound (bandwidth before each step {d.BandwidthGBs.Min():0.0}–{d.BandwidthGBs.Max():0.0} GB/s)"));
                    if (dt is not null)
                    {
                        decTorch.Add(dt.Mean);
                        stepsTorch = stepsTorch.Then(dt);
                        log.WriteLine(FormattableString.Invariant($"  7b {views} view(s): the same decode with {otherKernel} {dt.Mean:0.000} s/token = {dt.MedianRatio(llm * 2.0):0.00}× its bound ({dt.Mean / d.Mean:0.00}× the time of {chosenKernel})"));
                    }
                }
                var tp = new Timing($"openvla-7b bf16 prefill, {views} view(s), {seq} tokens", pre, "s");
                var td = new Timing($"openvla-7b bf16 decode per token, {views} view(s)", dec, "s");
                timings.Add(tp); timings.Add(td);
                if (decTorch.Count > 0) timings.Add(new Timing($"openvla-7b bf16 decode per token, {views} view(s), {otherKernel}", decTorch, "s"));
                double prefillBound = 2.0 * total * seq / (best * 1e9), decodeBound = steps.Median / steps.MedianRatio(llm * 2.0);
                limits.Add(($"prefill {views} view(s)", tp.Median, prefillBound, $"compute: 2·params·tokens at the {rate} matmul rate"));
                limits.Add(($"decode {views} view(s)", steps.Median, decodeBound,
                    FormattableString.Invariant($"memory: LLM weight bytes at the read bandwidth measured before each step, median of {steps.Seconds.Count} steps' ratios; bandwidth {steps.BandwidthGBs.Min():0.0}–{steps.BandwidthGBs.Max():0.0} GB/s")));
                limits.Add(($"openvla action {views} view(s)", tp.Median + (actionDim - 1) * steps.Median, prefillBound + (actionDim - 1) * decodeBound,
                    $"one {actionDim}-D action: the prefill and {actionDim - 1} decode steps above, against their bounds"));
                if (stepsTorch.Seconds.Count > 0)
                {
                    limits.Add(($"decode {views} view(s), other kernel", stepsTorch.Median, stepsTorch.Median / stepsTorch.MedianRatio(llm * 2.0), $"the same, with {otherKernel}"));
                }
                if (policyCalls)
                {
                    var (oftCall, positions) = MeasurePolicyCalls(oft7b!, "openvla-7b bf16", "s", views, promptLen, 1, TokenCalls(pre, dec), chunk, timings, log);
                    // every weight meets every position, except the L1 head, which sees the chunk's action positions only
                    limits.Add(($"openvla-oft call {views} view(s)", oftCall, (2.0 * total * positions + 2.0 * headParams * chunk * actionDim) / (best * 1e9),
                        $"one pass for {chunk} actions ({positions} positions): 2·params·positions at the {rate} matmul rate"));
                }
            }
        }
        return new ModelBenchResult(timings, gflops, gbs, limits, ProcessMemory.PeakRssBytes());
    }

    public static void Print(ModelBenchResult r, TextWriter w)
    {
        foreach (var t in r.Timings) w.WriteLine(t);
        foreach (var (name, measured, bound, what) in r.VsLimits)
            w.WriteLine(FormattableString.Invariant($"{name,-24} measured {measured,8:0.000} s, limit {bound,8:0.000} s → {measured / bound,5:0.00}× the limit ({what})"));
        w.WriteLine(FormattableString.Invariant($"peak RSS: {r.PeakRssBytes / 1e9:0.00} GB"));
    }
}
