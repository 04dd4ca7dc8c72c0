using RoboFactory.Vla.Policies.OpenVla;
using System.Text.Json;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Lora;

/// <summary>An adapter read from disk: its config and, when it trained the projector, the projector tensors (CPU, fp32).</summary>
public sealed class LoadedAdapter(string name, LoraConfig config, IReadOnlyDictionary<string, Tensor> modulesToSave) : IDisposable
{
    public string Name { get; } = name;
    public LoraConfig Config { get; } = config;
    /// <summary>Model keys (e.g. projector.fc1.weight) → tensors, for PEFT modules_to_save.</summary>
    public IReadOnlyDictionary<string, Tensor> ModulesToSave { get; } = modulesToSave;
    public void Dispose() { foreach (var t in ModulesToSave.Values) t.Dispose(); }
}

/// <summary>
/// Attaching, freezing, saving, loading, switching and merging LoRA adapters on an <see cref="OpenVlaForActionPrediction"/>,
/// in PEFT's layout: adapter_config.json + adapter_model.safetensors with keys
/// base_model.model.&lt;module path&gt;.lora_A.weight / lora_B.weight (and base_model.model.projector.* for modules_to_save).
/// </summary>
public static class LoraModel
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    public const string DefaultAdapter = "default";
    const string PeftPrefix = "base_model.model.";

    /// <summary>All LoRA-wrapped layers by module path.</summary>
    public static IEnumerable<(string Path, LoraLinear Layer)> Layers(OpenVlaForActionPrediction model)
    {
        foreach (var (path, owner, owner1, slot) in model.LinearSlots())
        {
            var child = owner is not null ? owner.GetChild(slot) : owner1!.GetChild(slot);
            if (child is LoraLinear l) yield return (path, l);
        }
    }

    /// <summary>
    /// Wraps every targeted nn.Linear (in module order) and adds adapter <paramref name="adapter"/>: A from a generator
    /// seeded with <paramref name="seed"/>, B = 0, so the model's outputs are unchanged. Returns the wrapped paths.
    /// Layers that are not nn.Linear (the ViT patch-embedding Conv2d) are skipped.
    /// </summary>
    public static IReadOnlyList<string> Attach(OpenVlaForActionPrediction model, LoraConfig config, string adapter = DefaultAdapter, long seed = 0)
    {
        config.Validate();
        var gen = new Generator((ulong)seed, CPU);
        var paths = new List<string>();
        foreach (var (path, owner, owner1, slot) in model.LinearSlots().ToList())
        {
            if (!config.Matches(path)) continue;
            var child = owner is not null ? owner.GetChild(slot) : owner1!.GetChild(slot);
            LoraLinear layer;
            if (child is LoraLinear existing) layer = existing;
            else if (child is TorchSharp.Modules.Linear)
            {
                layer = new LoraLinear(child);
                if (owner is not null) owner.ReplaceChild(slot, layer); else owner1!.ReplaceChild(slot, layer);
            }
            else continue;
            if (layer.HasAdapter(adapter)) throw new ArgumentException($"{path} already has an adapter named '{adapter}'");
            // Initialise on the CPU generator, then move (keeps the init identical across devices).
            layer.AddAdapter(adapter, config, model.Device.type == DeviceType.CPU ? gen : null);
            if (model.Device.type != DeviceType.CPU)
                using (torch.no_grad())
                {
                    var a = torch.empty(layer.A(adapter).shape, ScalarType.Float32);
                    if (config.InitLoraWeights == "gaussian") a.normal_(0, 1.0 / config.R, generator: gen);
                    else a.uniform_(-1.0 / Math.Sqrt(layer.InFeatures), 1.0 / Math.Sqrt(layer.InFeatures), generator: gen);
                    layer.A(adapter).copy_(a);
                }
            paths.Add(path);
        }
        if (paths.Count == 0)
            throw new VlaConfigException($"no linear layer matches the LoRA target modules [{string.Join(", ", config.TargetModules)}]");
        return paths;
    }

    /// <summary>Makes <paramref name="adapter"/> the active one in every wrapped layer (null: base model only).</summary>
    public static void SetActive(OpenVlaForActionPrediction model, string? adapter)
    {
        foreach (var (_, l) in Layers(model)) l.ActiveAdapter = adapter is not null && l.HasAdapter(adapter) ? adapter : null;
    }

    /// <summary>Freezes everything, then unfreezes the adapter's A/B (and the projector when <paramref name="trainProjector"/>).</summary>
    public static List<(string Name, Parameter Param)> PrepareForTraining(OpenVlaForActionPrediction model, string adapter, bool trainProjector)
    {
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = false;
        var trainable = new List<(string, Parameter)>();
        foreach (var (name, p) in model.named_parameters())
        {
            bool lora = name.Contains($".lora_A.{adapter}.", StringComparison.Ordinal) || name.Contains($".lora_B.{adapter}.", StringComparison.Ordinal);
            bool proj = trainProjector && name.StartsWith("projector.", StringComparison.Ordinal);
            if (!lora && !proj) continue;
            p.requires_grad = true;
            trainable.Add((name, p));
        }
        return trainable;
    }

    /// <summary>In-memory parameter name → PEFT file key (adapter name dropped, base_model.model. prefix).</summary>
    public static string PeftKey(string parameterName, string adapter) =>
        PeftPrefix + parameterName.Replace($".lora_A.{adapter}.", ".lora_A.", StringComparison.Ordinal)
                                  .Replace($".lora_B.{adapter}.", ".lora_B.", StringComparison.Ordinal);

    /// <summary>The adapter's tensors by PEFT key (views of the live parameters).</summary>
    public static List<(string Key, Tensor Tensor)> AdapterState(OpenVlaForActionPrediction model, LoraConfig config, string adapter = DefaultAdapter)
    {
        var list = new List<(string, Tensor)>();
        foreach (var (name, p) in model.named_parameters())
        {
            bool lora = name.Contains($".lora_A.{adapter}.", StringComparison.Ordinal) || name.Contains($".lora_B.{adapter}.", StringComparison.Ordinal);
            bool save = config.ModulesToSave.Any(m => name.StartsWith(m + ".", StringComparison.Ordinal));
            if (lora || save) list.Add((PeftKey(name, adapter), p));
        }
        return list;
    }

    /// <summary>Writes adapter_config.json and adapter_model.safetensors (fp32) into <paramref name="directory"/>.</summary>
    public static void Save(OpenVlaForActionPrediction model, LoraConfig config, string directory, string adapter = DefaultAdapter)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, ConfigFile), config.ToPeftJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), AdapterState(model, config, adapter),
            new Dictionary<string, string> { ["format"] = "pt" }, castTo: ScalarType.Float32);
    }

    /// <summary>
    /// Attaches the adapter saved in <paramref name="directory"/> under <paramref name="adapter"/> and loads its tensors.
    /// Every LoRA tensor of the file must match a wrapped layer (and vice versa). modules_to_save tensors are returned,
    /// and copied into the model when <paramref name="applyModulesToSave"/>.
    /// </summary>
    public static LoadedAdapter Load(OpenVlaForActionPrediction model, string directory, string adapter = DefaultAdapter, bool applyModulesToSave = true)
    {
        var cfgPath = Path.Combine(directory, ConfigFile);
        var wPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(cfgPath)) throw new FileNotFoundException($"{directory} has no {ConfigFile}", cfgPath);
        if (!File.Exists(wPath)) throw new FileNotFoundException($"{directory} has no {WeightsFile}", wPath);
        var config = LoraConfig.Read(cfgPath);
        Attach(model, config, adapter);
        var expected = new Dictionary<string, Parameter>();
        foreach (var (name, p) in model.named_parameters())
            if (name.Contains($".lora_A.{adapter}.", StringComparison.Ordinal) || name.Contains($".lora_B.{adapter}.", StringComparison.Ordinal))
                expected[PeftKey(name, adapter)] = p;
        var modelState = CheckpointIO.StateOf(model);
        var saved = new Dictionary<string, Tensor>();
        var problems = new List<string>();
        using var f = SafetensorsFile.Open(wPath);
        var seen = new HashSet<string>();
        foreach (var (key, e) in f.Entries)
        {
            if (!key.StartsWith(PeftPrefix, StringComparison.Ordinal)) { problems.Add($"unexpected key {key} (no {PeftPrefix} prefix)"); continue; }
            if (expected.TryGetValue(key, out var p))
            {
                if (!e.Shape.SequenceEqual(p.shape)) { problems.Add($"wrong shape for {key}: file [{string.Join(",", e.Shape)}], model [{string.Join(",", p.shape)}]"); continue; }
                using (torch.no_grad()) f.ReadInto(key, p);
                seen.Add(key);
                continue;
            }
            string modelKey = key[PeftPrefix.Length..];
            if (config.ModulesToSave.Any(m => modelKey.StartsWith(m + ".", StringComparison.Ordinal)) && modelState.TryGetValue(modelKey, out var target))
            {
                if (!e.Shape.SequenceEqual(target.shape)) { problems.Add($"wrong shape for {key}"); continue; }
                using (NewDisposeScope()) // keeps the raw read referenced during the cast (see Model.TensorMath)
                    saved[modelKey] = f.ReadTensor(key).to(ScalarType.Float32).DetachFromDisposeScope();
                continue;
            }
            problems.Add($"unexpected key {key}");
        }
        problems.AddRange(expected.Keys.Where(k => !seen.Contains(k)).Order().Select(k => $"missing key {k}"));
        if (problems.Count > 0)
        {
            foreach (var (_, l) in Layers(model)) if (l.HasAdapter(adapter)) l.RemoveAdapter(adapter);
            throw new CheckpointMismatchException(problems);
        }
        var loaded = new LoadedAdapter(adapter, config, saved);
        if (applyModulesToSave) ApplyModulesToSave(model, loaded);
        return loaded;
    }

    /// <summary>Copies an adapter's modules_to_save tensors (e.g. the projector) into the model.</summary>
    public static void ApplyModulesToSave(OpenVlaForActionPrediction model, LoadedAdapter adapter)
    {
        if (adapter.ModulesToSave.Count == 0) return;
        var state = CheckpointIO.StateOf(model);
        using var noGrad = torch.no_grad();
        foreach (var (k, t) in adapter.ModulesToSave) state[k].copy_(t);
    }

    /// <summary>
    /// Merges the active adapter into the base weights (W += scaling·B·A, PEFT merge_and_unload) and removes every
    /// LoRA wrapper, leaving a plain model with the original checkpoint keys. Returns the number of merged layers.
    /// </summary>
    public static int MergeAndUnload(OpenVlaForActionPrediction model)
    {
        int n = 0;
        foreach (var (path, owner, owner1, slot) in model.LinearSlots().ToList())
        {
            var child = owner is not null ? owner.GetChild(slot) : owner1!.GetChild(slot);
            if (child is not LoraLinear l) continue;
            var merged = l.MergeActive();
            if (owner is not null) owner.ReplaceChild(slot, merged); else owner1!.ReplaceChild(slot, merged);
            n++;
        }
        return n;
    }
}
