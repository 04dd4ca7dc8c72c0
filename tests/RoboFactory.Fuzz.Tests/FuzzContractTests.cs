using RoboFactory.Fuzz;

namespace RoboFactory.Fuzz.Tests;

/// <summary>
/// The fuzz contract without afl: every committed seed (fuzz/corpus/TARGET), every input afl once broke a parser with
/// (tests/fixtures/fuzz/TARGET), and a fixed set of cheap mutations of the seeds must each end in a parsed value or
/// the documented InputFormatException, within a time limit.
/// </summary>
public sealed class FuzzContractTests
{
    static readonly TimeSpan PerInput = TimeSpan.FromSeconds(20);

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Select(t => t.Name)];

    static string CorpusDir(string target) => Path.Combine(Repo.Root, "fuzz", "corpus", target);
    static string RegressionDir(string target) => Path.Combine(Repo.Root, "tests", "fixtures", "fuzz", target);

    static IEnumerable<string> Files(string dir) => Directory.Exists(dir) ? Directory.GetFiles(dir).Order() : [];

    [Theory, MemberData(nameof(Targets))]
    public void EveryTarget_HasSeeds_AndParsesThem(string name)
    {
        var target = FuzzTargets.Get(name);
        var seeds = Files(CorpusDir(name)).ToList();
        Assert.True(seeds.Count > 0, $"no seed corpus for {name} under fuzz/corpus/{name}");
        using var scratch = new FuzzScratch();
        // Seeds are valid files made by our own writers: each must parse, or the fuzzer starts outside the format.
        foreach (var f in seeds)
            Assert.True(RunBounded(target, File.ReadAllBytes(f), scratch) == FuzzOutcome.Parsed, $"{name}: seed {Path.GetFileName(f)} was rejected");
    }

    [Theory, MemberData(nameof(Targets))]
    public void RegressionInputs_EndInAValueOrTheFormatError(string name)
    {
        var target = FuzzTargets.Get(name);
        using var scratch = new FuzzScratch();
        foreach (var f in Files(RegressionDir(name)))
            RunBounded(target, File.ReadAllBytes(f), scratch, Path.GetFileName(f));
    }

    [Theory, MemberData(nameof(Targets))]
    public void MutatedSeeds_EndInAValueOrTheFormatError(string name)
    {
        var target = FuzzTargets.Get(name);
        using var scratch = new FuzzScratch();
        var rng = new Random(name.Aggregate(17, (h, c) => h * 31 + c));
        int rejected = 0, total = 0;
        foreach (var f in Files(CorpusDir(name)))
        {
            var seed = File.ReadAllBytes(f);
            for (int i = 0; i < 200; i++, total++)
                if (RunBounded(target, Mutate(seed, rng), scratch, $"{Path.GetFileName(f)} mutation {i}") == FuzzOutcome.Rejected) rejected++;
        }
        Assert.True(total > 0);
        Assert.True(rejected > 0, $"{name}: none of {total} mutations was rejected, so the mutator never left the format");
    }

    /// <summary>afl's cheapest stages in miniature: bit flips, interesting bytes, truncation, cut-and-repeat.</summary>
    internal static byte[] Mutate(byte[] seed, Random rng)
    {
        var b = seed.ToList();
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(6))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = (byte)new[] { 0, 0xff, 0x7f, 0x80, 0x01, (byte)'"', (byte)'{', (byte)'9' }[rng.Next(8)]; break;
                case 2: b.RemoveRange(at, b.Count - at); break;
                case 3: b.RemoveRange(at, Math.Min(b.Count - at, 1 + rng.Next(16))); break;
                case 4: { int from = rng.Next(b.Count); b.InsertRange(at, b.GetRange(from, Math.Min(8, b.Count - from))); break; }
                default: // a little-endian length field set to a huge value
                    for (int k = 0; k < 4 && at + k < b.Count; k++) b[at + k] = 0xff; break;
            }
        }
        return [.. b];
    }

    static FuzzOutcome RunBounded(FuzzTarget target, byte[] input, FuzzScratch scratch, string what = "")
    {
        FuzzOutcome outcome = default;
        Exception? escaped = null;
        var worker = new Thread(() =>
        {
            try { outcome = target.Run(input, scratch); }
            catch (Exception e) { escaped = e; }
        }, 64 << 20);
        worker.Start();
        Assert.True(worker.Join(PerInput), $"{target.Name} {what}: no answer within {PerInput.TotalSeconds} s (a hang)");
        if (escaped is not null)
            Assert.Fail($"{target.Name} {what}: {escaped.GetType().Name} escaped instead of InputFormatException: {escaped.Message}\n{escaped.StackTrace}");
        return outcome;
    }
}
