using RoboFactory.Vla.Policies.OpenVla;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Config;

/// <summary>
/// Reads and writes the Hugging Face config.json of OpenVLA (model_type "openvla"). Vision sizes come from the
/// known timm ids; other ids (our tiny preset) must carry an explicit "vision_backbones" list, our extension.
/// Unknown keys are an error, except the generic fields any HF PretrainedConfig may serialise.
/// </summary>
public static class ConfigJson
{
    static readonly HashSet<string> GenericHfKeys =
    [
        "_name_or_path", "_commit_hash", "_attn_implementation", "transformers_version", "return_dict", "output_hidden_states",
        "output_attentions", "torchscript", "torch_dtype", "use_bfloat16", "tf_legacy_loss", "pruned_heads", "chunk_size_feed_forward",
        "is_encoder_decoder", "is_decoder", "cross_attention_hidden_size", "add_cross_attention", "tie_encoder_decoder", "max_length",
        "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p",
        "typical_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
        "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id",
        "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "architectures",
        "finetuning_task", "id2label", "label2id", "tokenizer_class", "prefix", "sep_token_id", "decoder_start_token_id",
        "task_specific_params", "problem_type", "use_cache", "initializer_range", "auto_map",
    ];

    static readonly HashSet<string> OpenVlaKeys =
    [
        "model_type", "arch_specifier", "hf_llm_id", "llm_backbone_id", "llm_max_length", "image_resize_strategy", "image_sizes",
        "n_action_bins", "norm_stats", "output_projector_states", "pad_to_multiple_of", "pad_token_id", "text_config",
        "timm_model_ids", "timm_override_act_layers", "use_fused_vision_backbone", "vision_backbone_id", "vision_backbones",
        "bos_token_id", "eos_token_id", "tie_word_embeddings", "robofactory_preset",
    ];

    static readonly HashSet<string> LlamaKeys =
    [
        "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
        "hidden_act", "max_position_embeddings", "rms_norm_eps", "rope_theta", "rope_scaling", "attention_bias", "attention_dropout",
        "mlp_bias", "pretraining_tp", "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id", "head_dim",
    ];

    static readonly HashSet<string> VitKeys =
    [
        "timm_model_id", "image_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_hidden", "class_token", "reg_tokens",
        "layer_scale", "attn_pool", "mean", "std", "layer_norm_eps",
    ];

    public static OpenVlaConfig Read(string path)
    {
        JsonNode? root;
        try { root = JsonInput.ParseNode(File.ReadAllText(path)); }
        catch (JsonException e) { throw new VlaConfigException($"{path}: not valid JSON ({e.Message})"); }
        if (root is not JsonObject o) throw new VlaConfigException($"{path}: the top level must be a JSON object");
        try { return Parse(o); }
        catch (VlaConfigException e) { throw new VlaConfigException($"{path}: {e.Message}"); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        { throw new VlaConfigException($"{path}: a field has the wrong type ({e.Message})"); }
    }

    public static OpenVlaConfig Parse(JsonObject o)
    {
        CheckKeys(o, OpenVlaKeys, "config");
        string modelType = Str(o, "model_type") ?? "openvla";
        if (modelType is not ("openvla" or "prismatic"))
            throw new VlaConfigException($"model_type '{modelType}' is not openvla");
        if (o["use_fused_vision_backbone"] is JsonNode f && !f.GetValue<bool>())
            throw new VlaConfigException("use_fused_vision_backbone=false (single-backbone Prismatic) is not supported; OpenVLA uses DINOv2+SigLIP");
        string arch = Str(o, "arch_specifier") ?? "no-align+fused-gelu-mlp";
        if (!arch.EndsWith("fused-gelu-mlp", StringComparison.Ordinal))
            throw new VlaConfigException($"arch_specifier '{arch}' is not supported (only the fused GELU MLP projector)");
        if (o["tie_word_embeddings"] is JsonNode tie && tie.GetValue<bool>())
            throw new VlaConfigException("tie_word_embeddings=true: OpenVLA's lm_head is untied");

        // Vision backbones: explicit list (our extension) or the known timm ids.
        VitConfig[] vits;
        if (o["vision_backbones"] is JsonArray vb)
        {
            vits = vb.Select((n, i) => ParseVit(n as JsonObject ?? throw new VlaConfigException($"vision_backbones[{i}] must be an object"), i)).ToArray();
        }
        else
        {
            var ids = o["timm_model_ids"] as JsonArray ?? throw new VlaConfigException("missing timm_model_ids (and no vision_backbones)");
            vits = ids.Select(n => KnownVit(n!.GetValue<string>())).ToArray();
        }
        if (vits.Length != 2) throw new VlaConfigException($"expected 2 vision backbones (DINOv2, SigLIP), got {vits.Length}");
        if (o["timm_model_ids"] is JsonArray tids && tids.Count == 2)
            for (int i = 0; i < 2; i++)
                if (tids[i]!.GetValue<string>() != vits[i].TimmId)
                    throw new VlaConfigException($"timm_model_ids[{i}] '{tids[i]}' disagrees with vision_backbones[{i}].timm_model_id '{vits[i].TimmId}'");
        if (o["timm_override_act_layers"] is JsonArray acts && acts.Any(a => a is not null))
            throw new VlaConfigException("timm_override_act_layers must be [null, null]: OpenVLA uses exact GELU");

        var text = ParseText(o["text_config"] as JsonObject ?? new JsonObject());
        int padMultiple = Int(o, "pad_to_multiple_of") ?? 64;
        int? topPad = Int(o, "pad_token_id");
        if (topPad is int tp && tp != text.PadTokenId)
            throw new VlaConfigException($"pad_token_id {tp} disagrees with text_config.pad_token_id {text.PadTokenId}");

        if (o["image_sizes"] is JsonArray sizes)
            for (int i = 0; i < sizes.Count && i < 2; i++)
                if (sizes[i]!.GetValue<int>() != vits[i].ImageSize)
                    throw new VlaConfigException($"image_sizes[{i}]={sizes[i]} disagrees with the vision backbone's image size {vits[i].ImageSize}");
        string resize = Str(o, "image_resize_strategy") ?? "resize-naive";
        if (resize != "resize-naive")
            throw new VlaConfigException($"image_resize_strategy '{resize}' is not supported (OpenVLA uses resize-naive)");

        var cfg = new OpenVlaConfig
        {
            Name = Str(o, "robofactory_preset") ?? Str(o, "_name_or_path") ?? "custom",
            Dino = vits[0],
            Siglip = vits[1],
            Text = text,
            NActionBins = Int(o, "n_action_bins") ?? 256,
            PadToMultipleOf = padMultiple,
            NormStats = o["norm_stats"] is JsonObject ns ? NormStatsJson.Parse(ns, "norm_stats") : new Dictionary<string, ActionStatistics>(),
        };
        cfg.Validate();
        return cfg;
    }

    static VitConfig KnownVit(string id) => id switch
    {
        "vit_large_patch14_reg4_dinov2.lvd142m" or "vit_large_patch14_reg4_dinov2" => VitConfig.Dinov2Large224,
        "vit_so400m_patch14_siglip_224" => VitConfig.SiglipSo400m224,
        _ => throw new VlaConfigException($"unknown timm model id '{id}'; give its sizes in \"vision_backbones\""),
    };

    static VitConfig ParseVit(JsonObject v, int i)
    {
        CheckKeys(v, VitKeys, $"vision_backbones[{i}]");
        int Req(string k) => Int(v, k) ?? throw new VlaConfigException($"vision_backbones[{i}].{k} is missing");
        float[] Vec(string k) => (v[k] as JsonArray ?? throw new VlaConfigException($"vision_backbones[{i}].{k} is missing"))
            .Select(x => x!.GetValue<float>()).ToArray();
        return new VitConfig
        {
            TimmId = Str(v, "timm_model_id") ?? throw new VlaConfigException($"vision_backbones[{i}].timm_model_id is missing"),
            ImageSize = Req("image_size"), PatchSize = Req("patch_size"), EmbedDim = Req("embed_dim"), Depth = Req("depth"),
            NumHeads = Req("num_heads"), MlpHidden = Req("mlp_hidden"),
            ClassToken = v["class_token"]?.GetValue<bool>() ?? throw new VlaConfigException($"vision_backbones[{i}].class_token is missing"),
            RegisterTokens = Int(v, "reg_tokens") ?? 0,
            LayerScale = v["layer_scale"]?.GetValue<bool>() ?? false,
            AttnPool = v["attn_pool"]?.GetValue<bool>() ?? false,
            Mean = Vec("mean"), Std = Vec("std"),
            LayerNormEps = v["layer_norm_eps"]?.GetValue<double>() ?? 1e-6,
        };
    }

    static LlamaTextConfig ParseText(JsonObject t)
    {
        CheckKeys(t, LlamaKeys, "text_config");
        string mt = Str(t, "model_type") ?? "llama";
        if (mt != "llama") throw new VlaConfigException($"text_config.model_type '{mt}' is not llama");
        string act = Str(t, "hidden_act") ?? "silu";
        if (act != "silu") throw new VlaConfigException($"text_config.hidden_act '{act}' is not silu");
        if (t["rope_scaling"] is JsonNode rs && rs.GetValueKind() != JsonValueKind.Null)
            throw new VlaConfigException("text_config.rope_scaling is not supported");
        if (t["attention_bias"]?.GetValue<bool>() == true || t["mlp_bias"]?.GetValue<bool>() == true)
            throw new VlaConfigException("text_config: attention_bias/mlp_bias are not supported (Llama-2 has no biases)");
        if ((Int(t, "pretraining_tp") ?? 1) != 1) throw new VlaConfigException("text_config.pretraining_tp != 1 is not supported");
        if (t["tie_word_embeddings"]?.GetValue<bool>() == true) throw new VlaConfigException("text_config.tie_word_embeddings=true: OpenVLA's lm_head is untied");
        var d = new LlamaTextConfig();
        int heads = Int(t, "num_attention_heads") ?? d.NumAttentionHeads;
        int hidden = Int(t, "hidden_size") ?? d.HiddenSize;
        if (Int(t, "head_dim") is int hd && heads > 0 && hd * heads != hidden)
            throw new VlaConfigException($"text_config.head_dim {hd} × heads {heads} != hidden_size {hidden}");
        return new LlamaTextConfig
        {
            VocabSize = Int(t, "vocab_size") ?? d.VocabSize,
            HiddenSize = hidden,
            IntermediateSize = Int(t, "intermediate_size") ?? d.IntermediateSize,
            NumHiddenLayers = Int(t, "num_hidden_layers") ?? d.NumHiddenLayers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = Int(t, "num_key_value_heads") ?? heads,
            RmsNormEps = t["rms_norm_eps"]?.GetValue<double>() ?? d.RmsNormEps,
            RopeTheta = t["rope_theta"]?.GetValue<double>() ?? d.RopeTheta,
            MaxPositionEmbeddings = Int(t, "max_position_embeddings") ?? d.MaxPositionEmbeddings,
            BosTokenId = Int(t, "bos_token_id") ?? d.BosTokenId,
            EosTokenId = Int(t, "eos_token_id") ?? d.EosTokenId,
            PadTokenId = Int(t, "pad_token_id") ?? d.PadTokenId,
        };
    }

    static void CheckKeys(JsonObject o, HashSet<string> known, string where)
    {
        var unknown = o.Select(kv => kv.Key).Where(k => !known.Contains(k) && !GenericHfKeys.Contains(k)).ToList();
        if (unknown.Count > 0) throw new VlaConfigException($"{where}: unknown field(s) {string.Join(", ", unknown)}");
    }

    static string? Str(JsonObject o, string k) => o[k] is JsonNode n && n.GetValueKind() != JsonValueKind.Null ? n.GetValue<string>() : null;
    static int? Int(JsonObject o, string k) => o[k] is JsonNode n && n.GetValueKind() != JsonValueKind.Null ? n.GetValue<int>() : null;

    /// <summary>Serialises in the HF layout (plus "vision_backbones") so <see cref="Read"/> gives the same config back.</summary>
    public static JsonObject ToJson(OpenVlaConfig c)
    {
        JsonObject Vit(VitConfig v) => new()
        {
            ["timm_model_id"] = v.TimmId, ["image_size"] = v.ImageSize, ["patch_size"] = v.PatchSize, ["embed_dim"] = v.EmbedDim,
            ["depth"] = v.Depth, ["num_heads"] = v.NumHeads, ["mlp_hidden"] = v.MlpHidden, ["class_token"] = v.ClassToken,
            ["reg_tokens"] = v.RegisterTokens, ["layer_scale"] = v.LayerScale, ["attn_pool"] = v.AttnPool,
            ["mean"] = new JsonArray(v.Mean.Select(x => (JsonNode)JsonValue.Create(x)).ToArray()),
            ["std"] = new JsonArray(v.Std.Select(x => (JsonNode)JsonValue.Create(x)).ToArray()),
            ["layer_norm_eps"] = v.LayerNormEps,
        };
        var t = c.Text;
        return new JsonObject
        {
            ["architectures"] = new JsonArray("OpenVLAForActionPrediction"),
            ["model_type"] = "openvla",
            ["robofactory_preset"] = c.Name,
            ["arch_specifier"] = "no-align+fused-gelu-mlp",
            ["use_fused_vision_backbone"] = true,
            ["image_resize_strategy"] = "resize-naive",
            ["image_sizes"] = new JsonArray(c.Dino.ImageSize, c.Siglip.ImageSize),
            ["timm_model_ids"] = new JsonArray(c.Dino.TimmId, c.Siglip.TimmId),
            ["timm_override_act_layers"] = new JsonArray(null, null),
            ["vision_backbones"] = new JsonArray(Vit(c.Dino), Vit(c.Siglip)),
            ["n_action_bins"] = c.NActionBins,
            ["pad_to_multiple_of"] = c.PadToMultipleOf,
            ["pad_token_id"] = t.PadTokenId,
            ["text_config"] = new JsonObject
            {
                ["model_type"] = "llama", ["vocab_size"] = t.VocabSize, ["hidden_size"] = t.HiddenSize,
                ["intermediate_size"] = t.IntermediateSize, ["num_hidden_layers"] = t.NumHiddenLayers,
                ["num_attention_heads"] = t.NumAttentionHeads, ["num_key_value_heads"] = t.NumKeyValueHeads,
                ["rms_norm_eps"] = t.RmsNormEps, ["rope_theta"] = t.RopeTheta, ["max_position_embeddings"] = t.MaxPositionEmbeddings,
                ["bos_token_id"] = t.BosTokenId, ["eos_token_id"] = t.EosTokenId, ["pad_token_id"] = t.PadTokenId,
                ["hidden_act"] = "silu", ["tie_word_embeddings"] = false,
            },
            ["norm_stats"] = NormStatsJson.ToJson(c.NormStats),
        };
    }

    public static void Write(OpenVlaConfig c, string path) =>
        File.WriteAllText(path, ToJson(c).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}
