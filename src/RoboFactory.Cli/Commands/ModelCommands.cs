using RoboFactory.Core.Imaging;
using System.CommandLine;
using RoboFactory.Bench;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Imaging;
using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Training;

namespace RoboFactory.Cli.Commands;

/// <summary>`model info` and `model predict` (OpenVLA), plus the factory for `bench model`.</summary>
public static class ModelCommands
{
    public static Command Build()
    {
        var model = new Command("model", "OpenVLA model: parameter counts, checkpoint-backed inference.");
        model.Subcommands.Add(Info());
        model.Subcommands.Add(Init());
        model.Subcommands.Add(Predict());
        return model;
    }

    static Command Info()
    {
        var cmd = new Command("info", "Per-component and total parameter counts from the config alone (no weights are allocated).");
        var config = new Option<string>("--config") { Description = "openvla-7b | tiny | path to config.json or a model folder", DefaultValueFactory = _ => "openvla-7b" };
        var keys = new Option<bool>("--keys") { Description = "Also list every checkpoint key with its shape" };
        var policy = new Option<string>("--policy") { Description = "openvla (the model alone) | openvla-oft (adds the L1 action head and, with --proprio, the proprio projector)", DefaultValueFactory = _ => "openvla" };
        policy.AcceptOnlyFromAmong([.. Vla.Policies.PolicyRegistry.Names]);
        var actionDim = new Option<int>("--action-dim") { Description = "openvla-oft: action dimension D of the head", DefaultValueFactory = _ => 8 };
        var proprio = new Option<bool>("--proprio") { Description = "openvla-oft: count the proprio projector for an 8-D joint state" };
        cmd.Options.Add(config); cmd.Options.Add(keys); cmd.Options.Add(policy); cmd.Options.Add(actionDim); cmd.Options.Add(proprio);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var c = OpenVlaConfig.Resolve(r.GetValue(config)!);
            Console.WriteLine($"config: {c.Name}");
            Console.WriteLine($"  vision: {c.Dino.TimmId} ({c.Dino.EmbedDim}×{c.Dino.Depth}) + {c.Siglip.TimmId} ({c.Siglip.EmbedDim}×{c.Siglip.Depth}), {c.ImageSize}px, {c.PatchesPerView} patches/view, features of block depth-2");
            Console.WriteLine($"  projector: {c.FusedVisionDim} → {c.ProjectorHidden} → {c.Text.HiddenSize} → {c.Text.HiddenSize}");
            Console.WriteLine($"  llm: Llama-2 {c.Text.HiddenSize}×{c.Text.NumHiddenLayers} layers, {c.Text.NumAttentionHeads} heads, MLP {c.Text.IntermediateSize}, vocab {c.Text.VocabSize}, rms eps {c.Text.RmsNormEps:g}");
            Console.WriteLine($"  action tokens: {c.ActionTokenBegin}..{c.BaseVocabSize - 1} ({c.NActionBins} bins), PAD {c.Text.PadTokenId}");
            var names = new Dictionary<string, string> { ["dino"] = "vision_backbone.featurizer (DINOv2)", ["siglip"] = "vision_backbone.fused_featurizer (SigLIP)", ["projector"] = "projector", ["llm"] = "language_model (Llama-2)" };
            foreach (var (comp, n) in ParameterShapes.Summary(c))
                Console.WriteLine($"  {names[comp],-44} {n,16:N0}");
            long total = ParameterShapes.Total(c);
            if (r.GetValue(policy) == Vla.Policies.OpenVlaOft.OpenVlaOftPolicy.PolicyName)
            {
                long h = c.Text.HiddenSize, head = Vla.Policies.OpenVlaOft.L1RegressionActionHead.ParameterCount(h, r.GetValue(actionDim));
                Console.WriteLine($"  {$"action_head (L1 MLP-ResNet, D = {r.GetValue(actionDim)})",-44} {head,16:N0}");
                total += head;
                if (r.GetValue(proprio))
                {
                    long proj = Vla.Policies.OpenVlaOft.ProprioProjector.ParameterCount(h, 8);
                    Console.WriteLine($"  {"proprio_projector (8-D state)",-44} {proj,16:N0}");
                    total += proj;
                }
            }
            Console.WriteLine($"  {"total",-44} {total,16:N0}   ({total * 2 / 1e9:0.00} GB bf16, {total * 4 / 1e9:0.00} GB fp32)");
            if (r.GetValue(keys))
                foreach (var p in ParameterShapes.Enumerate(c)) Console.WriteLine($"{p.Key}\t[{string.Join(",", p.Shape)}]");
        }));
        return cmd;
    }

    static Command Init()
    {
        var cmd = new Command("init", "Write a random-init checkpoint folder in the Hugging Face layout (config.json, model.safetensors or shards + index), tensor by tensor: a stand-in for real weights with the exact shapes (openvla-7b: 15 GB in bf16, peak memory one tensor).");
        var config = new Option<string>("--config") { Description = "openvla-7b | tiny | path to config.json", DefaultValueFactory = _ => "openvla-7b" };
        var outDir = new Option<string>("--out") { Description = "Output folder", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "bf16 | fp32", DefaultValueFactory = _ => "bf16" };
        var seed = new Option<long>("--seed") { Description = "Random seed of the init (the same weights as `train --model tiny --seed S` starts from)", DefaultValueFactory = _ => 0 };
        var shard = new Option<long>("--max-shard-bytes") { Description = "Largest shard (Hugging Face's default 5 GB)", DefaultValueFactory = _ => 5_000_000_000 };
        foreach (var o in new Option[] { config, outDir, dtype, seed, shard }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var c = OpenVlaConfig.Resolve(r.GetValue(config)!);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var files = Pretrained.InitCheckpoint(c, r.GetValue(outDir)!, Pretrained.ParseDType(r.GetValue(dtype)!), r.GetValue(seed), r.GetValue(shard));
            long bytes = files.Where(f => f.EndsWith(".safetensors")).Sum(f => new FileInfo(f).Length);
            Console.WriteLine(FormattableString.Invariant($"{c.Name}: {ParameterShapes.Total(c):N0} parameters, {bytes / 1e9:0.00} GB in {files.Count(f => f.EndsWith(".safetensors"))} file(s), {sw.Elapsed.TotalSeconds:0.0} s"));
            foreach (var f in files) Console.WriteLine($"  {f}");
        }));
        return cmd;
    }

    static Command Predict()
    {
        var cmd = new Command("predict", "Predict one action from image(s) and an instruction (greedy, KV cache, exactly action_dim tokens).");
        var modelOpt = new Option<string>("--model") { Description = "Model folder (config.json, safetensors, tokenizer.model) or 'tiny' (random weights)", Required = true };
        var images = new Option<string[]>("--image") { Description = "PNG image; repeat for several views (tokens: [BOS][view1]…[viewK][prompt])", Required = true, AllowMultipleArgumentsPerToken = false };
        var instruction = new Option<string>("--instruction") { Description = "Task instruction", Required = true };
        var stats = new Option<string?>("--stats") { Description = "dataset_statistics.json (q01/q99/mask); default: the config's norm_stats" };
        var key = new Option<string?>("--unnorm-key") { Description = "Dataset key in the statistics (needed when there are several)" };
        var dim = new Option<int?>("--action-dim") { Description = "Action tokens to decode (default: from the statistics, else 7)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.model (default: the model folder's)" };
        var standIn = PromptOptions.StandIn(PromptStandIn.Bytes);
        var device = new Option<string>("--device") { Description = "cpu | cuda | cuda:N", DefaultValueFactory = _ => "cpu" };
        var dtype = new Option<string>("--dtype") { Description = "fp32 | bf16", DefaultValueFactory = _ => "fp32" };
        foreach (var o in new Option[] { modelOpt, images, instruction, stats, key, dim, tokenizer, standIn, device, dtype }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            using var p = OpenVlaInference.Load(r.GetValue(modelOpt)!, Pretrained.ParseDevice(r.GetValue(device)!), Pretrained.ParseDType(r.GetValue(dtype)!), r.GetValue(tokenizer), PromptOptions.Parse(r, standIn));
            var statsPath = r.GetValue(stats);
            var all = statsPath is not null ? NormStatsJson.Load(statsPath) : p.Model.Config.NormStats;
            ActionStatistics? s = all.Count == 0 && r.GetValue(key) is null ? null : NormStatsJson.Select(all, r.GetValue(key));
            if (p.Prompts.Tokenizer is null) Console.Error.WriteLine("warning: no tokenizer.model; using a byte-level stand-in (smoke runs only)");
            if (s is null) Console.Error.WriteLine("warning: no dataset statistics; printing normalised actions");
            var views = r.GetValue(images)!.Select(Png.ReadRgb).ToList();
            p.Statistics = s;
            p.ActionDim = r.GetValue(dim);
            var res = p.Predict(views, r.GetValue(instruction)!);
            Console.WriteLine($"tokens: [{string.Join(", ", res.TokenIds)}]{(res.AllActionTokens ? "" : "  (some are not action tokens; decoded as clipped extremes, as upstream)")}");
            Console.WriteLine($"normalized: [{string.Join(", ", res.Normalized.Select(v => v.ToString("0.#####", System.Globalization.CultureInfo.InvariantCulture)))}]");
            Console.WriteLine($"action: [{string.Join(", ", res.Action.Select(v => v.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture)))}]");
        }));
        return cmd;
    }

    /// <summary>`bench model`: tiny forward/decode latency and openvla-7b bf16 figures vs the machine's limits.</summary>
    public static Command BuildBenchCommand()
    {
        var cmd = new Command("model", "OpenVLA inference latency: tiny (fp32) and openvla-7b shapes with random bf16 weights (prefill 1/3 views, decode per token, peak RSS, ratio to compute/memory limits).");
        var skip7b = new Option<bool>("--skip-7b") { Description = "Only the tiny model (the 7B part needs ~16 GB RAM and a few minutes)" };
        var repeats = new Option<int>("--repeats") { Description = "Repeats for the tiny timings (the 7B uses a third, at least 1)", DefaultValueFactory = _ => 5 };
        var tokens = new Option<int>("--decode-tokens") { Description = "Decode steps timed per run", DefaultValueFactory = _ => 7 };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Text tokens in the prompt (incl. BOS)", DefaultValueFactory = _ => 24 };
        var noCalls = new Option<bool>("--skip-policy-calls") { Description = "Skip the per-call latency of both policies (openvla: prefill + 7 decodes for one 8-D action; openvla-oft: one pass for a chunk of 8), which adds about two prefills per view count" };
        var kernels = new Option<bool>("--kernels") { Description = "Only the decode step's kernel: a Llama MLP weight times one token, bf16 vs fp32 weights, libtorch's call forms and our GEMV (CpuLinear), in weight GB/s next to the memory bandwidth (a few seconds)" };
        var compute = new Option<string>("--bf16-compute") { Description = "How bf16 layers with several rows compute: auto (whichever of bf16 and fp32 is faster on a layer-sized product, timed once), native (libtorch's bf16 GEMM) or fp32 (the weights stay bf16 and are widened per call)", DefaultValueFactory = _ => "auto" };
        compute.AcceptOnlyFromAmong("auto", "native", "fp32");
        foreach (var o in new Option[] { skip7b, repeats, tokens, prompt, noCalls, kernels, compute }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            CpuLinear.Bf16Compute = Enum.Parse<Bf16Compute>(r.GetValue(compute)!, ignoreCase: true);
            if (r.GetValue(kernels))
            {
                Console.WriteLine($"cpu: {RoboFactory.Vla.Native.CpuFeatures.Describe()}; threads: {TorchSharp.torch.get_num_threads()}");
                Console.WriteLine(FormattableString.Invariant($"memory read bandwidth: {ModelBench.MeasureMemoryBandwidth():0.0} GB/s"));
                foreach (var (k, gbs) in ModelBench.MeasureDecodeKernels())
                    Console.WriteLine(FormattableString.Invariant($"{k,-28} {gbs,6:0.0} GB/s of weights"));
                return;
            }
            var res = ModelBench.Run(!r.GetValue(skip7b), r.GetValue(repeats), r.GetValue(tokens), r.GetValue(prompt), Console.Out, policyCalls: !r.GetValue(noCalls));
            Console.WriteLine();
            ModelBench.Print(res, Console.Out);
        }));
        return cmd;
    }
}
