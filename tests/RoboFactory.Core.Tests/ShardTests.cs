using RoboFactory.Core.Sharding;
using RoboFactory.Core.Errors;

namespace RoboFactory.Core.Tests;

public class ShardTests
{
    static Func<string, string?> Env(params (string Key, string Value)[] vars) => k => vars.FirstOrDefault(v => v.Key == k).Value;

    [Fact]
    public void ExplicitShardsPartitionTheSeedPositions()
    {
        var shards = Enumerable.Range(0, 3).Select(i => Shard.Parse($"{i}/3")!).ToList();
        var all = shards.SelectMany(s => s.Positions(10)).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 10), all);
        Assert.Equal([1, 4, 7], shards[1].Positions(10));
        Assert.Equal("shard1of3", shards[1].Tag);
        Assert.Null(Shard.Parse(null));
        Assert.Null(Shard.Parse(""));
    }

    [Theory]
    [InlineData("3/3", "shard index 3 is outside 0..2")]
    [InlineData("1/0", "must be at least 1")]
    [InlineData("-1/2", "expected i/n")]
    [InlineData("a/b", "expected i/n")]
    [InlineData("2", "expected i/n")]
    public void BadShardsAreNamed(string text, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => Shard.Parse(text, environment: Env())).Message);

    [Fact]
    public void AutoReadsSlurmArraysAndKubernetesIndexedJobs()
    {
        // sbatch --array=1-4: ids 1..4, shard = id - min
        Assert.Equal(new Shard(2, 4), Shard.Parse("auto", environment: Env(("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4"))));
        Assert.Equal(new Shard(0, 2), Shard.Parse("auto", environment: Env(("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "2"))));
        Assert.Equal(new Shard(5, 8), Shard.Parse("auto", 8, Env(("JOB_COMPLETION_INDEX", "5"))));
        Assert.Contains("--shards N", Assert.Throws<ArgumentException>(() => Shard.Parse("auto", environment: Env(("JOB_COMPLETION_INDEX", "5")))).Message);
        Assert.Contains("neither SLURM_ARRAY_TASK_ID", Assert.Throws<ArgumentException>(() => Shard.Parse("auto", environment: Env())).Message);
        Assert.Contains("outside 0..3", Assert.Throws<ArgumentException>(() => Shard.Parse("auto", 4, Env(("JOB_COMPLETION_INDEX", "4")))).Message);
        Assert.Contains("only used with --shard auto", Assert.Throws<ArgumentException>(() => Shard.Parse(null, 4)).Message);
    }

    [Fact]
    public void ACompleteSetHasEveryShardOnceWithOneCount()
    {
        (string, Shard) S(int i, int n) => ($"f{i}of{n}", new Shard(i, n));
        Assert.Equal(3, Shard.CheckCompleteSet([S(2, 3), S(0, 3), S(1, 3)], "x merge"));
        string Fails(params (string, Shard)[] set) => Assert.Throws<InputFormatException>(() => Shard.CheckCompleteSet(set, "x merge", " of T", " under D")).Message;
        Assert.Equal("x merge: shard(s) 1/3 of T missing under D", Fails(S(0, 3), S(2, 3)));
        Assert.Equal("x merge: shard 0/2 given 2 times (f0of2, f0of2)", Fails(S(0, 2), S(0, 2), S(1, 2)));
        Assert.Contains("different shard counts", Fails(S(0, 2), S(1, 3)));
    }
}
