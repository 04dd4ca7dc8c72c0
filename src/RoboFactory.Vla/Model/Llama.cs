using RoboFactory.Vla.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RoboFactory.Vla.Model;

#pragma warning disable IDE1006 // field names are checkpoint keys

/// <summary>
/// Per-layer key/value cache, [B, heads, S, head_dim] each, for inference. Each layer's keys and values live in a
/// buffer with room to spare, so a decode step writes one position in place: no copy of the cache and no fresh
/// allocation per step (on the CPU a fresh buffer costs its page faults, as much as the attention itself).
/// Tensors are owned here (detached from dispose scopes); disposing the cache frees them.
/// </summary>
public sealed class KvCache : IDisposable
{
    /// <summary>Spare positions allocated past a prefill: room for an action's decode steps without regrowing.</summary>
    public const int Headroom = 64;

    readonly Tensor?[] keys;
    readonly Tensor?[] values;
    readonly long[] lengths;

    public KvCache(int layers) { keys = new Tensor?[layers]; values = new Tensor?[layers]; lengths = new long[layers]; }

    /// <summary>Number of positions already cached (the next token's position).</summary>
    public long Length => lengths[0];

    /// <summary>Appends the new k/v of one layer; returns views of the full k/v for attention.</summary>
    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        if (k.requires_grad || v.requires_grad) throw new InvalidOperationException("the KV cache is for inference: run it under torch.no_grad()");
        long len = lengths[layer], t = k.shape[2];
        if (keys[layer] is null || len + t > keys[layer]!.shape[2])
        {
            long capacity = keys[layer] is null ? t + Headroom : Math.Max(2 * keys[layer]!.shape[2], len + t + Headroom);
            keys[layer] = Grow(keys[layer], k, len, capacity);
            values[layer] = Grow(values[layer], v, len, capacity);
        }
        using (var kd = keys[layer]!.narrow(2, len, t)) kd.copy_(k);
        using (var vd = values[layer]!.narrow(2, len, t)) vd.copy_(v);
        lengths[layer] = len + t;
        return (keys[layer]!.narrow(2, 0, len + t), values[layer]!.narrow(2, 0, len + t));
    }

    /// <summary>A layer's whole buffers [B, heads, capacity, head_dim] and the number of positions filled.</summary>
    internal (Tensor K, Tensor V, long Length) Buffers(int layer) => (keys[layer]!, values[layer]!, lengths[layer]);

    static Tensor Grow(Tensor? old, Tensor like, long len, long capacity)
    {
        var buffer = torch.empty(like.shape[0], like.shape[1], capacity, like.shape[3], like.dtype, like.device).DetachFromDisposeScope();
        if (old is not null)
        {
            using (var kept = buffer.narrow(2, 0, len)) using (var src = old.narrow(2, 0, len)) kept.copy_(src);
            old.Dispose();
        }
        return buffer;
    }

    public void Dispose()
    {
        for (int i = 0; i < keys.Length; i++) { keys[i]?.Dispose(); values[i]?.Dispose(); keys[i] = values[i] = null; lengths[i] = 0; }
    }
}

/// <summary>HF LlamaRMSNorm: normalise in fp32, cast back to the input dtype, then scale.</summary>
public sealed class LlamaRMSNorm : nn.Module<Tensor, Tensor>
{
    internal Parameter weight;
    readonly Scalar eps; // held for the module's lifetime (see TensorMath)

    public LlamaRMSNorm(int dim, double eps, ModelOptions o) : base("LlamaRMSNorm")
    {
        this.eps = eps;
        weight = new Parameter(torch.ones(dim, dtype: o.DType, device: o.Device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.to(ScalarType.Float32);
        // h * h, not square(): TorchSharp's square() is pow with a temporary Scalar 2 of its own (see TensorMath)
        h = h * torch.rsqrt(TensorMath.AddInPlace((h * h).mean([-1], keepdim: true), eps));
        return (weight * h.to(x.dtype)).MoveToOuterDisposeScope();
    }
}

public sealed class LlamaMLP : VlaModule1
{
    internal nn.Module<Tensor, Tensor> gate_proj;
    internal nn.Module<Tensor, Tensor> up_proj;
    internal nn.Module<Tensor, Tensor> down_proj;

    public LlamaMLP(LlamaTextConfig c, ModelOptions o) : base("LlamaMLP")
    {
        gate_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: false, device: o.Device, dtype: o.DType);
        up_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: false, device: o.Device, dtype: o.DType);
        down_proj = nn.Linear(c.IntermediateSize, c.HiddenSize, hasBias: false, device: o.Device, dtype: o.DType);
        Slots.Add("gate_proj", () => gate_proj, m => gate_proj = m);
        Slots.Add("up_proj", () => up_proj, m => up_proj = m);
        Slots.Add("down_proj", () => down_proj, m => down_proj = m);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return CpuLinear.Forward(down_proj, F.silu(CpuLinear.Forward(gate_proj, x)) * CpuLinear.Forward(up_proj, x)).MoveToOuterDisposeScope();
    }
}

public sealed class LlamaAttention : VlaModule
{
    internal nn.Module<Tensor, Tensor> q_proj;
    internal nn.Module<Tensor, Tensor> k_proj;
    internal nn.Module<Tensor, Tensor> v_proj;
    internal nn.Module<Tensor, Tensor> o_proj;
    readonly int numHeads, headDim;

    public LlamaAttention(LlamaTextConfig c, ModelOptions o) : base("LlamaAttention")
    {
        numHeads = c.NumAttentionHeads; headDim = c.HeadDim;
        q_proj = nn.Linear(c.HiddenSize, c.HiddenSize, hasBias: false, device: o.Device, dtype: o.DType);
        k_proj = nn.Linear(c.HiddenSize, c.HiddenSize, hasBias: false, device: o.Device, dtype: o.DType);
        v_proj = nn.Linear(c.HiddenSize, c.HiddenSize, hasBias: false, device: o.Device, dtype: o.DType);
        o_proj = nn.Linear(c.HiddenSize, c.HiddenSize, hasBias: false, device: o.Device, dtype: o.DType);
        Slots.Add("q_proj", () => q_proj, m => q_proj = m);
        Slots.Add("k_proj", () => k_proj, m => k_proj = m);
        Slots.Add("v_proj", () => v_proj, m => v_proj = m);
        Slots.Add("o_proj", () => o_proj, m => o_proj = m);
        RegisterComponents();
    }

    static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        return torch.cat([-x[.., .., .., (int)half..], x[.., .., .., ..(int)half]], -1);
    }

    /// <summary>
    /// One query that sees every key (a decode step). From a bf16 cache on the CPU: <see cref="CpuKernels"/>'s loop
    /// straight over the cache buffers (libtorch's attention for one bf16 query copies the keys first and runs several
    /// times slower). Elsewhere HF's eager attention: scores in the activation dtype, softmax in fp32.
    /// </summary>
    static unsafe Tensor LastQueryAttention(Tensor q, Tensor k, Tensor v, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        if (cache is not null && q.dtype == ScalarType.BFloat16 && q.device_type == DeviceType.CPU && CpuKernels.Supported
            && q.shape[0] == 1)
        {
            var (kb, vb, len) = cache.Buffers(layer);
            int heads = (int)q.shape[1], d = (int)q.shape[^1];
            var qc = q.contiguous();
            var output = torch.empty(q.shape, ScalarType.BFloat16);
            fixed (byte* qp = qc.bytes, kp = kb.bytes, vp = vb.bytes, op = output.bytes)
                CpuKernels.LastQueryAttention((ushort*)qp, (ushort*)kp, (ushort*)vp, (ushort*)op, heads, kb.shape[2], (int)len, d, (float)(1.0 / Math.Sqrt(d)));
            return output.MoveToOuterDisposeScope();
        }
        using Scalar scale = 1.0 / Math.Sqrt(q.shape[^1]); // explicit Scalar (see TensorMath)
        var scores = torch.matmul(q, k.transpose(2, 3)).to(ScalarType.Float32).mul_(scale);
        return torch.matmul(torch.softmax(scores, -1).to(q.dtype), v).MoveToOuterDisposeScope();
    }

    /// <param name="x">[B,T,H]</param>
    /// <param name="cos">[T,hd] in the activation dtype (HF: fp32 then cast)</param>
    /// <param name="mask">null for causal self-attention whose last query is the last key (without a cache, a prefill
    /// into an empty cache, or one decode step that sees every cached key); else a bool [B|1,1,T,S] (true = attend)</param>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = CpuLinear.Forward(q_proj, x).view(b, t, numHeads, headDim).transpose(1, 2);
        var k = CpuLinear.Forward(k_proj, x).view(b, t, numHeads, headDim).transpose(1, 2);
        var v = CpuLinear.Forward(v_proj, x).view(b, t, numHeads, headDim).transpose(1, 2);
        // HF "rotate_half" RoPE: pairs (i, i+hd/2).
        q = TensorMath.Add(q * cos, RotateHalf(q) * sin);
        k = TensorMath.Add(k * cos, RotateHalf(k) * sin);
        if (cache is not null) (k, v) = cache.Append(layer, k, v);
        var a = mask is not null ? F.scaled_dot_product_attention(q, k, v, attn_mask: mask)
            : t == 1 ? LastQueryAttention(q, k, v, cache, layer)
            : F.scaled_dot_product_attention(q, k, v, is_casual: true);
        return CpuLinear.Forward(o_proj, a.transpose(1, 2).reshape(b, t, numHeads * headDim)).MoveToOuterDisposeScope();
    }
}

public sealed class LlamaDecoderLayer : nn.Module
{
    internal LlamaAttention self_attn;
    internal LlamaMLP mlp;
    internal LlamaRMSNorm input_layernorm;
    internal LlamaRMSNorm post_attention_layernorm;

    public LlamaDecoderLayer(LlamaTextConfig c, ModelOptions o) : base("LlamaDecoderLayer")
    {
        self_attn = new LlamaAttention(c, o);
        mlp = new LlamaMLP(c, o);
        input_layernorm = new LlamaRMSNorm(c.HiddenSize, c.RmsNormEps, o);
        post_attention_layernorm = new LlamaRMSNorm(c.HiddenSize, c.RmsNormEps, o);
        RegisterComponents();
    }

    public LlamaAttention SelfAttn => self_attn;
    public LlamaMLP Mlp => mlp;

    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var h = TensorMath.Add(x, self_attn.forward(input_layernorm.forward(x), cos, sin, mask, cache, layer));
        return TensorMath.Add(h, mlp.forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
    }
}

public sealed class LlamaModel : nn.Module
{
    internal Embedding embed_tokens;
    internal ModuleList<LlamaDecoderLayer> layers;
    internal LlamaRMSNorm norm;
    readonly LlamaTextConfig cfg;

    /// <summary>Recompute each decoder layer's activations in backward instead of keeping them (<see cref="ActivationCheckpoint"/>).</summary>
    public bool GradientCheckpointing { get; set; }

    public LlamaModel(LlamaTextConfig c, ModelOptions o) : base("LlamaModel")
    {
        cfg = c;
        embed_tokens = nn.Embedding(c.VocabSize, c.HiddenSize, device: o.Device, dtype: o.DType);
        layers = nn.ModuleList(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => new LlamaDecoderLayer(c, o)).ToArray());
        norm = new LlamaRMSNorm(c.HiddenSize, c.RmsNormEps, o);
        RegisterComponents();
    }

    public Embedding EmbedTokens => embed_tokens;
    public IReadOnlyList<LlamaDecoderLayer> Layers => layers.ToList();

    /// <summary>RoPE tables for positions [start, start+len): cos/sin [len, head_dim], computed in fp32 then cast.</summary>
    internal (Tensor Cos, Tensor Sin) Rope(long start, long len, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        int hd = cfg.HeadDim;
        // explicit Scalars, alive across the native calls (see TensorMath)
        using Scalar headDim = (double)hd, zero = 0, hdEnd = hd, two = 2, first = start, end = start + len;
        var theta = torch.tensor(cfg.RopeTheta, dtype: ScalarType.Float64, device: device);
        var invFreq = torch.pow(theta, torch.arange(zero, hdEnd, two, dtype: ScalarType.Float64, device: device).div_(headDim)).reciprocal_();
        var pos = torch.arange(first, end, dtype: ScalarType.Float64, device: device);
        var freqs = torch.outer(pos, invFreq).to(ScalarType.Float32);
        var emb = torch.cat([freqs, freqs], -1);
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <param name="inputsEmbeds">[B,T,H]</param>
    /// <param name="paddingMask">optional [B, past+T] (true/1 = real token); pads are assumed on the right</param>
    /// <param name="causal">false: bidirectional attention over every real token (OpenVLA-OFT's parallel decoding)</param>
    /// <returns>final-norm hidden states [B,T,H]</returns>
    public Tensor forward(Tensor inputsEmbeds, Tensor? paddingMask = null, KvCache? cache = null, bool causal = true)
    {
        using var scope = NewDisposeScope();
        long b = inputsEmbeds.shape[0], t = inputsEmbeds.shape[1];
        long past = cache?.Length ?? 0, total = past + t;
        var dev = inputsEmbeds.device;
        var (cos, sin) = Rope(past, t, inputsEmbeds.dtype, dev);
        Tensor? mask = null;
        bool hasPadding = paddingMask is not null && !paddingMask.to(ScalarType.Bool).all().item<bool>();
        if (!causal)
        {
            if (cache is not null) throw new ArgumentException("bidirectional attention has no KV cache (one forward pass)");
            // every query sees every real key (a padded row also sees itself, so its softmax stays finite)
            mask = hasPadding
                ? paddingMask!.to(ScalarType.Bool).to(dev)[.., TensorIndex.None, TensorIndex.None, ..] | torch.eye(t, total, ScalarType.Bool, dev).unsqueeze(0).unsqueeze(0)
                : torch.ones(1, 1, t, total, ScalarType.Bool, dev);
        }
        else if ((past > 0 && t > 1) || hasPadding)
        {
            // Causal with an offset for the cached prefix: query i (position past+i) sees keys 0..past+i.
            using Scalar pastS = past, totalS = total, zero = 0L; // explicit Scalars (see TensorMath)
            var qpos = torch.arange(pastS, totalS, device: dev).unsqueeze(1);
            var kpos = torch.arange(zero, totalS, device: dev).unsqueeze(0);
            mask = (kpos <= qpos).unsqueeze(0).unsqueeze(0);
            if (hasPadding)
                mask = mask & paddingMask!.to(ScalarType.Bool).to(dev)[.., TensorIndex.None, TensorIndex.None, ..];
            // A padded query row may see nothing at all; let it see itself so softmax stays finite (its output is ignored).
            if (hasPadding) mask = mask | (kpos == qpos).unsqueeze(0).unsqueeze(0);
        }
        var h = inputsEmbeds;
        if (GradientCheckpointing && cache is null && torch.is_grad_enabled())
        {
            // the backward recomputation runs after this scope has ended: the tables it reads must outlive it
            var shared = new ActivationCheckpoint.SharedInputs(layers.Count, cos, sin, mask);
            var (c2, s2, m2) = (shared.Tensors[0]!, shared.Tensors[1]!, shared.Tensors[2]);
            for (int i = 0; i < layers.Count; i++)
            {
                var layer = layers[i];
                int index = i;
                h = ActivationCheckpoint.Apply(x => layer.forward(x, c2, s2, m2, null, index), h, ActivationCheckpoint.TrainableOf(layer), shared);
            }
        }
        else
            for (int i = 0; i < layers.Count; i++) h = layers[i].forward(h, cos, sin, mask, cache, i);
        return norm.forward(h).MoveToOuterDisposeScope();
    }
}

public sealed class LlamaForCausalLM : VlaModule
{
    internal LlamaModel model;
    internal nn.Module<Tensor, Tensor> lm_head;

    public LlamaForCausalLM(LlamaTextConfig c, ModelOptions o) : base("LlamaForCausalLM")
    {
        model = new LlamaModel(c, o);
        lm_head = nn.Linear(c.HiddenSize, c.VocabSize, hasBias: false, device: o.Device, dtype: o.DType);
        Slots.Add("lm_head", () => lm_head, m => lm_head = m);
        RegisterComponents();
    }

    public LlamaModel Model => model;
    public nn.Module<Tensor, Tensor> LmHead => lm_head;

    /// <summary>
    /// Logits in fp32 (HF casts before argmax / cross-entropy), for positions from <paramref name="fromPosition"/> on
    /// (only the last one with <paramref name="lastOnly"/>).
    /// </summary>
    public Tensor forward(Tensor inputsEmbeds, Tensor? paddingMask = null, KvCache? cache = null, bool lastOnly = false, int fromPosition = 0)
    {
        using var scope = NewDisposeScope();
        var h = model.forward(inputsEmbeds, paddingMask, cache);
        if (lastOnly) h = h[.., ^1..];
        else if (fromPosition > 0) h = h[.., fromPosition..];
        return CpuLinear.Forward(lm_head, h).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
