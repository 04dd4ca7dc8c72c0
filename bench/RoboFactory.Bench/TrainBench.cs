using RoboFactory.Vla.Native;
using RoboFactory.Vla.Policies.OpenVla;
using System.Diagnostics;
using RoboFactory.Core.Naming;
using RoboFactory.Data.Rlds;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Bench;

/// <summary>Figures of `bench train`.</summary>
public sealed record TrainBenchResult(IReadOnlyList<Timing> Timings, IReadOnlyList<string> Facts, long PeakRssBytes);

/// <summary>
/// Training throughput on this machine: the tiny model (full fine-tune and LoRA r32, 3 views of 240×320 PNGs, batch 8,
/// augmentation on) in samples/s, the input pipeline alone, and optionally one LoRA step of the openvla-7b shapes with
/// random bf16 weights (batch 1, 3 views): build time, step time, peak RSS and whether it fits in 24 GiB.
/// </summary>
public static class TrainBench
{
    internal static string MakeDataset(string root, int episodes = 4, int steps = 16)
    {
        var spec = new RldsDatasetSpec { Name = "bench_agent0", Height = 240, Width = 320 };
        using var w = new RldsDatasetWriter(root, spec);
        var rng = new Random(1);
        for (int e = 0; e < episodes; e++)
        {
            RldsImageSeries Img(int view)
            {
                var px = new byte[steps * 240 * 320 * 3];
                for (int t = 0; t < steps; t++)
                    for (int y = 0; y < 240; y++)
                        for (int x = 0; x < 320; x++)
                        {
                            int o = ((t * 240 + y) * 320 + x) * 3;
                            px[o] = (byte)(x + t * 3 + view * 40); px[o + 1] = (byte)(y + e * 20); px[o + 2] = (byte)((x ^ y) + rng.Next(8));
                        }
                return new RldsImageSeries(240, 320, px);
            }
            var action = new float[steps * 8];
            for (int i = 0; i < action.Length; i++) action[i] = (float)(rng.NextDouble() * 2 - 1);
            w.Write(new RldsEpisode { LanguageInstruction = "lift the barrier", Length = steps, Image = Img(0), GlobalImage = Img(1), WristImage = Img(2), State = new float[steps * 8], Action = action });
        }
        return w.Complete().DatasetDirectory;
    }

    public static TrainBenchResult Run(bool include7B, int steps, int batch, TextWriter log)
    {
        var timings = new List<Timing>();
        var facts = new List<string>();
        string tmp = Directory.CreateTempSubdirectory("robofactory-bench-train-").FullName;
        try
        {
            log.WriteLine($"threads: {torch.get_num_threads()}; writing a synthetic 3-view 240x320 dataset…");
            string data = MakeDataset(Path.Combine(tmp, DataNames.RldsFolder));
            foreach (var (mode, full) in new[] { ("full fine-tune", true), ("LoRA r32", false) })
            {
                var o = new TrainOptions
                {
                    DataPath = data, OutDir = Path.Combine(tmp, full ? "full" : "lora"), Model = "tiny", BatchSize = batch, MaxSteps = steps + 1,
                    Logger = "none", ValEvery = 0, SaveEvery = 0, FullFinetune = full, ValFraction = 0, LogEvery = 1,
                };
                using var t = VlaTrainer.Create(o);
                t.TrainStep(); // warm-up
                var rates = new List<double>();
                for (int i = 0; i < steps; i++)
                {
                    var m = t.TrainStep()!;
                    rates.Add(m.SamplesPerSecond);
                    log.WriteLine(FormattableString.Invariant($"  tiny {mode} step {m.Step}: {m.SamplesPerSecond:0.0} samples/s, loss {m.Loss:0.000}"));
                }
                timings.Add(new Timing($"tiny {mode}, 3 views, batch {batch}", rates, "samples/s"));
                facts.Add(FormattableString.Invariant($"tiny {mode}: {t.Optimizer.TrainableCount:N0} trainable of {t.TotalParameters:N0} parameters"));
                if (full)
                {
                    var data1 = new List<double>();
                    for (int i = 0; i < steps; i++)
                    {
                        var sw = Stopwatch.StartNew();
                        using (t.Train.Batch(10_000 + i * batch, batch)) { }
                        data1.Add(batch / sw.Elapsed.TotalSeconds);
                    }
                    timings.Add(new Timing($"input pipeline only (decode+aug 3 views to 112px)", data1, "samples/s"));
                }
            }
        }
        finally { try { Directory.Delete(tmp, true); } catch (IOException) { } }

        if (include7B)
        {
            var c = OpenVlaConfig.OpenVla7B;
            log.WriteLine("building openvla-7b with random bf16 weights (15.1 GB)…");
            var build = Stopwatch.StartNew();
            using var m = new OpenVlaForActionPrediction(c, new ModelOptions(CPU, ScalarType.BFloat16));
            var lora = new LoraConfig();
            LoraModel.Attach(m, lora);
            var trainable = LoraModel.PrepareForTraining(m, LoraModel.DefaultAdapter, trainProjector: false);
            using var opt = new AdamW(trainable);
            m.train();
            m.SetGradientCheckpointing(true); // without it the step does not fit in 24 GiB (activations of 32 layers × 808 tokens)
            double buildS = build.Elapsed.TotalSeconds;
            log.WriteLine(FormattableString.Invariant($"built in {buildS:0.0} s; {opt.TrainableCount:N0} trainable; RSS peak so far {ProcessMemory.PeakRssBytes() / 1e9:0.00} GB"));
            var ids = new long[40];
            ids[0] = 1;
            for (int i = 1; i < 31; i++) ids[i] = 100 + i;
            for (int i = 31; i < 39; i++) ids[i] = 31744 + 17 * i % 256;
            ids[39] = 2;
            var labels = ids.Select((v, i) => i >= 31 ? v : -100L).ToArray();
            var sw = Stopwatch.StartNew();
            double fwd, bwd;
            using (var scope = NewDisposeScope())
            {
                var px = torch.randn(1, 18, 224, 224, generator: new Generator(1));
                var o = m.Forward(px, torch.tensor(ids).unsqueeze(0), null, torch.tensor(labels).unsqueeze(0));
                fwd = sw.Elapsed.TotalSeconds;
                o.Loss!.backward();
                bwd = sw.Elapsed.TotalSeconds - fwd;
                opt.ClipGradNorm(1.0);
                opt.Step(5e-4);
                opt.ZeroGrad();
                log.WriteLine(FormattableString.Invariant($"  loss {o.Loss.item<float>():0.000}"));
            }
            double step = sw.Elapsed.TotalSeconds;
            long rss = ProcessMemory.PeakRssBytes();
            timings.Add(new Timing("openvla-7b LoRA step (batch 1, 3 views, 808 tokens, gradient checkpointing)", [step], "s"));
            facts.Add(FormattableString.Invariant($"openvla-7b LoRA step: build {buildS:0.0} s, forward {fwd:0.0} s, backward {bwd:0.0} s, optimizer {step - fwd - bwd:0.0} s; total {step:0.0} s"));
            facts.Add(FormattableString.Invariant($"openvla-7b LoRA step peak RSS {rss / 1e9:0.00} GB ({rss / (double)(1L << 30):0.00} GiB): {(rss < 24L << 30 ? "fits" : "does NOT fit")} in 24 GiB"));
        }
        return new TrainBenchResult(timings, facts, ProcessMemory.PeakRssBytes());
    }

    public static void Print(TrainBenchResult r, TextWriter w)
    {
        foreach (var t in r.Timings) w.WriteLine(t);
        foreach (var f in r.Facts) w.WriteLine(f);
        w.WriteLine(FormattableString.Invariant($"peak RSS: {r.PeakRssBytes / 1e9:0.00} GB"));
    }
}
