using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Tokenization;

namespace RoboFactory.Vla.Training;

/// <summary>
/// Turns an instruction into OpenVLA's prompt ids ("In: What action should the robot take to {instruction}?\nOut:"
/// with BOS and the trailing "▁", spec §5.2) and builds training examples [prompt…, a1…aD, EOS] whose labels are −100
/// except the D action tokens and EOS. With a real tokenizer.model it uses <see cref="LlamaTextTokenizer"/>; without
/// one (the from-scratch tiny model) it uses a stand-in, a fixed mapping that is fine for a model trained on it:
/// <see cref="PromptStandIn.Bytes"/> (BOS, then UTF-8 byte + 3 per byte: reversible, but the 63-character prompt of
/// "lift the barrier" becomes 64 ids, several times what a word-piece tokenizer such as Llama-2's gives) or <see cref="PromptStandIn.Words"/> (BOS,
/// then one id per whitespace-separated word: 13 ids, a length like a real tokenizer's).
/// </summary>
public sealed class PromptEncoder
{
    /// <summary>Names recorded in policy.json (<c>prompt</c>).</summary>
    public const string SentencePieceKind = "sentencepiece", ByteKind = "byte-stand-in", WordKind = "word-stand-in";

    readonly Dictionary<string, long[]> cache = new();
    public LlamaTextTokenizer? Tokenizer { get; }
    public int BosId { get; }
    public int EosId { get; }

    public PromptStandIn StandIn { get; }
    /// <summary>Stand-in id layout: 3 special ids, then the 256 byte ids, then the word ids up to the action tokens.</summary>
    const int ByteIdStart = 3, WordIdStart = ByteIdStart + 256;
    readonly int wordIdCount;

    public PromptEncoder(OpenVlaConfig config, LlamaTextTokenizer? tokenizer, PromptStandIn standIn = PromptStandIn.Bytes)
    {
        Tokenizer = tokenizer;
        StandIn = standIn;
        wordIdCount = config.ActionTokenBegin - WordIdStart;
        if (tokenizer is null && standIn == PromptStandIn.Words && wordIdCount < 256)
            throw new VlaConfigException($"the word stand-in needs at least 256 ids between the byte ids and the action tokens; this model's action tokens begin at {config.ActionTokenBegin}");
        if (tokenizer is not null && tokenizer.VocabSize > config.BaseVocabSize)
            throw new VlaConfigException($"tokenizer has {tokenizer.VocabSize} pieces but the model's base vocabulary is {config.BaseVocabSize}");
        BosId = tokenizer?.BosId ?? config.Text.BosTokenId;
        EosId = tokenizer?.EosId ?? config.Text.EosTokenId;
    }

    /// <summary>What policy.json records: <see cref="SentencePieceKind"/>, <see cref="ByteKind"/> or <see cref="WordKind"/>.</summary>
    public string Kind => Tokenizer is not null ? SentencePieceKind : StandIn == PromptStandIn.Words ? WordKind : ByteKind;

    /// <summary>The stand-in a policy.json <c>prompt</c> names (sentencepiece needs none); null when the name is unknown.</summary>
    public static PromptStandIn? StandInOf(string kind) => kind switch
    {
        ByteKind or SentencePieceKind => PromptStandIn.Bytes,
        WordKind => PromptStandIn.Words,
        _ => null,
    };

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
            string text = PromptBuilder.ActionPrompt(instruction);
            ids = Tokenizer is not null ? Tokenizer.EncodeActionPrompt(instruction)
                : StandIn == PromptStandIn.Words ? [BosId, .. text.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(WordId)]
                : [BosId, .. System.Text.Encoding.UTF8.GetBytes(text).Select(b => (long)b + ByteIdStart)];
            cache[instruction] = ids;
            return ids;
        }
    }

    /// <summary>FNV-1a of the word's UTF-8 bytes into the word-id range: fixed across runs and machines (string.GetHashCode is not).</summary>
    long WordId(string word)
    {
        uint h = 2166136261;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(word)) h = (h ^ b) * 16777619;
        return WordIdStart + h % (uint)wordIdCount;
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

/// <summary>How a model without a tokenizer.model (the from-scratch tiny preset) encodes its prompt.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<PromptStandIn>))]
public enum PromptStandIn
{
    /// <summary>One id per UTF-8 byte (reversible; about 4× the real tokenizer's length).</summary>
    Bytes,
    /// <summary>One hashed id per whitespace-separated word (about the real tokenizer's length).</summary>
    Words,
}
