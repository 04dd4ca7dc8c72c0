using RoboFactory.Sim.Config;

namespace RoboFactory.Eval;

/// <summary>How an evaluation bounds an episode and when it reads success (`eval --protocol`).</summary>
public enum EvalProtocol
{
    /// <summary>`robofactory-net`: ManiSkill's rule: the task's max_episode_steps (or --max-steps), success at any step.</summary>
    RoboFactoryNet,
    /// <summary>`upstream`: RoboFactory's Diffusion Policy eval (policy/Diffusion-Policy/eval_multi_dp.py): a number of
    /// policy calls, each executing one chunk; no max_episode_steps cap; success read only when a chunk ends.</summary>
    Upstream,
}

/// <summary>The limits one episode runs under.</summary>
/// <param name="MaxSteps">control steps at most</param>
/// <param name="SuccessEvery">success is read after every N-th step and after the last (1: every step; upstream: chunk ends)</param>
/// <param name="StopAtTaskLimit">end the episode at the task's max_episode_steps (ManiSkill's truncation)</param>
public sealed record EpisodeLimits(int MaxSteps, int SuccessEvery = 1, bool StopAtTaskLimit = true)
{
    /// <summary>Whether success is read after <paramref name="steps"/> steps.</summary>
    public bool ReadsSuccessAfter(int steps) => steps % SuccessEvery == 0 || steps >= MaxSteps;
}

public static class EvalProtocols
{
    /// <summary>eval_multi_dp.py's loop: at most 250 policy calls per episode.</summary>
    public const int UpstreamPolicyCalls = 250;
    /// <summary>RoboFactory's Diffusion Policy executes 6 of its 8 predicted actions per call.</summary>
    public const int UpstreamExecuteSteps = 6;

    /// <summary>The command-line and results.json name of each protocol: the one home of those names.</summary>
    static readonly (EvalProtocol Protocol, string Name)[] Table = [(EvalProtocol.RoboFactoryNet, "robofactory-net"), (EvalProtocol.Upstream, "upstream")];

    public static readonly IReadOnlyList<string> Names = [.. Table.Select(t => t.Name)];

    public static string Name(EvalProtocol p) => Table.Single(t => t.Protocol == p).Name;

    public static EvalProtocol Parse(string name) =>
        Table.FirstOrDefault(t => t.Name == name) is { Name: not null } hit
            ? hit.Protocol
            : throw new ArgumentException($"--protocol {name}: expected one of {string.Join(", ", Names)}");

    /// <summary>The limits of <paramref name="protocol"/> for a task.</summary>
    /// <param name="maxSteps">--max-steps: overrides the step limit of either protocol</param>
    /// <param name="policyCalls">upstream: calls per episode (default 250)</param>
    /// <param name="executeSteps">upstream: actions executed per call (a chunked policy's --execute-steps; else 6)</param>
    public static EpisodeLimits Limits(EvalProtocol protocol, TaskConfig task, int? maxSteps, int? policyCalls, int? executeSteps)
    {
        if (maxSteps is <= 0) throw new ArgumentException($"--max-steps must be positive, got {maxSteps}");
        if (policyCalls is <= 0) throw new ArgumentException($"--policy-calls must be positive, got {policyCalls}");
        if (protocol == EvalProtocol.RoboFactoryNet)
        {
            if (policyCalls is not null) throw new ArgumentException("--policy-calls belongs to --protocol upstream");
            return new EpisodeLimits(maxSteps ?? task.MaxEpisodeSteps);
        }
        int chunk = executeSteps ?? UpstreamExecuteSteps;
        return new EpisodeLimits(maxSteps ?? (policyCalls ?? UpstreamPolicyCalls) * chunk, chunk, StopAtTaskLimit: false);
    }
}
