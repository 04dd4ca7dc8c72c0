using RoboFactory.Core.Naming;
using RoboFactory.Core.Imaging;
using RoboFactory.Data.Datasets;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Robots;
using RoboFactory.Vla.Policies;

namespace RoboFactory.Eval;

/// <summary>
/// `--policy NAME` for any trained policy of <see cref="PolicyRegistry"/>: every agent acts from its own checkpoint
/// ({checkpoints}/{Task}_Agent{i}), loaded by the policy's registry entry (LoRA checkpoints of openvla on one base share
/// it). Each agent sees the views it was trained on, in training order (head, global, wrist), and its measured joint
/// state when it was trained with one.
/// </summary>
public sealed class LearnedPolicy : ClosedLoopPolicy
{
    private readonly LoadedAgents loaded;
    private readonly IReadOnlyList<Agent> agents;
    private IReadOnlyList<IPolicyActor> Actors => loaded.Actors;

    private LearnedPolicy(string name, LoadedAgents loaded, IReadOnlyList<Agent> agents)
        : base(name, agents.Cast<IAgentPolicy>().ToList(), needsImages: true,
            executeSteps: agents.Select(a => a.ExecuteSteps).Distinct().Count() == 1 ? agents[0].ExecuteSteps : null)
        => (this.loaded, this.agents) = (loaded, agents);

    /// <summary>Policy calls so far, over all agents (with action chunks of K, about one per K steps per agent).</summary>
    public int Queries => agents.Sum(a => a.Queries);

    /// <summary>Checkpoint folder of each agent, checked to exist before anything is loaded.</summary>
    /// <param name="policy">the policy the error message tells the user to train</param>
    public static IReadOnlyList<string> CheckpointDirs(string root, TaskConfig task, string policy = PolicyRegistry.DefaultName) =>
        Enumerable.Range(0, task.Agents.Count).Select(i =>
        {
            string dir = Path.Combine(root, RunNames.AgentRunByEnvId(task.Name, i));
            string alt = Path.Combine(root, RunNames.AgentRun(task.Name, i));
            if (Directory.Exists(dir)) return dir;
            if (Directory.Exists(alt)) return alt;
            throw new DirectoryNotFoundException($"no checkpoint for agent {i}: expected {dir} (train it with `train --policy {policy} --task {task.EnvId} --agent-id {i}`)");
        }).ToList();

    /// <summary>The policy the checkpoints were trained as (policy.json), refusing a mix.</summary>
    public static string PolicyOf(IReadOnlyList<string> checkpointDirs)
    {
        var names = checkpointDirs.Select(d => (Dir: d, Name: PolicyRegistry.NameOf(d))).ToList();
        var distinct = names.Select(n => n.Name).Distinct().ToList();
        if (distinct.Count != 1)
            throw new ArgumentException("the agents' checkpoints are of different policies: " + string.Join(", ", names.Select(n => $"{n.Dir}: {n.Name}")));
        return distinct[0];
    }

    /// <summary>Loads every agent through the registry entry of <paramref name="policy"/> (null: read it from the checkpoints).</summary>
    public static LearnedPolicy Load(IReadOnlyList<string> checkpointDirs, string? policy = null, PolicyLoadOptions? options = null)
    {
        string name = policy ?? PolicyOf(checkpointDirs);
        var entry = PolicyRegistry.Get(name);
        foreach (var d in checkpointDirs)
        {
            var trainedAs = PolicyRegistry.NameOf(d);
            if (trainedAs != name) throw new ArgumentException($"{d} holds a {trainedAs} checkpoint, not {name} (pass --policy {trainedAs})");
        }
        var loaded = entry.LoadAgents(checkpointDirs, options ?? new PolicyLoadOptions());

        var o = options ?? new PolicyLoadOptions();
        foreach (var a in loaded.Actors)
            if (o.ExecuteSteps is int n && (n < 1 || n > a.ActionChunk))
            {
                loaded.Dispose();
                throw new ArgumentException($"--execute-steps {n}: {a.Source} predicts chunks of {a.ActionChunk}; expected 1..{a.ActionChunk}");
            }
        return new LearnedPolicy(name, loaded, loaded.Actors.Select(a => new Agent(a, o.ExecuteSteps ?? a.ActionChunk)).ToList());
    }

    public override void Validate(MultiAgentEnv env, IReadOnlyList<int> seeds)
    {
        base.Validate(env, seeds);
        var problems = new List<string>();
        for (int i = 0; i < Actors.Count; i++)
        {
            var a = Actors[i];
            if (a.ActionDim != PandaSpec.ActionDim)
                problems.Add($"agent {i} ({a.Source}): action dim {a.ActionDim}, the task needs {PandaSpec.ActionDim}");
            if (a.Views < 1 || a.Views > DatasetViews.Count)
                problems.Add($"agent {i} ({a.Source}): trained on {a.Views} view(s); the task renders 1..{DatasetViews.Count} ({string.Join(", ", DatasetViews.Descriptions)})");
        }
        if (Actors.Count != env.AgentCount) problems.Add($"{Actors.Count} checkpoints for {env.AgentCount} agents");
        if (problems.Count > 0) throw new ArgumentException("checkpoints do not fit the task:\n  " + string.Join("\n  ", problems));
    }

    public override void Dispose() => loaded.Dispose();

    /// <summary>
    /// One agent: asks its policy for an action chunk and executes its first N actions (--execute-steps; default the
    /// whole chunk) on consecutive steps before asking again; the joint state comes from the measured qpos, as in the datasets.
    /// </summary>
    private sealed class Agent(IPolicyActor actor, int executeSteps) : IAgentPolicy
    {
        readonly Queue<double[]> pending = new();
        public int ExecuteSteps => executeSteps;
        public int Queries { get; private set; }
        public int Calls => Queries;

        public void Reset(int seed) => pending.Clear();

        public double[] Act(AgentObservation o, string instruction)
        {
            if (pending.Count > 0) return pending.Dequeue();
            // the order training used: agent head camera, global camera, wrist camera; a policy trained on N views
            // (--views N) gets the first N, as the datasets' first N image features
            IReadOnlyList<Image8> views = new[] { o.HeadCamera, o.GlobalCamera, o.WristCamera }.Take(actor.Views)
                .Select(img => img ?? throw new InvalidOperationException("a learned policy needs rendered observations")).ToList();
            Queries++;
            var chunk = actor.Act(new PolicyObservation(views, instruction, actor.UsesState ? o.JointState() : null));
            foreach (var a in chunk.Skip(1).Take(executeSteps - 1)) pending.Enqueue(a); // the first N of each chunk, then ask again
            return chunk[0];
        }
    }
}
