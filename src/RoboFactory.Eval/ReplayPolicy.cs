using RoboFactory.Data.Zarr;
using RoboFactory.Sim.Env;
using RoboFactory.Core.Errors;

namespace RoboFactory.Eval;

/// <summary>
/// `--policy replay`: re-executes the commanded actions recorded by `prepare` for the same seed (a check that the
/// recorded data reproduce the demonstrations in closed loop).
/// </summary>
public sealed class ReplayAgentPolicy : IAgentPolicy
{
    private readonly string store;
    private readonly Dictionary<long, (long Start, int Length)> episodes = new();
    private readonly ZarrArray<float> actions;
    private float[] current = [];
    private int t;

    public ReplayAgentPolicy(string storePath)
    {
        store = storePath;
        if (!ZarrEpisodeWriter.IsComplete(storePath)) throw new FileNotFoundException($"no finished ZARR store at {storePath} (run prepare first)", storePath);
        var group = ZarrGroup.Open(storePath);
        var attrs = group.ReadAttributes();
        var seeds = attrs?[ZarrEpisodeWriter.SeedsAttribute]?.AsArray().Select(n => n!.GetValue<long>()).ToArray()
            ?? throw new InputFormatException($"{storePath}/.zattrs: missing '{ZarrEpisodeWriter.SeedsAttribute}'");
        var ends = ZarrArray<long>.Open(Path.Combine(storePath, ZarrEpisodeWriter.EpisodeEndsName)).ReadAll();
        if (ends.Length != seeds.Length) throw new InputFormatException($"{storePath}: {seeds.Length} seeds but {ends.Length} episode ends");
        for (int e = 0; e < seeds.Length; e++)
        {
            long start = e == 0 ? 0 : ends[e - 1];
            episodes[seeds[e]] = (start, (int)(ends[e] - start));
        }
        actions = ZarrArray<float>.Open(Path.Combine(storePath, RoboFactoryZarrLayout.Action));
    }

    public IReadOnlyCollection<long> Seeds => episodes.Keys;

    public void Reset(int seed)
    {
        if (!episodes.TryGetValue(seed, out var ep))
            throw new ArgumentException($"{store} has no episode with seed {seed}; recorded seeds: {string.Join(", ", episodes.Keys.Order().Take(20))}{(episodes.Count > 20 ? ", …" : "")}");
        current = actions.ReadRows(ep.Start, ep.Length);
        t = 0;
    }

    public double[] Act(AgentObservation observation, string instruction)
    {
        int dim = (int)actions.RowElements;
        int row = System.Math.Min(t++, current.Length / dim - 1); // after the recording ends, hold the last action
        return current.AsSpan(row * dim, dim).ToArray().Select(v => (double)v).ToArray();
    }
}

public sealed class ReplayPolicy(IReadOnlyList<ReplayAgentPolicy> agents) : ClosedLoopPolicy("replay", agents, needsImages: false)
{
    public override void Validate(MultiAgentEnv env, IReadOnlyList<int> seeds)
    {
        base.Validate(env, seeds);
        foreach (var (a, i) in agents.Select((a, i) => (a, i)))
        {
            var missing = seeds.Where(s => !a.Seeds.Contains(s)).ToList();
            if (missing.Count > 0)
                throw new ArgumentException($"agent {i}: the recorded store has no episodes for seeds {string.Join(", ", missing.Take(10))}; replay evaluates recorded seeds only (use --seed-start {a.Seeds.Min()})");
        }
    }
}
