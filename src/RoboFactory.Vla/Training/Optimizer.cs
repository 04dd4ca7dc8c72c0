using System.Globalization;
using System.Text.Json.Nodes;
using RoboFactory.Vla.Checkpoint;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Training;

/// <summary>
/// torch.optim.AdamW (decoupled weight decay, bias-corrected moments, eps outside the square root) over named
/// parameters, with fp32 moments. Written out so its whole state is two tensors per parameter plus a step count,
/// saved as optimizer.safetensors (keys "&lt;param&gt;.exp_avg" / ".exp_avg_sq", metadata step) — resuming restores it
/// bit for bit. Parameters without a gradient are skipped that step (as torch does).
/// Weight decay applies to parameters with two or more dimensions only (matrices and embeddings, not biases, norms or
/// 1-D scales: nanoGPT's rule) unless <see cref="DecayAllParameters"/>. A trainable parameter stored in a lower
/// precision (bf16) gets an fp32 master copy (key "&lt;param&gt;.master"): updates accumulate there and are rounded
/// into the parameter after each step, so small steps are not lost to bf16 rounding.
/// </summary>
public sealed class AdamW : IDisposable
{
    public const string FileName = "optimizer.safetensors";
    readonly List<(string Name, Parameter P)> parameters;
    readonly Dictionary<string, (Tensor M, Tensor V, long Step)> state = new();
    readonly Dictionary<string, Tensor> master = new();
    /// <summary>Decay every parameter (torch's default) instead of only those with ≥ 2 dimensions.</summary>
    public bool DecayAllParameters { get; init; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

    public AdamW(IEnumerable<(string Name, Parameter P)> parameters, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01)
    {
        this.parameters = parameters.ToList();
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay;
    }

    public IReadOnlyList<(string Name, Parameter P)> Parameters => parameters;
    public long TrainableCount => parameters.Sum(p => p.P.NumberOfElements);

    public void ZeroGrad()
    {
        foreach (var (_, p) in parameters)
            if (p.grad is { } g) { p.grad = null; g.Dispose(); }
    }

    /// <summary>
    /// Global L2 norm of the gradients (returned as a device tensor, float64; nothing is read to the host), and the
    /// gradients scaled by min(1, maxNorm / (norm + 1e-6)) when <paramref name="maxNorm"/> &gt; 0 (clip_grad_norm_).
    /// </summary>
    public Tensor ClipGradNorm(double maxNorm)
    {
        using var noGrad = torch.no_grad();
        // every p.grad is a new wrapper: the scope keeps each one referenced until its native calls are done (see
        // Model.TensorMath: an unreferenced wrapper can be finalised, and its handle freed, in the middle of a call)
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.P.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return torch.zeros(1, ScalarType.Float64)[0].MoveToOuterDisposeScope();
        // one squared norm per parameter (not square(): see RMSNorm), stacked, summed, one square root
        var total = torch.stack(grads.Select(SquaredNorm).ToArray()).sum().sqrt();
        if (maxNorm > 0)
        {
            using Scalar max = maxNorm, eps = 1e-6, one = 1.0;
            var coef = Model.TensorMath.AddInPlace(total.clone(), eps).reciprocal_().mul_(max).clamp_max_(one);
            foreach (var g in grads) g.mul_(coef.to(g.dtype));
        }
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Σ g² in fp64, over slices of at most 4 M elements, each freed before the next: a whole fp64 copy of the
    /// 134 M-element OFT head layer would add 2 GB to the peak of a 7B step.
    /// </summary>
    static Tensor SquaredNorm(Tensor g)
    {
        var flat = g.reshape(-1);
        var sum = torch.zeros(1, ScalarType.Float64, device: g.device)[0];
        const long slice = 1L << 22;
        for (long start = 0; start < flat.shape[0]; start += slice)
        {
            using var scope = NewDisposeScope();
            var part = flat.narrow(0, start, Math.Min(slice, flat.shape[0] - start)).to(ScalarType.Float64);
            Model.TensorMath.AddInPlace(sum, (part * part).sum());
        }
        return sum;
    }

    public void Step(double lr)
    {
        using var noGrad = torch.no_grad();
        // explicit Scalars, alive until the end of Step: a temporary one can be finalised mid-call (see Model.TensorMath)
        using Scalar beta1 = Beta1, oneMinusBeta1 = 1 - Beta1, beta2 = Beta2, oneMinusBeta2 = 1 - Beta2, eps = Eps, decay = 1 - lr * WeightDecay;
        foreach (var (name, p) in parameters)
        {
            using var scope = NewDisposeScope(); // before p.grad: its wrapper must be registered (see ClipGradNorm)
            if (p.grad is not { } g) continue;
            if (!state.TryGetValue(name, out var s))
                s = (torch.zeros_like(p, dtype: ScalarType.Float32).DetachFromDisposeScope(), torch.zeros_like(p, dtype: ScalarType.Float32).DetachFromDisposeScope(), 0);
            long step = s.Step + 1;
            var g32 = g.to(ScalarType.Float32);
            s.M.mul_(beta1).add_(g32, alpha: oneMinusBeta1);
            s.V.mul_(beta2).addcmul_(g32, g32, value: oneMinusBeta2);
            double bc1 = 1 - Math.Pow(Beta1, step), bc2 = 1 - Math.Pow(Beta2, step);
            using Scalar sqrtBc2 = Math.Sqrt(bc2), stepSize = -lr / bc1;
            var denom = Model.TensorMath.AddInPlace(s.V.sqrt().div_(sqrtBc2), eps);
            var p32 = p.dtype == ScalarType.Float32 ? p : Master(name, p);
            if (WeightDecay != 0 && (DecayAllParameters || p.dim() >= 2)) p32.mul_(decay);
            p32.addcdiv_(s.M, denom, value: stepSize);
            if (!ReferenceEquals(p32, p)) p.copy_(p32);
            state[name] = (s.M, s.V, step);
        }
    }

    /// <summary>The fp32 master copy of a low-precision parameter (made from it on first use).</summary>
    Tensor Master(string name, Parameter p)
    {
        if (!master.TryGetValue(name, out var m))
            master[name] = m = p.detach().to(ScalarType.Float32).clone().DetachFromDisposeScope();
        return m;
    }

    public void Save(string directory)
    {
        var tensors = new List<(string, Tensor)>();
        var steps = new JsonObject();
        foreach (var (name, (m, v, step)) in state.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            tensors.Add((name + ".exp_avg", m));
            tensors.Add((name + ".exp_avg_sq", v));
            steps[name] = step;
            if (master.TryGetValue(name, out var w)) tensors.Add((name + ".master", w));
        }
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pt", ["optimizer"] = "AdamW",
            ["hyper"] = new JsonObject { ["beta1"] = Beta1, ["beta2"] = Beta2, ["eps"] = Eps, ["weight_decay"] = WeightDecay, ["decay_all_parameters"] = DecayAllParameters }.ToJsonString(),
            ["steps"] = steps.ToJsonString(),
        };
        SafetensorsWriter.Write(Path.Combine(directory, FileName), tensors, meta);
    }

    public void Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        using var f = SafetensorsFile.Open(path);
        var steps = JsonNode.Parse(f.Metadata.GetValueOrDefault("steps") ?? "{}")!.AsObject();
        var byName = parameters.ToDictionary(p => p.Name, p => p.P);
        foreach (var d in state.Values) { d.M.Dispose(); d.V.Dispose(); }
        state.Clear();
        foreach (var w in master.Values) w.Dispose();
        master.Clear();
        foreach (var (name, node) in steps)
        {
            if (!byName.TryGetValue(name, out var p)) throw new CheckpointMismatchException([$"{path}: optimizer state for unknown parameter {name}"]);
            Tensor m, v;
            using (NewDisposeScope()) // the intermediate copies stay referenced until done (see ClipGradNorm), then freed
            {
                m = f.ReadTensor(name + ".exp_avg").to(ScalarType.Float32).to(p.device).DetachFromDisposeScope();
                v = f.ReadTensor(name + ".exp_avg_sq").to(ScalarType.Float32).to(p.device).DetachFromDisposeScope();
            }
            if (!m.shape.SequenceEqual(p.shape)) throw new CheckpointMismatchException([$"{path}: optimizer state {name} has shape [{string.Join(",", m.shape)}], parameter [{string.Join(",", p.shape)}]"]);
            state[name] = (m, v, node!.GetValue<long>());
            if (f.Entries.ContainsKey(name + ".master"))
                using (NewDisposeScope()) master[name] = f.ReadTensor(name + ".master").to(ScalarType.Float32).to(p.device).DetachFromDisposeScope();
        }
    }

    public void Dispose()
    {
        foreach (var d in state.Values) { d.M.Dispose(); d.V.Dispose(); }
        state.Clear();
        foreach (var w in master.Values) w.Dispose();
        master.Clear();
    }
}

/// <summary>Linear warmup from lr/warmup to lr, then cosine decay to min_lr at max_steps; a pure function of the step.</summary>
public sealed record WarmupCosineSchedule(double BaseLr, double MinLr, int WarmupSteps, int MaxSteps)
{
    public const string FileName = "scheduler.json";

    /// <summary>Learning rate for optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return BaseLr * (step + 1) / WarmupSteps;
        long decay = Math.Max(1, MaxSteps - WarmupSteps);
        double t = Math.Clamp((double)(step - WarmupSteps) / decay, 0, 1);
        return MinLr + 0.5 * (BaseLr - MinLr) * (1 + Math.Cos(Math.PI * t));
    }

    public JsonObject ToJson(long lastStep) => new()
    {
        ["type"] = "linear_warmup_cosine", ["base_lr"] = BaseLr, ["min_lr"] = MinLr, ["warmup_steps"] = WarmupSteps,
        ["max_steps"] = MaxSteps, ["last_step"] = lastStep, ["last_lr"] = At(Math.Max(0, lastStep - 1)),
    };

    public static string Format(double lr) => lr.ToString("0.###e+0", CultureInfo.InvariantCulture);
}
