using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Core.Imaging;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Imaging;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

public class ModelApiTests
{
    /// <summary>A stand-in LoRA wrapper: base_layer + a zero-initialised delta, as PEFT names it.</summary>
    sealed class Wrapped : nn.Module<Tensor, Tensor>
    {
        internal nn.Module<Tensor, Tensor> base_layer;
        internal Parameter delta;
        public Wrapped(nn.Module<Tensor, Tensor> inner, long outFeatures) : base("Wrapped")
        {
            base_layer = inner;
            delta = new Parameter(torch.zeros(outFeatures));
            RegisterComponents();
        }
        public override Tensor forward(Tensor x) => base_layer.forward(x) + delta;
    }

    [Fact]
    public void LinearSlots_CoverLoraTargets_And_CanBeReplacedByName()
    {
        using var m = Pretrained.Create(OpenVlaConfig.Tiny, seed: 4);
        var slots = m.LinearSlots().Select(s => s.Path).ToHashSet();
        foreach (var s in new[] { "q_proj", "k_proj", "v_proj", "o_proj" }) Assert.Contains($"language_model.model.layers.0.self_attn.{s}", slots);
        foreach (var s in new[] { "gate_proj", "up_proj", "down_proj" }) Assert.Contains($"language_model.model.layers.3.mlp.{s}", slots);
        Assert.Contains("language_model.lm_head", slots);
        Assert.Contains("projector.fc1", slots);
        Assert.Contains("vision_backbone.featurizer.blocks.0.attn.qkv", slots);
        Assert.Contains("vision_backbone.fused_featurizer.blocks.2.mlp.fc2", slots);
        Assert.Contains("vision_backbone.featurizer.patch_embed.proj", slots); // PEFT "all-linear" also hits this Conv2d
        Assert.Contains("vision_backbone.fused_featurizer.attn_pool.kv", slots);

        var px = torch.randn(1, 6, 112, 112, generator: new Generator(1));
        var ids = torch.tensor(new long[] { 1, 5, 6, 7 }).unsqueeze(0);
        using var before = m.Forward(px, ids);
        m.ReplaceLinear("language_model.model.layers.1.self_attn.q_proj", inner => new Wrapped(inner, 256));
        var names = m.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("language_model.model.layers.1.self_attn.q_proj.base_layer.weight", names);
        Assert.Contains("language_model.model.layers.1.self_attn.q_proj.delta", names);
        Assert.DoesNotContain("language_model.model.layers.1.self_attn.q_proj.weight", names);
        using var after = m.Forward(px, ids);
        Assert.True(before.Logits.allclose(after.Logits, 1e-5, 1e-5));
        Assert.Throws<ArgumentException>(() => m.ReplaceLinear("language_model.no_such", x => x));
    }

    [Fact]
    public void Training_LossBackward_ReachesAllUsedParameters()
    {
        using var m = Pretrained.Create(OpenVlaConfig.Tiny, seed: 5);
        m.train();
        var px = torch.randn(2, 6, 112, 112, generator: new Generator(2));
        var ids = torch.tensor(new long[] { 1, 5, 6, 3900, 3901, 2, 1, 8, 3950, 3951, 2, 4096 }).reshape(2, 6);
        var labels = ids.clone();
        labels[.., ..3] = torch.tensor(-100L);
        labels[1, 5] = torch.tensor(-100L);
        using var o = m.Forward(px, ids, ids != 4096, labels);
        Assert.True(o.Loss!.item<float>() > 0);
        o.Loss.backward();
        var noGrad = m.named_parameters().Where(p => p.parameter.grad is null).Select(p => p.name).ToList();
        // Unused by design: blocks after depth-2, final ViT norms and SigLIP's attn_pool.
        Assert.All(noGrad, n => Assert.True(n.Contains(".blocks.3.") || n.Contains(".norm.") || n.Contains("attn_pool"), n));
        Assert.Contains(m.named_parameters(), p => p.name == "language_model.model.layers.0.self_attn.q_proj.weight" && p.parameter.grad is not null);
    }

    [Fact]
    public void LabelLogitsOnly_GivesTheSameLossAndLabelLogits()
    {
        using var m = Pretrained.Create(OpenVlaConfig.Tiny, seed: 6);
        m.eval();
        var px = torch.randn(2, 6, 112, 112, generator: new Generator(3));
        var ids = torch.tensor(new long[] { 1, 5, 6, 7, 3900, 3901, 2, 1, 8, 9, 10, 3950, 3951, 2 }).reshape(2, 7);
        var labels = ids.clone();
        labels[.., ..4] = torch.tensor(-100L);
        labels[1, 4] = torch.tensor(-100L); // rows may start their labels at different positions
        using var full = m.Forward(px, ids, null, labels);
        using var part = m.Forward(px, ids, null, labels, labelLogitsOnly: true);
        int nImg = full.NumImageTokens;
        Assert.Equal(0, full.LogitsOffset);
        Assert.Equal(nImg + 3, part.LogitsOffset); // position before the first label (text index 4)
        Assert.Equal(full.Logits.shape[1] - part.LogitsOffset, part.Logits.shape[1]);
        Assert.Equal(full.Loss!.item<float>(), part.Loss!.item<float>(), 5);
        Assert.True(full.Logits[.., part.LogitsOffset..].allclose(part.Logits, 1e-5, 1e-5));
    }

    [Fact]
    public void ActionDecoder_ModesChooseAndValueAsDocumented()
    {
        var tok = ActionTokenizer.For(OpenVlaConfig.Tiny);
        var logits = torch.full(OpenVlaConfig.Tiny.Text.VocabSize, -10f);
        logits[5] = torch.tensor(9f);                       // a text token wins the full argmax
        logits[tok.FirstTokenId + 100] = torch.tensor(5f);  // two neighbouring action bins share the rest
        logits[tok.FirstTokenId + 101] = torch.tensor(5f);
        var greedy = new ActionDecoder(tok, ActionDecoding.Greedy);
        Assert.Equal(5, greedy.Choose(logits));
        Assert.Equal(tok.Decode(5), greedy.Values[0]);
        var actionGreedy = new ActionDecoder(tok, ActionDecoding.ActionGreedy);
        Assert.Equal(tok.FirstTokenId + 100, actionGreedy.Choose(logits));
        Assert.Equal(tok.Decode(tok.FirstTokenId + 100), actionGreedy.Values[0]);
        var expected = new ActionDecoder(tok, ActionDecoding.Expected);
        Assert.Equal(tok.FirstTokenId + 100, expected.Choose(logits));
        double mid = (tok.Decode(tok.FirstTokenId + 100) + tok.Decode(tok.FirstTokenId + 101)) / 2;
        Assert.Equal(mid, expected.Values[0], 4);
        expected.Reset();
        Assert.Empty(expected.Values);
        Assert.Throws<ArgumentException>(() => ActionDecoder.Parse("beam"));
        Assert.Equal(ActionDecoding.Expected, ActionDecoder.Parse(ActionDecoder.Name(ActionDecoding.Expected)));
    }

    [Fact]
    public void Predictor_RunsEndToEnd_OnPngViews()
    {
        using var dir = new TempDir();
        var img = Image8.Rgb(64, 48);
        new Random(3).NextBytes(img.Pixels);
        Png.Write(dir.File("a.png"), img);
        var back = Png.ReadRgb(dir.File("a.png"));
        Assert.Equal(img.Pixels, back.Pixels);
        using var p = OpenVlaInference.Load("tiny");
        var stats = new ActionStatistics { Q01 = Enumerable.Repeat(-0.5, 8).ToArray(), Q99 = Enumerable.Repeat(0.5, 8).ToArray(), Mask = [.. Enumerable.Repeat(true, 7), false] };
        p.Statistics = stats;
        var r = p.Predict([back, back], "Pick up the cube");
        Assert.Equal(8, r.TokenIds.Length);
        Assert.Equal(8, r.Action.Length);
        Assert.All(r.Action.Take(7), a => Assert.InRange(a, -0.5, 0.5));
    }
}
