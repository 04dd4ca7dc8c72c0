using RoboFactory.Vla.Training;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

/// <summary>
/// TorchSharp passes raw native handles: a temporary tensor (e.g. each <c>p.grad</c> wrapper) that nothing references
/// during a native call can be finalised mid-call when it is not registered in a DisposeScope, freeing the handle
/// libtorch is reading (intermittent segfaults / "Unknown scalar type" in long runs). These tests run the hot paths
/// while another thread forces collections and finalisers, and compare against an unstressed run bit for bit.
/// </summary>
[Collection(GlobalTorchRngCollection.Name)] // LoRA dropout draws from torch's process-wide generator
public class NativeLifetimeTests
{
    /// <summary>Runs <paramref name="body"/>, with another thread forcing collections and finalisers throughout when <paramref name="stress"/>.</summary>
    static T UnderGcStress<T>(bool stress, Func<T> body)
    {
        using var done = new CancellationTokenSource();
        var collector = new Thread(() => { while (!done.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); } }) { IsBackground = true };
        if (stress) collector.Start();
        try { return body(); }
        finally { done.Cancel(); if (stress) collector.Join(); }
    }

    static float[] RunAdamW(bool stress, int steps)
    {
        var ps = Enumerable.Range(0, 64).Select(i => (Name: $"p{i}", P: new Parameter(torch.randn(48, generator: new Generator((ulong)i))))).ToList();
        using (var loss = torch.stack(ps.Select(x => (x.P * x.P).sum()).ToArray()).sum()) loss.backward();
        using var opt = new Training.AdamW(ps, weightDecay: 0.01);
        UnderGcStress(stress, () =>
        {
            for (int s = 0; s < steps; s++)
            {
                opt.ClipGradNorm(1e-3);
                opt.Step(1e-3);
            }
            return 0;
        });
        var result = ps.SelectMany(x => x.P.data<float>().ToArray()).ToArray();
        foreach (var x in ps) x.P.Dispose();
        return result;
    }

    [Fact]
    public void AdamWAndClipping_UnderConcurrentFinalisation_MatchAnUnstressedRun()
    {
        var quiet = RunAdamW(stress: false, steps: 400);
        var stressed = RunAdamW(stress: true, steps: 400);
        Assert.All(quiet, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(quiet, stressed);
    }

    /// <summary>Many RMSNorm forwards (its square and eps add were the remaining temporaries), summed.</summary>
    static double RunRmsNorm(bool stress, int calls)
    {
        using var norm = new Model.LlamaRMSNorm(16, 1e-5, Model.ModelOptions.Cpu32);
        using var x = torch.randn([2, 4, 16], generator: new Generator(9));
        return UnderGcStress(stress, () =>
        {
            double sum = 0;
            for (int i = 0; i < calls; i++)
            {
                using var scope = NewDisposeScope();
                sum += norm.forward(x).sum().item<float>();
            }
            return sum;
        });
    }

    [Fact]
    public void RmsNorm_UnderConcurrentFinalisation_MatchesAnUnstressedRun()
    {
        Assert.Equal(RunRmsNorm(stress: false, calls: 20000), RunRmsNorm(stress: true, calls: 20000));
    }

    static double[] RunLoraTraining(bool stress, string root)
    {
        var data = SyntheticRlds.Make(Path.Combine(root, "rlds"), episodes: 2, steps: 4);
        var o = new TrainOptions
        {
            DataPath = data, OutDir = Path.Combine(root, stress ? "stressed" : "quiet"), Model = "tiny", ImageSize = 28, Seed = 7, Views = 3,
            BatchSize = 2, GradAccum = 2, MaxSteps = 6, LoraDropout = 0.1, FullFinetune = false, LoraRank = 8, Logger = "none",
            ValEvery = 0, SaveEvery = 0, ValFraction = 0, DecodeThreads = 2, Plots = false, LogEvery = 1,
        };
        using var t = VlaTrainer.Create(o);
        return UnderGcStress(stress, () => Enumerable.Range(0, o.MaxSteps).Select(_ => t.TrainStep()!.Loss).ToArray());
    }

    [Fact]
    public void LoraTraining_UnderConcurrentFinalisation_MatchesAnUnstressedRun()
    {
        using var tmp = new TempDir();
        Assert.Equal(RunLoraTraining(false, tmp.File("a")), RunLoraTraining(true, tmp.File("b")));
    }
}
