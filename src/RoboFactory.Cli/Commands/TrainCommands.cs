using RoboFactory.Data.Datasets;
using System.CommandLine;
using System.Globalization;
using RoboFactory.Bench;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Training;
using RoboFactory.Vla.Policies;
using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Core.Errors;

namespace RoboFactory.Cli.Commands;

/// <summary>`train` (per-agent OpenVLA fine-tuning), `merge` (LoRA → full HF weights), `plot` (PNG curves), and `bench train`.</summary>
public static class TrainCommands
{
    static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    static string Eta(double seconds)
    {
        long s = (long)Math.Min(seconds, 359_999);
        return I($"{s / 3600}:{s / 60 % 60:00}:{s % 60:00}");
    }

    public static Command BuildTrain()
    {
        var cmd = new Command("train", "Fine-tune a policy for one agent on its dataset (RLDS or LeRobot v3; LoRA in PEFT's layout, or a full fine-tune of the from-scratch tiny model); resumable checkpoints under checkpoints/{policy}/{Task}_Agent{id}/step_N, metrics.jsonl, TensorBoard events and PNG plots.");
        var d = new TrainOptions(); // the one home of every default below
        var policy = new Option<string>("--policy")
        {
            Description = "Policy to train: " + string.Join("; ", PolicyRegistry.All.Select(e => $"{e.Name} ({e.Description})")),
            DefaultValueFactory = _ => d.Policy,
        };
        policy.AcceptOnlyFromAmong([.. PolicyRegistry.Names]);
        var task = new Option<string>("--task") { Description = "Task, e.g. LiftBarrier-rf (the -rf suffix is optional)", Required = true };
        var agent = new Option<int>("--agent-id") { Description = "Agent whose dataset and checkpoint folder to use", DefaultValueFactory = _ => d.AgentId };
        var data = new Option<string?>("--data") { Description = "Dataset folder, RLDS or LeRobot v3 (told by its metadata; default data/rlds/{task_snake}_agent{id}/1.0.0)" };
        var model = new Option<string>("--model") { Description = "'tiny' (built from scratch with --seed; CPU default) or a Hugging Face OpenVLA folder (frozen base, e.g. openvla-7b)", DefaultValueFactory = _ => d.Model };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.model (default: the model folder's; tiny uses the --prompt-stand-in encoding)" };
        var standIn = PromptOptions.StandIn(d.PromptStandIn);
        var imageSize = new Option<int?>("--image-size") { Description = "--model tiny: input size of both vision towers in px, a multiple of 14 (default 112; the pretrained sizes come from config.json)" };
        var batch = new Option<int>("--batch-size") { Description = "Samples per micro-batch", DefaultValueFactory = _ => d.BatchSize };
        var accum = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step", DefaultValueFactory = _ => d.GradAccum };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW)", DefaultValueFactory = _ => d.Lr };
        var minLr = new Option<double>("--min-lr") { Description = "Learning rate at the end of the cosine decay", DefaultValueFactory = _ => d.MinLr };
        var warmup = new Option<int?>("--warmup-steps") { Description = "Linear warmup steps (default 3 % of --max-steps)" };
        var wd = new Option<double>("--weight-decay") { Description = "AdamW weight decay (parameters with 2 or more dimensions only, unless --decay-all-parameters)", DefaultValueFactory = _ => d.WeightDecay };
        var clip = new Option<double>("--max-grad-norm") { Description = "Gradient clipping (global L2 norm; 0 = off)", DefaultValueFactory = _ => d.MaxGradNorm };
        var steps = new Option<int>("--max-steps") { Description = "Optimizer steps", DefaultValueFactory = _ => d.MaxSteps };
        var seed = new Option<long>("--seed") { Description = "Seed of the tiny model, the LoRA init, the split, the data order and augmentation", DefaultValueFactory = _ => d.Seed };
        var full = new Option<bool>("--full-finetune") { Description = "Train every parameter (default for --model tiny: LoRA on a random base cannot learn much)" };
        var loraOnly = new Option<bool>("--lora") { Description = "Force LoRA even for --model tiny" };
        var proj = new Option<bool>("--train-projector") { Description = "LoRA runs: also train the projector (saved as PEFT modules_to_save)" };
        var rank = new Option<int>("--lora-rank") { Description = "LoRA rank r", DefaultValueFactory = _ => d.LoraRank };
        var alpha = new Option<double>("--lora-alpha") { Description = "LoRA alpha (scaling alpha/r)", DefaultValueFactory = _ => d.LoraAlpha };
        var dropout = new Option<double>("--lora-dropout") { Description = "LoRA dropout", DefaultValueFactory = _ => d.LoraDropout };
        var targets = new Option<string>("--lora-targets") { Description = "Comma-separated module names", DefaultValueFactory = _ => string.Join(",", LoraConfig.LlamaProjections) };
        var init = new Option<string>("--lora-init") { Description = "gaussian (OpenVLA) | kaiming (PEFT default)", DefaultValueFactory = _ => d.LoraInit };
        init.AcceptOnlyFromAmong("gaussian", "kaiming");
        var noAug = new Option<bool>("--no-image-aug") { Description = "Disable random-resized-crop + colour jitter (inference then skips the centre crop)" };
        var proprio = new Option<bool>("--proprio") { Description = "Put the measured joint state (7 joints + gripper width, binned over the dataset's proprio q01/q99) into the prompt as 8 state tokens; eval then feeds it too" };
        var chunk = new Option<int?>("--action-chunk") { Description = $"Predict K consecutive actions per sample (openvla: K·8 action tokens; openvla-oft: K·8 placeholders), 1..{TrainOptions.MaxActionChunk}; eval executes them before asking again (default: {string.Join(", ", PolicyRegistry.All.Select(e => $"{e.Name} {e.DefaultActionChunk}"))})" };
        var views = new Option<int>("--views") { Description = "Views fed to the model, in the fixed order head, global, wrist", DefaultValueFactory = _ => d.Views };
        var logger = new Option<string>("--logger") { Description = "tensorboard (metrics.jsonl + event files) | jsonl | none", DefaultValueFactory = _ => d.Logger };
        logger.AcceptOnlyFromAmong("tensorboard", "jsonl", "none");
        var valEvery = new Option<int>("--val-every") { Description = "Validate on held-out episodes every N steps (0 = never)", DefaultValueFactory = _ => d.ValEvery };
        var valBatches = new Option<int>("--val-batches") { Description = "Batches per validation", DefaultValueFactory = _ => d.ValBatches };
        var valFrac = new Option<double>("--val-fraction") { Description = "Fraction of episodes held out", DefaultValueFactory = _ => d.ValFraction };
        var saveEvery = new Option<int>("--save-every") { Description = "Checkpoint every N steps (and at the end)", DefaultValueFactory = _ => d.SaveEvery };
        var keep = new Option<int>("--keep") { Description = "Step folders kept (oldest pruned; 0 = all)", DefaultValueFactory = _ => d.KeepCheckpoints };
        var outDir = new Option<string?>("--out") { Description = "Run folder (default checkpoints/{policy}/{Task}_Agent{id})" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the run folder's `latest` checkpoint (same data order and RNG: the curve equals an uninterrupted run)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing run in the run folder" };
        var device = new Option<string>("--device") { Description = "cpu | cuda | cuda:N (CUDA needs a -p:TorchBackend=cuda build)", DefaultValueFactory = _ => d.Device };
        var dtype = new Option<string>("--dtype") { Description = "Base weights/compute: fp32 | bf16 (LoRA weights stay fp32; bf16 trainable weights get fp32 master copies)", DefaultValueFactory = _ => d.DType };
        var gpus = new Option<int?>("--gpus") { Description = "Accepted for upstream compatibility; this build trains on one device" };
        var gradCkpt = new Option<bool>("--gradient-checkpointing") { Description = "Recompute each ViT block's and Llama layer's activations in backward instead of keeping them: less memory for one more forward pass (HF's gradient_checkpointing_enable)" };
        var threads = new Option<int?>("--decode-threads") { Description = "PNG decode/augment threads (default: all cores)" };
        var noPlots = new Option<bool>("--no-plots") { Description = "Skip the PNG plots at the end" };
        var logEvery = new Option<int>("--log-every") { Description = "Read loss and metrics from the device, log and print them every N steps (averages over the N steps)", DefaultValueFactory = _ => d.LogEvery };
        var attention = new Option<string>("--attention") { Description = "openvla-oft: bidirectional (OFT's parallel decoding) | causal attention", DefaultValueFactory = _ => d.Attention };
        attention.AcceptOnlyFromAmong("bidirectional", "causal");
        var decayAll = new Option<bool>("--decay-all-parameters") { Description = "Apply weight decay to every parameter (torch's default) instead of only those with 2 or more dimensions" };
        foreach (var o in new Option[] { policy, task, agent, data, model, tokenizer, standIn, imageSize, batch, accum, lr, minLr, warmup, wd, clip, steps, seed, full, loraOnly, proj,
                     rank, alpha, dropout, targets, init, noAug, proprio, chunk, views, logger, valEvery, valBatches, valFrac, saveEvery, keep, outDir, resume, overwrite,
                     device, dtype, gpus, gradCkpt, threads, noPlots, logEvery, decayAll, attention })
            cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            if (r.GetValue(gpus) is int g)
                Console.Error.WriteLine(g > 1 || !r.GetValue(device)!.StartsWith("cuda", StringComparison.Ordinal)
                    ? $"note: --gpus {g} ignored: this build uses TorchSharp's CPU backend and trains in one process on one device. On a CUDA machine, build with `dotnet build -p:TorchBackend=cuda` and pass --device cuda (one GPU per process; for several, one rank per GPU: `mpirun -np N ./robofactory train …`, see docs/scaling.md)."
                    : $"note: --gpus {g}: training on {r.GetValue(device)}");
            if (r.GetValue(full) && r.GetValue(loraOnly)) throw new ArgumentException("--full-finetune and --lora exclude each other");
            var opts = new TrainOptions
            {
                Policy = r.GetValue(policy)!, Attention = r.GetValue(attention)!, LogEvery = r.GetValue(logEvery), DecayAllParameters = r.GetValue(decayAll),
                Task = r.GetValue(task)!, AgentId = r.GetValue(agent), DataPath = r.GetValue(data), Model = r.GetValue(model)!, Tokenizer = r.GetValue(tokenizer), PromptStandIn = PromptOptions.Parse(r, standIn),
                ImageSize = r.GetValue(imageSize), Seed = r.GetValue(seed), BatchSize = r.GetValue(batch), GradAccum = r.GetValue(accum), Lr = r.GetValue(lr), MinLr = r.GetValue(minLr),
                MaxSteps = r.GetValue(steps), WarmupSteps = r.GetValue(warmup), WeightDecay = r.GetValue(wd), MaxGradNorm = r.GetValue(clip),
                FullFinetune = r.GetValue(full) ? true : r.GetValue(loraOnly) ? false : null, TrainProjector = r.GetValue(proj),
                LoraRank = r.GetValue(rank), LoraAlpha = r.GetValue(alpha), LoraDropout = r.GetValue(dropout),
                LoraTargets = r.GetValue(targets)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), LoraInit = r.GetValue(init)!,
                ImageAug = !r.GetValue(noAug), Proprio = r.GetValue(proprio), ActionChunk = r.GetValue(chunk), Views = r.GetValue(views), Logger = r.GetValue(logger)!, ValEvery = r.GetValue(valEvery),
                ValBatches = r.GetValue(valBatches), ValFraction = r.GetValue(valFrac), SaveEvery = r.GetValue(saveEvery), KeepCheckpoints = r.GetValue(keep),
                OutDir = r.GetValue(outDir), Resume = r.GetValue(resume), Overwrite = r.GetValue(overwrite), Device = r.GetValue(device)!,
                DType = r.GetValue(dtype)!, DecodeThreads = r.GetValue(threads), Plots = !r.GetValue(noPlots), GradientCheckpointing = r.GetValue(gradCkpt),
            };
            var ranks = Communicator.World;
            if (ranks.Size == 1) { RunTraining(opts, ranks); return; }
            // under MPI a failing rank ends the whole job (an exit would leave the others waiting in an all-reduce)
            try { RunTraining(opts, ranks); }
            catch (Exception e)
            {
                Console.Error.WriteLine($"error: rank {ranks.Rank} of {ranks.Size}: {e.Message}");
                if (!CliErrors.IsUserError(e)) Console.Error.WriteLine(e.StackTrace);
                ranks.Abort(2);
                throw;
            }
        }));
        return cmd;
    }

    static void RunTraining(TrainOptions opts, Communicator ranks)
    {
        if (!ranks.IsRoot)
        {
            // the other ranks train silently: rank 0 reports, logs and writes the files
            using var quiet = VlaTrainer.Create(opts, TextWriter.Null, ranks);
            quiet.Run();
            return;
        }
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cts.IsCancellationRequested) return; // a second Ctrl-C kills
            e.Cancel = true;
            cts.Cancel();
            Console.Error.WriteLine("stopping: saving a checkpoint after this step (Ctrl-C again to abort)…");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            using var trainer = VlaTrainer.Create(opts, Console.Out, ranks);
            var o = trainer.Options;
            Console.WriteLine($"run folder: {trainer.RunDirectory}");
            TrainSummary? summary = null;
            long startStep = trainer.Step;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            Progress.Run($"train {o.TaskStem} agent {o.AgentId}", o.MaxSteps, (report, log) =>
            {
                report(startStep, $"step {startStep}/{o.MaxSteps}");
                string last = "";
                summary = trainer.Run(
                    (step, m) =>
                    {
                        double rate = (step - startStep) * trainer.GlobalSamplesPerStep / Math.Max(sw.Elapsed.TotalSeconds, 1e-9);
                        double eta = rate > 0 ? (o.MaxSteps - step) * trainer.GlobalSamplesPerStep / rate : 0;
                        if (m is not null) last = I($" loss {m.Loss:0.0000}") + (m.HasAccuracy ? I($" acc {m.Accuracy:P1}") : "") + I($" L1 {m.L1:0.000}");
                        report(step, I($"step {step}/{o.MaxSteps}{last} {rate:0.0} samples/s ETA {Eta(eta)}"));
                    },
                    v => log(v.ToString()),
                    cts.Token);
            });
            var s = summary!;
            Console.WriteLine(I($"trained to step {s.FinalStep} in {s.Seconds:0.0} s; trainable {s.TrainableParameters:N0} of {s.TotalParameters:N0} parameters; peak RSS {RoboFactory.Vla.Native.ProcessMemory.PeakRssBytes() / (double)(1L << 30):0.00} GiB"));
            if (s.LastTrain is { } t) Console.WriteLine($"  last train: {t}");
            if (s.LastValidation is { } v) Console.WriteLine($"  last validation: {v}");
            if (s.LastCheckpoint is { } c) Console.WriteLine($"  checkpoint: {c}");
            if (o.Plots && o.Logger != "none")
            {
                try { foreach (var p in TrainPlots.Write(trainer.RunDirectory)) Console.WriteLine($"  plot: {p}"); }
                catch (Exception e) when (e is not OutOfMemoryException) { Console.Error.WriteLine($"warning: plots not written ({e.Message}); retry with `robofactory plot {trainer.RunDirectory}`"); }
            }
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    public static Command BuildMerge()
    {
        var cmd = new Command("merge", "Merge a LoRA checkpoint into its base (W += alpha/r · B·A, PEFT merge_and_unload) and write full weights in the Hugging Face layout (config.json with norm_stats, safetensors, dataset_statistics.json).");
        var ckpt = new Option<string>("--checkpoint") { Description = "Run folder (uses `latest`) or step folder", Required = true };
        var outDir = new Option<string>("--out") { Description = "Output folder", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "auto (fp32 for tiny, bf16 for a pretrained base) | fp32 | bf16", DefaultValueFactory = _ => "auto" };
        foreach (var o in new Option[] { ckpt, outDir, dtype }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var c = VlaPolicyCheckpoint.Load(r.GetValue(ckpt)!);
            string d = r.GetValue(dtype)!;
            var st = d == "auto" ? c.AutoDType : Pretrained.ParseDType(d);
            string dst = r.GetValue(outDir)!;
            if (Path.GetFullPath(dst) == Path.GetFullPath(c.Directory)) throw new ArgumentException("--out must differ from the checkpoint folder");
            using var m = c.CreateModel(null, st);
            int merged = 0;
            if (c.IsLora)
            {
                using var loaded = LoraModel.Load(m, c.Directory);
                merged = LoraModel.MergeAndUnload(m);
            }
            var files = Pretrained.Save(m, dst, st);
            ConfigJson.Write(c.Config, Path.Combine(dst, "config.json")); // carries the agent's norm_stats
            File.Copy(Path.Combine(c.Directory, VlaTrainer.StatsFile), Path.Combine(dst, VlaTrainer.StatsFile), overwrite: true);
            var tok = Path.Combine(c.Directory, "tokenizer.model");
            if (File.Exists(tok)) File.Copy(tok, Path.Combine(dst, "tokenizer.model"), overwrite: true);
            // openvla-oft: the L1 head and proprio projector travel with the merged backbone (OFT keeps them as separate files too)
            foreach (var extra in new[] { Vla.Policies.OpenVlaOft.OpenVlaOftPolicy.HeadFile, Vla.Policies.OpenVlaOft.OpenVlaOftPolicy.ProprioFile })
                if (File.Exists(Path.Combine(c.Directory, extra))) File.Copy(Path.Combine(c.Directory, extra), Path.Combine(dst, extra), overwrite: true);
            Console.WriteLine(c.IsLora ? $"merged {merged} LoRA layers of {c.Directory} into {c.Info.BaseModel}" : $"{c.Directory} is a full fine-tune; copied its weights");
            foreach (var f in files) Console.WriteLine($"  {f}");
            Console.WriteLine($"  unnorm key: {c.Info.UnnormKey}; note: the merged folder is a plain OpenVLA model — `model predict` does no centre crop{(c.Info.Prompt != PromptEncoder.SentencePieceKind ? $" and needs `--prompt-stand-in {PromptOptions.Name(c.Info.PromptStandIn)}` (this model has no tokenizer.model)" : "")}");
        }));
        return cmd;
    }

    public static Command BuildPlot()
    {
        var cmd = new Command("plot", "Write PNG plots (loss, action accuracy, L1; train and validation) of a training run from its metrics.jsonl.");
        var run = new Argument<string>("run") { Description = "Run folder (holding metrics.jsonl)" };
        var outDir = new Option<string?>("--out") { Description = "Output folder (default: the run folder)" };
        cmd.Arguments.Add(run); cmd.Options.Add(outDir);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            foreach (var p in TrainPlots.Write(r.GetValue(run)!, r.GetValue(outDir))) Console.WriteLine(p);
        }));
        return cmd;
    }

    /// <summary>`bench train`: tiny samples/s (full and LoRA) and, with --include-7b, one openvla-7b-shaped LoRA step.</summary>
    public static Command BuildBench()
    {
        var cmd = new Command("train", "Training throughput: tiny model samples/s (full fine-tune and LoRA, 3 views, batch 8, synthetic 240x320 data), and with --include-7b one openvla-7b-shaped LoRA step (batch 1, 3 views, random bf16 weights): time, peak RSS, fits in 24 GiB.");
        var include7b = new Option<bool>("--include-7b") { Description = "Also build openvla-7b (15 GB bf16) and time one LoRA step (minutes; needs ~20+ GB RAM)" };
        var stepsOpt = new Option<int>("--steps") { Description = "Timed tiny steps per mode", DefaultValueFactory = _ => 5 };
        var batchOpt = new Option<int>("--batch-size") { Description = "Tiny batch size", DefaultValueFactory = _ => 8 };
        var ranksOpt = new Option<string?>("--ranks") { Description = "Instead: data-parallel throughput of `train` under mpirun for these rank counts (e.g. 1,2), one thread per rank, side by side on 2 recorded LiftBarrier demos" };
        foreach (var o in new Option[] { include7b, stepsOpt, batchOpt, ranksOpt }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            if (r.GetValue(ranksOpt) is string ranks)
            {
                var counts = ranks.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                    .Select(x => int.TryParse(x, out int n) && n >= 1 ? n : throw new ArgumentException($"--ranks '{ranks}': expected positive integers such as 1,2")).ToList();
                RankBench.Run(counts, Math.Max(r.GetValue(stepsOpt), 4), r.GetValue(batchOpt), Console.Out);
                return;
            }
            var res = TrainBench.Run(r.GetValue(include7b), r.GetValue(stepsOpt), r.GetValue(batchOpt), Console.Out);
            Console.WriteLine();
            TrainBench.Print(res, Console.Out);
        }));
        return cmd;
    }
}

/// <summary>PNG line plots of a run's metrics.jsonl (ScottPlot, headless).</summary>
public static class TrainPlots
{
    public static IReadOnlyList<string> Write(string runDir, string? outDir = null)
    {
        var metrics = MetricsLog.Read(runDir);
        if (metrics.Count == 0) throw new InputFormatException($"{runDir}: metrics.jsonl is empty");
        outDir ??= Directory.Exists(runDir) ? runDir : Path.GetDirectoryName(runDir)!;
        Directory.CreateDirectory(outDir);
        var train = metrics.Where(m => m.Split == "train").OrderBy(m => m.Step).ToList();
        var val = metrics.Where(m => m.Split == "val").OrderBy(m => m.Step).ToList();
        var written = new List<string>();
        void One(string file, string title, string ylabel, Func<StepMetrics, double> y, bool smooth)
        {
            var plt = new ScottPlot.Plot();
            if (train.Count > 0)
            {
                var xs = train.Select(m => (double)m.Step).ToArray();
                var ys = train.Select(y).ToArray();
                var raw = plt.Add.ScatterLine(xs, ys);
                raw.LegendText = "train";
                raw.LineWidth = 1;
                if (smooth && ys.Length >= 20)
                {
                    raw.Color = raw.Color.WithAlpha(0.35);
                    int k = Math.Max(5, ys.Length / 50);
                    var sm = ys.Select((_, i) => ys.Skip(Math.Max(0, i - k + 1)).Take(Math.Min(k, i + 1)).Average()).ToArray();
                    var line = plt.Add.ScatterLine(xs, sm);
                    line.LegendText = $"train (mean of {k})";
                    line.LineWidth = 2;
                }
            }
            if (val.Count > 0)
            {
                var v = plt.Add.Scatter(val.Select(m => (double)m.Step).ToArray(), val.Select(y).ToArray());
                v.LegendText = "validation";
                v.LineWidth = 2;
                v.MarkerSize = 6;
            }
            plt.Title(title);
            plt.XLabel("optimizer step");
            plt.YLabel(ylabel);
            plt.ShowLegend();
            var path = Path.Combine(outDir, file);
            plt.SavePng(path, 900, 500);
            written.Add(path);
        }
        bool tokens = metrics.Any(m => m.HasAccuracy); // openvla's action tokens; openvla-oft's L1 head has none
        One("loss.png", tokens ? "Cross-entropy on action tokens + EOS" : "L1 loss on the normalised action chunk", "loss", m => m.Loss, smooth: true);
        if (tokens) One("action_accuracy.png", "Action-token accuracy", "accuracy", m => m.Accuracy, smooth: true);
        One("l1.png", "L1 |decoded − true| (normalised actions)", "L1", m => m.L1, smooth: true);
        if (train.Count > 0) One("lr.png", "Learning rate", "lr", m => m.Lr, smooth: false);
        return written;
    }
}

/// <summary>
/// `bench train --ranks 1,2`: the same tiny openvla-oft training launched with 1, 2, … ranks (mpirun for more than one,
/// one thread each, the same per-rank batch), measured in one run on the same data; samples/s over all ranks from
/// each run's metrics.jsonl, after its first step (start-up and the first step's allocations excluded).
/// </summary>
public static class RankBench
{
    public static void Run(IReadOnlyList<int> counts, int steps, int batch, TextWriter log)
    {
        string work = Directory.CreateTempSubdirectory("rf-rankbench-").FullName;
        try
        {
            log.WriteLine("recording 2 LiftBarrier demonstrations for the benchmark…");
            var prep = Recording.DemoRecorder.Run(new Recording.PrepareOptions("LiftBarrier", 2, OutRoot: Path.Combine(work, "zarr")));
            string data = Data.Rlds.ZarrToRlds.Convert(prep.Stores[0], Path.Combine(work, "rlds"), new Data.Rlds.ZarrToRldsOptions()).Dataset.DatasetDirectory;
            string dll = Path.Combine(AppContext.BaseDirectory, "RoboFactory.Cli.dll");
            var rows = new List<(int Ranks, double Rate)>();
            foreach (int n in counts)
            {
                string outDir = Path.Combine(work, $"ranks{n}");
                var psi = new System.Diagnostics.ProcessStartInfo(n == 1 ? "dotnet" : "mpirun") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                if (n > 1) foreach (var a in new[] { "-np", n.ToString(CultureInfo.InvariantCulture), "--oversubscribe", "dotnet" }) psi.ArgumentList.Add(a);
                foreach (var a in new[] { dll, "train", "--policy", "openvla-oft", "--task", "LiftBarrier", "--agent-id", "0", "--data", data,
                    "--image-size", "84", "--no-image-aug", "--proprio", "--batch-size", batch.ToString(CultureInfo.InvariantCulture),
                    "--max-steps", steps.ToString(CultureInfo.InvariantCulture), "--log-every", "1", "--val-every", "0", "--save-every", "0",
                    "--decode-threads", "1", "--no-plots", "--out", outDir }) psi.ArgumentList.Add(a);
                psi.Environment["OMP_NUM_THREADS"] = "1";
                psi.Environment.TryAdd("OMPI_MCA_btl_vader_single_copy_mechanism", "none");
                if (Environment.UserName == "root") { psi.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; psi.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"; }
                log.WriteLine($"{n} rank(s): {psi.FileName} {string.Join(' ', psi.ArgumentList)}");
                using var p = System.Diagnostics.Process.Start(psi)!;
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                p.WaitForExit();
                if (p.ExitCode != 0) throw new InvalidOperationException($"{n} rank(s): train exited with {p.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
                var train = MetricsLog.Read(outDir).Where(m => m.Split == "train").OrderBy(m => m.Step).ToList();
                var (first, last) = (train[0], train[^1]);
                rows.Add((n, (last.Samples - first.Samples) / Math.Max(last.ElapsedSeconds - first.ElapsedSeconds, 1e-9)));
            }
            log.WriteLine();
            log.WriteLine($"| ranks | batch per rank | global batch | samples/s (all ranks) | vs 1 rank |");
            log.WriteLine("|---|---|---|---|---|");
            double baseRate = rows.FirstOrDefault(x => x.Ranks == 1).Rate;
            foreach (var (n, rate) in rows)
                log.WriteLine(I($"| {n} | {batch} | {n * batch} | {rate:0.0} | {(baseRate > 0 ? $"{rate / baseRate:0.00}x" : "–")} |"));
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    static string I(FormattableString s) => FormattableString.Invariant(s);
}
