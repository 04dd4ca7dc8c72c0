using System.CommandLine;
using RoboFactory.Core.Sharding;

namespace RoboFactory.Cli.Commands;

/// <summary>`--shard i/n|auto` and `--shards N` of `prepare` and `eval` (one home for both).</summary>
public static class ShardOptions
{
    public static Option<string?> Shard(string what) => new("--shard")
    {
        Description = $"Run part i of n of the seeds (those at positions k ≡ i mod n), {what}; combine the parts with `merge`. " +
            $"auto: the index from a Slurm job array ({Core.Sharding.Shard.SlurmTaskId} − {Core.Sharding.Shard.SlurmTaskMin} of {Core.Sharding.Shard.SlurmTaskCount}) " +
            $"or a Kubernetes Indexed Job ({Core.Sharding.Shard.KubernetesIndex}, with --shards)",
    };

    public static Option<int?> Shards() => new("--shards")
    {
        Description = "With --shard auto: the number of shards (required under Kubernetes, whose Indexed Job does not export its completion count; overrides Slurm's)",
    };

    public static Shard? Parse(ParseResult r, Option<string?> shard, Option<int?> shards) => Core.Sharding.Shard.Parse(r.GetValue(shard), r.GetValue(shards));
}
