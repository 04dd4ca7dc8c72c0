using RoboFactory.Data.Datasets;
using RoboFactory.Core.Imaging;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Imaging;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

using RoboFactory.Vla.Training;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Policies.OpenVla;

/// <summary>policy.json in every step folder: what inference must reproduce from training.</summary>
public sealed record VlaPolicyInfo
{
    /// <summary>The policy's registry name (<see cref="PolicyRegistry"/>); checkpoints written before it existed are openvla.</summary>
    public string Policy { get; init; } = OpenVlaTokenPolicy.PolicyName;
    /// <summary>"lora" (adapter on a frozen base) or "full" (the step folder holds the whole model).</summary>
    public string Mode { get; init; } = "lora";
    /// <summary>"tiny" (rebuilt from <see cref="BaseSeed"/>) or the absolute path of the HF base model folder.</summary>
    public string BaseModel { get; init; } = "tiny";
    public long BaseSeed { get; init; }
    /// <summary>Number of views, taken from <see cref="DatasetViews.Order"/> in that order.</summary>
    public int Views { get; init; } = DatasetViews.Count;
    /// <summary>Centre crop of √0.9 per side at inference (training used random resized crops).</summary>
    public bool CenterCrop { get; init; } = true;
    /// <summary>Key of the statistics in dataset_statistics.json / config norm_stats.</summary>
    public string UnnormKey { get; init; } = "";
    /// <summary>"sentencepiece" (tokenizer.model), "byte-stand-in" or "word-stand-in" (<see cref="PromptEncoder"/>).</summary>
    public string Prompt { get; init; } = PromptEncoder.ByteKind;
    public int ActionDim { get; init; } = 8;
    /// <summary>Actions predicted per call (an action chunk of consecutive steps, action_dim tokens each).</summary>
    public int ActionChunk { get; init; } = 1;
    /// <summary>Proprio q01/q99 when the prompt carries state tokens (`--proprio`), else null.</summary>
    public double[]? ProprioQ01 { get; init; }
    public double[]? ProprioQ99 { get; init; }
    public long Step { get; init; }
    /// <summary>openvla-oft: "bidirectional" or "causal" attention in its one forward pass (null for openvla).</summary>
    public string? Attention { get; init; }

    /// <summary>The prompt stand-in of a model without tokenizer.model (checked by <see cref="Read"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public PromptStandIn PromptStandIn => PromptEncoder.StandInOf(Prompt) ?? PromptStandIn.Bytes;

    [System.Text.Json.Serialization.JsonIgnore]
    public ProprioStatistics? Proprio => ProprioQ01 is not null && ProprioQ99 is not null ? new ProprioStatistics(ProprioQ01, ProprioQ99) : null;

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json));
    public static VlaPolicyInfo Read(string path)
    {
        VlaPolicyInfo info;
        // a field of the wrong type ("step": "x") is a JsonException naming its path ($.step): the file's fault
        try { info = JsonSerializer.Deserialize<VlaPolicyInfo>(File.ReadAllText(path), Json) ?? throw new InputFormatException($"{path}: empty"); }
        catch (JsonException e) { throw new InputFormatException(path, e.Path, $"not a valid policy.json ({e.Message.Split(" Path:")[0]})", e); }
        if (info.ActionChunk is < 1 or > TrainOptions.MaxActionChunk)
            throw new InputFormatException($"{path}: action_chunk is {info.ActionChunk}; expected 1..{TrainOptions.MaxActionChunk}");
        if ((info.ProprioQ01 is null) != (info.ProprioQ99 is null) || (info.ProprioQ01 is not null && info.ProprioQ01.Length != info.ProprioQ99!.Length))
            throw new InputFormatException($"{path}: proprio_q01 and proprio_q99 must both be present with equal lengths");
        if (PromptEncoder.StandInOf(info.Prompt) is null)
            throw new InputFormatException(path, "$.prompt", $"'{info.Prompt}' is not a prompt encoding; expected {PromptEncoder.SentencePieceKind}, {PromptEncoder.ByteKind} or {PromptEncoder.WordKind}");
        return info;
    }
}

/// <summary>
/// A trained per-agent checkpoint as eval needs it: the base-model reference, the LoRA adapter (or full weights), the
/// action statistics, the model config and the preprocessing facts (views, centre crop, prompt encoding).
/// </summary>
public sealed class VlaPolicyCheckpoint
{
    /// <summary>The step folder.</summary>
    public string Directory { get; }
    public VlaPolicyInfo Info { get; }
    /// <summary>Model config (config.json of the step folder; its norm_stats hold the agent's statistics).</summary>
    public OpenVlaConfig Config { get; }
    /// <summary>The adapter's config, or null for a full fine-tune.</summary>
    public LoraConfig? Lora { get; }
    public ActionStatistics Statistics { get; }
    public bool IsLora => Lora is not null;

    VlaPolicyCheckpoint(string dir, VlaPolicyInfo info, OpenVlaConfig config, LoraConfig? lora, ActionStatistics stats)
    {
        Directory = dir; Info = info; Config = config; Lora = lora; Statistics = stats;
    }

    /// <summary>
    /// Opens a run folder (follows its `latest` pointer, e.g. checkpoints/openvla/LiftBarrier_Agent0) or a step folder.
    /// </summary>
    public static VlaPolicyCheckpoint Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"no checkpoint folder {directory}");
        string dir = File.Exists(Path.Combine(directory, VlaTrainer.PolicyFile)) ? directory
            : VlaTrainer.LatestCheckpoint(directory) ?? throw new FileNotFoundException($"{directory} is neither a step folder ({VlaTrainer.PolicyFile}) nor a run folder with a `latest` pointer");
        var info = VlaPolicyInfo.Read(Path.Combine(dir, VlaTrainer.PolicyFile));
        var config = ConfigJson.Read(Path.Combine(dir, "config.json"));
        LoraConfig? lora = info.Mode == "lora" ? LoraConfig.Read(Path.Combine(dir, LoraModel.ConfigFile)) : null;
        var all = NormStatsJson.Load(Path.Combine(dir, VlaTrainer.StatsFile));
        var stats = NormStatsJson.Select(all, info.UnnormKey.Length > 0 ? info.UnnormKey : null);
        return new VlaPolicyCheckpoint(dir, info, config, lora, stats);
    }

    /// <summary>Identity of the frozen base: checkpoints with equal keys can share one base model.</summary>
    public string BaseKey => IsLora ? (Info.BaseModel == "tiny" ? $"tiny:seed={Info.BaseSeed}:px={Config.Dino.ImageSize}" : Path.GetFullPath(Info.BaseModel)) : "full:" + Path.GetFullPath(Directory);

    /// <summary>
    /// The dtype a checkpoint's model is built in unless told otherwise: fp32 for the tiny preset, bf16 for a
    /// pretrained base (an fp32 openvla-7b would need 30 GB).
    /// </summary>
    public ScalarType AutoDType => Info.BaseModel == "tiny" ? ScalarType.Float32 : ScalarType.BFloat16;

    /// <summary>Builds the base model (LoRA) or the whole fine-tuned model (full), in eval mode (default dtype <see cref="AutoDType"/>).</summary>
    public OpenVlaForActionPrediction CreateModel(Device? device = null, ScalarType? dtypeOrAuto = null)
    {
        var dtype = dtypeOrAuto ?? AutoDType;
        if (!IsLora) return Pretrained.Load(Directory, device, dtype);
        // the tiny base is rebuilt from its seed, at the vision size recorded in this checkpoint's config.json
        if (Info.BaseModel == "tiny") return Pretrained.Create(OpenVlaConfig.TinyAt(Config.Dino.ImageSize), device, dtype, seed: Info.BaseSeed);
        if (!System.IO.Directory.Exists(Info.BaseModel))
            throw new DirectoryNotFoundException($"{Directory}: base model {Info.BaseModel} not found (adapter_config.json base_model_name_or_path)");
        return Pretrained.Load(Info.BaseModel, device, dtype);
    }

    public LlamaTextTokenizer? LoadTokenizer()
    {
        if (Info.Prompt != PromptEncoder.SentencePieceKind) return null;
        foreach (var p in new[] { Path.Combine(Directory, "tokenizer.model"), Path.Combine(Info.BaseModel, "tokenizer.model") })
            if (File.Exists(p)) return LlamaTextTokenizer.Load(p);
        throw new FileNotFoundException($"{Directory}: trained with a SentencePiece tokenizer but no tokenizer.model is in the step or base folder");
    }
}

/// <summary>
/// One frozen base model shared by several agents' LoRA adapters: each agent's adapter is attached under its own
/// name and activated per call (the projector of a --train-projector adapter is swapped in too). Not thread-safe:
/// call the agents one after another (eval steps agents in lock-step).
/// </summary>
public sealed class VlaSharedBase : IDisposable
{
    readonly Dictionary<string, Tensor>? baseProjector;
    readonly Dictionary<string, LoadedAdapter> adapters = new();
    string? projectorOwner;

    public OpenVlaForActionPrediction Model { get; }
    public string BaseKey { get; }
    public string? Active { get; private set; }

    VlaSharedBase(OpenVlaForActionPrediction model, string key)
    {
        Model = model; BaseKey = key;
        baseProjector = model.named_parameters().Where(p => p.name.StartsWith("projector.", StringComparison.Ordinal))
            .ToDictionary(p => p.name, p => p.parameter.detach().clone().DetachFromDisposeScope());
    }

    public static VlaSharedBase Create(VlaPolicyCheckpoint first, Device? device = null, ScalarType? dtype = null)
    {
        var m = first.CreateModel(device, dtype);
        foreach (var (_, p) in m.named_parameters()) p.requires_grad = false;
        m.eval();
        return new VlaSharedBase(m, first.BaseKey);
    }

    /// <summary>Attaches <paramref name="checkpoint"/>'s adapter under <paramref name="name"/>.</summary>
    public VlaAgentPolicy AddAgent(VlaPolicyCheckpoint checkpoint, string name, LlamaTextTokenizer? tokenizer = null)
    {
        Attach(checkpoint, name);
        return new VlaAgentPolicy(checkpoint, Model, name, this, tokenizer ?? checkpoint.LoadTokenizer());
    }

    /// <summary>Loads <paramref name="checkpoint"/>'s adapter under <paramref name="name"/> (any policy built on this base).</summary>
    public void Attach(VlaPolicyCheckpoint checkpoint, string name)
    {
        if (!checkpoint.IsLora) throw new ArgumentException($"{checkpoint.Directory} is a full fine-tune; it cannot share a base");
        if (checkpoint.BaseKey != BaseKey) throw new ArgumentException($"{checkpoint.Directory} was trained on base {checkpoint.BaseKey}, this base is {BaseKey}");
        var loaded = LoraModel.Load(Model, checkpoint.Directory, name, applyModulesToSave: false);
        adapters[name] = loaded;
        Model.eval();
        Activate(null);
    }

    /// <summary>Makes <paramref name="name"/> the active adapter (null: the bare base).</summary>
    public void Activate(string? name)
    {
        if (Active == name && name is not null) return;
        LoraModel.SetActive(Model, name);
        var wanted = name is not null && adapters[name].ModulesToSave.Count > 0 ? name : null;
        if (wanted != projectorOwner)
        {
            if (wanted is not null) LoraModel.ApplyModulesToSave(Model, adapters[wanted]);
            else
            {
                var state = CheckpointIO.StateOf(Model);
                using var noGrad = torch.no_grad();
                foreach (var (k, t) in baseProjector!) state[k].copy_(t);
            }
            projectorOwner = wanted;
        }
        Active = name;
    }

    public void Dispose()
    {
        foreach (var a in adapters.Values) a.Dispose();
        foreach (var t in baseProjector!.Values) t.Dispose();
        Model.Dispose();
    }
}

/// <summary>
/// One agent's OpenVLA policy: views (in <see cref="DatasetViews.Order"/>) + instruction → 8-D action, with exactly the
/// training preprocessing (centre crop when training augmented, bicubic resize, per-backbone normalisation), the
/// training prompt encoding, decoding of action_dim tokens (<see cref="Decoding"/>) and q01/q99 un-normalisation (gripper raw).
/// </summary>
public sealed class VlaAgentPolicy : IPolicyActor, IDisposable
{
    readonly OpenVlaForActionPrediction model;
    readonly VlaSharedBase? shared;
    readonly OpenVlaInference inference;
    bool ownsShared;

    public VlaPolicyCheckpoint Checkpoint { get; }
    /// <summary>The adapter name in the shared base (null for a standalone model).</summary>
    public string? AdapterName { get; }
    public int Views => Checkpoint.Info.Views;
    /// <summary>How action tokens are decoded (default: greedy over the whole vocabulary, as upstream).</summary>
    public ActionDecoding Decoding { get => inference.Decoding; set => inference.Decoding = value; }

    internal VlaAgentPolicy(VlaPolicyCheckpoint ckpt, OpenVlaForActionPrediction model, string? adapter, VlaSharedBase? shared, LlamaTextTokenizer? tokenizer)
    {
        Checkpoint = ckpt; this.model = model; AdapterName = adapter; this.shared = shared;
        inference = new OpenVlaInference(model, tokenizer, ckpt.Info.CenterCrop, ownsModel: false, ckpt.Info.PromptStandIn)
        {
            Statistics = ckpt.Statistics, ActionChunk = ckpt.Info.ActionChunk, Proprio = ckpt.Info.Proprio,
        };
    }

    /// <summary>A policy with its own model (a full fine-tune, or a LoRA checkpoint on a private base).</summary>
    public static VlaAgentPolicy Load(string checkpointDir, Device? device = null, ScalarType? dtype = null)
    {
        var ckpt = VlaPolicyCheckpoint.Load(checkpointDir);
        if (ckpt.IsLora)
        {
            var policy = VlaSharedBase.Create(ckpt, device, dtype).AddAgent(ckpt, "agent");
            policy.ownsShared = true;
            return policy;
        }
        var m = ckpt.CreateModel(device, dtype);
        return new VlaAgentPolicy(ckpt, m, null, null, ckpt.LoadTokenizer());
    }

    /// <summary>
    /// One policy per checkpoint folder (run or step folders, one per agent). LoRA checkpoints with the same base share
    /// one frozen base model (adapters named agent0, agent1, …); full fine-tunes get their own model.
    /// </summary>
    public static IReadOnlyList<VlaAgentPolicy> LoadAgents(IReadOnlyList<string> checkpointDirs, Device? device = null, ScalarType? dtype = null)
    {
        var bases = new Dictionary<string, VlaSharedBase>();
        var result = new List<VlaAgentPolicy>();
        for (int i = 0; i < checkpointDirs.Count; i++)
        {
            var ckpt = VlaPolicyCheckpoint.Load(checkpointDirs[i]);
            if (!ckpt.IsLora) { result.Add(new VlaAgentPolicy(ckpt, ckpt.CreateModel(device, dtype), null, null, ckpt.LoadTokenizer())); continue; }
            if (!bases.TryGetValue(ckpt.BaseKey, out var b)) bases[ckpt.BaseKey] = b = VlaSharedBase.Create(ckpt, device, dtype);
            result.Add(b.AddAgent(ckpt, $"agent{i}"));
        }
        return result;
    }

    /// <summary>Actions per call (<see cref="VlaPolicyInfo.ActionChunk"/>).</summary>
    public int ActionChunk => Checkpoint.Info.ActionChunk;
    /// <summary>Whether the prompt carries the joint state (trained with --proprio): <see cref="Predict"/> then needs it.</summary>
    public bool UsesProprio => Checkpoint.Info.Proprio is not null;

    /// <summary>
    /// Views (model order, any size) + instruction (+ the measured joint state for --proprio checkpoints) → tokens,
    /// normalised and un-normalised actions: one per step of the chunk.
    /// </summary>
    public ActionPrediction Predict(IReadOnlyList<Image8> views, string instruction, float[]? state = null)
    {
        if (views.Count != Views)
            throw new ArgumentException($"this policy takes {Views} view(s) in the order [{string.Join(", ", DatasetViews.Descriptions.Take(Views))}]; got {views.Count}");
        if (UsesProprio && state is null)
            throw new ArgumentException($"{Checkpoint.Directory} was trained with --proprio: pass the {Checkpoint.Info.Proprio!.Dimension}-D joint state");
        shared?.Activate(AdapterName);
        return inference.Predict(views, instruction, state);
    }

    public int ActionDim => Checkpoint.Statistics.Dimension;
    public bool UsesState => UsesProprio;
    public string Source => Checkpoint.Directory;

    /// <summary>The action chunk for one observation (the same path as <see cref="Predict"/>).</summary>
    public IReadOnlyList<double[]> Act(PolicyObservation observation) =>
        Predict(observation.Views.Take(Views).ToList(), observation.Instruction, UsesProprio ? observation.State : null).Chunk;

    /// <summary>The first 8-D action only.</summary>
    public double[] Act(IReadOnlyList<Image8> views, string instruction, float[]? state = null) => Predict(views, instruction, state).Action;

    /// <summary>Disposes a private model (or the base <see cref="Load"/> made for it); a shared base is disposed with <see cref="DisposeAll"/>.</summary>
    public void Dispose()
    {
        if (shared is null) model.Dispose();
        else if (ownsShared) shared.Dispose();
    }

    /// <summary>Disposes every model behind <paramref name="policies"/> (each shared base once).</summary>
    public static void DisposeAll(IEnumerable<VlaAgentPolicy> policies)
    {
        var seen = new HashSet<object>();
        foreach (var p in policies)
        {
            if (p.shared is not null) { if (seen.Add(p.shared)) p.shared.Dispose(); }
            else p.Dispose();
        }
    }
}
