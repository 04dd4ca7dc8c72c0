using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RoboFactory.Vla.Model;

/// <summary>Which kernel a bf16 linear layer with one row of input (a decode step) runs on the CPU at inference.</summary>
public enum OneRowKernel
{
    /// <summary>Whichever is faster here, timed once on a Llama MLP weight (see <see cref="CpuLinear.TimeGemvs"/>).</summary>
    Auto,
    /// <summary>Our bandwidth-bound GEMV (<see cref="CpuKernels.Rows"/>).</summary>
    Ours,
    /// <summary>libtorch's F.linear.</summary>
    Libtorch,
}

/// <summary>How a bf16 linear layer with several rows computes on the CPU at inference.</summary>
public enum Bf16Compute
{
    /// <summary>Whichever is faster here, timed once on a layer-sized GEMM (see <see cref="CpuLinear.Fp32ForBf16"/>).</summary>
    Auto,
    /// <summary>libtorch's bf16 GEMM, whatever the CPU.</summary>
    Native,
    /// <summary>Weights stay bf16 in memory and are widened to fp32 per call; the GEMM runs in fp32.</summary>
    Fp32,
}

/// <summary>
/// nn.Linear at inference on the CPU, with two paths libtorch lacks (gradients off only; training always runs
/// the plain layer):
/// <list type="bullet">
/// <item>One row against bf16 weights (a decode step): a GEMV that streams the weights once, widening bf16 to fp32 in
/// registers and accumulating in fp32. It is bound by memory bandwidth; libtorch's bf16 F.linear for one row reads
/// its weights at about half the bandwidth (`bench model --kernels`).</item>
/// <item>Several rows against bf16 weights where bf16 GEMM is slow (<see cref="Bf16Compute"/>): each call widens the
/// layer's weights to fp32 and runs the fp32 GEMM, so weights stay bf16 in memory (no fp32 copy of the model).</item>
/// </list>
/// Results are rounded to bf16, as F.linear's are.
/// </summary>
public static class CpuLinear
{
    /// <summary>The policy for bf16 layers with several rows (process-wide; `bench model --bf16-compute`).</summary>
    public static Bf16Compute Bf16Compute { get; set; } = Bf16Compute.Auto;

    /// <summary>Which kernel one-row bf16 layers run (process-wide; tests and `bench model`'s side-by-side timing set it).</summary>
    public static OneRowKernel OneRow { get; set; } = OneRowKernel.Auto;

    /// <summary>Sets <see cref="OneRow"/> until the returned scope is disposed (tests, side-by-side timing).</summary>
    public static IDisposable UseOneRow(OneRowKernel kernel) => new Restore<OneRowKernel>(OneRow, kernel, v => OneRow = v);

    /// <summary>Sets <see cref="Bf16Compute"/> until the returned scope is disposed.</summary>
    public static IDisposable UseBf16Compute(Bf16Compute compute) => new Restore<Bf16Compute>(Bf16Compute, compute, v => Bf16Compute = v);

    sealed class Restore<T> : IDisposable
    {
        readonly T saved;
        readonly Action<T> set;
        public Restore(T current, T value, Action<T> set) { saved = current; this.set = set; set(value); }
        public void Dispose() => set(saved);
    }

    /// <summary>Whether one-row bf16 layers run our GEMV under the current <see cref="OneRow"/> choice.</summary>
    public static bool GemvEnabled => GemvSupported && OneRow switch
    {
        OneRowKernel.Ours => true,
        OneRowKernel.Libtorch => false,
        _ => GemvTimings.Ours <= GemvTimings.Libtorch,
    };

    static readonly Lazy<(double Ours, double Libtorch)> gemvTimings = new(TimeGemvs);

    /// <summary>The timings (<see cref="TimeGemvs"/>, taken once per process) that Auto decides on.</summary>
    public static (double Ours, double Libtorch) GemvTimings => gemvTimings.Value;

    /// <summary>
    /// Seconds of one token through a Llama MLP weight (11008×4096 bf16, larger than the caches), our GEMV and libtorch's
    /// F.linear, the medians of five alternating pairs. Which wins depends on libtorch's build for the CPU: with its
    /// AVX-512 kernels libtorch's bf16 one-row product streams about half our GEMV's bandwidth, while limited to AVX2
    /// (ATEN_CPU_CAPABILITY=avx2) it streamed as fast or faster (`bench model --kernels`).
    /// </summary>
    public static (double Ours, double Libtorch) TimeGemvs()
    {
        if (!GemvSupported) return (double.PositiveInfinity, 0);
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var x = torch.randn(1, 4096).to(ScalarType.BFloat16);
        var w = torch.randn(11008, 4096).to(ScalarType.BFloat16);
        var ours = new List<double>(); var theirs = new List<double>();
        double Time(Action a) { var sw = System.Diagnostics.Stopwatch.StartNew(); a(); return sw.Elapsed.TotalSeconds; }
        for (int i = 0; i < 6; i++)
        {
            double o = Time(() => Gemv(x, w, null).Dispose()), t = Time(() => F.linear(x, w).Dispose());
            if (i == 0) continue; // first touches
            ours.Add(o); theirs.Add(t);
        }
        return (ours.Order().ElementAt(2), theirs.Order().ElementAt(2));
    }

    // A GEMV's rows go out in more pieces than threads, so a thread that wakes late takes fewer of them (1 to 32
    // pieces per thread timed the same on the 2-core machine).
    const int PiecesPerThread = 4;

    /// <summary>Whether the GEMV kernel can run on this CPU (x86 with AVX2 and FMA).</summary>
    public static bool GemvSupported => CpuKernels.Supported;

    /// <summary>Calls that took each fast path on this thread (tests check a path really ran).</summary>
    [ThreadStatic] internal static long GemvCalls, Fp32Calls;

    /// <summary>
    /// Whether a several-row bf16 layer computes in fp32 under the current policy. Auto decides by timing, once per
    /// process, a prefill-sized layer (<see cref="ProbeRows"/> rows through a 4096×4096 weight) both ways, the fp32 way
    /// as it runs (widened into the reused buffer): CPU flags alone do not tell, since libtorch may be limited below
    /// the CPU's instruction sets (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY). A smaller product misleads: with libtorch
    /// limited to AVX2, 256×1024·1024×1024 took 10.0 ms in bf16 and 10.5 ms in fp32, while at layer size fp32 is
    /// several times faster. On the 2-core AVX512_BF16 machine bf16 wins.
    /// </summary>
    public static bool Fp32ForBf16 => Bf16Compute switch
    {
        Bf16Compute.Fp32 => true,
        Bf16Compute.Native => false,
        _ => AutoTimings.Fp32 < AutoTimings.Bf16,
    };

    /// <summary>Rows of the auto probe: a one-view prefill has 280.</summary>
    public const int ProbeRows = 256, ProbeWidth = 4096;

    static readonly Lazy<(double Bf16, double Fp32)> autoTimings = new(TimeGemms);

    /// <summary>The timings (<see cref="TimeGemms"/>, taken once per process) that Auto decides on.</summary>
    public static (double Bf16, double Fp32) AutoTimings => autoTimings.Value;

    /// <summary>Seconds of one <see cref="ProbeRows"/>×4096·4096×4096 bf16 layer computed in bf16 and in fp32, the better of three each.</summary>
    public static (double Bf16, double Fp32) TimeGemms()
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var x = torch.randn(ProbeRows, ProbeWidth).to(ScalarType.BFloat16);
        var w = torch.randn(ProbeWidth, ProbeWidth).to(ScalarType.BFloat16);
        double Best(Action a)
        {
            var first = System.Diagnostics.Stopwatch.StartNew();
            a();
            double best = first.Elapsed.TotalSeconds;
            if (best > 1) return best; // an emulated GEMM: once tells
            for (int i = 0; i < 3; i++)
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                a();
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            return best;
        }
        double bf16 = Best(() => F.linear(x, w).Dispose());
        double fp32 = Best(() => { using var s = NewDisposeScope(); Fp32Linear(x, w, null); });
        return (bf16, fp32);
    }

    /// <summary>bf16 x·Wᵀ + b computed in fp32, W widened into the reused buffer; the result rounded to bf16.</summary>
    static Tensor Fp32Linear(Tensor x, Tensor w, Tensor? bias) =>
        F.linear(x.to(ScalarType.Float32), WidenedWeight(w), bias?.to(ScalarType.Float32)).to(ScalarType.BFloat16);

    /// <summary>The layer's forward, taking a fast path where one applies.</summary>
    public static Tensor Forward(nn.Module<Tensor, Tensor> layer, Tensor x)
    {
        if (layer is not Linear lin || torch.is_grad_enabled()) return layer.forward(x);
        var w = lin.weight!;
        if (w.dtype != ScalarType.BFloat16 || x.dtype != ScalarType.BFloat16 || w.device_type != DeviceType.CPU) return layer.forward(x);
        long k = w.shape[1], rows = x.NumberOfElements / k;
        if (rows == 1 && GemvEnabled && w.is_contiguous() && w.NumberOfElements * 2 <= int.MaxValue)
        {
            GemvCalls++;
            return Gemv(x, w, lin.bias);
        }
        if (rows > 1 && Fp32ForBf16)
        {
            Fp32Calls++;
            using var scope = NewDisposeScope();
            return Fp32Linear(x, w, lin.bias).MoveToOuterDisposeScope();
        }
        return layer.forward(x);
    }

    // Weights up to this many elements (a Llama MLP weight: 45 M) are widened into one buffer per thread, kept
    // between calls: a fresh 180 MB tensor per call is a fresh mapping whose pages all fault in again.
    const long ScratchElements = 64L << 20;
    [ThreadStatic] static Tensor? scratch;

    /// <summary>bf16 W as fp32, in this thread's reused buffer where it fits (valid until the next call).</summary>
    static Tensor WidenedWeight(Tensor w)
    {
        long count = w.NumberOfElements;
        if (count > ScratchElements) return w.to(ScalarType.Float32);
        if (scratch is null || scratch.NumberOfElements < count)
        {
            scratch?.Dispose();
            scratch = torch.empty(count, ScalarType.Float32).DetachFromDisposeScope();
        }
        return scratch.narrow(0, 0, count).view(w.shape).copy_(w);
    }

    /// <summary>y = x·Wᵀ + b for one row x [..., K] and bf16 W [N, K]: bf16 [..., N].</summary>
    static unsafe Tensor Gemv(Tensor x, Tensor w, Tensor? bias)
    {
        int n = (int)w.shape[0], k = (int)w.shape[1];
        var shape = x.shape.ToArray();
        shape[^1] = n;
        var y = torch.empty(shape, ScalarType.BFloat16);
        var xs = new float[k];
        var acc = new float[n];
        using (var xc = x.contiguous()) CpuKernels.SplitEvenOdd(MemoryMarshal.Cast<byte, ushort>(xc.bytes), xs);
        fixed (byte* wb = w.bytes)
        fixed (float* xp = xs, yp = acc)
        {
            nint wAddr = (nint)wb, xAddr = (nint)xp, yAddr = (nint)yp;
            int threads = torch.get_num_threads(), pieces = Math.Max(1, Math.Min(threads * PiecesPerThread, n / 64));
            int chunk = (n / pieces + 3) / 4 * 4;
            if (threads == 1 || pieces == 1) CpuKernels.Rows((ushort*)wAddr, (float*)xAddr, (float*)yAddr, 0, n, k);
            else
                Parallel.For(0, pieces, new ParallelOptions { MaxDegreeOfParallelism = threads }, p =>
                    CpuKernels.Rows((ushort*)wAddr, (float*)xAddr, (float*)yAddr, Math.Min(n, p * chunk), Math.Min(n, (p + 1) * chunk), k));
        }
        if (bias is not null)
        {
            using var bc = bias.to(ScalarType.Float32).contiguous();
            var bf = MemoryMarshal.Cast<byte, float>(bc.bytes);
            for (int i = 0; i < n; i++) acc[i] += bf[i];
        }
        var yb = MemoryMarshal.Cast<byte, ushort>(y.bytes);
        for (int i = 0; i < n; i++) yb[i] = CpuKernels.RoundToBf16(acc[i]);
        return y;
    }

}

/// <summary>
/// The SIMD loops behind <see cref="CpuLinear"/> and the decode attention: bf16 operands widened to fp32 in registers
/// (a bf16 is the high half of an fp32), fp32 accumulation, 256-bit AVX2 with FMA. On the AVX-512 machine the same
/// loops in 512-bit registers streamed a layer's weights no faster (22 against 23–25 GB/s, 48 distinct 4096×4096
/// weights), so one width serves both machine kinds.
/// </summary>
internal static class CpuKernels
{
    /// <summary>Whether these loops can run on this CPU.</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Elements per block of <see cref="SplitEvenOdd"/>: two vectors of fp32.</summary>
    const int Block = 16;

    /// <summary>
    /// x (bf16) in fp32 for <see cref="Rows"/>: each whole block of 16 elements reordered as the 8 even then the 8 odd
    /// ones, to match weights read as uint pairs (the low half of a uint is the even element); the elements after the
    /// last whole block stay in order.
    /// </summary>
    internal static void SplitEvenOdd(ReadOnlySpan<ushort> x, Span<float> xs)
    {
        const int lanes = Block / 2;
        int whole = x.Length / Block * Block;
        for (int j = 0; j < whole; j += Block)
            for (int t = 0; t < lanes; t++)
            {
                xs[j + t] = Widen(x[j + 2 * t]);
                xs[j + lanes + t] = Widen(x[j + 2 * t + 1]);
            }
        for (int j = whole; j < x.Length; j++) xs[j] = Widen(x[j]);
    }

    /// <summary>y[n] = W[n,:]·x for rows n0..n1 of bf16 W [*, k], x split by <see cref="SplitEvenOdd"/>.</summary>
    internal static unsafe void Rows(ushort* w, float* xs, float* y, int n0, int n1, int k)
    {
        var high = Vector256.Create(0xFFFF0000u);
        int whole = k / Block * Block, pairs = whole / 2, q = (n1 - n0) / 4;
        // Four rows per pass share each x load. They come from the four quarters of the range, so each quarter is
        // read front to back as one stream across its rows: four adjacent rows (four streams that each end after
        // one row) streamed 20-25 % slower, as the prefetchers restart at every row (`bench model --kernels`).
        // Two accumulators per row (even and odd elements).
        for (int j = 0; j < q; j++)
        {
            int m = n0 + j;
            uint* r0 = (uint*)(w + (long)m * k), r1 = (uint*)(w + (long)(m + q) * k), r2 = (uint*)(w + (long)(m + 2 * q) * k), r3 = (uint*)(w + (long)(m + 3 * q) * k);
            Vector256<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
            for (int i = 0; i < pairs; i += 8)
            {
                var xe = Vector256.Load(xs + 2 * i); var xo = Vector256.Load(xs + 2 * i + 8);
                var w0 = Vector256.Load(r0 + i); var w1 = Vector256.Load(r1 + i); var w2 = Vector256.Load(r2 + i); var w3 = Vector256.Load(r3 + i);
                e0 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(w0, 16).AsSingle(), xe, e0); o0 = Fma.MultiplyAdd((w0 & high).AsSingle(), xo, o0);
                e1 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(w1, 16).AsSingle(), xe, e1); o1 = Fma.MultiplyAdd((w1 & high).AsSingle(), xo, o1);
                e2 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(w2, 16).AsSingle(), xe, e2); o2 = Fma.MultiplyAdd((w2 & high).AsSingle(), xo, o2);
                e3 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(w3, 16).AsSingle(), xe, e3); o3 = Fma.MultiplyAdd((w3 & high).AsSingle(), xo, o3);
            }
            y[m] = Vector256.Sum(e0 + o0); y[m + q] = Vector256.Sum(e1 + o1); y[m + 2 * q] = Vector256.Sum(e2 + o2); y[m + 3 * q] = Vector256.Sum(e3 + o3);
        }
        int n = n0 + 4 * q;
        for (; n < n1; n++)
        {
            uint* r = (uint*)(w + (long)n * k);
            Vector256<float> e = default, o = default;
            for (int i = 0; i < pairs; i += 8)
            {
                var wv = Vector256.Load(r + i);
                e = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(wv, 16).AsSingle(), Vector256.Load(xs + 2 * i), e);
                o = Fma.MultiplyAdd((wv & high).AsSingle(), Vector256.Load(xs + 2 * i + 8), o);
            }
            y[n] = Vector256.Sum(e + o);
        }
        if (whole < k)
            for (n = n0; n < n1; n++)
            {
                ushort* r = w + (long)n * k;
                float sum = 0;
                for (int i = whole; i < k; i++) sum += Widen(r[i]) * xs[i];
                y[n] += sum;
            }
    }

    /// <summary>
    /// output[0..d) = Σₛ p[s] · rows[s, 0..d) over <paramref name="count"/> bf16 rows of length d. Each 32-column
    /// strip sums in four registers across all rows, so the accumulators never go through memory.
    /// </summary>
    internal static unsafe void WeightedRows(float* output, ushort* rows, float* p, int count, int d)
    {
        int c = 0;
        for (; c + 32 <= d; c += 32)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            ushort* r = rows + c;
            for (int s = 0; s < count; s++, r += d)
            {
                var pv = Vector256.Create(p[s]);
                a0 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Vector128.Load(r)), 16).AsSingle(), pv, a0);
                a1 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Vector128.Load(r + 8)), 16).AsSingle(), pv, a1);
                a2 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Vector128.Load(r + 16)), 16).AsSingle(), pv, a2);
                a3 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Vector128.Load(r + 24)), 16).AsSingle(), pv, a3);
            }
            a0.Store(output + c); a1.Store(output + c + 8); a2.Store(output + c + 16); a3.Store(output + c + 24);
        }
        for (; c < d; c++)
        {
            float sum = 0;
            for (int s = 0; s < count; s++) sum += p[s] * Widen(rows[(long)s * d + c]);
            output[c] = sum;
        }
    }

    [ThreadStatic] internal static long AttentionCalls;

    /// <summary>
    /// One query per head against the first <paramref name="len"/> cached keys and values, bf16 [heads, capacity, d]
    /// each: out = softmax(q·Kᵀ·scale)·V, scores and softmax in fp32. Parallel over heads.
    /// </summary>
    internal static unsafe void LastQueryAttention(ushort* q, ushort* keys, ushort* values, ushort* output, int heads, long capacity, int len, int d, float scale)
    {
        AttentionCalls++;
        nint qa = (nint)q, ka = (nint)keys, va = (nint)values, oa = (nint)output;
        int parts = Math.Max(1, Math.Min(torch.get_num_threads(), heads));
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            var qs = new float[d];
            var scores = new float[len];
            var acc = new float[d];
            for (int h = part * heads / parts; h < (part + 1) * heads / parts; h++)
            {
                ushort* kh = (ushort*)ka + h * capacity * d, vh = (ushort*)va + h * capacity * d;
                SplitEvenOdd(new ReadOnlySpan<ushort>((ushort*)qa + h * d, d), qs);
                fixed (float* qp = qs, sp = scores, ap = acc)
                {
                    Rows(kh, qp, sp, 0, len, d);
                    float max = float.NegativeInfinity;
                    for (int s = 0; s < len; s++) max = Math.Max(max, sp[s] *= scale);
                    float sum = 0;
                    for (int s = 0; s < len; s++) sum += sp[s] = MathF.Exp(sp[s] - max);
                    float inv = 1 / sum;
                    for (int s = 0; s < len; s++) sp[s] *= inv;
                    WeightedRows(ap, vh, sp, len, d);
                    ushort* oh = (ushort*)oa + h * d;
                    for (int i = 0; i < d; i++) oh[i] = RoundToBf16(ap[i]);
                }
            }
        });
    }

    internal static float Widen(ushort bf16) => BitConverter.Int32BitsToSingle(bf16 << 16);

    /// <summary>fp32 → bf16, round to nearest even (as libtorch's conversion); NaN stays NaN.</summary>
    internal static ushort RoundToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((u >> 16) | 0x40);
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
    }
}
