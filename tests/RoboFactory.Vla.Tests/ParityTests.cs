using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Core.Imaging;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Imaging;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

/// <summary>
/// Numerical parity with the independent float64 PyTorch reference (scripts/vla/make_parity_fixtures.py) on the tiny
/// preset. Weights and inputs come from the same closed formula on both sides; the fixture holds only outputs.
/// </summary>
public class ParityTests : IClassFixture<ParityTests.Fixture>
{
    public sealed class Fixture : IDisposable
    {
        public SafetensorsFile Ref { get; } = SafetensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "fixtures", "vla", "parity_tiny.safetensors"));
        public OpenVlaForActionPrediction Model { get; } = FormulaModel(ScalarType.Float32);
        public void Dispose() { Ref.Dispose(); Model.Dispose(); }
    }

    readonly Fixture fx;
    public ParityTests(Fixture f) => fx = f;

    /// <summary>Same formula as weight() in the script.</summary>
    internal static OpenVlaForActionPrediction FormulaModel(ScalarType dtype)
    {
        var m = new OpenVlaForActionPrediction(OpenVlaConfig.Tiny, new ModelOptions(CPU, dtype));
        var ps = m.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal).ToList();
        using var noGrad = torch.no_grad();
        for (int ki = 0; ki < ps.Count; ki++)
        {
            var (key, p) = ps[ki];
            long n = p.NumberOfElements;
            var shape = p.shape;
            var v = new float[n];
            double scale;
            bool isNorm = shape.Length == 1 && key.EndsWith("weight") && key.Contains("norm");
            if (isNorm) scale = 0.1;
            else if (shape.Length == 1) scale = 0.1;
            else if (key.Contains("token") || key.Contains("pos_embed") || key.Contains("latent")) scale = 0.5;
            else scale = Math.Sqrt(3.0 / shape.Skip(1).Aggregate(1L, (a, b) => a * b));
            for (long j = 0; j < n; j++)
            {
                double h = Math.Sin(j * 12.9898 + (ki * 78.233 + 0.5)) * 43758.5453;
                double s = 2.0 * (h - Math.Floor(h)) - 1.0;
                v[j] = (float)(isNorm ? 1.0 + 0.1 * s : s * scale);
            }
            using var t = torch.tensor(v, shape);
            p.copy_(t);
        }
        m.eval();
        return m;
    }

    internal static Tensor FormulaPixels(int views)
    {
        int n = views * 6 * 112 * 112;
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(Math.Sin(i * 0.013) * 1.5);
        return torch.tensor(v, new long[] { 1, views * 6, 112, 112 });
    }

    static void AssertClose(Tensor expected, Tensor actual, double atol, double rtol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.to(ScalarType.Float64);
        using var a = actual.to(ScalarType.Float64);
        using var diff = (e - a).abs();
        using var tol = e.abs() * rtol + atol;
        double worst = (diff - tol).max().item<double>();
        Assert.True(worst <= 0, $"{what}: max |diff| {diff.max().item<double>():g} exceeds tolerance (scale {e.abs().max().item<double>():g})");
    }

    static double Cosine(Tensor a, Tensor b)
    {
        using var x = a.to(ScalarType.Float64).flatten();
        using var y = b.to(ScalarType.Float64).flatten();
        return (x.dot(y) / (x.norm() * y.norm())).item<double>();
    }

    [Fact]
    public void VisionBackbone_And_Projector_MatchReference()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var px = FormulaPixels(2).reshape(2, 6, 112, 112);
        var dino = fx.Model.VisionBackbone.Featurizer.forward(px[.., 0..3]);
        var sig = fx.Model.VisionBackbone.FusedFeaturizer.forward(px[.., 3..6]);
        AssertClose(fx.Ref.ReadTensor("dino_features"), dino, 2e-4, 2e-4, "DINO block-(depth-2) features");
        AssertClose(fx.Ref.ReadTensor("siglip_features"), sig, 2e-4, 2e-4, "SigLIP block-(depth-2) features");
        var proj = fx.Model.EmbedImages(FormulaPixels(2));
        AssertClose(fx.Ref.ReadTensor("projected"), proj, 2e-4, 2e-4, "projector output (2 views, token concat)");
    }

    [Fact]
    public void Logits_Loss_And_GreedyTokens_MatchReference()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var ids = fx.Ref.ReadTensor("input_ids").unsqueeze(0);
        var labelsArr = ids[0].data<long>().ToArray();
        for (int i = 0; i < labelsArr.Length - 4; i++) labelsArr[i] = -100;
        using var outp = fx.Model.Forward(FormulaPixels(2), ids, labels: torch.tensor(labelsArr).unsqueeze(0));
        Assert.Equal(128, outp.NumImageTokens);
        var text = outp.Logits[0, 128..];
        AssertClose(fx.Ref.ReadTensor("text_logits"), text, 2e-3, 1e-3, "text-position logits");
        Assert.Equal(fx.Ref.ReadTensor("argmax_all").data<long>().ToArray(), outp.Logits[0].argmax(-1).data<long>().ToArray());
        Assert.Equal(fx.Ref.ReadTensor("loss").item<float>(), outp.Loss!.item<float>(), 3);
        var greedy = fx.Model.GenerateGreedy(FormulaPixels(2), ids, 8);
        Assert.Equal(fx.Ref.ReadTensor("greedy_tokens").data<long>().ToArray(), greedy);
        var oneView = fx.Model.Forward(FormulaPixels(1), ids).Logits[0, -1];
        AssertClose(fx.Ref.ReadTensor("one_view_last_logits"), oneView, 2e-3, 1e-3, "single-view last logits");
    }

    [Fact]
    public void Bf16Model_IsWithinBf16Tolerance()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var m = FormulaModel(ScalarType.BFloat16);
        var ids = fx.Ref.ReadTensor("input_ids").unsqueeze(0);
        var proj = m.EmbedImages(FormulaPixels(2));
        Assert.True(Cosine(fx.Ref.ReadTensor("projected"), proj) > 0.999, "bf16 projector cosine");
        using var o = m.Forward(FormulaPixels(2), ids);
        Assert.Equal(ScalarType.Float32, o.Logits.dtype);
        Assert.True(Cosine(fx.Ref.ReadTensor("text_logits"), o.Logits[0, 128..]) > 0.995, "bf16 logits cosine");
    }

    [Fact]
    public void KvCacheDecoding_EqualsFullRecomputation()
    {
        using var scope = NewDisposeScope();
        var ids = fx.Ref.ReadTensor("input_ids").unsqueeze(0);
        var px = FormulaPixels(2);
        var cached = fx.Model.GenerateGreedy(px, ids, 8, useCache: true);
        var full = fx.Model.GenerateGreedy(px, ids, 8, useCache: false);
        Assert.Equal(full, cached);
        // Logits too: prefill + one cached step vs one full pass over the extended sequence.
        using var noGrad = torch.no_grad();
        using var cache = new KvCache(OpenVlaConfig.Tiny.Text.NumHiddenLayers);
        var lm = fx.Model.LanguageModel;
        var img = fx.Model.EmbedImages(px);
        lm.forward(fx.Model.BuildInputsEmbeds(img, ids), null, cache);
        var step = lm.forward(lm.Model.EmbedTokens.forward(torch.tensor(new[] { full[0] }).reshape(1, 1)), null, cache)[0, -1];
        var ext = torch.cat([ids, torch.tensor(new[] { full[0] }).reshape(1, 1)], 1);
        var whole = lm.forward(fx.Model.BuildInputsEmbeds(img, ext), null, null)[0, -1];
        AssertClose(whole, step, 1e-4, 1e-4, "cached vs recomputed logits");
        Assert.Equal(img.shape[1] + ids.shape[1] + 1, cache.Length);
    }

    [Fact]
    public void RightPadding_WithMask_DoesNotChangeRealTokens()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var ids = fx.Ref.ReadTensor("input_ids").unsqueeze(0);
        var pad = OpenVlaConfig.Tiny.Text.PadTokenId;
        var padded = torch.cat([ids, torch.full(1, 3, pad, dtype: ScalarType.Int64)], 1);
        var batchIds = torch.cat([padded, padded], 0);
        var mask = (batchIds != pad);
        var px = torch.cat([FormulaPixels(1), FormulaPixels(1)], 0);
        using var a = fx.Model.Forward(px, batchIds, mask);
        using var b = fx.Model.Forward(FormulaPixels(1), ids);
        long n = b.Logits.shape[1];
        AssertClose(b.Logits[0], a.Logits[1, ..(int)n], 1e-4, 1e-4, "padded batch vs unpadded");
    }

    [Fact]
    public void ActionTokens_MatchNumpyDigitize()
    {
        var at = new ActionTokenizer(32000, 256);
        var acts = fx.Ref.ReadTensor("actions").data<float>().ToArray();
        var tokens = fx.Ref.ReadTensor("action_tokens").data<long>().ToArray();
        var dec = fx.Ref.ReadTensor("action_decoded").data<float>().ToArray();
        for (int i = 0; i < acts.Length; i++)
        {
            Assert.Equal(tokens[i], at.Encode(acts[i]));
            Assert.Equal(dec[i], (float)at.Decode(tokens[i]));
        }
    }

    static Image8 FormulaImage(int w, int h, int seed)
    {
        var img = Image8.Rgb(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int o = (y * w + x) * 3;
                img.Pixels[o] = (byte)((x * 7 + y * 3 + seed) % 256);
                img.Pixels[o + 1] = (byte)((x * y / 5 + 40 * seed) % 256);
                img.Pixels[o + 2] = (byte)(((x ^ y) * 5 + seed) % 256);
            }
        return img;
    }

    [Fact]
    public void BicubicResize_IsPillowExact()
    {
        foreach (var (name, w, h, seed) in new[] { ("resize_up", 50, 40, 1), ("resize_down", 300, 200, 2) })
        {
            var expected = fx.Ref.ReadTensor(name).data<byte>().ToArray();
            var got = ImageProcessor.ResizeBicubic(FormulaImage(w, h, seed), 112, 112).Pixels;
            int bad = expected.Zip(got).Count(p => p.First != p.Second);
            Assert.True(bad == 0, $"{name}: {bad} of {expected.Length} bytes differ from Pillow");
        }
    }
}
