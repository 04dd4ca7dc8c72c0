using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Model;

/// <summary>Building, initialising, saving and loading whole models (config.json + safetensors, HF layout).</summary>
public static class Pretrained
{
    /// <summary>Parses "cpu", "cuda", "cuda:1".</summary>
    public static Device ParseDevice(string s) => s.ToLowerInvariant() switch
    {
        "cpu" => CPU,
        var c when c.StartsWith("cuda", StringComparison.Ordinal) => cuda.is_available()
            ? new Device(c) : throw new ArgumentException($"device '{s}' requested but CUDA is not available (build with -p:TorchBackend=cuda on a CUDA machine)"),
        _ => throw new ArgumentException($"unknown device '{s}' (cpu, cuda, cuda:N)"),
    };

    public static ScalarType ParseDType(string s) => s.ToLowerInvariant() switch
    {
        "fp32" or "float32" or "f32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "float16" => ScalarType.Float16,
        _ => throw new ArgumentException($"unknown dtype '{s}' (fp32, bf16, fp16)"),
    };

    /// <summary>
    /// Deterministic HF/timm-style init for training from scratch: linear/embedding N(0, 0.02), biases 0, norms 1,
    /// pos_embed trunc-normal 0.02, CLS/register tokens N(0, 1e-6), LayerScale 1e-5.
    /// </summary>
    public static void Initialize(OpenVlaForActionPrediction model, long seed = 0)
    {
        using var noGrad = torch.no_grad();
        var gen = new Generator((ulong)seed, CPU);
        foreach (var (name, p) in model.named_parameters())
        {
            using var scope = NewDisposeScope();
            p.copy_(InitialValue(name, p.shape, gen));
        }
    }

    /// <summary>One parameter's initial value (fp32, CPU) by the rules of <see cref="Initialize"/>, drawing from <paramref name="gen"/>.</summary>
    static Tensor InitialValue(string name, long[] shape, Generator gen)
    {
        var tmp = torch.empty(shape, ScalarType.Float32, CPU);
        string leaf = name[(name.LastIndexOf('.') + 1)..];
        if (name.EndsWith("scale_factor", StringComparison.Ordinal)) { using Scalar v = 1e-5; tmp.fill_(v); }
        else if (name.EndsWith("pos_embed", StringComparison.Ordinal)) nn.init.trunc_normal_(tmp, 0, 0.02, -0.04, 0.04, generator: gen);
        else if (name.EndsWith("cls_token", StringComparison.Ordinal) || name.EndsWith("reg_token", StringComparison.Ordinal) || name.EndsWith("latent", StringComparison.Ordinal))
            tmp.normal_(0, 1e-6, generator: gen);
        else if (leaf == "bias") tmp.zero_();
        else if (shape.Length == 1) { using Scalar v = 1.0; tmp.fill_(v); } // LayerNorm / RMSNorm weights
        else tmp.normal_(0, 0.02, generator: gen); // not nn.init.normal_: TorchSharp 0.107 ignores its generator
        return tmp;
    }

    /// <summary>
    /// `model init`: a random-init checkpoint folder in the Hugging Face layout (config.json, model.safetensors or
    /// shards + model.safetensors.index.json) written tensor by tensor, never the whole model in memory: for
    /// openvla-7b in bf16 the peak is one tensor (the 262 MB embedding) instead of 15 GB. The weights equal
    /// <see cref="Create"/>(config, seed) in the same order and rules, cast to <paramref name="dtype"/>.
    /// </summary>
    public static IReadOnlyList<string> InitCheckpoint(OpenVlaConfig config, string directory, ScalarType dtype = ScalarType.BFloat16, long seed = 0,
        long maxShardBytes = 5_000_000_000)
    {
        Directory.CreateDirectory(directory);
        ConfigJson.Write(config, Path.Combine(directory, "config.json"));
        var gen = new Generator((ulong)seed, CPU);
        var entries = ParameterShapes.Enumerate(config).Select(p => new SafetensorsWriter.Entry(p.Key, p.Shape, dtype)).ToList();
        // produced in order, each drawn from the one generator exactly as Initialize draws them
        return CheckpointIO.SaveStreaming(entries, directory, maxShardBytes, i => InitialValue(entries[i].Name, entries[i].Shape, gen));
    }

    /// <summary>Builds a model for a config; weights are random (see <see cref="Initialize"/>) unless loaded afterwards.</summary>
    public static OpenVlaForActionPrediction Create(OpenVlaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32, long? seed = 0)
    {
        var m = new OpenVlaForActionPrediction(config, new ModelOptions(device ?? CPU, dtype));
        if (seed is long s) Initialize(m, s);
        m.eval();
        return m;
    }

    /// <summary>Loads config.json + weights from a directory written by <see cref="Save"/> or a HF OpenVLA folder.</summary>
    public static OpenVlaForActionPrediction Load(string directory, Device? device = null, ScalarType dtype = ScalarType.Float32, bool strict = true)
    {
        var config = ConfigJson.Read(Path.Combine(directory, "config.json"));
        // every header and size first: a bad or truncated shard is named before the weights are allocated
        CheckpointIO.CheckHeaders(directory, ParameterShapes.Enumerate(config).Select(p => (p.Key, p.Shape)), strict);
        var m = new OpenVlaForActionPrediction(config, new ModelOptions(device ?? CPU, dtype));
        CheckpointIO.Load(m, directory, strict);
        m.eval();
        return m;
    }

    public static IReadOnlyList<string> Save(OpenVlaForActionPrediction model, string directory, ScalarType? dtype = null, long maxShardBytes = 5_000_000_000)
    {
        Directory.CreateDirectory(directory);
        ConfigJson.Write(model.Config, Path.Combine(directory, "config.json"));
        return CheckpointIO.Save(model, directory, maxShardBytes, dtype);
    }
}
