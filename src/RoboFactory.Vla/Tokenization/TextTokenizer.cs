using Microsoft.ML.Tokenizers;

namespace RoboFactory.Vla.Tokenization;

/// <summary>OpenVLA's prompt (PurePromptBuilder, openvla-7b; not the v01 Vicuna one).</summary>
public static class PromptBuilder
{
    /// <summary>"In: What action should the robot take to {instruction.lower()}?\nOut:" (inference: no trailing space).</summary>
    public static string ActionPrompt(string instruction) =>
        $"In: What action should the robot take to {instruction.Trim().ToLowerInvariant()}?\nOut:";
}

/// <summary>
/// The Llama-2 SentencePiece tokenizer (tokenizer.model) via Microsoft.ML.Tokenizers, plus OpenVLA's sequence rules:
/// BOS (1) prepended, then the "▁" token (29871 in Llama-2) appended after "Out:" because training text was
/// "Out: " + action characters. &lt;PAD&gt; is the first id after the base vocabulary (32000).
/// Encoding goes through <see cref="SentencePieceBpe"/> (exact SentencePiece tie-breaking); decoding and the vocabulary
/// through Microsoft.ML.Tokenizers.
/// </summary>
public sealed class LlamaTextTokenizer
{
    readonly LlamaTokenizer tok;
    readonly SentencePieceBpe bpe;

    public LlamaTextTokenizer(byte[] tokenizerModel)
    {
        using (var ms = new MemoryStream(tokenizerModel))
            tok = LlamaTokenizer.Create(ms, addBeginOfSentence: true, addEndOfSentence: false);
        bpe = new SentencePieceBpe(tokenizerModel);
        SpaceTokenId = tok.Vocabulary.TryGetValue("▁", out var id) ? id : 29871;
    }

    public static LlamaTextTokenizer Load(string tokenizerModelPath)
    {
        if (Directory.Exists(tokenizerModelPath)) tokenizerModelPath = Path.Combine(tokenizerModelPath, "tokenizer.model");
        return new LlamaTextTokenizer(File.ReadAllBytes(tokenizerModelPath));
    }

    public LlamaTokenizer Inner => tok;
    public int BosId => tok.BeginningOfSentenceId;
    public int EosId => tok.EndOfSentenceId;
    /// <summary>Id of the standalone "▁" piece: 29871 for Llama-2.</summary>
    public int SpaceTokenId { get; }
    /// <summary>Number of SentencePiece pieces (32000 for Llama-2; PAD is this id).</summary>
    public int VocabSize => tok.Vocabulary.Count;

    public IReadOnlyList<int> Encode(string text, bool addBos = true) => bpe.Encode(text, addBos);

    public string Decode(IEnumerable<int> ids) => tok.Decode(ids);

    /// <summary>Inference ids: BOS + prompt tokens + "▁" (upstream predict_action appends 29871 unless already last).</summary>
    public long[] EncodeActionPrompt(string instruction)
    {
        var ids = Encode(PromptBuilder.ActionPrompt(instruction)).Select(i => (long)i).ToList();
        if (ids[^1] != SpaceTokenId) ids.Add(SpaceTokenId);
        return ids.ToArray();
    }

    /// <summary>
    /// Training ids built directly (spec §5.2): [BOS, prompt…, ▁, a1…aD, EOS], with labels = −100 except the last D+1
    /// (actions + EOS). Equals upstream's decode-then-retokenise path whenever that round-trips.
    /// </summary>
    public (long[] InputIds, long[] Labels) EncodeTrainingExample(string instruction, IReadOnlyList<int> actionTokenIds)
    {
        var ids = EncodeActionPrompt(instruction).ToList();
        ids.AddRange(actionTokenIds.Select(a => (long)a));
        ids.Add(EosId);
        var labels = ids.Select(_ => -100L).ToArray();
        for (int i = ids.Count - actionTokenIds.Count - 1; i < ids.Count; i++) labels[i] = ids[i];
        return (ids.ToArray(), labels);
    }
}
