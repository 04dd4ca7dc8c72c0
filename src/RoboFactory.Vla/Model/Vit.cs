using RoboFactory.Vla.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RoboFactory.Vla.Model;

// timm 0.9.x VisionTransformer pieces, with timm's parameter names (blocks.N.attn.qkv, ls1.scale_factor, …).
#pragma warning disable IDE1006 // field names are checkpoint keys

public sealed class VitAttention : VlaModule1
{
    internal nn.Module<Tensor, Tensor> qkv;
    internal nn.Module<Tensor, Tensor> proj;
    readonly int numHeads;

    public VitAttention(int dim, int numHeads, ModelOptions o) : base("Attention")
    {
        this.numHeads = numHeads;
        qkv = nn.Linear(dim, 3 * dim, hasBias: true, device: o.Device, dtype: o.DType);
        proj = nn.Linear(dim, dim, hasBias: true, device: o.Device, dtype: o.DType);
        Slots.Add("qkv", () => qkv, m => qkv = m);
        Slots.Add("proj", () => proj, m => proj = m);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        // (B,N,3,H,hd) → (3,B,H,N,hd), as timm does; plain non-causal softmax attention.
        var t = CpuLinear.Forward(qkv, x).reshape(b, n, 3, numHeads, c / numHeads).permute(2, 0, 3, 1, 4);
        var a = F.scaled_dot_product_attention(t[0], t[1], t[2]);
        return CpuLinear.Forward(proj, a.transpose(1, 2).reshape(b, n, c)).MoveToOuterDisposeScope();
    }
}

public sealed class VitMlp : VlaModule1
{
    internal nn.Module<Tensor, Tensor> fc1;
    internal nn.Module<Tensor, Tensor> fc2;

    public VitMlp(int dim, int hidden, ModelOptions o) : base("Mlp")
    {
        fc1 = nn.Linear(dim, hidden, hasBias: true, device: o.Device, dtype: o.DType);
        fc2 = nn.Linear(hidden, dim, hasBias: true, device: o.Device, dtype: o.DType);
        Slots.Add("fc1", () => fc1, m => fc1 = m);
        Slots.Add("fc2", () => fc2, m => fc2 = m);
        RegisterComponents();
    }

    // Exact (erf) GELU: timm 0.9.x nn.GELU; not the tanh approximation HF-transformers' SigLIP uses.
    public override Tensor forward(Tensor x)
    {
        using var h = F.gelu(CpuLinear.Forward(fc1, x));
        return CpuLinear.Forward(fc2, h);
    }
}

/// <summary>timm LayerScale, with OpenVLA's renamed parameter (gamma → scale_factor, because HF rewrites "gamma").</summary>
public sealed class LayerScale : nn.Module<Tensor, Tensor>
{
    internal Parameter scale_factor;

    public LayerScale(int dim, ModelOptions o) : base("LayerScale")
    {
        using Scalar init = 1e-5; // explicit (see TensorMath)
        scale_factor = new Parameter(torch.full(dim, init, dtype: o.DType, device: o.Device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => x * scale_factor;
}

public sealed class VitBlock : nn.Module<Tensor, Tensor>
{
    internal LayerNorm norm1;
    internal VitAttention attn;
    internal LayerScale? ls1;
    internal LayerNorm norm2;
    internal VitMlp mlp;
    internal LayerScale? ls2;

    public VitBlock(VitConfig c, ModelOptions o) : base("Block")
    {
        norm1 = nn.LayerNorm(c.EmbedDim, c.LayerNormEps, device: o.Device, dtype: o.DType);
        attn = new VitAttention(c.EmbedDim, c.NumHeads, o);
        norm2 = nn.LayerNorm(c.EmbedDim, c.LayerNormEps, device: o.Device, dtype: o.DType);
        mlp = new VitMlp(c.EmbedDim, c.MlpHidden, o);
        if (c.LayerScale) { ls1 = new LayerScale(c.EmbedDim, o); ls2 = new LayerScale(c.EmbedDim, o); }
        RegisterComponents();
    }

    public VitAttention Attn => attn;
    public VitMlp Mlp => mlp;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var a = attn.forward(norm1.forward(x));
        if (ls1 is not null) a = ls1.forward(a);
        x = TensorMath.Add(x, a);
        var m = mlp.forward(norm2.forward(x));
        if (ls2 is not null) m = ls2.forward(m);
        return TensorMath.Add(x, m).MoveToOuterDisposeScope();
    }
}

public sealed class PatchEmbed : VlaModule1
{
    internal nn.Module<Tensor, Tensor> proj;

    public PatchEmbed(VitConfig c, ModelOptions o) : base("PatchEmbed")
    {
        proj = nn.Conv2d(3, c.EmbedDim, c.PatchSize, stride: c.PatchSize, bias: true, device: o.Device, dtype: o.DType);
        Slots.Add("proj", () => proj, m => proj = m);
        RegisterComponents();
    }

    // Conv output flattened row-major over the grid: (B,D,g,g) → (B,g·g,D).
    public override Tensor forward(Tensor x)
    {
        using var y = proj.forward(x);
        return y.flatten(2).transpose(1, 2);
    }
}

/// <summary>timm AttentionPoolLatent (SigLIP's MAP head). In the checkpoint; OpenVLA never runs it.</summary>
public sealed class AttentionPoolLatent : VlaModule1
{
    internal Parameter latent;
    internal nn.Module<Tensor, Tensor> q;
    internal nn.Module<Tensor, Tensor> kv;
    internal nn.Module<Tensor, Tensor> proj;
    internal LayerNorm norm;
    internal VitMlp mlp;
    readonly int numHeads;

    public AttentionPoolLatent(VitConfig c, ModelOptions o) : base("AttentionPoolLatent")
    {
        numHeads = c.NumHeads;
        latent = new Parameter(torch.zeros(1, 1, c.EmbedDim, dtype: o.DType, device: o.Device));
        q = nn.Linear(c.EmbedDim, c.EmbedDim, hasBias: true, device: o.Device, dtype: o.DType);
        kv = nn.Linear(c.EmbedDim, 2 * c.EmbedDim, hasBias: true, device: o.Device, dtype: o.DType);
        proj = nn.Linear(c.EmbedDim, c.EmbedDim, hasBias: true, device: o.Device, dtype: o.DType);
        norm = nn.LayerNorm(c.EmbedDim, c.LayerNormEps, device: o.Device, dtype: o.DType);
        mlp = new VitMlp(c.EmbedDim, c.MlpHidden, o);
        Slots.Add("q", () => q, m => q = m);
        Slots.Add("kv", () => kv, m => kv = m);
        Slots.Add("proj", () => proj, m => proj = m);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2], hd = c / numHeads;
        var qq = CpuLinear.Forward(q, latent.expand(b, -1, -1)).reshape(b, 1, numHeads, hd).transpose(1, 2);
        var t = CpuLinear.Forward(kv, x).reshape(b, n, 2, numHeads, hd).permute(2, 0, 3, 1, 4);
        var y = F.scaled_dot_product_attention(qq, t[0], t[1]).transpose(1, 2).reshape(b, 1, c);
        y = CpuLinear.Forward(proj, y);
        y = TensorMath.Add(y, mlp.forward(norm.forward(y)));
        return y[.., 0].MoveToOuterDisposeScope();
    }
}

/// <summary>
/// timm VisionTransformer as OpenVLA uses it: forward returns the output of block depth-2 (no final norm),
/// with the prefix (CLS + register) tokens removed. Later blocks, norm and attn_pool exist only for the checkpoint.
/// </summary>
public sealed class VisionTransformer : nn.Module<Tensor, Tensor>
{
    internal Parameter? cls_token;
    internal Parameter? reg_token;
    internal Parameter pos_embed;
    internal PatchEmbed patch_embed;
    internal ModuleList<VitBlock> blocks;
    internal LayerNorm norm;
    internal AttentionPoolLatent? attn_pool;
    readonly VitConfig cfg;

    public VisionTransformer(VitConfig c, ModelOptions o) : base("VisionTransformer")
    {
        cfg = c;
        if (c.ClassToken) cls_token = new Parameter(torch.zeros(1, 1, c.EmbedDim, dtype: o.DType, device: o.Device));
        if (c.RegisterTokens > 0) reg_token = new Parameter(torch.zeros(1, c.RegisterTokens, c.EmbedDim, dtype: o.DType, device: o.Device));
        pos_embed = new Parameter(torch.zeros(1, c.NumPatches, c.EmbedDim, dtype: o.DType, device: o.Device));
        patch_embed = new PatchEmbed(c, o);
        blocks = nn.ModuleList(Enumerable.Range(0, c.Depth).Select(_ => new VitBlock(c, o)).ToArray());
        norm = nn.LayerNorm(c.EmbedDim, c.LayerNormEps, device: o.Device, dtype: o.DType);
        if (c.AttnPool) attn_pool = new AttentionPoolLatent(c, o);
        RegisterComponents();
    }

    public VitConfig Config => cfg;
    public IReadOnlyList<VitBlock> Blocks => blocks.ToList();
    /// <summary>Recompute each block's activations in backward instead of keeping them (<see cref="ActivationCheckpoint"/>).</summary>
    public bool GradientCheckpointing { get; set; }
    public PatchEmbed PatchEmbed => patch_embed;
    public AttentionPoolLatent? AttnPool => attn_pool;

    /// <summary>[N,3,H,W] → [N, patches, dim]: features after block depth-2, prefix tokens dropped.</summary>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var x = patch_embed.forward(pixels);
        long n = x.shape[0];
        // no_embed_class: pos_embed goes to the patches only, then [CLS, REG×r, patches].
        x = TensorMath.Add(x, pos_embed);
        var parts = new List<Tensor>();
        if (cls_token is not null) parts.Add(cls_token.expand(n, -1, -1));
        if (reg_token is not null) parts.Add(reg_token.expand(n, -1, -1));
        if (parts.Count > 0) { parts.Add(x); x = torch.cat(parts, 1); }
        for (int i = 0; i <= cfg.FeatureLayer; i++)
            x = GradientCheckpointing ? ActivationCheckpoint.Apply(blocks[i].forward, x, ActivationCheckpoint.TrainableOf(blocks[i])) : blocks[i].forward(x);
        if (cfg.NumPrefixTokens > 0) x = x[.., cfg.NumPrefixTokens..];
        return x.contiguous().MoveToOuterDisposeScope();
    }
}

/// <summary>PrismaticVisionBackbone with use_fused_vision_backbone: [N,6,H,W] → [N, patches, dino+siglip].</summary>
public sealed class PrismaticVisionBackbone : VlaModule1
{
    internal VisionTransformer featurizer;
    internal VisionTransformer fused_featurizer;

    public PrismaticVisionBackbone(OpenVlaConfig c, ModelOptions o) : base("PrismaticVisionBackbone")
    {
        featurizer = new VisionTransformer(c.Dino, o);
        fused_featurizer = new VisionTransformer(c.Siglip, o);
        RegisterComponents();
    }

    public VisionTransformer Featurizer => featurizer;
    public VisionTransformer FusedFeaturizer => fused_featurizer;

    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var dino = featurizer.forward(pixels[.., 0..3]);
        var siglip = fused_featurizer.forward(pixels[.., 3..6]);
        return torch.cat([dino, siglip], 2).MoveToOuterDisposeScope();
    }
}

/// <summary>"no-align+fused-gelu-mlp": fc1 → GELU → fc2 → GELU → fc3.</summary>
public sealed class PrismaticProjector : VlaModule1
{
    internal nn.Module<Tensor, Tensor> fc1;
    internal nn.Module<Tensor, Tensor> fc2;
    internal nn.Module<Tensor, Tensor> fc3;

    public PrismaticProjector(OpenVlaConfig c, ModelOptions o) : base("PrismaticProjector")
    {
        fc1 = nn.Linear(c.FusedVisionDim, c.ProjectorHidden, hasBias: true, device: o.Device, dtype: o.DType);
        fc2 = nn.Linear(c.ProjectorHidden, c.Text.HiddenSize, hasBias: true, device: o.Device, dtype: o.DType);
        fc3 = nn.Linear(c.Text.HiddenSize, c.Text.HiddenSize, hasBias: true, device: o.Device, dtype: o.DType);
        Slots.Add("fc1", () => fc1, m => fc1 = m);
        Slots.Add("fc2", () => fc2, m => fc2 = m);
        Slots.Add("fc3", () => fc3, m => fc3 = m);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = F.gelu(CpuLinear.Forward(fc1, x));
        h = F.gelu(CpuLinear.Forward(fc2, h));
        return CpuLinear.Forward(fc3, h).MoveToOuterDisposeScope();
    }
}
