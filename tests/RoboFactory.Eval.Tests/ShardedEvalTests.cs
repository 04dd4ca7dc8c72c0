using System.Text.Json.Nodes;
using RoboFactory.Core.Sharding;
using RoboFactory.Core.Errors;

namespace RoboFactory.Eval.Tests;

/// <summary>`eval --shard i/n` + `eval merge` equal one unsharded evaluation; merging refuses inconsistent shards.</summary>
public class ShardedEvalTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("rf-evalshard-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>results.json without what depends on the machine's speed.</summary>
    private static string Timeless(string path)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        foreach (var e in json["episodes"]!.AsArray()) { e!.AsObject().Remove("wall_time_s"); e.AsObject().Remove("policy_seconds"); }
        return json.ToJsonString();
    }

    private EvalReport Eval(string run, Shard? shard) => Evaluator.Run(
        new EvalOptions("LiftBarrier", Episodes: 5, SeedStart: 40, MaxSteps: 30, OutRoot: root, Run: run, Shard: shard), () => new ExpertPolicy("LiftBarrier"));

    [Fact]
    public void ThreeShardsMergeIntoTheUnshardedResults()
    {
        var whole = Eval("whole", null);
        var parts = Enumerable.Range(0, 3).Select(i => Eval("sharded", new Shard(i, 3))).ToList();
        Assert.Equal([40, 43], parts[0].Results.Select(r => r.Seed).Order());
        Assert.Equal([41, 44], parts[1].Results.Select(r => r.Seed).Order());
        Assert.Equal([42], parts[2].Results.Select(r => r.Seed));
        Assert.All(parts, p => Assert.Equal(parts[0].Directory, p.Directory)); // one run folder, one file per shard
        Assert.False(File.Exists(Path.Combine(parts[0].Directory, Evaluator.ResultsFile)));

        var files = parts.Select(p => p.ResultsPath).Reverse().ToList(); // any order
        var (path, summary) = Evaluator.Merge(files, Path.Combine(root, "merged"));
        Assert.Equal(whole.Summary with { }, summary);
        // the same file as the unsharded run's, but for the run name and the timings
        Assert.Equal(Timeless(whole.ResultsPath).Replace("\"run\":\"whole\"", "\"run\":\"sharded\""), Timeless(path));
    }

    [Fact]
    public void MergeRefusesMissingRepeatedAndForeignShards()
    {
        var a = Eval("x", new Shard(0, 2));
        var b = Eval("x", new Shard(1, 2));
        var missing = Assert.Throws<InputFormatException>(() => Evaluator.Merge([a.ResultsPath]));
        Assert.Contains("shard(s) 1/2 missing", missing.Message);
        var twice = Assert.Throws<InputFormatException>(() => Evaluator.Merge([a.ResultsPath, a.ResultsPath, b.ResultsPath]));
        Assert.Contains("shard 0/2 given 2 times", twice.Message);

        // a shard of another evaluation (other step limit)
        var other = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 5, SeedStart: 40, MaxSteps: 10, OutRoot: root, Run: "y", Shard: new Shard(1, 2)),
            () => new ExpertPolicy("LiftBarrier"));
        var foreign = Assert.Throws<InputFormatException>(() => Evaluator.Merge([a.ResultsPath, other.ResultsPath]));
        Assert.Contains("max_steps", foreign.Message);

        // an unsharded results.json is not a shard; a seed removed from a shard is a missing seed
        var whole = Eval("whole", null);
        Assert.Contains("not the results of `eval --shard i/n`", Assert.Throws<InputFormatException>(() => Evaluator.Merge([whole.ResultsPath, b.ResultsPath])).Message);
        var json = JsonNode.Parse(File.ReadAllText(b.ResultsPath))!;
        json["episodes"]!.AsArray().RemoveAt(0);
        File.WriteAllText(b.ResultsPath, json.ToJsonString());
        Assert.Contains("1 seed(s) missing (41)", Assert.Throws<InputFormatException>(() => Evaluator.Merge([a.ResultsPath, b.ResultsPath])).Message);
    }
}
