using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Core.Imaging;
using RoboFactory.Core.Rng;
using System.Text.Json.Nodes;
using RoboFactory.Data.Rlds;
using RoboFactory.Vla.Imaging;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

/// <summary>Tiny synthetic RLDS datasets for the training tests (small images, 8-D actions, all three views).</summary>
static class SyntheticRlds
{
    public static string Make(string root, int episodes, int steps, int seed = 1, int h = 24, int w = 32, bool randomState = false)
    {
        var spec = new RldsDatasetSpec { Name = "lift_barrier_agent0", Height = h, Width = w };
        using var writer = new RldsDatasetWriter(root, spec) { EncodeThreads = 1 };
        var rng = new Random(seed);
        for (int e = 0; e < episodes; e++)
        {
            RldsImageSeries Img()
            {
                var px = new byte[steps * h * w * 3];
                rng.NextBytes(px);
                return new RldsImageSeries(h, w, px);
            }
            var action = new float[steps * 8];
            for (int i = 0; i < action.Length; i++) action[i] = i % 8 == 7 ? (rng.Next(2) == 0 ? -1f : 1f) : (float)(rng.NextDouble() * 2 - 1);
            writer.Write(new RldsEpisode
            {
                LanguageInstruction = "lift the barrier", Length = steps, Image = Img(), GlobalImage = Img(), WristImage = Img(),
                State = randomState ? Enumerable.Range(0, steps * 8).Select(_ => (float)rng.NextDouble()).ToArray() : new float[steps * 8], Action = action,
            });
        }
        return writer.Complete().DatasetDirectory;
    }
}

/// <summary>
/// LoRA dropout draws from torch's process-wide generator (re-seeded per micro-batch from (seed, step)), so tests that
/// compare two runs bit for bit must not share the process with other tests drawing from it at the same time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalTorchRngCollection { public const string Name = "global torch generator"; }

[Collection(GlobalTorchRngCollection.Name)]
public class TrainingTests
{
    static TrainOptions Tiny(string data, string outDir) => new()
    {
        DataPath = data, OutDir = outDir, Model = "tiny", Seed = 7, Views = 1, BatchSize = 4, MaxSteps = 10, Logger = "jsonl",
        ValEvery = 0, SaveEvery = 0, DecodeThreads = 2, FullFinetune = false, LoraRank = 16, LoraAlpha = 32, WarmupSteps = 0, LogEvery = 1,
    };

    [Fact]
    public void Lora_OverfitsASmallBatch_To100PercentActionAccuracy_AndOnlyLoraChanges()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 1, steps: 4);
        var o = Tiny(data, tmp.File("run")) with { MaxSteps = 80, Lr = 3e-3, ImageAug = false, ValFraction = 0, Logger = "none" };
        using var t = VlaTrainer.Create(o);
        var before = t.Token().Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        StepMetrics? m = null;
        var losses = new List<double>();
        while (t.Step < o.MaxSteps)
        {
            m = t.TrainStep()!;
            losses.Add(m.Loss);
            if (m.Accuracy == 1.0) break;
        }
        Assert.True(m!.Accuracy == 1.0, $"action accuracy {m.Accuracy:P1} after {t.Step} steps (loss {losses[0]:0.###} → {m.Loss:0.####})");
        Assert.True(m.L1 < 0.01, $"L1 {m.L1}");
        // The loss cannot go near 0 here: the frozen random lm_head (N(0, 0.02)) after the final RMSNorm caps the logit
        // margin, so LoRA gets every argmax right at ~3.3 nats per token. (A pretrained head has no such cap.)
        Assert.True(losses[^1] < losses[0] * 0.6, string.Join(", ", losses.Select(l => l.ToString("0.###"))));
        foreach (var (name, p) in t.Token().Model.named_parameters())
        {
            bool same = p.allclose(before[name], 0, 0);
            if (name.Contains(".lora_B.")) Assert.False(same, $"{name} did not change");
            else if (!name.Contains(".lora_A.")) Assert.True(same, $"{name} is frozen but changed");
        }
    }

    [Fact]
    public void Training_opens_a_LeRobot_dataset_like_an_RLDS_one()
    {
        using var tmp = new TempDir();
        var rng = new Random(5);
        var action = Enumerable.Range(0, 4 * 8).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        byte[] Cam() { var b = new byte[4 * 3 * 24 * 32]; rng.NextBytes(b); return b; }
        var spec = new RoboFactory.Data.LeRobot.LeRobotDatasetSpec { Name = "lift_barrier_agent0", Width = 32, Height = 24 };
        using (var w = new RoboFactory.Data.LeRobot.LeRobotDatasetWriter(tmp.File("lerobot"), spec))
        {
            w.Write(new RoboFactory.Data.LeRobot.LeRobotEpisode("lift the barrier", 4, new float[32], action, [Cam(), Cam(), Cam()]));
            w.Complete();
        }
        string data = Path.Combine(tmp.File("lerobot"), "lift_barrier_agent0");
        var o = Tiny(data, tmp.File("run")) with { MaxSteps = 2, ValFraction = 0, Logger = "none", Views = 3 };
        using var t = VlaTrainer.Create(o);
        Assert.IsType<RoboFactory.Data.LeRobot.LeRobotDataset>(t.Train.Dataset);
        var m = t.TrainStep()!;
        Assert.True(double.IsFinite(m.Loss), $"loss {m.Loss}");
    }

    [Fact]
    public void FullFinetune_OverfitsASmallBatch_ToNearZeroLoss()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 1, steps: 4, seed: 2);
        var o = Tiny(data, tmp.File("run")) with { FullFinetune = null, MaxSteps = 60, Lr = 1e-3, ImageAug = false, ValFraction = 0, Logger = "none" };
        using var t = VlaTrainer.Create(o);
        Assert.True(t.Token().Lora is null, "the from-scratch tiny model defaults to a full fine-tune");
        StepMetrics? m = null;
        while (t.Step < o.MaxSteps)
        {
            m = t.TrainStep()!;
            if (m.Accuracy == 1.0 && m.Loss < 0.1) break;
        }
        Assert.True(m!.Accuracy == 1.0 && m.Loss < 0.1, $"after {t.Step} steps: accuracy {m.Accuracy:P1}, loss {m.Loss:0.####}");
    }

    [Fact]
    public void Resume_ReproducesAnUninterruptedRun()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 3, steps: 5);
        // Augmentation, dropout, accumulation, warmup + cosine and several epochs all take part.
        var o = Tiny(data, tmp.File("a")) with { MaxSteps = 6, BatchSize = 2, GradAccum = 2, LoraDropout = 0.1, WarmupSteps = 2, ValFraction = 0, ShuffleWindow = 2 };
        List<StepMetrics> full;
        using (var a = VlaTrainer.Create(o)) full = Enumerable.Range(0, 6).Select(_ => a.TrainStep()!).ToList();

        var ob = o with { OutDir = tmp.File("b") };
        var first = new List<StepMetrics>();
        using (var b = VlaTrainer.Create(ob))
        {
            for (int i = 0; i < 3; i++) first.Add(b.TrainStep()!);
            b.SaveCheckpoint();
        }
        Assert.Equal("step_3", File.ReadAllText(Path.Combine(tmp.File("b"), "latest")).Trim());
        using var c = VlaTrainer.Create(ob with { Resume = true });
        Assert.Equal(3, c.Step);
        var rest = new List<StepMetrics>();
        while (c.Step < 6) rest.Add(c.TrainStep()!);
        var resumed = first.Concat(rest).ToList();
        for (int i = 0; i < 6; i++)
        {
            Assert.True(Math.Abs(full[i].Loss - resumed[i].Loss) <= 1e-6, $"step {i + 1}: loss {full[i].Loss} vs resumed {resumed[i].Loss}");
            Assert.Equal(full[i].Accuracy, resumed[i].Accuracy);
            Assert.Equal(full[i].Lr, resumed[i].Lr);
        }
        c.SaveCheckpoint();
        var logged = MetricsLog.Read(tmp.File("b")).Where(x => x.Split == "train").Select(x => x.Step).ToList();
        Assert.Equal([1, 2, 3, 4, 5, 6], logged);
    }

    [Fact]
    public void Checkpoint_Layout_PolicyRoundTrip_AndValidation()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 3, steps: 3);
        var run = tmp.File("run");
        var o = Tiny(data, run) with { MaxSteps = 2, ValEvery = 2, ValFraction = 0.34, SaveEvery = 1, KeepCheckpoints = 1, Views = 3, BatchSize = 2 };
        TrainSummary s;
        ActionPredictionPair pair;
        var views = Enumerable.Range(0, 3).Select(i => { var im = Image8.Rgb(32, 24); new Random(i).NextBytes(im.Pixels); return im; }).ToList();
        using (var t = VlaTrainer.Create(o))
        {
            // make the adapter non-trivial so the round trip means something
            using (torch.no_grad())
                foreach (var (_, l) in LoraModel.Layers(t.Token().Model)) l.B("default").add_(torch.randn(l.B("default").shape, generator: new Generator(3)) * 0.02);
            s = t.Run();
            t.Token().Model.eval();
            var px = new VlaImagePipeline(t.Token().Model.Config, centerCrop: true).EvalViews(views);
            var ids = torch.tensor(t.Token().Train.Prompts.Prompt("lift the barrier")).unsqueeze(0);
            pair = new ActionPredictionPair(t.Token().Model.GenerateGreedy(px, ids, 8));
        }
        Assert.NotNull(s.LastValidation);
        Assert.Equal(2, s.FinalStep);
        Assert.False(Directory.Exists(Path.Combine(run, "step_1")), "older checkpoints are pruned");
        var step = Path.Combine(run, "step_2");
        foreach (var f in new[] { "adapter_config.json", "adapter_model.safetensors", "dataset_statistics.json", "config.json", "optimizer.safetensors",
                     "scheduler.json", "rng_state.json", "trainer_state.json", "policy.json" })
            Assert.True(File.Exists(Path.Combine(step, f)), f);
        Assert.Equal("step_2", File.ReadAllText(Path.Combine(run, "latest")).Trim());
        Assert.Empty(Directory.GetDirectories(run, "*.tmp"));
        var stats = JsonNode.Parse(File.ReadAllText(Path.Combine(step, "dataset_statistics.json")))!;
        Assert.NotNull(stats["lift_barrier_agent0"]);
        var lines = MetricsLog.Read(run);
        Assert.Contains(lines, l => l.Split == "val" && l.Step == 2);

        var policies = VlaAgentPolicy.LoadAgents([run, run]);
        try
        {
            Assert.Equal(3, policies[0].Views);
            var p0 = policies[0].Predict(views, "lift the barrier");
            var p1 = policies[1].Predict(views, "lift the barrier");
            Assert.Equal(pair.Tokens, p0.TokenIds);
            Assert.Equal(pair.Tokens, p1.TokenIds);
            Assert.Equal(8, policies[0].Act(views, "lift the barrier").Length);
            Assert.Throws<ArgumentException>(() => policies[0].Predict(views.Take(2).ToList(), "x"));
        }
        finally { VlaAgentPolicy.DisposeAll(policies); }
    }

    [Fact]
    public void TinyImageSize_IsTrainedSaved_AndRebuiltForLoraAndFullCheckpoints()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 2, steps: 3);
        var views = Enumerable.Range(0, 3).Select(i => { var im = Image8.Rgb(32, 24); new Random(i).NextBytes(im.Pixels); return im; }).ToList();
        foreach (bool full in new[] { false, true })
        {
            var run = tmp.File(full ? "full" : "lora");
            var o = Tiny(data, run) with { ImageSize = 56, MaxSteps = 1, Views = 3, BatchSize = 2, FullFinetune = full };
            long[] expected;
            using (var t = VlaTrainer.Create(o))
            {
                Assert.Equal(56, t.Token().Model.Config.Dino.ImageSize);
                t.Run();
                t.Token().Model.eval();
                var px = new VlaImagePipeline(t.Token().Model.Config, centerCrop: true).EvalViews(views);
                Assert.Equal(56, px.shape[^1]);
                expected = t.Token().Model.GenerateGreedy(px, torch.tensor(t.Token().Train.Prompts.Prompt("lift the barrier")).unsqueeze(0), 8);
            }
            var policies = VlaAgentPolicy.LoadAgents([run]);
            try { Assert.Equal(expected, policies[0].Predict(views, "lift the barrier").TokenIds); }
            finally { VlaAgentPolicy.DisposeAll(policies); }
        }
        Assert.Throws<ArgumentException>(() => (Tiny(data, tmp.File("x")) with { ImageSize = 100 }).Validate());
        Assert.Throws<ArgumentException>(() => (Tiny(data, tmp.File("x")) with { ImageSize = 112, Model = tmp.File("some-hf-folder") }).Validate());
    }

    [Fact]
    public void ProprioAndActionChunks_AreTrainedSaved_AndReproducedAtInference()
    {
        using var tmp = new TempDir();
        var data = SyntheticRlds.Make(tmp.File("rlds"), episodes: 2, steps: 4, randomState: true);
        var views = Enumerable.Range(0, 3).Select(i => { var im = Image8.Rgb(32, 24); new Random(i).NextBytes(im.Pixels); return im; }).ToList();
        var run = tmp.File("run");
        var o = Tiny(data, run) with { Proprio = true, ActionChunk = 3, MaxSteps = 1, Views = 3, BatchSize = 2, ValFraction = 0, ImageAug = false };
        var state = new float[] { 0.1f, 0.9f, 0.5f, 0.3f, 0.7f, 0.2f, 0.6f, 0.4f };
        long[] expected;
        int[] stateTokens;
        using (var t = VlaTrainer.Create(o))
        {
            var d = t.Token().Train;
            Assert.NotNull(d.Proprio);
            // the chunk is the step's action and the next ones; past the end the last action repeats
            Assert.Equal(d.NormalizedAction(0, 0).Concat(d.NormalizedAction(0, 1)).Concat(d.NormalizedAction(0, 2)), d.NormalizedChunk(0, 0));
            Assert.Equal(Enumerable.Repeat(d.NormalizedAction(0, 3), 3).SelectMany(a => a), d.NormalizedChunk(0, 3));
            // state tokens follow the prompt and carry no labels; 3 × 8 action tokens + EOS are labelled
            using (var b = d.FlatBatch([1]))
            {
                var prompt = d.Prompts.Prompt("lift the barrier");
                var ids = b.InputIds[0].data<long>().ToArray();
                var labels = b.Labels[0].data<long>().ToArray();
                Assert.Equal(d.StateTokens(0, 1)!.Select(x => (long)x), ids.Skip(prompt.Length).Take(8));
                Assert.All(labels.Take(prompt.Length + 8), l => Assert.Equal(-100L, l));
                Assert.Equal(25, labels.Count(l => l != -100));
                Assert.Equal(prompt.Length + 8 + 25, ids.Length);
            }
            t.Run();
            t.Token().Model.eval();
            stateTokens = d.Proprio!.Encode(state, d.Actions);
            var px = new VlaImagePipeline(t.Token().Model.Config, centerCrop: false).EvalViews(views);
            expected = t.Token().Model.GenerateGreedy(px, torch.tensor(d.Prompts.Prompt("lift the barrier", stateTokens)).unsqueeze(0), 24);
        }
        var info = VlaPolicyInfo.Read(Path.Combine(run, "step_1", VlaTrainer.PolicyFile));
        Assert.Equal(3, info.ActionChunk);
        Assert.NotNull(info.Proprio);
        var policies = VlaAgentPolicy.LoadAgents([run]);
        try
        {
            var p = policies[0];
            Assert.True(p.UsesProprio);
            var pred = p.Predict(views, "lift the barrier", state);
            Assert.Equal(expected, pred.TokenIds);
            Assert.Equal(3, pred.Chunk.Count);
            Assert.All(pred.Chunk, a => Assert.Equal(8, a.Length));
            Assert.Equal(pred.Action, pred.Chunk[0]);
            Assert.Throws<ArgumentException>(() => p.Predict(views, "lift the barrier"));
        }
        finally { VlaAgentPolicy.DisposeAll(policies); }
        Assert.Throws<ArgumentException>(() => (o with { ActionChunk = 0 }).Validate());
    }

    [Fact]
    public void ProprioStatistics_MapQ01ToMinusOneQ99ToOne_AndClamp()
    {
        var s = new Tokenization.ProprioStatistics([0.0, -1.0, 2.0], [1.0, 1.0, 2.0]);
        Assert.Equal(new[] { -1f, 1f, 0f }, s.Normalize([0f, 1f, 5f]));
        Assert.Equal(new[] { 0f, 0f, 0f }, s.Normalize([0.5f, 0f, 2f]));
        Assert.Equal(new[] { 1f, -1f, 0f }, s.Normalize([3f, -9f, 0f]));
        var tok = new Tokenization.ActionTokenizer();
        Assert.Equal(tok.Encode(new float[] { -1f, 1f, 0f }), s.Encode([0f, 1f, 2f], tok));
        Assert.Throws<ArgumentException>(() => s.Normalize([0f, 1f]));
    }

    sealed record ActionPredictionPair(long[] Tokens);

    [Fact]
    public void Augmentation_IsSeeded_AndCentreCropMatchesTheCropSize()
    {
        var cfg = RoboFactory.Vla.Config.OpenVlaConfig.Tiny;
        var pipe = new VlaImagePipeline(cfg, centerCrop: true);
        var img = Image8.Rgb(320, 240);
        new Random(1).NextBytes(img.Pixels);
        Assert.Equal((304, 228), VlaImagePipeline.CropSize(320, 240));
        var a = pipe.Train(img, new SplitMix64(5), augment: true);
        var b = pipe.Train(img, new SplitMix64(5), augment: true);
        var c = pipe.Train(img, new SplitMix64(6), augment: true);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(pipe.Eval(img), pipe.Train(img, new SplitMix64(5), augment: false));
        Assert.Equal(6 * 112 * 112, a.Length);
    }
}

/// <summary>The trainer's policy as the OpenVLA token policy these tests train.</summary>
static class TrainerTestExtensions
{
    public static OpenVlaTokenPolicy Token(this VlaTrainer t) => (OpenVlaTokenPolicy)t.Policy;
}
