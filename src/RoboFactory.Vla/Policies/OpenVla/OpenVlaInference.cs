using RoboFactory.Core.Imaging;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Policies.OpenVla;

/// <summary>One predicted action chunk.</summary>
public sealed record ActionPrediction(long[] TokenIds, double[] Normalized, double[] Action, bool AllActionTokens)
{
    readonly IReadOnlyList<double[]>? chunk;
    /// <summary>The predicted action chunk, consecutive steps in order; <see cref="Action"/> is its first entry.</summary>
    public IReadOnlyList<double[]> Chunk { get => chunk ?? [Action]; init => chunk = value; }
}

/// <summary>
/// The one OpenVLA token-action inference path (upstream predict_action), used by eval's agents and `model predict`:
/// images → pixel values (centre crop when training augmented, Pillow-bicubic resize, per-backbone normalisation),
/// instruction (+ state tokens) → prompt ids, action_dim × chunk tokens decoded with the KV cache under
/// <see cref="Decoding"/>, bin centres, un-normalisation with q01/q99 and the mask (normalised values without statistics).
/// </summary>
public sealed class OpenVlaInference : IDisposable
{
    readonly bool ownsModel;

    public OpenVlaForActionPrediction Model { get; }
    public VlaImagePipeline Images { get; }
    public PromptEncoder Prompts { get; }
    public ActionTokenizer Actions { get; }
    /// <summary>Un-normalisation statistics; without them actions come back normalised.</summary>
    public ActionStatistics? Statistics { get; set; }
    /// <summary>Tokens per action (default: the statistics' dimension, else 7 as upstream's Bridge models).</summary>
    public int? ActionDim { get; set; }
    public int ActionChunk { get; init; } = 1;
    /// <summary>With statistics, the prompt carries the joint state as state tokens (checkpoints trained with --proprio).</summary>
    public ProprioStatistics? Proprio { get; init; }
    public ActionDecoding Decoding { get; set; } = ActionDecoding.Greedy;

    public OpenVlaInference(OpenVlaForActionPrediction model, LlamaTextTokenizer? tokenizer, bool centerCrop, bool ownsModel, PromptStandIn standIn = PromptStandIn.Bytes)
    {
        Model = model; this.ownsModel = ownsModel;
        Images = new VlaImagePipeline(model.Config, centerCrop);
        Prompts = new PromptEncoder(model.Config, tokenizer, standIn);
        Actions = ActionTokenizer.For(model.Config);
    }

    /// <summary>
    /// A plain model for `model predict`: "tiny" (random weights, seed 0) or a Hugging Face OpenVLA folder (config.json,
    /// safetensors, tokenizer.model). No centre crop (a plain OpenVLA checkpoint was not trained with our augmentation record).
    /// </summary>
    public static OpenVlaInference Load(string model, Device? device = null, ScalarType dtype = ScalarType.Float32, string? tokenizerPath = null, PromptStandIn standIn = PromptStandIn.Bytes)
    {
        OpenVlaForActionPrediction m;
        string? tok = tokenizerPath;
        if (model.Equals("tiny", StringComparison.OrdinalIgnoreCase))
            m = Pretrained.Create(OpenVlaConfig.Tiny, device, dtype, seed: 0);
        else
        {
            m = Pretrained.Load(model, device, dtype);
            var candidate = Path.Combine(model, "tokenizer.model");
            if (tok is null && File.Exists(candidate)) tok = candidate;
        }
        try { return new OpenVlaInference(m, tok is null ? null : LlamaTextTokenizer.Load(tok), centerCrop: false, ownsModel: true, standIn); }
        catch { m.Dispose(); throw; }
    }

    public ActionPrediction Predict(IReadOnlyList<Image8> views, string instruction, float[]? state = null)
    {
        if (views.Count == 0) throw new ArgumentException("at least one image is needed");
        if (Proprio is not null && state is null) throw new ArgumentException($"this policy was trained with --proprio: pass the {Proprio.Dimension}-D joint state");
        int dim = ActionDim ?? Statistics?.Dimension ?? 7;
        if (Statistics is not null && Statistics.Dimension != dim) throw new ArgumentException($"action dim {dim} but statistics have {Statistics.Dimension}");
        using var scope = NewDisposeScope();
        var px = Images.EvalViews(views);
        var ids = torch.tensor(Prompts.Prompt(instruction, Proprio?.Encode(state!, Actions))).unsqueeze(0);
        var decoder = new ActionDecoder(Actions, Decoding);
        var tokens = Model.Generate(px, ids, dim * ActionChunk, decoder.Choose);
        var norm = decoder.Values;
        var steps = Enumerable.Range(0, ActionChunk).Select(k =>
        {
            var n = norm.AsSpan(k * dim, dim);
            return Statistics is null ? n.ToArray() : ActionNormalizer.Unnormalize(n, Statistics);
        }).ToArray();
        return new ActionPrediction(tokens, norm, steps[0], tokens.All(Actions.IsActionToken)) { Chunk = steps };
    }

    public void Dispose()
    {
        if (ownsModel) Model.Dispose();
    }
}
