using RoboFactory.Core.Imaging;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Imaging;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Inference;

/// <summary>One predicted action.</summary>
public sealed record ActionPrediction(long[] TokenIds, double[] Normalized, double[] Action, bool AllActionTokens)
{
    readonly IReadOnlyList<double[]>? chunk;
    /// <summary>The predicted action chunk, consecutive steps in order; <see cref="Action"/> is its first entry.</summary>
    public IReadOnlyList<double[]> Chunk { get => chunk ?? [Action]; init => chunk = value; }
}

/// <summary>
/// End-to-end inference (upstream predict_action): images → pixel values, prompt → ids (+ "▁"), greedy decoding of
/// exactly action_dim tokens with the KV cache, bin centres, un-normalisation with q01/q99 and the mask.
/// </summary>
public sealed class VlaPredictor : IDisposable
{
    public OpenVlaForActionPrediction Model { get; }
    public LlamaTextTokenizer? Tokenizer { get; }
    public ActionTokenizer Actions { get; }
    public ImageProcessor Images { get; }

    public VlaPredictor(OpenVlaForActionPrediction model, LlamaTextTokenizer? tokenizer)
    {
        Model = model; Tokenizer = tokenizer;
        Actions = ActionTokenizer.For(model.Config);
        Images = new ImageProcessor(model.Config);
        if (tokenizer is not null && tokenizer.VocabSize > model.Config.BaseVocabSize)
            throw new VlaConfigException($"tokenizer has {tokenizer.VocabSize} pieces but the model's base vocabulary is {model.Config.BaseVocabSize}");
    }

    /// <summary>
    /// "tiny" (random weights, seed 0) or a directory with config.json, safetensors and tokenizer.model.
    /// </summary>
    public static VlaPredictor Load(string model, Device? device = null, ScalarType dtype = ScalarType.Float32, string? tokenizerPath = null)
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
        return new VlaPredictor(m, tok is null ? null : LlamaTextTokenizer.Load(tok));
    }

    /// <summary>
    /// Prompt ids. Without a tokenizer (random tiny model smoke runs only) the text is mapped to bytes + 3, which keeps
    /// the pipeline runnable but is not a real tokenisation.
    /// </summary>
    public long[] PromptIds(string instruction)
    {
        if (Tokenizer is not null) return Tokenizer.EncodeActionPrompt(instruction);
        var bytes = System.Text.Encoding.UTF8.GetBytes(PromptBuilder.ActionPrompt(instruction));
        return new[] { (long)Model.Config.Text.BosTokenId }.Concat(bytes.Select(b => (long)b + 3)).ToArray();
    }

    public ActionPrediction Predict(IReadOnlyList<Image8> views, string instruction, ActionStatistics? stats, int? actionDim = null)
    {
        int dim = actionDim ?? stats?.Dimension ?? 7;
        if (stats is not null && stats.Dimension != dim) throw new ArgumentException($"action dim {dim} but statistics have {stats.Dimension}");
        using var scope = NewDisposeScope();
        var px = Images.PreprocessViews(views);
        var ids = torch.tensor(PromptIds(instruction)).unsqueeze(0);
        var tokens = Model.GenerateGreedy(px, ids, dim);
        var norm = Actions.Decode(tokens);
        var action = stats is null ? norm : ActionNormalizer.Unnormalize(norm, stats);
        return new ActionPrediction(tokens, norm, action, tokens.All(Actions.IsActionToken));
    }

    public void Dispose() => Model.Dispose();
}
