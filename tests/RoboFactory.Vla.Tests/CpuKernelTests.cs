using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RoboFactory.Vla.Tests;

/// <summary>The CPU inference paths of <see cref="CpuLinear"/> and the bf16 decode attention against plain libtorch.</summary>
public class CpuKernelTests
{
    static Tensor Bf16(Generator g, params long[] shape) => torch.randn(shape, generator: g).to(ScalarType.BFloat16);

    /// <summary>fp32 reference of a bf16 layer, rounded to bf16 once at the end.</summary>
    static Tensor Reference(Tensor x, TorchSharp.Modules.Linear lin) =>
        F.linear(x.to(ScalarType.Float32), lin.weight!.to(ScalarType.Float32), lin.bias?.to(ScalarType.Float32)).to(ScalarType.BFloat16);

    /// <summary>Runs <paramref name="body"/> with one-row layers on our GEMV, whatever Auto would pick on this CPU.</summary>
    static void WithOurGemv(Action body)
    {
        using var ours = CpuLinear.UseOneRow(OneRowKernel.Ours);
        body();
    }

    static TorchSharp.Modules.Linear Layer(Generator g, long inF, long outF, bool bias)
    {
        var lin = nn.Linear(inF, outF, hasBias: bias, dtype: ScalarType.BFloat16);
        using var noGrad = torch.no_grad();
        lin.weight!.copy_(Bf16(g, outF, inF) * 0.05);
        lin.bias?.copy_(Bf16(g, outF));
        return lin;
    }

    [SkippableTheory]
    [InlineData(37, 64, false)]    // rows not a multiple of 4
    [InlineData(20, 688, true)]    // K past the last whole block (the tiny preset's down_proj)
    [InlineData(5, 7, false)]      // no whole block at all
    [InlineData(300, 4096, true)]  // several pieces per thread, with bias
    [InlineData(11008, 4096, false)]
    public void Gemv_MatchesFp32Reference(long outF, long inF, bool bias)
    {
        Skip.IfNot(CpuLinear.GemvSupported, "needs AVX2 and FMA");
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var g = new Generator(7);
        var lin = Layer(g, inF, outF, bias);
        var x = Bf16(g, 1, 1, inF);
        long before = CpuLinear.GemvCalls;
        Tensor y = null!;
        WithOurGemv(() => y = CpuLinear.Forward(lin, x));
        Assert.Equal(before + 1, CpuLinear.GemvCalls);
        Assert.Equal(new[] { 1L, 1, outF }, y.shape);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        // Only the summation order differs from the reference: at most one bf16 rounding step apart.
        var r = Reference(x, lin).to(ScalarType.Float32);
        var diff = (y.to(ScalarType.Float32) - r).abs();
        var ulp = r.abs().clamp_min(1e-3) * Math.Pow(2, -7);
        Assert.True((diff <= ulp).all().item<bool>(), $"max diff {diff.max().item<float>()}");
    }

    [Fact]
    public void Gemv_NotTaken_WhereItDoesNotApply()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(8);
        long before = CpuLinear.GemvCalls;
        var lin = Layer(g, 64, 16, false);
        var x = Bf16(g, 1, 64).requires_grad_(true);
        WithOurGemv(() =>
        {
            var y = CpuLinear.Forward(lin, x); // gradients on: the plain layer, differentiable
            Assert.True(y.requires_grad);
            var f32 = nn.Linear(64, 16);
            using (torch.no_grad()) CpuLinear.Forward(f32, torch.randn(1, 64));
        });
        Assert.Equal(before, CpuLinear.GemvCalls);
    }

    [Fact]
    public void OneRowLibtorch_RunsTheLayerItself()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var g = new Generator(12);
        var lin = Layer(g, 256, 48, true);
        var x = Bf16(g, 1, 256);
        using var libtorch = CpuLinear.UseOneRow(OneRowKernel.Libtorch);
        Assert.False(CpuLinear.GemvEnabled);
        long before = CpuLinear.GemvCalls;
        var y = CpuLinear.Forward(lin, x);
        Assert.Equal(before, CpuLinear.GemvCalls);
        Assert.True((lin.forward(x) == y).all().item<bool>(), "libtorch's own F.linear");
    }

    [Fact]
    public void Fp32Compute_ForSeveralRows_EqualsFp32Reference()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var g = new Generator(9);
        var lin = Layer(g, 96, 40, true);
        var x = Bf16(g, 2, 5, 96);
        var saved = CpuLinear.Bf16Compute;
        try
        {
            CpuLinear.Bf16Compute = Bf16Compute.Fp32;
            long before = CpuLinear.Fp32Calls;
            var y = CpuLinear.Forward(lin, x);
            Assert.Equal(before + 1, CpuLinear.Fp32Calls);
            Assert.True((Reference(x, lin) == y).all().item<bool>(), "fp32 compute equals the fp32 reference rounded once");
            CpuLinear.Bf16Compute = Bf16Compute.Native;
            CpuLinear.Forward(lin, x);
            Assert.Equal(before + 1, CpuLinear.Fp32Calls);
        }
        finally { CpuLinear.Bf16Compute = saved; }
    }

    [Fact]
    public void Fp32Compute_ReusesItsBuffer_AcrossLayersOfOtherSizes()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var g = new Generator(10);
        // small, then larger (the buffer grows), then small again (a prefix of the grown buffer), then a third shape
        var layers = new[] { Layer(g, 48, 20, false), Layer(g, 96, 200, true), Layer(g, 48, 20, false), Layer(g, 200, 33, true) };
        using var fp32 = CpuLinear.UseBf16Compute(Bf16Compute.Fp32);
        foreach (var lin in layers)
        {
            var x = Bf16(g, 3, lin.weight!.shape[1]);
            Assert.True((Reference(x, lin) == CpuLinear.Forward(lin, x)).all().item<bool>(), $"layer {lin.weight!.shape[0]}x{lin.weight!.shape[1]}");
        }
    }

    /// <summary>Prefill, then decode steps from the cache, against one full pass over the whole sequence.</summary>
    static (Tensor Cached, Tensor Full) DecodeVsFull(LlamaForCausalLM lm, int prompt, int steps, ScalarType dtype)
    {
        var g = new Generator(11);
        var tokens = torch.randint(10, 4000, [1, prompt + steps], generator: g);
        using var noGrad = torch.no_grad();
        using var cache = new KvCache(lm.Model.Layers.Count);
        var e = lm.Model.EmbedTokens;
        var logits = lm.forward(e.forward(tokens[.., ..prompt]), null, cache, lastOnly: true);
        for (int i = prompt; i < prompt + steps; i++)
            logits = lm.forward(e.forward(tokens[.., i..(i + 1)]), null, cache, lastOnly: true);
        Assert.Equal(prompt + steps, cache.Length);
        var full = lm.forward(e.forward(tokens), null, null, lastOnly: true);
        return (logits[0, -1], full[0, -1]);
    }

    [Fact]
    public void Decode_PastTheCacheHeadroom_EqualsFullPass()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        using var lm = new LlamaForCausalLM(OpenVlaConfig.Tiny.Text, ModelOptions.Cpu32);
        var (cached, full) = DecodeVsFull(lm, 20, KvCache.Headroom + 10, ScalarType.Float32); // the buffers grow once
        Assert.True(torch.allclose(full, cached, 1e-4, 1e-5), $"max diff {(full - cached).abs().max().item<float>()}");
    }

    [SkippableFact]
    public void Bf16Decode_WithTheCpuKernels_MatchesFullPass()
    {
        Skip.IfNot(CpuLinear.GemvSupported, "needs AVX2 and FMA");
        using var scope = NewDisposeScope();
        torch.manual_seed(4);
        using var lm = new LlamaForCausalLM(OpenVlaConfig.Tiny.Text, new ModelOptions(CPU, ScalarType.BFloat16));
        long gemv = CpuLinear.GemvCalls, attention = CpuKernels.AttentionCalls;
        (Tensor cached, Tensor full) = (null!, null!);
        WithOurGemv(() => (cached, full) = DecodeVsFull(lm, 30, 6, ScalarType.BFloat16));
        int layers = OpenVlaConfig.Tiny.Text.NumHiddenLayers;
        Assert.Equal(attention + 6 * layers, CpuKernels.AttentionCalls);
        // each decode step: 7 projections per layer and the LM head; plus the LM head on the last row of both prefills
        Assert.Equal(gemv + 6 * (7 * layers + 1) + 2, CpuLinear.GemvCalls);
        // bf16 activations: both sides round differently, so compare as bf16 models are compared (cosine, top token)
        var cos = F.cosine_similarity(full.unsqueeze(0), cached.unsqueeze(0)).item<float>();
        Assert.True(cos > 0.999, $"cosine {cos}");
        Assert.Equal(full.argmax().item<long>(), cached.argmax().item<long>());
    }
}
