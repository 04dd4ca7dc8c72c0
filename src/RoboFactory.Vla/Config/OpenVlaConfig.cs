using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Config;

/// <summary>Raised for an unknown, missing or inconsistent configuration field.</summary>
public sealed class VlaConfigException(string message) : InputFormatException(message);

/// <summary>One timm VisionTransformer as OpenVLA builds it (pre-norm blocks, qkv bias, exact GELU).</summary>
public sealed record VitConfig
{
    public required string TimmId { get; init; }
    public required int ImageSize { get; init; }
    public required int PatchSize { get; init; }
    public required int EmbedDim { get; init; }
    public required int Depth { get; init; }
    public required int NumHeads { get; init; }
    public required int MlpHidden { get; init; }
    /// <summary>DINOv2 has a CLS token; SigLIP has none.</summary>
    public required bool ClassToken { get; init; }
    public required int RegisterTokens { get; init; }
    /// <summary>DINOv2 LayerScale (keys ls1/ls2.scale_factor).</summary>
    public required bool LayerScale { get; init; }
    /// <summary>SigLIP's MAP head (attn_pool.*): in the checkpoint, never used in the forward.</summary>
    public required bool AttnPool { get; init; }
    public required float[] Mean { get; init; }
    public required float[] Std { get; init; }
    public double LayerNormEps { get; init; } = 1e-6;

    public int GridSize => ImageSize / PatchSize;
    public int NumPatches => GridSize * GridSize;
    public int NumPrefixTokens => (ClassToken ? 1 : 0) + RegisterTokens;
    /// <summary>OpenVLA takes the output of the second-to-last block (get_intermediate_layers(n={depth-2})).</summary>
    public int FeatureLayer => Depth - 2;
    public int HeadDim => EmbedDim / NumHeads;

    internal void Validate(string where)
    {
        if (ImageSize <= 0 || PatchSize <= 0 || ImageSize % PatchSize != 0)
            throw new VlaConfigException($"{where}: image size {ImageSize} must be a positive multiple of patch size {PatchSize}");
        if (EmbedDim <= 0 || NumHeads <= 0 || EmbedDim % NumHeads != 0)
            throw new VlaConfigException($"{where}: embed_dim {EmbedDim} must be divisible by num_heads {NumHeads}");
        if (Depth < 2) throw new VlaConfigException($"{where}: depth {Depth} < 2 (features come from block depth-2)");
        if (MlpHidden <= 0) throw new VlaConfigException($"{where}: mlp_hidden must be positive");
        if (RegisterTokens < 0) throw new VlaConfigException($"{where}: reg_tokens must be >= 0");
        if (Mean.Length != 3 || Std.Length != 3 || Std.Any(s => s <= 0))
            throw new VlaConfigException($"{where}: mean/std must have 3 entries and std > 0");
    }

    public static VitConfig Dinov2Large224 => new()
    {
        TimmId = "vit_large_patch14_reg4_dinov2.lvd142m", ImageSize = 224, PatchSize = 14, EmbedDim = 1024, Depth = 24,
        NumHeads = 16, MlpHidden = 4096, ClassToken = true, RegisterTokens = 4, LayerScale = true, AttnPool = false,
        Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
    };

    public static VitConfig SiglipSo400m224 => new()
    {
        // mlp hidden = int(1152 * 3.7362) = 4304 (timm mlp_ratio)
        TimmId = "vit_so400m_patch14_siglip_224", ImageSize = 224, PatchSize = 14, EmbedDim = 1152, Depth = 27,
        NumHeads = 16, MlpHidden = 4304, ClassToken = false, RegisterTokens = 0, LayerScale = false, AttnPool = true,
        Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f],
    };
}

/// <summary>The Llama-2 text config (HF LlamaConfig fields that matter; defaults are transformers' defaults).</summary>
public sealed record LlamaTextConfig
{
    public int VocabSize { get; init; } = 32064;
    public int HiddenSize { get; init; } = 4096;
    public int IntermediateSize { get; init; } = 11008;
    public int NumHiddenLayers { get; init; } = 32;
    public int NumAttentionHeads { get; init; } = 32;
    public int NumKeyValueHeads { get; init; } = 32;
    /// <summary>1e-6 is what the released HF config runs with (spec §5.1).</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public int BosTokenId { get; init; } = 1;
    public int EosTokenId { get; init; } = 2;
    public int PadTokenId { get; init; } = 32000;
    public int HeadDim => HiddenSize / NumAttentionHeads;
}

/// <summary>Per-dataset statistics (dataset_statistics.json / config norm_stats).</summary>
public sealed record ActionStatistics
{
    public required double[] Q01 { get; init; }
    public required double[] Q99 { get; init; }
    /// <summary>True: normalised with q01/q99; false (the gripper): raw bin centre. Defaults to all true.</summary>
    public bool[]? Mask { get; init; }
    public double[]? Mean { get; init; }
    public double[]? Std { get; init; }
    public double[]? Min { get; init; }
    public double[]? Max { get; init; }
    public int Dimension => Q01.Length;
}

/// <summary>The OpenVLA (Prismatic) configuration: fused DINOv2+SigLIP backbone, GELU MLP projector, Llama-2.</summary>
public sealed record OpenVlaConfig
{
    public required VitConfig Dino { get; init; }
    public required VitConfig Siglip { get; init; }
    public required LlamaTextConfig Text { get; init; }
    public int NActionBins { get; init; } = 256;
    public int PadToMultipleOf { get; init; } = 64;
    public string Name { get; init; } = "custom";
    public IReadOnlyDictionary<string, ActionStatistics> NormStats { get; init; } = new Dictionary<string, ActionStatistics>();

    public int ImageSize => Dino.ImageSize;
    public int FusedVisionDim => Dino.EmbedDim + Siglip.EmbedDim;
    /// <summary>Projector fc1 width: 4 × fused dim (FusedMLPProjector).</summary>
    public int ProjectorHidden => 4 * FusedVisionDim;
    public int PatchesPerView => Dino.NumPatches;
    /// <summary>The base SentencePiece vocabulary (32000 for Llama-2): text vocab minus the padding rows.</summary>
    public int BaseVocabSize => Text.VocabSize - PadToMultipleOf;
    /// <summary>First action token id (31744 for openvla-7b): the last n_action_bins ids of the base vocab.</summary>
    public int ActionTokenBegin => BaseVocabSize - NActionBins;

    public void Validate()
    {
        Dino.Validate("vision backbone 0 (DINOv2)");
        Siglip.Validate("vision backbone 1 (SigLIP)");
        if (Dino.ImageSize != Siglip.ImageSize || Dino.PatchSize != Siglip.PatchSize)
            throw new VlaConfigException($"the two vision backbones disagree: {Dino.ImageSize}/{Dino.PatchSize} vs {Siglip.ImageSize}/{Siglip.PatchSize} (image size/patch size); the fused backbone concatenates per patch");
        var t = Text;
        if (t.HiddenSize <= 0 || t.NumAttentionHeads <= 0 || t.HiddenSize % t.NumAttentionHeads != 0)
            throw new VlaConfigException($"text_config: hidden_size {t.HiddenSize} not divisible by num_attention_heads {t.NumAttentionHeads}");
        if (t.HeadDim % 2 != 0) throw new VlaConfigException($"text_config: head_dim {t.HeadDim} must be even for RoPE");
        if (t.NumKeyValueHeads != t.NumAttentionHeads)
            throw new VlaConfigException($"text_config: num_key_value_heads {t.NumKeyValueHeads} != num_attention_heads {t.NumAttentionHeads}; OpenVLA's Llama-2 is MHA and GQA is not implemented");
        if (t.NumHiddenLayers <= 0 || t.IntermediateSize <= 0) throw new VlaConfigException("text_config: layers and intermediate_size must be positive");
        if (PadToMultipleOf <= 0 || t.VocabSize % PadToMultipleOf != 0)
            throw new VlaConfigException($"vocab_size {t.VocabSize} is not a multiple of pad_to_multiple_of {PadToMultipleOf}");
        if (NActionBins < 2 || ActionTokenBegin <= Math.Max(t.BosTokenId, t.EosTokenId))
            throw new VlaConfigException($"n_action_bins {NActionBins} does not fit in the base vocabulary {BaseVocabSize}");
        if (t.PadTokenId < BaseVocabSize || t.PadTokenId >= t.VocabSize)
            throw new VlaConfigException($"pad_token_id {t.PadTokenId} must lie in the padding rows [{BaseVocabSize}, {t.VocabSize}) so it cannot collide with action tokens");
        foreach (var (k, s) in NormStats)
        {
            if (s.Q01.Length != s.Q99.Length || s.Q01.Length == 0)
                throw new VlaConfigException($"norm_stats[{k}].action: q01 has {s.Q01.Length} entries, q99 has {s.Q99.Length}");
            if (s.Mask is not null && s.Mask.Length != s.Q01.Length)
                throw new VlaConfigException($"norm_stats[{k}].action: mask has {s.Mask.Length} entries, q01 has {s.Q01.Length}");
        }
    }

    /// <summary>The released openvla/openvla-7b sizes.</summary>
    public static OpenVlaConfig OpenVla7B => new()
    {
        Name = "openvla-7b",
        Dino = VitConfig.Dinov2Large224,
        Siglip = VitConfig.SiglipSo400m224,
        Text = new LlamaTextConfig(),
    };

    /// <summary>
    /// Same architecture at a few million parameters, for CPU training and tests: 112 px (8×8 patches per view),
    /// base vocabulary 4096 (+64 padding rows, PAD = 4096, action ids 3840..4095), so a tokenizer trained with
    /// spm_train --vocab_size ≤ 4096 fits.
    /// </summary>
    public static OpenVlaConfig Tiny => new()
    {
        Name = "tiny",
        Dino = new VitConfig
        {
            TimmId = "robofactory_tiny_dino", ImageSize = 112, PatchSize = 14, EmbedDim = 64, Depth = 4, NumHeads = 4,
            MlpHidden = 256, ClassToken = true, RegisterTokens = 4, LayerScale = true, AttnPool = false,
            Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
        },
        Siglip = new VitConfig
        {
            TimmId = "robofactory_tiny_siglip", ImageSize = 112, PatchSize = 14, EmbedDim = 96, Depth = 4, NumHeads = 4,
            MlpHidden = 358, ClassToken = false, RegisterTokens = 0, LayerScale = false, AttnPool = true,
            Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f],
        },
        Text = new LlamaTextConfig
        {
            VocabSize = 4160, HiddenSize = 256, IntermediateSize = 688, NumHiddenLayers = 4, NumAttentionHeads = 4,
            NumKeyValueHeads = 4, PadTokenId = 4096, MaxPositionEmbeddings = 2048,
        },
    };

    /// <summary>The tiny preset with both vision towers at <paramref name="imageSize"/> px (a multiple of the 14 px patch).</summary>
    public static OpenVlaConfig TinyAt(int imageSize)
    {
        var t = Tiny;
        var c = t with { Dino = t.Dino with { ImageSize = imageSize }, Siglip = t.Siglip with { ImageSize = imageSize } };
        c.Validate();
        return c;
    }

    /// <summary>"openvla-7b", "tiny", a config.json path, or a directory holding config.json.</summary>
    public static OpenVlaConfig Resolve(string nameOrPath)
    {
        switch (nameOrPath.ToLowerInvariant())
        {
            case "openvla-7b": case "openvla/openvla-7b": return OpenVla7B;
            case "tiny": return Tiny;
        }
        string path = Directory.Exists(nameOrPath) ? Path.Combine(nameOrPath, "config.json") : nameOrPath;
        if (!File.Exists(path))
            throw new VlaConfigException($"unknown config '{nameOrPath}': not a preset (openvla-7b, tiny) and no file {path}");
        return ConfigJson.Read(path);
    }
}
