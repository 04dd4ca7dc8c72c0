using System.Text.Json.Nodes;
using RoboFactory.Planning;
using RoboFactory.Sim.Env;

namespace RoboFactory.Eval.Tests;

/// <summary>
/// `--protocol upstream` (RoboFactory's eval_multi_dp.py: policy calls × executed steps, no max_episode_steps cap,
/// success read at chunk ends) against `--protocol robofactory-net` (the task's cap, success at any step), with a
/// scripted policy that solves LiftBarrier only after step 600.
/// </summary>
public sealed class EvalProtocolTests : IDisposable
{
    const int Delay = 600;
    const int Seed = 1000;
    readonly string root = Directory.CreateTempSubdirectory("rf-protocol-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>The expert's commanded actions for <see cref="Seed"/>, per step and agent.</summary>
    static readonly Lazy<List<double[][]>> ExpertActions = new(() =>
    {
        var (config, _) = TaskRegistry.Load("LiftBarrier");
        using var env = new MultiAgentEnv(config, TaskRegistry.CreateLogic(config), new EnvOptions(RenderObservations: false));
        var actions = new List<double[][]>();
        var outcome = TaskRegistry.CreateExpert("LiftBarrier").Run(env, Seed, (_, a, _) => actions.Add([.. a.Select(x => (double[])x.Clone())]));
        Assert.True(outcome.Success, "the expert must solve the seed the test replays");
        return actions;
    });

    /// <summary>Holds its arm still for <see cref="Delay"/> steps, then replays the expert's actions (and holds the last).</summary>
    sealed class LateExpert(int agent) : IAgentPolicy
    {
        int t;
        double[]? hold;
        public void Reset(int seed) { t = 0; hold = null; }
        public double[] Act(AgentObservation o, string instruction)
        {
            var plan = ExpertActions.Value;
            int k = t++ - Delay;
            if (k < 0) return hold ??= [.. o.Qpos.Take(7), plan[0][agent][7]];
            return (double[])plan[Math.Min(k, plan.Count - 1)][agent].Clone();
        }
    }

    EvalReport Eval(string run, EvalProtocol protocol, int? executeSteps, int? policyCalls = null) => Evaluator.Run(
        new EvalOptions("LiftBarrier", Episodes: 1, SeedStart: Seed, OutRoot: root, Run: run, Protocol: protocol, PolicyCalls: policyCalls),
        () => new ClosedLoopPolicy("late", [new LateExpert(0), new LateExpert(1)], needsImages: false, executeSteps));

    [Fact]
    public void ALateSolutionFailsUnderTheTaskCap_AndSucceedsUnderUpstreamsRule_ReadAtChunkEnds()
    {
        var capped = Eval("capped", EvalProtocol.RoboFactoryNet, null).Results.Single();
        Assert.False(capped.Success);
        Assert.Equal(500, capped.Steps);
        Assert.Contains("max_episode_steps (500)", capped.FailureReason);

        // one action per call, 1,500 calls: the first step at which the task holds
        var everyStep = Eval("every", EvalProtocol.Upstream, executeSteps: 1, policyCalls: 1500).Results.Single();
        Assert.True(everyStep.Success, everyStep.FailureReason);
        int first = everyStep.Steps;
        Assert.InRange(first, Delay + 1, Delay + ExpertActions.Value.Count);
        Assert.True(first % EvalProtocols.UpstreamExecuteSteps != 0, $"success at step {first} is a chunk end already: change Delay so that the test can tell");

        // upstream's defaults: 250 calls of 6 actions, success only when a chunk ends: the first chunk end after `first`
        var report = Eval("upstream", EvalProtocol.Upstream, null);
        var upstream = report.Results.Single();
        Assert.True(upstream.Success, upstream.FailureReason);
        int chunk = EvalProtocols.UpstreamExecuteSteps;
        Assert.Equal((first + chunk - 1) / chunk * chunk, upstream.Steps);
        var json = JsonNode.Parse(File.ReadAllText(report.ResultsPath))!;
        Assert.Equal("upstream", (string?)json["protocol"]);
        Assert.Equal(EvalProtocols.UpstreamPolicyCalls * chunk, (int)json["max_steps"]!);
        Assert.Equal(chunk, (int)json["success_every"]!);

        // too few calls: the episode ends at the last chunk, unsolved, saying so
        var short_ = Eval("short", EvalProtocol.Upstream, null, policyCalls: 50).Results.Single();
        Assert.False(short_.Success);
        Assert.Equal(300, short_.Steps);
        Assert.Contains("50 calls of 6 actions", short_.FailureReason);
    }

    [Fact]
    public void PolicyCalls_BelongToTheUpstreamProtocol()
    {
        var e = Assert.Throws<ArgumentException>(() => Eval("bad", EvalProtocol.RoboFactoryNet, null, policyCalls: 10));
        Assert.Contains("--policy-calls", e.Message);
        Assert.Equal(EvalProtocol.Upstream, EvalProtocols.Parse("upstream"));
        Assert.Throws<ArgumentException>(() => EvalProtocols.Parse("maniskill"));
    }
}
