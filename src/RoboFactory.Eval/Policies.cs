using RoboFactory.Planning;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Robots;

namespace RoboFactory.Eval;

/// <summary>One agent's closed-loop controller: observation in, 8-D absolute action out.</summary>
public interface IAgentPolicy
{
    void Reset(int seed);
    double[] Act(AgentObservation observation, string instruction);
    /// <summary>Calls of the underlying model so far (a chunked policy calls it once per executed chunk); 0 for scripted ones.</summary>
    int Calls => 0;
}

/// <summary>How one episode ended.</summary>
/// <param name="PolicyCalls">model calls over all agents in this episode</param>
/// <param name="PolicySeconds">wall seconds spent inside the agents' Act over the episode</param>
public sealed record EpisodeRun(int Seed, bool Success, int Steps, string? FailureReason, int ClippedActions, int PolicyCalls = 0, double PolicySeconds = 0);

/// <summary>A way of acting in every episode of an evaluation: scripted experts, replayed demos, or learned policies.</summary>
public abstract class EvalPolicy : IDisposable
{
    public abstract string Name { get; }
    /// <summary>Whether the policy reads images (otherwise they are rendered only for videos).</summary>
    public virtual bool NeedsImages => false;
    /// <summary>Checks, before any simulation, that the policy fits the task (action dim, views, statistics, seeds).</summary>
    public virtual void Validate(MultiAgentEnv env, IReadOnlyList<int> seeds) { }
    /// <summary>Actions executed per policy call when every agent executes the same number (chunked policies); else null.</summary>
    public virtual int? ExecuteSteps => null;
    public abstract EpisodeRun Run(MultiAgentEnv env, int seed, EpisodeLimits limits, StepCallback? onStep, CancellationToken cancel);
    public virtual void Dispose() { }
}

/// <summary>`--policy expert`: the task's scripted expert (a pipeline sanity check). Its script decides when it ends, so
/// of the limits only the step limit applies.</summary>
public sealed class ExpertPolicy(string task) : EvalPolicy
{
    private readonly TaskExpert expert = TaskRegistry.CreateExpert(task);
    public override string Name => "expert";

    public override EpisodeRun Run(MultiAgentEnv env, int seed, EpisodeLimits limits, StepCallback? onStep, CancellationToken cancel)
    {
        int maxSteps = limits.MaxSteps;
        bool success = false;
        var outcome = expert.Run(env, seed, (before, actions, result) =>
        {
            cancel.ThrowIfCancellationRequested();
            onStep?.Invoke(before, actions, result);
            success |= result.Success;
            if (result.Info.ElapsedSteps >= maxSteps && !result.Success) throw new ExpertAbortedException($"reached --max-steps {maxSteps}");
        });
        return new EpisodeRun(seed, outcome.Success || success, outcome.Steps, outcome.Success || success ? null : outcome.FailureReason, 0);
    }
}

/// <summary>
/// Closed-loop execution of per-agent policies in lock-step: every step each agent acts from its own observation;
/// actions are sanitised (non-finite values hold the current joint, targets clipped to the joint limits and the gripper
/// to [−1, 1]) and counted. The episode succeeds at the first step where the task reports success and the limits read
/// it (every step, or chunk ends under the upstream protocol).
/// </summary>
/// <param name="executeSteps">actions each agent executes per call of its model (null: not a chunked policy)</param>
public class ClosedLoopPolicy(string name, IReadOnlyList<IAgentPolicy> agents, bool needsImages, int? executeSteps = null) : EvalPolicy
{
    public override string Name => name;
    public override bool NeedsImages => needsImages;
    public override int? ExecuteSteps => executeSteps;
    protected IReadOnlyList<IAgentPolicy> Agents => agents;

    public override void Validate(MultiAgentEnv env, IReadOnlyList<int> seeds)
    {
        if (agents.Count != env.AgentCount)
            throw new ArgumentException($"{env.Task.Name} has {env.AgentCount} agents but {agents.Count} policies were given");
    }

    public override EpisodeRun Run(MultiAgentEnv env, int seed, EpisodeLimits limits, StepCallback? onStep, CancellationToken cancel)
    {
        int maxSteps = limits.MaxSteps;
        var obs = env.Reset(seed);
        foreach (var a in agents) a.Reset(seed);
        int clipped = 0;
        int calls0 = agents.Sum(a => a.Calls);
        var inPolicy = new System.Diagnostics.Stopwatch();
        EpisodeRun Done(bool success, int steps, string? reason) =>
            new(seed, success, steps, reason, clipped, agents.Sum(a => a.Calls) - calls0, Math.Round(inPolicy.Elapsed.TotalSeconds, 4));
        for (int t = 0; t < maxSteps; t++)
        {
            cancel.ThrowIfCancellationRequested();
            var actions = new double[env.AgentCount][];
            for (int i = 0; i < actions.Length; i++)
            {
                inPolicy.Start();
                actions[i] = agents[i].Act(obs.Agents[i], env.Task.Instruction);
                inPolicy.Stop();
                clipped += Sanitize(actions[i], obs.Agents[i]);
            }
            var result = env.Step(actions);
            onStep?.Invoke(obs, actions, result);
            obs = result.Observation;
            if (result.Success && limits.ReadsSuccessAfter(t + 1)) return Done(true, t + 1, null);
            if (result.Info.Unstable) return Done(false, t + 1, result.Info.FailureReason);
            if (result.Truncated && limits.StopAtTaskLimit) return Done(false, t + 1, $"reached max_episode_steps ({env.Task.MaxEpisodeSteps})");
        }
        return Done(false, maxSteps, limits.StopAtTaskLimit
            ? $"not solved within --max-steps {maxSteps}"
            : $"not solved at a chunk end within {maxSteps} steps ({maxSteps / limits.SuccessEvery} calls of {limits.SuccessEvery} actions)");
    }

    /// <summary>Makes an action safe to execute; returns how many values had to be changed.</summary>
    public static int Sanitize(double[] action, AgentObservation obs)
    {
        if (action.Length != PandaSpec.ActionDim)
            throw new InvalidOperationException($"policy returned {action.Length} values, expected {PandaSpec.ActionDim}");
        int changed = 0;
        for (int j = 0; j < PandaSpec.ArmDof; j++)
        {
            double v = action[j];
            double fixedV = !double.IsFinite(v) ? obs.Qpos[j] : System.Math.Clamp(v, PandaSpec.QMin[j], PandaSpec.QMax[j]);
            if (fixedV != v) { action[j] = fixedV; changed++; }
        }
        double g = action[7];
        double fixedG = !double.IsFinite(g) ? (obs.Qpos[7] + obs.Qpos[8] > 0.04 ? 1 : -1) : System.Math.Clamp(g, -1, 1);
        if (fixedG != g) { action[7] = fixedG; changed++; }
        return changed;
    }
}
