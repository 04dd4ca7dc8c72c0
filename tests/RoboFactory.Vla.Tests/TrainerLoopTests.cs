using System.Text.Json.Nodes;
using RoboFactory.Vla.Policies;
using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Training;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

/// <summary>The generic trainer's optimizer rules, its log interval and the policy registry.</summary>
[Collection(GlobalTorchRngCollection.Name)]
public class TrainerLoopTests
{
    static (string, Parameter) Param(string name, Tensor value) => (name, new Parameter(value.clone(), requires_grad: true));

    [Fact]
    public void ClipGradNorm_IsTheGlobalNormOfAllGradients_AndScalesThemOnce()
    {
        var ps = new[] { Param("w", torch.zeros(3, 4)), Param("b", torch.zeros(4)), Param("frozen", torch.zeros(2)) };
        using var opt = new AdamW(ps);
        var g0 = torch.arange(12, ScalarType.Float32).reshape(3, 4);
        var g1 = torch.tensor(new float[] { 3, -4, 5, 1 });
        ps[0].Item2.grad = g0.clone();
        ps[1].Item2.grad = g1.clone();
        double expected = Math.Sqrt(g0.pow(2).sum().item<float>() + g1.pow(2).sum().item<float>());
        using var norm = opt.ClipGradNorm(1.0);
        Assert.Equal(expected, norm.item<double>(), 9);
        double coef = 1.0 / (expected + 1e-6);
        Assert.True(ps[0].Item2.grad!.allclose(g0 * coef, 1e-6, 1e-7));
        Assert.True(ps[1].Item2.grad!.allclose(g1 * coef, 1e-6, 1e-7));
        // below the limit nothing changes
        using var again = opt.ClipGradNorm(10.0);
        Assert.True(ps[1].Item2.grad!.allclose(g1 * coef, 1e-6, 1e-7));
    }

    [Fact]
    public void WeightDecay_AppliesToMatricesOnly_UnlessEveryParameterIsAsked()
    {
        foreach (bool all in new[] { false, true })
        {
            var ps = new[] { Param("w", torch.ones(2, 2)), Param("bias", torch.ones(2)) };
            using var opt = new AdamW(ps, weightDecay: 0.5) { DecayAllParameters = all };
            foreach (var (_, p) in ps) p.grad = torch.zeros_like(p); // a zero gradient: only decay moves the weights
            opt.Step(lr: 0.1);
            Assert.Equal(0.95f, ps[0].Item2[0, 0].item<float>(), 6);
            Assert.Equal(all ? 0.95f : 1f, ps[1].Item2[0].item<float>(), 6);
        }
    }

    [Fact]
    public void Bf16Parameters_AccumulateUpdatesInAnFp32Master_AndTheMasterIsSavedAndRestored()
    {
        using var tmp = new TempDir();
        // 1.0 in bf16 has a spacing of 2^-7 ≈ 0.0078: single steps of lr 1e-3 round away, their sum does not
        var ps = new[] { ("w", new Parameter(torch.ones(2, 2, ScalarType.BFloat16), requires_grad: true)) };
        using (var opt = new AdamW(ps, weightDecay: 0))
        {
            for (int i = 0; i < 20; i++)
            {
                ps[0].Item2.grad = torch.ones(2, 2, ScalarType.BFloat16);
                opt.Step(lr: 1e-3);
            }
            Assert.Equal(ScalarType.BFloat16, ps[0].Item2.dtype);
            float w = ps[0].Item2[0, 0].to(ScalarType.Float32).item<float>();
            Assert.True(w < 0.985f, $"bf16 weight {w}: the 20 updates of 1e-3 were lost to rounding");
            opt.Save(tmp.Path);
        }
        using var f = Checkpoint.SafetensorsFile.Open(Path.Combine(tmp.Path, AdamW.FileName));
        Assert.Equal("F32", f.Entries["w.master"].DType);
        Assert.Equal(0.98f, f.ReadTensor("w.master")[0, 0].item<float>(), 3);
        var restored = new[] { ("w", new Parameter(torch.ones(2, 2, ScalarType.BFloat16), requires_grad: true)) };
        using var opt2 = new AdamW(restored, weightDecay: 0);
        opt2.Load(tmp.Path);
        restored[0].Item2.grad = torch.ones(2, 2, ScalarType.BFloat16);
        opt2.Step(lr: 1e-3);
        // continues from the master (≈ 0.979), not from the reloaded bf16 weight 1.0
        Assert.True(restored[0].Item2[0, 0].to(ScalarType.Float32).item<float>() < 0.985f);
    }

    [Fact]
    public void Metrics_AreReadOncePerLogInterval_AndAverageIt()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 1, steps: 4);
        var o = new TrainOptions
        {
            DataPath = data, OutDir = tmp.File("run"), Model = "tiny", ImageSize = 28, Seed = 7, Views = 1, BatchSize = 2, MaxSteps = 7,
            Logger = "jsonl", ValEvery = 0, SaveEvery = 0, ValFraction = 0, DecodeThreads = 1, Plots = false, ImageAug = false, LogEvery = 3,
        };
        var perStep = new List<double>();
        using (var t = VlaTrainer.Create(o with { OutDir = tmp.File("every"), LogEvery = 1 }))
            while (t.Step < o.MaxSteps) perStep.Add(t.TrainStep()!.Loss);
        using var t3 = VlaTrainer.Create(o);
        var logged = new List<StepMetrics>();
        while (t3.Step < o.MaxSteps)
        {
            var m = t3.TrainStep();
            Assert.Equal(t3.Step % 3 == 0 || t3.Step == o.MaxSteps, m is not null);
            if (m is not null) logged.Add(m);
        }
        Assert.Equal([3L, 6L, 7L], logged.Select(m => m.Step));
        Assert.Equal(perStep.Take(3).Average(), logged[0].Loss, 5);
        Assert.Equal(perStep.Skip(3).Take(3).Average(), logged[1].Loss, 5);
        Assert.Equal(perStep[6], logged[2].Loss, 5);
        var lines = File.ReadAllLines(Path.Combine(tmp.File("run"), MetricsLog.FileName));
        Assert.Equal([3L, 6L, 7L], lines.Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>()));
    }

    [Fact]
    public void Registry_NamesThePolicies_AndCheckpointsRecordTheirPolicy()
    {
        Assert.Contains(OpenVlaTokenPolicy.PolicyName, PolicyRegistry.Names);
        var e = Assert.Throws<ArgumentException>(() => PolicyRegistry.Get("diffusion"));
        Assert.Contains("openvla", e.Message);
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 1, steps: 2);
        var o = new TrainOptions
        {
            DataPath = data, OutDir = tmp.File("run"), Model = "tiny", ImageSize = 28, Views = 1, BatchSize = 2, MaxSteps = 1,
            Logger = "none", ValEvery = 0, ValFraction = 0, DecodeThreads = 1, Plots = false,
        };
        using (var t = VlaTrainer.Create(o)) t.Run();
        Assert.Equal(OpenVlaTokenPolicy.PolicyName, PolicyRegistry.NameOf(tmp.File("run")));
        Assert.Equal(OpenVlaTokenPolicy.PolicyName, (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(tmp.File("run"), "step_1", VlaTrainer.PolicyFile)))!["policy"]);
        Assert.Throws<ArgumentException>(() => VlaTrainer.Create(o with { Policy = "pi0", OutDir = tmp.File("other") }));
    }
}
