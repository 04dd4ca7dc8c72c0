using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Lora;

/// <summary>
/// LoRA hyper-parameters in PEFT's terms (adapter_config.json). Defaults follow OpenVLA's finetune.py recipe (r 32,
/// alpha 16, dropout 0, Gaussian A) restricted to the Llama q/k/v/o/gate/up/down projections, the target set
/// RoboFactory's wrapper used (79,953,920 trainable parameters for openvla-7b).
/// </summary>
public sealed record LoraConfig
{
    public static readonly string[] LlamaProjections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    public int R { get; init; } = 32;
    public double Alpha { get; init; } = 16;
    public double Dropout { get; init; }
    /// <summary>Module-name suffixes (PEFT matching: the full path equals the name or ends with "." + name).</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = LlamaProjections;
    /// <summary>"gaussian" (A ~ N(0, 1/r), OpenVLA) or "kaiming" (PEFT default: kaiming_uniform(a=√5)); B = 0 either way.</summary>
    public string InitLoraWeights { get; init; } = "gaussian";
    /// <summary>Whole modules trained and saved with the adapter (PEFT modules_to_save), e.g. ["projector"].</summary>
    public IReadOnlyList<string> ModulesToSave { get; init; } = [];
    public string BaseModelNameOrPath { get; init; } = "";

    /// <summary>PEFT's scaling = lora_alpha / r.</summary>
    public double Scaling => Alpha / R;

    public bool Matches(string modulePath) =>
        TargetModules.Any(t => modulePath == t || modulePath.EndsWith("." + t, StringComparison.Ordinal));

    public void Validate()
    {
        if (R <= 0) throw new VlaConfigException($"LoRA rank must be positive (got {R})");
        if (Alpha <= 0) throw new VlaConfigException($"LoRA alpha must be positive (got {Alpha})");
        if (Dropout is < 0 or >= 1) throw new VlaConfigException($"LoRA dropout must be in [0, 1) (got {Dropout})");
        if (TargetModules.Count == 0) throw new VlaConfigException("LoRA needs at least one target module");
        if (InitLoraWeights is not ("gaussian" or "kaiming"))
            throw new VlaConfigException($"init_lora_weights must be gaussian or kaiming (got {InitLoraWeights})");
        foreach (var m in ModulesToSave)
            if (m != "projector") throw new VlaConfigException($"modules_to_save supports only 'projector' (got '{m}')");
    }

    /// <summary>
    /// Trainable parameters from the config alone (no allocation): r·(in+out) for every 2-D linear weight whose module
    /// matches, plus every parameter of <see cref="ModulesToSave"/>.
    /// </summary>
    public long CountTrainable(OpenVlaConfig c) => ParameterShapes.Enumerate(c).Sum(p =>
    {
        if (ModulesToSave.Any(m => p.Key.StartsWith(m + ".", StringComparison.Ordinal))) return p.Count;
        if (p.Shape.Length != 2 || !p.Key.EndsWith(".weight", StringComparison.Ordinal)) return 0;
        string module = p.Key[..^".weight".Length];
        if (p.Key.StartsWith("language_model.model.embed_tokens", StringComparison.Ordinal)) return 0; // an Embedding, not a Linear
        return Matches(module) ? (long)R * (p.Shape[0] + p.Shape[1]) : 0;
    });

    /// <summary>adapter_config.json as PEFT 0.11 writes it (every field, so PEFT loads it unchanged).</summary>
    public JsonObject ToPeftJson() => new()
    {
        ["alpha_pattern"] = new JsonObject(),
        ["auto_mapping"] = null,
        ["base_model_name_or_path"] = BaseModelNameOrPath,
        ["bias"] = "none",
        ["fan_in_fan_out"] = false,
        ["inference_mode"] = true,
        ["init_lora_weights"] = InitLoraWeights == "kaiming" ? JsonValue.Create(true) : JsonValue.Create("gaussian"),
        ["layer_replication"] = null,
        ["layers_pattern"] = null,
        ["layers_to_transform"] = null,
        ["loftq_config"] = new JsonObject(),
        ["lora_alpha"] = Alpha == Math.Floor(Alpha) ? JsonValue.Create((long)Alpha) : JsonValue.Create(Alpha),
        ["lora_dropout"] = Dropout,
        ["megatron_config"] = null,
        ["megatron_core"] = "megatron.core",
        ["modules_to_save"] = ModulesToSave.Count == 0 ? null : new JsonArray(ModulesToSave.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
        ["peft_type"] = "LORA",
        ["r"] = R,
        ["rank_pattern"] = new JsonObject(),
        ["revision"] = null,
        ["target_modules"] = new JsonArray(TargetModules.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
        ["task_type"] = "CAUSAL_LM",
        ["use_dora"] = false,
        ["use_rslora"] = false,
    };

    public static LoraConfig FromPeftJson(JsonObject o, string where)
    {
        try
        {
            if ((string?)o["peft_type"] is { } t && t != "LORA") throw new VlaConfigException($"{where}: peft_type {t} is not LORA");
            if (o["use_dora"]?.GetValue<bool>() == true) throw new VlaConfigException($"{where}: DoRA adapters are not supported");
            if (o["use_rslora"]?.GetValue<bool>() == true) throw new VlaConfigException($"{where}: rsLoRA scaling is not supported");
            if ((string?)o["bias"] is { } b && b != "none") throw new VlaConfigException($"{where}: bias '{b}' is not supported (only 'none')");
            var targets = o["target_modules"] switch
            {
                JsonArray a => a.Select(x => x!.GetValue<string>()).ToArray(),
                JsonValue v => [v.GetValue<string>()],
                _ => throw new VlaConfigException($"{where}: target_modules is missing"),
            };
            var init = o["init_lora_weights"] is JsonValue iv && iv.GetValueKind() == JsonValueKind.String ? iv.GetValue<string>() : "kaiming";
            var c = new LoraConfig
            {
                R = o["r"]?.GetValue<int>() ?? throw new VlaConfigException($"{where}: r is missing"),
                Alpha = o["lora_alpha"]?.GetValue<double>() ?? 8,
                Dropout = o["lora_dropout"]?.GetValue<double>() ?? 0,
                TargetModules = targets,
                InitLoraWeights = init == "gaussian" ? "gaussian" : "kaiming",
                ModulesToSave = o["modules_to_save"] is JsonArray ms ? ms.Select(x => x!.GetValue<string>()).ToArray() : [],
                BaseModelNameOrPath = (string?)o["base_model_name_or_path"] ?? "",
            };
            c.Validate();
            return c;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new VlaConfigException($"{where}: a field has the wrong type ({e.Message})");
        }
    }

    public static LoraConfig Read(string path)
    {
        JsonNode? root;
        try { root = JsonInput.ParseNode(File.ReadAllText(path)); }
        catch (JsonException e) { throw new VlaConfigException($"{path}: not valid JSON ({e.Message})"); }
        return FromPeftJson(root as JsonObject ?? throw new VlaConfigException($"{path}: not a JSON object"), path);
    }
}
