using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Tokenization;

namespace RoboFactory.Vla.Training;

/// <summary>
/// Turns an instruction into OpenVLA's prompt ids ("In: What action should the robot take to {instruction}?\nOut:"
/// with BOS and the trailing "▁", spec §5.2) and builds training examples [prompt…, a1…aD, EOS] whose labels are −100
/// except the D action tokens and EOS. With a real tokenizer.model it uses <see cref="LlamaTextTokenizer"/>; without
/// one (the from-scratch tiny model) it uses a byte-level stand-in
/// (BOS, then UTF-8 byte + 3 per byte), which is a fixed, reversible mapping and fine for a model trained on it.
/// </summary>
public sealed class PromptEncoder
{
    readonly Dictionary<string, long[]> cache = new();
    public LlamaTextTokenizer? Tokenizer { get; }
    public int BosId { get; }
    public int EosId { get; }

    public PromptEncoder(OpenVlaConfig config, LlamaTextTokenizer? tokenizer)
    {
        Tokenizer = tokenizer;
        if (tokenizer is not null && tokenizer.VocabSize > config.BaseVocabSize)
            throw new VlaConfigException($"tokenizer has {tokenizer.VocabSize} pieces but the model's base vocabulary is {config.BaseVocabSize}");
        BosId = tokenizer?.BosId ?? config.Text.BosTokenId;
        EosId = tokenizer?.EosId ?? config.Text.EosTokenId;
    }

    /// <summary>"byte-stand-in" or "sentencepiece".</summary>
    public string Kind => Tokenizer is null ? "byte-stand-in" : "sentencepiece";

    /// <summary>Inference prompt ids (what generation starts from): the prompt, then the state tokens if any (--proprio).</summary>
    public long[] Prompt(string instruction, IReadOnlyList<int>? stateTokens)
    {
        var prompt = Prompt(instruction);
        if (stateTokens is null || stateTokens.Count == 0) return prompt;
        var ids = new long[prompt.Length + stateTokens.Count];
        prompt.CopyTo(ids, 0);
        for (int i = 0; i < stateTokens.Count; i++) ids[prompt.Length + i] = stateTokens[i];
        return ids;
    }

    /// <summary>Inference prompt ids (what generation starts from).</summary>
    public long[] Prompt(string instruction)
    {
        lock (cache)
        {
            if (cache.TryGetValue(instruction, out var ids)) return ids;
            ids = Tokenizer is not null
                ? Tokenizer.EncodeActionPrompt(instruction)
                : new[] { (long)BosId }.Concat(System.Text.Encoding.UTF8.GetBytes(PromptBuilder.ActionPrompt(instruction)).Select(b => (long)b + 3)).ToArray();
            cache[instruction] = ids;
            return ids;
        }
    }

    /// <summary>Training ids and labels: prompt (+ state tokens) + action tokens + EOS; labels −100 on the prompt and state.</summary>
    public (long[] InputIds, long[] Labels) TrainingExample(string instruction, IReadOnlyList<int> actionTokens, IReadOnlyList<int>? stateTokens = null)
    {
        var prompt = Prompt(instruction, stateTokens);
        var ids = new long[prompt.Length + actionTokens.Count + 1];
        prompt.CopyTo(ids, 0);
        for (int i = 0; i < actionTokens.Count; i++) ids[prompt.Length + i] = actionTokens[i];
        ids[^1] = EosId;
        var labels = new long[ids.Length];
        Array.Fill(labels, -100L);
        for (int i = prompt.Length; i < ids.Length; i++) labels[i] = ids[i];
        return (ids, labels);
    }
}
