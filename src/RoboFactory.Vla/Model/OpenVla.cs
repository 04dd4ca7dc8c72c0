using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Native;
using RoboFactory.Vla.Config;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RoboFactory.Vla.Model;

#pragma warning disable IDE1006 // field names are checkpoint keys

/// <summary>Result of <see cref="OpenVlaForActionPrediction.Forward"/>. Dispose to free the tensors.</summary>
public sealed class VlaOutput : IDisposable
{
    /// <summary>fp32 logits [B, 1 + K·P + (L−1), V] over the multimodal sequence.</summary>
    public required Tensor Logits { get; init; }
    /// <summary>Mean shifted cross-entropy over label positions != −100 (only when labels were given).</summary>
    public Tensor? Loss { get; init; }
    /// <summary>Number of image tokens inserted after BOS (K views × P patches).</summary>
    public required int NumImageTokens { get; init; }
    /// <summary>Sequence position of Logits[:, 0] (0 unless the forward kept only the positions that predict labels).</summary>
    public int LogitsOffset { get; init; }

    public void Dispose() { Logits.Dispose(); Loss?.Dispose(); }
}

/// <summary>
/// OpenVLAForActionPrediction: fused DINOv2+SigLIP backbone → GELU MLP projector → Llama-2, with checkpoint names
/// (vision_backbone.*, projector.*, language_model.*). Multi-view: K views → K·P image tokens after BOS.
/// </summary>
public sealed class OpenVlaForActionPrediction : nn.Module
{
    internal PrismaticVisionBackbone vision_backbone;
    internal PrismaticProjector projector;
    internal LlamaForCausalLM language_model;

    public OpenVlaConfig Config { get; }
    public ModelOptions Options { get; private set; }

    /// <summary>Models above this size (1 B parameters) make the process hand freed blocks back at once.</summary>
    public const long LargeModelParameters = 1_000_000_000;

    public OpenVlaForActionPrediction(OpenVlaConfig config, ModelOptions? options = null) : base("OpenVLAForActionPrediction")
    {
        config.Validate();
        Config = config;
        Options = options ?? ModelOptions.Cpu32;
        // A multi-GB model leaves little room: freed activation blocks must go back to the system at once instead of
        // lingering in glibc's heap (measured on the 7B OFT LoRA step: peak RSS 20.07 → 18.70 GiB). Set here, before
        // any weight is allocated, so every path that builds one (load, init, bench) gets it.
        if (ParameterShapes.Total(config) > LargeModelParameters) ProcessMemory.ReturnLargeBlocksToSystem();
        vision_backbone = new PrismaticVisionBackbone(config, Options);
        projector = new PrismaticProjector(config, Options);
        language_model = new LlamaForCausalLM(config.Text, Options);
        RegisterComponents();
    }

    /// <summary>Activation checkpointing of every ViT block and Llama decoder layer (HF's gradient_checkpointing_enable).</summary>
    public void SetGradientCheckpointing(bool on)
    {
        vision_backbone.Featurizer.GradientCheckpointing = on;
        vision_backbone.FusedFeaturizer.GradientCheckpointing = on;
        language_model.Model.GradientCheckpointing = on;
    }

    public PrismaticVisionBackbone VisionBackbone => vision_backbone;
    public PrismaticProjector Projector => projector;
    public LlamaForCausalLM LanguageModel => language_model;
    public Device Device => Options.Device;
    public ScalarType DType => Options.DType;

    /// <summary>Moves the parameters (and future inputs) to a device.</summary>
    public OpenVlaForActionPrediction MoveTo(Device device)
    {
        this.to(device);
        Options = Options with { Device = device };
        return this;
    }

    /// <summary>Checks the pixel tensor and returns the number of views: [B, 6·K, H, W].</summary>
    public int CountViews(Tensor pixelValues)
    {
        if (pixelValues.dim() != 4 || pixelValues.shape[1] % 6 != 0 || pixelValues.shape[1] == 0
            || pixelValues.shape[2] != Config.ImageSize || pixelValues.shape[3] != Config.ImageSize)
            throw new ArgumentException($"pixel values must be [B, 6·K, {Config.ImageSize}, {Config.ImageSize}]; got [{string.Join(",", pixelValues.shape)}]");
        return (int)(pixelValues.shape[1] / 6);
    }

    /// <summary>[B, 6·K, H, W] → projected patch embeddings [B, K·P, hidden]; all views share backbone and projector.</summary>
    public Tensor EmbedImages(Tensor pixelValues)
    {
        int k = CountViews(pixelValues);
        using var scope = NewDisposeScope();
        long b = pixelValues.shape[0];
        var px = pixelValues.to(DType).to(Device).reshape(b * k, 6, Config.ImageSize, Config.ImageSize);
        var patches = projector.forward(vision_backbone.forward(px));           // [B·K, P, D]
        return patches.reshape(b, k * patches.shape[1], patches.shape[2]).MoveToOuterDisposeScope();
    }

    /// <summary>[emb(BOS), view1 patches, …, viewK patches, emb(tokens after BOS)] — token-level concatenation.</summary>
    public Tensor BuildInputsEmbeds(Tensor imageEmbeds, Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to(ScalarType.Int64).to(Device);
        var emb = language_model.Model.EmbedTokens.forward(ids);
        return torch.cat([emb[.., ..1], imageEmbeds.to(emb.dtype), emb[.., 1..]], 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Full multimodal forward. <paramref name="inputIds"/> [B,L] starts with BOS; <paramref name="attentionMask"/> [B,L]
    /// (right padding); <paramref name="labels"/> [B,L] with −100 for ignored positions. Image positions never count.
    /// With <paramref name="labelLogitsOnly"/> the LM head runs only from the position before the first label on
    /// (training: the loss is the same, and the 4,160- or 32,064-way head over every image and prompt position is
    /// skipped); <see cref="VlaOutput.LogitsOffset"/> says where the logits start.
    /// </summary>
    public VlaOutput Forward(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null, bool labelLogitsOnly = false)
    {
        using var scope = NewDisposeScope();
        var img = EmbedImages(pixelValues);
        int nImg = (int)img.shape[1];
        var embeds = BuildInputsEmbeds(img, inputIds);
        Tensor? fullMask = null;
        if (attentionMask is not null)
        {
            var m = attentionMask.to(ScalarType.Bool).to(Device);
            fullMask = torch.cat([m[.., ..1], torch.ones(m.shape[0], nImg, dtype: ScalarType.Bool, device: Device), m[.., 1..]], 1);
        }
        int from = labels is not null && labelLogitsOnly ? Math.Max(0, FirstLabelPosition(labels, nImg) - 1) : 0;
        var logits = language_model.forward(embeds, fullMask, fromPosition: from);
        Tensor? loss = null;
        if (labels is not null)
        {
            var lab = labels.to(ScalarType.Int64).to(Device);
            using Scalar ignore = -100L; // explicit Scalar (see TensorMath)
            var full = torch.cat([lab[.., ..1], torch.full(lab.shape[0], nImg, ignore, dtype: ScalarType.Int64, device: Device), lab[.., 1..]], 1);
            // HF causal-LM loss: logits[:, :-1] predict labels[:, 1:], mean over non-ignored positions.
            var shiftLogits = logits[.., ..^1].reshape(-1, logits.shape[2]);
            var shiftLabels = full[.., (from + 1)..].reshape(-1);
            loss = F.cross_entropy(shiftLogits, shiftLabels, ignore_index: -100).MoveToOuterDisposeScope();
        }
        return new VlaOutput { Logits = logits.MoveToOuterDisposeScope(), Loss = loss, NumImageTokens = nImg, LogitsOffset = from };
    }

    /// <summary>
    /// OpenVLA-OFT's inputs: [emb(BOS), image patches, extra tokens (the proprio token), emb(tokens after BOS)] with the
    /// input embeddings zeroed where <paramref name="zeroMask"/> [B,L] is true (the action placeholders: "empty action
    /// embeddings"), and the matching padding mask over the whole sequence. Returns the number of tokens before text
    /// position 1 minus one (image + extra tokens), so text token j ≥ 1 sits at sequence position <c>prefix + j</c>.
    /// </summary>
    public (Tensor Embeds, Tensor? Mask, int Prefix) BuildParallelInputs(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask, Tensor zeroMask, Tensor? extraTokens)
    {
        using var scope = NewDisposeScope();
        var img = EmbedImages(pixelValues);
        if (extraTokens is not null) img = torch.cat([img, extraTokens.to(img.dtype).to(Device)], 1);
        int nImg = (int)img.shape[1];
        var embeds = BuildInputsEmbeds(img, inputIds);
        var z = zeroMask.to(ScalarType.Bool).to(Device);
        var fullZero = torch.cat([z[.., ..1], torch.zeros(z.shape[0], nImg, dtype: ScalarType.Bool, device: Device), z[.., 1..]], 1);
        embeds = embeds.mul(fullZero.logical_not().unsqueeze(-1).to(embeds.dtype));
        Tensor? fullMask = null;
        if (attentionMask is not null)
        {
            var m = attentionMask.to(ScalarType.Bool).to(Device);
            fullMask = torch.cat([m[.., ..1], torch.ones(m.shape[0], nImg, dtype: ScalarType.Bool, device: Device), m[.., 1..]], 1).MoveToOuterDisposeScope();
        }
        return (embeds.MoveToOuterDisposeScope(), fullMask, nImg);
    }

    /// <summary>OpenVLA-OFT's one forward pass: the final-norm hidden states [B, T, hidden] of <see cref="BuildParallelInputs"/>.</summary>
    public (Tensor Hidden, int Prefix) ForwardParallel(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask, Tensor zeroMask, Tensor? extraTokens, bool causal)
    {
        using var scope = NewDisposeScope();
        var (embeds, mask, prefix) = BuildParallelInputs(pixelValues, inputIds, attentionMask, zeroMask, extraTokens);
        var hidden = language_model.Model.forward(embeds, mask, null, causal);
        return (hidden.MoveToOuterDisposeScope(), prefix);
    }

    /// <summary>Position in the multimodal sequence of the first label != −100 in any row (1 when there is none).</summary>
    static int FirstLabelPosition(Tensor labels, int nImg)
    {
        using Scalar ignore = -100L; // explicit (see TensorMath)
        var any = labels.ne(ignore).any(0).cpu().data<bool>().ToArray();
        for (int j = 1; j < any.Length; j++) if (any[j]) return nImg + j;
        return 1;
    }

    /// <summary>
    /// Greedy decoding of exactly <paramref name="numTokens"/> tokens (argmax over all logits, as upstream), batch 1.
    /// With <paramref name="useCache"/> the prompt is prefilled once and each step feeds one token; without, every step
    /// recomputes the whole sequence (reference for tests).
    /// </summary>
    public long[] GenerateGreedy(Tensor pixelValues, Tensor inputIds, int numTokens, bool useCache = true) =>
        Generate(pixelValues, inputIds, numTokens, logits => logits.argmax().item<long>(), useCache);

    /// <summary>
    /// Decodes exactly <paramref name="numTokens"/> tokens, batch 1: <paramref name="choose"/> gets the next-token
    /// logits [V] and returns the id fed back (and recorded).
    /// </summary>
    public long[] Generate(Tensor pixelValues, Tensor inputIds, int numTokens, Func<Tensor, long> choose, bool useCache = true)
    {
        if (inputIds.shape[0] != 1 || pixelValues.shape[0] != 1) throw new ArgumentException("batch size must be 1 for generation");
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var result = new long[numTokens];
        var img = EmbedImages(pixelValues);
        var ids = inputIds.to(ScalarType.Int64).to(Device);
        if (useCache)
        {
            using var cache = new KvCache(Config.Text.NumHiddenLayers);
            var logits = language_model.forward(BuildInputsEmbeds(img, ids), null, cache, lastOnly: true);
            for (int i = 0; i < numTokens; i++)
            {
                long next = choose(logits[0, -1]);
                result[i] = next;
                if (i + 1 == numTokens) break;
                var tok = torch.tensor(new[] { next }, device: Device).reshape(1, 1);
                logits = language_model.forward(language_model.Model.EmbedTokens.forward(tok), null, cache, lastOnly: true);
            }
        }
        else
        {
            for (int i = 0; i < numTokens; i++)
            {
                var logits = language_model.forward(BuildInputsEmbeds(img, ids), null, null, lastOnly: true);
                long next = choose(logits[0, -1]);
                result[i] = next;
                ids = torch.cat([ids, torch.tensor(new[] { next }, device: Device).reshape(1, 1)], 1);
            }
        }
        return result;
    }

    /// <summary>Every swappable linear slot with its full module path, e.g. language_model.model.layers.0.self_attn.q_proj.</summary>
    public IEnumerable<(string Path, VlaModule? Owner, VlaModule1? Owner1, string Slot)> LinearSlots()
    {
        foreach (var (name, m) in named_modules())
        {
            if (m is VlaModule vm)
                foreach (var s in vm.LinearSlotNames()) yield return (Join(name, s), vm, null, s);
            else if (m is VlaModule1 vm1)
                foreach (var s in vm1.LinearSlotNames()) yield return (Join(name, s), null, vm1, s);
        }
        static string Join(string a, string b) => a.Length == 0 ? b : a + "." + b;
    }

    /// <summary>Replaces the linear layer at a full path (see <see cref="LinearSlots"/>) — the hook for LoRA.</summary>
    public void ReplaceLinear(string path, Func<nn.Module<Tensor, Tensor>, nn.Module<Tensor, Tensor>> wrap)
    {
        foreach (var (p, owner, owner1, slot) in LinearSlots().ToList())
        {
            if (p != path) continue;
            if (owner is not null) owner.ReplaceChild(slot, wrap(owner.GetChild(slot)));
            else owner1!.ReplaceChild(slot, wrap(owner1.GetChild(slot)));
            return;
        }
        throw new ArgumentException($"no linear slot '{path}'");
    }
}
