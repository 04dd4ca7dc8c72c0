using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;

namespace RoboFactory.Vla.Tests;

public class ActionTokenizerTests
{
    readonly ActionTokenizer at = new(32000, 256);

    [Fact]
    public void Ids_And_BinEdges_MatchUpstream()
    {
        Assert.Equal(31744, at.FirstTokenId);
        Assert.Equal(31999, at.LastTokenId);
        Assert.Equal(31999, at.Encode(-1f));
        Assert.Equal(31999, at.Encode(-5f));       // clipped
        Assert.Equal(31872, at.Encode(0f));        // d = 128
        Assert.Equal(31744, at.Encode(1f));        // d = 256
        Assert.Equal(31744, at.Encode(7f));
        Assert.Equal(255, at.Centers.Length);
        Assert.Equal(-1 + 1.0 / 255, at.Centers[0], 12);
        Assert.Equal(0.0, at.Centers[127], 12);
        Assert.Equal(1 - 1.0 / 255, at.Centers[254], 12);
        Assert.Equal(at.Decode(31744), at.Decode(31745));   // both → c254
        Assert.Equal(at.Centers[0], at.Decode(31999));
        Assert.Equal(at.Centers[254], at.Decode(100));      // non-action id < 31744 → bin 254
        Assert.Equal(at.Centers[0], at.Decode(32000));      // PAD and above → bin 0
        // Every action id is distinct from PAD and in the base vocabulary.
        for (float a = -1; a <= 1; a += 0.001f) { int t = at.Encode(a); Assert.InRange(t, 31744, 31999); }
        // Exactly on an interior edge: digitize puts the edge into the upper bin.
        Assert.Equal(31808, at.Encode(0.5f));      // 192 edges ≤ 0.5
    }

    [Fact]
    public void RoundTrip_WithinHalfABin()
    {
        var rng = new Random(5);
        for (int i = 0; i < 10000; i++)
        {
            float a = (float)(rng.NextDouble() * 2 - 1);
            double back = at.Decode(at.Encode(a));
            Assert.True(Math.Abs(back - a) <= 1.0 / 255 + 1e-9, $"{a} → {back}");
        }
    }

    [Fact]
    public void Normalizer_Q01Q99_WithGripperMask()
    {
        var s = new ActionStatistics
        {
            Q01 = [-0.02873, -0.04170, -0.02609, -0.08092, -0.09289, -0.20718, 0.0],
            Q99 = [0.02831, 0.04086, 0.04016, 0.08192, 0.07793, 0.20383, 1.0],
            Mask = [true, true, true, true, true, true, false],
        };
        double[] a = [0.01, -0.02, 0.0, 0.05, -0.09289, 0.5, 1.0];
        var n = ActionNormalizer.Normalize(a, s);
        Assert.Equal(1f, n[5]);   // clipped
        Assert.Equal(1f, n[6]);   // gripper raw
        Assert.Equal(-1f, n[4], 5);
        var back = ActionNormalizer.Unnormalize(n.Select(x => (double)x).ToArray(), s);
        for (int i = 0; i < 5; i++) Assert.Equal(a[i], back[i], 5);
        Assert.Equal(s.Q99[5], back[5], 9);
        // Decoding through tokens: the gripper is the raw centre (≈0.996 for open), others in [q01, q99].
        var ids = at.Encode(n);
        var dec = ActionNormalizer.Unnormalize(at.Decode(ids.Select(x => (long)x).ToArray()), s);
        Assert.Equal(1 - 1.0 / 255, dec[6], 9);
        for (int i = 0; i < 6; i++) Assert.InRange(dec[i], s.Q01[i], s.Q99[i]);
        Assert.Throws<ArgumentException>(() => ActionNormalizer.Normalize(new double[3], s));
    }
}

public class TextTokenizerTests
{
    internal static string? FindPythonWithSentencePiece()
    {
        foreach (var py in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                var psi = new ProcessStartInfo(py, "-c \"import sentencepiece\"") { RedirectStandardError = true, RedirectStandardOutput = true };
                using var p = Process.Start(psi)!;
                p.WaitForExit(20000);
                if (p.ExitCode == 0) return py;
            }
            catch (System.ComponentModel.Win32Exception) { }
        }
        return null;
    }

    internal static string? Which(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);

    internal static (int Code, string Out, string Err) Run(string exe, IEnumerable<string> args, string? stdin = null)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = stdin is not null };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.StandardOutputEncoding = Encoding.UTF8;
        using var p = Process.Start(psi)!;
        if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        var outTask = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, outTask.Result, err);
    }

    static readonly string[] Words =
    [
        "pick", "up", "the", "red", "cube", "and", "place", "it", "on", "blue", "plate", "robot", "arm", "gripper", "open",
        "close", "move", "left", "right", "forward", "table", "bowl", "drawer", "put", "in", "stack", "block", "push", "button",
        "café", "naïve", "über", "日本", "語", "ロボット", "机器人", "🙂", "größe", "x²", "—", "ångström",
    ];

    /// <summary>Trains a Llama-style BPE model with spm_train (stack.md settings) on a generated corpus.</summary>
    internal static string TrainModel(TempDir dir, int vocabSize = 700)
    {
        var rng = new Random(11);
        var sb = new StringBuilder();
        for (int i = 0; i < 3000; i++)
        {
            int n = rng.Next(3, 14);
            var line = string.Join(rng.Next(10) == 0 ? "  " : " ", Enumerable.Range(0, n).Select(_ => rng.Next(6) == 0 ? rng.Next(0, 100000).ToString() : Words[rng.Next(Words.Length)]));
            sb.Append(line).Append('\n');
        }
        File.WriteAllText(dir.File("corpus.txt"), sb.ToString());
        var (code, _, err) = Run(Which("spm_train")!, [
            $"--input={dir.File("corpus.txt")}", $"--model_prefix={dir.File("tok")}", $"--vocab_size={vocabSize}",
            "--model_type=bpe", "--byte_fallback=true", "--normalization_rule_name=identity", "--remove_extra_whitespaces=false",
            "--split_digits=true", "--allow_whitespace_only_pieces=true", "--character_coverage=0.9995",
            "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1", "--hard_vocab_limit=false", "--num_threads=2", "--minloglevel=2"]);
        Assert.True(code == 0, "spm_train failed: " + err);
        return dir.File("tok.model");
    }

    static readonly string[] Sentences =
    [
        "In: What action should the robot take to pick up the red cube?\nOut:",
        "pick up the red cube and place it on the blue plate",
        "Move 3 blocks 12345 cm to the left, then 0.25 m forward.",
        "  leading and trailing spaces  ",
        "tabs\tand\nnew\nlines",
        "multiple     spaces    between words",
        "Unicode: café naïve über größe ångström — 日本語 ロボット 机器人 🙂 x²",
        "unseen characters: ∑∫√ Ωμ ζ ✓ ☃ 𝔘",
        "digits 0123456789 9876543210 3.14159 -42 1e-6",
        "",
        " ",
        "MiXeD CaSe ROBOT Gripper OPEN",
    ];

    [Fact]
    public void LlamaTokenizer_MatchesPythonSentencePiece_OnSpmTrainedModel()
    {
        if (Which("spm_train") is null)
        {
            Assert.Fail("spm_train not found: install Debian package 'sentencepiece' (scripts/setup.sh does)");
        }
        var py = FindPythonWithSentencePiece();
        Assert.True(py is not null, "no python3 with sentencepiece: install Debian package 'python3-sentencepiece' (scripts/setup.sh does)");
        using var dir = new TempDir();
        var model = TrainModel(dir);
        var tok = LlamaTextTokenizer.Load(model);
        var script = """
import json, sys, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
for line in sys.stdin:
    s = json.loads(line)
    print(json.dumps([sp.bos_id()] + sp.encode(s)))
""";
        File.WriteAllText(dir.File("enc.py"), script);
        var input = string.Join("\n", Sentences.Select(s => JsonSerializer.Serialize(s))) + "\n";
        var (code, stdout, err) = Run(py!, [dir.File("enc.py"), model], input);
        Assert.True(code == 0, err);
        var expected = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<int[]>(l)!).ToArray();
        Assert.Equal(Sentences.Length, expected.Length);
        for (int i = 0; i < Sentences.Length; i++)
            Assert.True(expected[i].SequenceEqual(tok.Encode(Sentences[i])),
                $"sentence {i} '{Sentences[i]}': python [{string.Join(",", expected[i])}] vs C# [{string.Join(",", tok.Encode(Sentences[i]))}]");
        // Microsoft.ML.Tokenizers agrees except on whitespace runs (tie-breaking), which is why encoding uses SentencePieceBpe.
        for (int i = 0; i < Sentences.Length; i++)
            if (Sentences[i].Length > 0 && !Sentences[i].Contains("  ") && !Sentences[i].StartsWith(" "))
                Assert.Equal(expected[i], tok.Inner.EncodeToIds(Sentences[i], true, false));
        Assert.Equal("pick up the red cube", tok.Decode(tok.Encode("pick up the red cube").Skip(1)));
    }

    [Fact]
    public void ActionPrompt_IsExact_And_EndsWithSpaceToken()
    {
        Assert.Equal("In: What action should the robot take to pick up the red cube?\nOut:", PromptBuilder.ActionPrompt("Pick up the RED cube"));
        if (Which("spm_train") is null) Assert.Fail("spm_train not found: install Debian package 'sentencepiece'");
        using var dir = new TempDir();
        var tok = LlamaTextTokenizer.Load(TrainModel(dir));
        Assert.Equal(tok.Inner.Vocabulary["▁"], tok.SpaceTokenId);
        var ids = tok.EncodeActionPrompt("pick up the red cube");
        Assert.Equal(1, ids[0]);
        Assert.Equal(tok.SpaceTokenId, ids[^1]);
        Assert.NotEqual(tok.SpaceTokenId, ids[^2]);
        var (input, labels) = tok.EncodeTrainingExample("pick up the red cube", [500, 501, 502]);
        Assert.Equal(ids.Length + 4, input.Length);
        Assert.Equal(new long[] { 500, 501, 502, 2 }, labels[^4..]);
        Assert.All(labels[..^4], l => Assert.Equal(-100, l));
    }
}

public class PromptStandInTests
{
    [Fact]
    public void Words_GiveOneFixedIdPerWord_BetweenTheByteIdsAndTheActionTokens()
    {
        var cfg = OpenVlaConfig.Tiny;
        var words = new PromptEncoder(cfg, null, PromptStandIn.Words);
        var bytes = new PromptEncoder(cfg, null);
        var w = words.Prompt("lift the barrier");
        // "In: What action should the robot take to lift the barrier?\nOut:": BOS + 12 words; bytes: BOS + 63
        Assert.Equal(13, w.Length);
        Assert.Equal(64, bytes.Prompt("lift the barrier").Length);
        Assert.Equal(cfg.Text.BosTokenId, w[0]);
        Assert.All(w[1..], id => Assert.InRange(id, 3 + 256, cfg.ActionTokenBegin - 1));
        Assert.Equal(w[5], w[10]); // "the" both times
        Assert.NotEqual(w[9], w[11]); // "lift", "barrier?"
        // fixed across processes: the FNV-1a hash, not string.GetHashCode
        Assert.Equal(w, new PromptEncoder(cfg, null, PromptStandIn.Words).Prompt("Lift the barrier "));
        Assert.Equal(PromptEncoder.WordKind, words.Kind);
        Assert.Equal(PromptEncoder.ByteKind, bytes.Kind);
        Assert.Equal(PromptStandIn.Words, PromptEncoder.StandInOf(words.Kind));
        Assert.Null(PromptEncoder.StandInOf("letters"));
    }
}
