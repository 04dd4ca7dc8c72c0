using RoboFactory.Core.Naming;
using RoboFactory.Data.Datasets;
using RoboFactory.Core.Imaging;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Robots;
using RoboFactory.Vla.Imaging;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;

namespace RoboFactory.Eval;

/// <summary>
/// `--policy openvla`: every agent acts from its own fine-tuned checkpoint ({checkpoints}/{Task}_Agent{i}). LoRA
/// checkpoints on the same base share one frozen base model loaded once; each agent brings only its adapter.
/// Each agent sees the views it was trained on, in training order (head, global, wrist), with the same preprocessing
/// and its own dataset statistics for un-normalisation.
/// </summary>
public sealed class OpenVlaPolicy : ClosedLoopPolicy
{
    private readonly IReadOnlyList<VlaAgentPolicy> policies;
    private readonly IReadOnlyList<Agent> agents;

    private OpenVlaPolicy(IReadOnlyList<VlaAgentPolicy> policies, IReadOnlyList<Agent> agents)
        : base("openvla", agents.Cast<IAgentPolicy>().ToList(), needsImages: true) => (this.policies, this.agents) = (policies, agents);

    /// <summary>Model calls so far, over all agents (with action chunks of K, about one per K steps per agent).</summary>
    public int Queries => agents.Sum(a => a.Queries);

    /// <summary>Checkpoint folder of each agent, checked to exist before anything is loaded.</summary>
    public static IReadOnlyList<string> CheckpointDirs(string root, TaskConfig task) =>
        Enumerable.Range(0, task.Agents.Count).Select(i =>
        {
            string dir = Path.Combine(root, RunNames.AgentRunByEnvId(task.Name, i));
            string alt = Path.Combine(root, RunNames.AgentRun(task.Name, i));
            if (Directory.Exists(dir)) return dir;
            if (Directory.Exists(alt)) return alt;
            throw new DirectoryNotFoundException($"no checkpoint for agent {i}: expected {dir} (train it with `train --policy openvla --task {task.EnvId} --agent-id {i}`)");
        }).ToList();

    public static OpenVlaPolicy Load(IReadOnlyList<string> checkpointDirs, string device = "cpu", ActionDecoding decoding = ActionDecoding.Greedy)
    {
        var dev = Vla.Model.Pretrained.ParseDevice(device);
        var agents = VlaAgentPolicy.LoadAgents(checkpointDirs, dev);
        foreach (var a in agents) a.Decoding = decoding;
        return new OpenVlaPolicy(agents, agents.Select(a => new Agent(a)).ToList());
    }

    public override void Validate(MultiAgentEnv env, IReadOnlyList<int> seeds)
    {
        base.Validate(env, seeds);
        var problems = new List<string>();
        for (int i = 0; i < policies.Count; i++)
        {
            var c = policies[i].Checkpoint;
            if (c.Info.ActionDim != PandaSpec.ActionDim || c.Statistics.Dimension != PandaSpec.ActionDim)
                problems.Add($"agent {i} ({c.Directory}): action dim {c.Info.ActionDim} / statistics dim {c.Statistics.Dimension}, the task needs {PandaSpec.ActionDim}");
            if (c.Info.Views != DatasetViews.Count)
                problems.Add($"agent {i} ({c.Directory}): trained on {c.Info.Views} view(s); eval feeds {DatasetViews.Count} ({string.Join(", ", DatasetViews.Descriptions)})");
        }
        if (problems.Count > 0) throw new ArgumentException("checkpoints do not fit the task:\n  " + string.Join("\n  ", problems));
    }

    public override void Dispose() => VlaAgentPolicy.DisposeAll(policies);

    /// <summary>
    /// One agent: asks its policy for an action chunk (1 action unless trained with --action-chunk) and executes the
    /// chunk's actions on consecutive steps before asking again; the state tokens of --proprio checkpoints come from
    /// the measured joint state, as in the datasets.
    /// </summary>
    private sealed class Agent(VlaAgentPolicy policy) : IAgentPolicy
    {
        readonly Queue<double[]> pending = new();
        public int Queries { get; private set; }

        public void Reset(int seed) => pending.Clear();

        public double[] Act(AgentObservation o, string instruction)
        {
            if (pending.Count > 0) return pending.Dequeue();
            // the order training used: agent head camera, global camera, wrist camera
            var views = new[] { o.HeadCamera, o.GlobalCamera, o.WristCamera }
                .Select(img => img is null ? throw new InvalidOperationException("openvla needs rendered observations")
                    : img).ToList();
            Queries++;
            var chunk = policy.Predict(views, instruction, policy.UsesProprio ? o.JointState() : null).Chunk;
            foreach (var a in chunk.Skip(1)) pending.Enqueue(a);
            return chunk[0];
        }
    }
}
