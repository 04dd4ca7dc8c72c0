using RoboFactory.Core.Imaging;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Policies;
using RoboFactory.Vla.Policies.OpenVlaOft;
using RoboFactory.Vla.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

/// <summary>The openvla-oft policy: its head, its parallel inputs, its attention, and training through the generic trainer.</summary>
[Collection(GlobalTorchRngCollection.Name)]
public class OftTests
{
    static TrainOptions Oft(string data, string outDir) => new()
    {
        Policy = OpenVlaOftPolicy.PolicyName, DataPath = data, OutDir = outDir, Model = "tiny", ImageSize = 28, Seed = 7, Views = 1,
        BatchSize = 4, MaxSteps = 10, Logger = "none", ValEvery = 0, SaveEvery = 0, ValFraction = 0, DecodeThreads = 2, Plots = false,
        ImageAug = false, LogEvery = 1, ActionChunk = 2, WarmupSteps = 0,
    };

    static OpenVlaOftPolicy Policy(VlaTrainer t) => (OpenVlaOftPolicy)t.Policy;

    [Fact]
    public void L1Head_HasOftsModuleNames_AndTheOpenVla7bParameterCount()
    {
        Assert.Equal(167_907_336, L1RegressionActionHead.ParameterCount(4096, 8));
        using var head = new L1RegressionActionHead(32, 8);
        Assert.Equal(L1RegressionActionHead.ParameterCount(32, 8), head.parameters().Sum(p => p.NumberOfElements));
        var names = head.named_parameters().Select(p => p.name).ToHashSet();
        foreach (var n in new[] { "model.layer_norm1.weight", "model.fc1.weight", "model.fc1.bias", "model.mlp_resnet_blocks.0.ffn.0.weight",
                     "model.mlp_resnet_blocks.1.ffn.1.weight", "model.layer_norm2.bias", "model.fc2.weight" })
            Assert.Contains(n, names);
        using var proj = new ProprioProjector(32, 8);
        Assert.Equal(["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"], proj.named_parameters().Select(p => p.name).Order());
        using var x = torch.randn(3, 2 * 8, 32);
        Assert.Equal([3L, 2, 8], head.forward(x).shape);
    }

    [Fact]
    public void BidirectionalAttention_LetsEarlierPositionsSeeLaterOnes_CausalDoesNot()
    {
        torch.manual_seed(1);
        using var m = Pretrained.Create(OpenVlaConfig.TinyAt(28), seed: 3);
        m.eval();
        using var noGrad = torch.no_grad();
        var px = torch.randn(1, 6, 28, 28);
        var ids = torch.tensor(new long[] { 1, 50, 60, 70, 80 }).unsqueeze(0);
        var ids2 = torch.tensor(new long[] { 1, 50, 60, 70, 81 }).unsqueeze(0); // only the last token differs
        var none = torch.zeros(1, 5, ScalarType.Bool);
        foreach (bool causal in new[] { true, false })
        {
            var (a, prefix) = m.ForwardParallel(px, ids, null, none, null, causal);
            var (b, _) = m.ForwardParallel(px, ids2, null, none, null, causal);
            bool earlierChanged = !a[0, prefix + 2].allclose(b[0, prefix + 2], 0, 1e-7);
            Assert.Equal(!causal, earlierChanged);
            Assert.False(a[0, prefix + 4].allclose(b[0, prefix + 4], 0, 1e-7));
        }
    }

    [Fact]
    public void PlaceholderEmbeddings_AreZero_InTrainingAndInference()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 1, steps: 4);
        using var t = VlaTrainer.Create(Oft(data, tmp.File("run")) with { MaxSteps = 1, SaveEvery = 1 });
        var p = Policy(t);
        // training: the placeholders are the action-label positions of the batch
        using (var batch = p.Train.FlatBatch([0, 1]))
        using (torch.no_grad())
        {
            var tok = p.Train.Actions;
            var mask = batch.Labels.ge(tok.FirstTokenId).logical_and(batch.Labels.le(tok.LastTokenId));
            Assert.Equal(2 * 2 * 8, mask.sum().item<long>());
            var (emb, _, prefix) = p.Model.Vla.BuildParallelInputs(batch.PixelValues, batch.InputIds, batch.AttentionMask, mask, null);
            var idx = batch.PlaceholderIndex.data<long>().ToArray();
            for (int r = 0; r < 2; r++)
                foreach (long j in idx.Skip(r * 16).Take(16))
                    Assert.Equal(0, emb[r, prefix + j].abs().sum().item<float>());
            Assert.NotEqual(0, emb[0, prefix + idx[0] - 1].abs().sum().item<float>()); // the prompt is not zeroed
        }
        t.Run();
        using var noGrad = torch.no_grad();
        // inference: the same layout from the prompt alone
        using var agent = OftAgent.Load(tmp.File("run"));
        var (ids, placeholders, index) = agent.Inputs("lift the barrier");
        Assert.Equal(2 * 8, placeholders.Count(x => x));
        Assert.Equal(index, Enumerable.Range(0, placeholders.Length).Where(i => placeholders[i]).Select(i => (long)i));
        var px = torch.zeros(1, 6, 28, 28);
        var (emb2, _, pre2) = p.Model.Vla.BuildParallelInputs(px, torch.tensor(ids).unsqueeze(0), null, torch.tensor(placeholders).unsqueeze(0), null);
        foreach (long j in index) Assert.Equal(0, emb2[0, pre2 + j].abs().sum().item<float>());
        var chunk = agent.Act(new PolicyObservation([Image8.Rgb(32, 24)], "lift the barrier", null));
        Assert.Equal(2, chunk.Count);
        Assert.All(chunk, a => Assert.Equal(8, a.Length));
    }

    [Fact]
    public void LoraAgents_ShareOneBase_AndActAsWhenLoadedAlone()
    {
        using var tmp = new TempDir();
        // two agents: the same tiny base (seed 7) trained on different data, so their adapters and heads differ
        foreach (var (run, dataSeed) in new[] { ("a", 1), ("b", 2) })
        {
            var data = SyntheticRlds.Make(tmp.File($"rlds-{run}"), episodes: 1, steps: 4, seed: dataSeed);
            using var t = VlaTrainer.Create(Oft(data, tmp.File(run)) with { FullFinetune = false, MaxSteps = 3, SaveEvery = 3, Lr = 1e-2 });
            t.Run();
        }
        var image = Image8.Rgb(32, 24);
        new Random(4).NextBytes(image.Pixels);
        var obs = new PolicyObservation([image], "lift the barrier", null);
        double[][] Alone(string run) { using var a = OftAgent.Load(tmp.File(run)); return [.. a.Act(obs)]; }
        var (aloneA, aloneB) = (Alone("a"), Alone("b"));
        Assert.NotEqual(aloneA[0], aloneB[0]);
        using var agents = OpenVlaOftPolicy.LoadAgents([tmp.File("a"), tmp.File("b")], new PolicyLoadOptions());
        Assert.Same(((OftAgent)agents.Actors[0]).Backbone, ((OftAgent)agents.Actors[1]).Backbone);
        // b, a, b: switching adapters (and heads) each call gives each agent exactly its own answer
        foreach (int i in new[] { 1, 0, 1 })
        {
            var got = agents.Actors[i].Act(obs);
            var want = i == 0 ? aloneA : aloneB;
            for (int k = 0; k < want.Length; k++)
                for (int d = 0; d < want[k].Length; d++)
                    Assert.Equal(want[k][d], got[k][d], 1e-5);
        }
    }

    [Fact]
    public void WordPrompts_AreTrainedRecorded_AndUsedByTheLoadedAgent()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 1, steps: 4, seed: 3);
        var run = tmp.File("run");
        using (var t = VlaTrainer.Create(Oft(data, run) with { FullFinetune = true, MaxSteps = 2, SaveEvery = 2, Lr = 1e-2, PromptStandIn = PromptStandIn.Words }))
        {
            Assert.Equal(PromptEncoder.WordKind, Policy(t).Train.Prompts.Kind);
            using var b = Policy(t).Train.FlatBatch([0]);
            Assert.Equal(Policy(t).Train.Prompts.Prompt("lift the barrier"), b.InputIds[0].data<long>().ToArray()[..13]);
            t.Run();
        }
        var policyJson = Path.Combine(run, "step_2", VlaTrainer.PolicyFile);
        Assert.Equal(PromptStandIn.Words, Policies.OpenVla.VlaPolicyInfo.Read(policyJson).PromptStandIn);
        var image = Image8.Rgb(32, 24);
        new Random(5).NextBytes(image.Pixels);
        var obs = new PolicyObservation([image], "lift the barrier", null);
        double[] First() { using var a = OftAgent.Load(Path.Combine(run, "step_2")); return a.Act(obs)[0]; }
        var withWords = First();
        // the same weights read with the byte prompt act differently: the agent encodes what policy.json records
        string text = File.ReadAllText(policyJson);
        File.WriteAllText(policyJson, text.Replace(PromptEncoder.WordKind, PromptEncoder.ByteKind));
        Assert.NotEqual(withWords, First());
        File.WriteAllText(policyJson, text.Replace(PromptEncoder.WordKind, "letters"));
        var e = Assert.Throws<Core.Errors.InputFormatException>(() => Policies.OpenVla.VlaPolicyInfo.Read(policyJson));
        Assert.Contains("$.prompt", e.Message);
        Assert.Contains(PromptEncoder.WordKind, e.Message);
    }

    [Fact]
    public void TinyOft_OverfitsASmallBatch()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 1, steps: 4, seed: 2);
        using var t = VlaTrainer.Create(Oft(data, tmp.File("run")) with { MaxSteps = 150, Lr = 1e-3 });
        var losses = new List<double>();
        while (t.Step < 150)
        {
            var m = t.TrainStep()!;
            losses.Add(m.Loss);
            if (m.L1 < 0.02) break;
        }
        Assert.True(losses[^1] < 0.02, $"L1 after {t.Step} steps: {losses[0]:0.###} → {losses[^1]:0.####}");
    }

    [Fact]
    public void Resume_ReproducesAnUninterruptedRun_WithProprioAndTheHead()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 3, steps: 5, randomState: true);
        var o = Oft(data, tmp.File("a")) with { MaxSteps = 6, BatchSize = 2, GradAccum = 2, Proprio = true, ImageAug = true, WarmupSteps = 2, ShuffleWindow = 2 };
        List<double> full;
        using (var a = VlaTrainer.Create(o)) full = Enumerable.Range(0, 6).Select(_ => a.TrainStep()!.Loss).ToList();
        var ob = o with { OutDir = tmp.File("b") };
        var first = new List<double>();
        using (var b = VlaTrainer.Create(ob))
        {
            for (int i = 0; i < 3; i++) first.Add(b.TrainStep()!.Loss);
            b.SaveCheckpoint();
        }
        Assert.True(File.Exists(Path.Combine(tmp.File("b"), "step_3", OpenVlaOftPolicy.HeadFile)));
        Assert.True(File.Exists(Path.Combine(tmp.File("b"), "step_3", OpenVlaOftPolicy.ProprioFile)));
        using var c = VlaTrainer.Create(ob with { Resume = true });
        var rest = new List<double>();
        while (c.Step < 6) rest.Add(c.TrainStep()!.Loss);
        var resumed = first.Concat(rest).ToList();
        for (int i = 0; i < 6; i++) Assert.True(Math.Abs(full[i] - resumed[i]) <= 1e-6, $"step {i + 1}: {full[i]} vs resumed {resumed[i]}");
        Assert.Equal(OpenVlaOftPolicy.PolicyName, PolicyRegistry.NameOf(tmp.File("b")));
    }
}
