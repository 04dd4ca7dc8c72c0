using System.Globalization;
using RoboFactory.Core.Errors;

namespace RoboFactory.Core.Sharding;

/// <summary>
/// Part <see cref="Index"/> of <see cref="Count"/> of a seed list (`--shard i/n`): the seeds at positions k with
/// k ≡ i (mod n). Shards of one run are independent jobs (a Slurm array task, a Kubernetes Indexed Job pod); their
/// outputs are combined by `prepare merge` / `eval merge`.
/// </summary>
public sealed record Shard(int Index, int Count)
{
    /// <summary>Environment variables read by `--shard auto`.</summary>
    public const string SlurmTaskId = "SLURM_ARRAY_TASK_ID", SlurmTaskMin = "SLURM_ARRAY_TASK_MIN",
        SlurmTaskCount = "SLURM_ARRAY_TASK_COUNT", KubernetesIndex = "JOB_COMPLETION_INDEX";

    /// <summary>Whether position <paramref name="k"/> of the seed list belongs to this shard.</summary>
    public bool Holds(int k) => k % Count == Index;

    /// <summary>The positions 0..<paramref name="total"/>-1 of this shard, in order.</summary>
    public IEnumerable<int> Positions(int total) => Enumerable.Range(0, total).Where(Holds);

    /// <summary>Tag in file names: "shard2of8".</summary>
    public string Tag => $"shard{Index}of{Count}";

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>
    /// `--shard` value: null or empty (no sharding), "i/n" with 0 ≤ i &lt; n, or "auto": Slurm's
    /// SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT, else Kubernetes' JOB_COMPLETION_INDEX of
    /// <paramref name="shards"/> (`--shards`, required there: an Indexed Job does not export its completions).
    /// </summary>
    public static Shard? Parse(string? text, int? shards = null, Func<string, string?>? environment = null)
    {
        if (string.IsNullOrWhiteSpace(text)) return shards is null ? null : throw new ArgumentException("--shards is only used with --shard auto");
        environment ??= Environment.GetEnvironmentVariable;
        if (text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            if (environment(SlurmTaskId) is string id)
            {
                int min = Int(environment(SlurmTaskMin) ?? "0", SlurmTaskMin);
                string count = environment(SlurmTaskCount) ?? throw new ArgumentException($"--shard auto: {SlurmTaskId} is set but {SlurmTaskCount} is not");
                return Make(Int(id, SlurmTaskId) - min, shards ?? Int(count, SlurmTaskCount), $"--shard auto ({SlurmTaskId}={id}, {SlurmTaskMin}={min})");
            }
            if (environment(KubernetesIndex) is string index)
                return Make(Int(index, KubernetesIndex), shards ?? throw new ArgumentException($"--shard auto: {KubernetesIndex} is set; pass the number of completions as --shards N"),
                    $"--shard auto ({KubernetesIndex}={index})");
            throw new ArgumentException($"--shard auto: neither {SlurmTaskId} (a Slurm job array) nor {KubernetesIndex} (a Kubernetes Indexed Job) is set; pass --shard i/n");
        }
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            throw new ArgumentException($"--shard '{text}': expected i/n (e.g. 0/4) or auto");
        return Make(i, n, $"--shard {text}");
    }

    private static Shard Make(int index, int count, string what)
    {
        if (count < 1) throw new ArgumentException($"{what}: the number of shards must be at least 1, got {count}");
        if (index < 0 || index >= count) throw new ArgumentException($"{what}: shard index {index} is outside 0..{count - 1}");
        return new Shard(index, count);
    }

    /// <summary>
    /// Checks that <paramref name="shards"/> (each with the file it came from) are one complete set 0..n−1 of the same
    /// n: no shard repeated, none missing. Returns n. Messages start with <paramref name="context"/> ("eval merge");
    /// a missing shard reads "shard(s) 1/2{of} missing{where}".
    /// </summary>
    public static int CheckCompleteSet(IReadOnlyList<(string File, Shard Shard)> shards, string context, string of = "", string where = "")
    {
        if (shards.Count == 0) throw new InputFormatException($"{context}: no shards");
        var (firstFile, first) = shards[0];
        foreach (var (f, shard) in shards.Skip(1))
            if (shard.Count != first.Count)
                throw new InputFormatException($"{context}: {f} is shard {shard}, {firstFile} shard {first}: different shard counts");
        int n = first.Count;
        var repeated = shards.GroupBy(s => s.Shard.Index).Where(g => g.Count() > 1).ToList();
        if (repeated.Count > 0)
            throw new InputFormatException($"{context}: " + string.Join("; ", repeated.Select(g => $"shard {g.Key}/{n} given {g.Count()} times ({string.Join(", ", g.Select(s => s.File))})")));
        var absent = Enumerable.Range(0, n).Except(shards.Select(s => s.Shard.Index)).ToList();
        if (absent.Count > 0)
            throw new InputFormatException($"{context}: shard(s) {string.Join(", ", absent.Select(i => $"{i}/{n}"))}{of} missing{where}");
        return n;
    }

    private static int Int(string value, string name) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v)
            ? v : throw new ArgumentException($"--shard auto: {name}='{value}' is not an integer");
}
