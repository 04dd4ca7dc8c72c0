using System.Diagnostics;
using System.Text.Json.Nodes;
using RoboFactory.Recording;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;
using RoboFactory.Sim.Tasks;

namespace RoboFactory.Eval.Tests;

public class EvalTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("rf-eval-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void WilsonIntervalMatchesTheClosedForm()
    {
        var (lo, hi) = Evaluator.Wilson(58, 100);
        Assert.Equal(0.4820, lo, 3);
        Assert.Equal(0.6719, hi, 3);
        Assert.Equal((0.0, 1.0), Evaluator.Wilson(0, 0));
        var (l0, h0) = Evaluator.Wilson(0, 10);
        Assert.Equal(0, l0, 12);
        Assert.Equal(0.2775, h0, 3);
        var (l1, h1) = Evaluator.Wilson(10, 10);
        Assert.Equal(1 - 0.2775, l1, 3);
        Assert.Equal(1, h1, 12);
    }

    [Fact]
    public void ExpertEvaluationWritesResultsAndAPlayableVideo()
    {
        var o = new EvalOptions("LiftBarrier-rf", Episodes: 2, SeedStart: 1000, Videos: 1, OutRoot: root, Run: "r");
        var report = Evaluator.Run(o, () => new ExpertPolicy("LiftBarrier"));
        Assert.Equal(2, report.Summary.Episodes);
        Assert.Equal(2, report.Summary.Successes);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "expert", "LiftBarrier-rf", "r", "results.json")))!;
        Assert.Equal(1.0, json["summary"]!["success_rate"]!.GetValue<double>());
        var eps = json["episodes"]!.AsArray();
        Assert.Equal([1000, 1001], eps.Select(e => e!["seed"]!.GetValue<int>()));
        Assert.All(eps, e => Assert.True(e!["wall_time_s"]!.GetValue<double>() > 0));
        string video = Path.Combine(report.Directory, "seed_1000.mp4");
        Assert.Equal("seed_1000.mp4", eps[0]!["video"]!.GetValue<string>());
        Assert.Null(eps[1]!["video"]);
        // one frame before the first action and one after every step
        Assert.Equal(report.Results[0].Steps + 1, FrameCount(video));
    }

    /// <summary>Holds every arm at its initial joints with the gripper open: nothing is ever lifted.</summary>
    private sealed class HoldPolicy : IAgentPolicy
    {
        public void Reset(int seed) { }
        public double[] Act(AgentObservation observation, string instruction) => [.. observation.Qpos.Take(7), 1.0];
    }

    [Fact]
    public void AFailedEpisodeRecordsWhichConditionFailed()
    {
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 1, MaxSteps: 3, OutRoot: root, Run: "hold"),
            () => new ClosedLoopPolicy("hold", [new HoldPolicy(), new HoldPolicy()], needsImages: false));
        var episode = Assert.Single(report.Results);
        Assert.False(episode.Success);
        Assert.Equal([new TaskCondition("barrier_lifted", false)], episode.Evaluation!.Conditions);
        Assert.Equal("not solved within --max-steps 3; unmet: barrier_lifted", episode.FailureReason);

        var json = JsonNode.Parse(File.ReadAllText(report.ResultsPath))!["episodes"]![0]!;
        Assert.Equal("""{"barrier_lifted":false}""", json["conditions"]!.ToJsonString());
        Assert.Equal(episode.FailureReason, json["failure_reason"]!.GetValue<string>());
    }

    [Fact]
    public void ASuccessfulEpisodeRecordsTheConditionsAtSuccess()
    {
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 1, SeedStart: 1000, OutRoot: root, Run: "ok"), () => new ExpertPolicy("LiftBarrier"));
        var episode = Assert.Single(report.Results);
        Assert.True(episode.Success, episode.FailureReason);
        Assert.True(episode.Evaluation!["barrier_lifted"]);
        Assert.Null(episode.FailureReason);
        var json = JsonNode.Parse(File.ReadAllText(report.ResultsPath))!["episodes"]![0]!;
        Assert.True(json["conditions"]!["barrier_lifted"]!.GetValue<bool>());
    }

    [Fact]
    public void SameSeedsGiveTheSameResultsWithOneOrTwoWorkers()
    {
        var a = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 3, SeedStart: 7, OutRoot: root, Run: "a"), () => new ExpertPolicy("LiftBarrier"));
        var b = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 3, SeedStart: 7, Workers: 2, OutRoot: root, Run: "b"), () => new ExpertPolicy("LiftBarrier"));
        Assert.Equal(a.Results.OrderBy(r => r.Seed).Select(r => (r.Seed, r.Success, r.Steps)), b.Results.OrderBy(r => r.Seed).Select(r => (r.Seed, r.Success, r.Steps)));
    }

    [Fact]
    public void ReplayOfRecordedDemosSucceedsAndUnknownSeedsAreRefusedBeforeSimulating()
    {
        var prep = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 2, OutRoot: Path.Combine(root, "zarr")));
        Func<EvalPolicy> replay = () => new ReplayPolicy(prep.Stores.Select(s => new ReplayAgentPolicy(s)).ToList());
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 2, SeedStart: 0, OutRoot: root, Run: "replay"), replay);
        Assert.Equal(2, report.Summary.Successes);
        var e = Assert.Throws<ArgumentException>(() => Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 2, SeedStart: 1000, OutRoot: root), replay));
        Assert.Contains("seeds 1000, 1001", e.Message);
    }

    [Fact]
    public void NonFiniteAndOutOfLimitActionsAreClippedAndCounted()
    {
        var obs = new AgentObservation([0.1, 0.2, 0.3, -1.0, 0.5, 1.0, 0.7, 0.04, 0.04], new double[9], Pose.Identity, null, null, null);
        double[] action = [double.NaN, 5.0, 0.0, 0.5, 0.0, 1.0, double.PositiveInfinity, 3.0];
        int changed = ClosedLoopPolicy.Sanitize(action, obs);
        Assert.Equal(5, changed);
        Assert.Equal(0.1, action[0]);      // NaN holds the current joint
        Assert.Equal(1.7628, action[1]);   // clipped to the joint limit
        Assert.Equal(-0.0698, action[3]);
        Assert.Equal(0.7, action[6]);
        Assert.Equal(1.0, action[7]);      // gripper clipped to [-1, 1]
        double[] ok = [0, 0, 0, -1, 0, 1, 0, -1];
        Assert.Equal(0, ClosedLoopPolicy.Sanitize(ok, obs));
    }

    private sealed class WildPolicy : IAgentPolicy
    {
        public void Reset(int seed) { }
        public double[] Act(AgentObservation observation, string instruction) => [double.NaN, 9, 0, 0, 0, 9, 0, 7];
    }

    [Fact]
    public void ABadPolicyFailsItsEpisodesButTheRunCompletes()
    {
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 2, MaxSteps: 5, OutRoot: root),
            () => new ClosedLoopPolicy("wild", [new WildPolicy(), new WildPolicy()], needsImages: false));
        Assert.Equal(0, report.Summary.Successes);
        Assert.All(report.Results, r => Assert.Equal(5 * 5 * 2, r.ClippedActions)); // 5 values x 5 steps x 2 agents... per episode
        Assert.All(report.Results, r => Assert.Contains("--max-steps 5", r.FailureReason));
    }

    public static TheoryData<string> Tasks() => [.. RoboFactory.Planning.TaskRegistry.All.Select(t => t.Name)];

    /// <summary>NaN and far-out-of-range actions on every task: each episode fails with its reason in results.json, the run completes.</summary>
    [Theory, MemberData(nameof(Tasks))]
    public void ABadPolicyFailsItsEpisodesButTheRunCompletes_OnEveryTask(string task)
    {
        int agents = RoboFactory.Planning.TaskRegistry.Load(task).Config.Agents.Count;
        var report = Evaluator.Run(new EvalOptions(task, Episodes: 2, MaxSteps: 3, OutRoot: root, Run: "wild"),
            () => new ClosedLoopPolicy("wild", [.. Enumerable.Range(0, agents).Select(_ => (IAgentPolicy)new WildPolicy())], needsImages: false));
        Assert.Equal(2, report.Results.Count);
        Assert.All(report.Results, r => Assert.False(r.Success));
        Assert.All(report.Results, r => Assert.Equal(5 * 3 * agents, r.ClippedActions));
        var json = JsonNode.Parse(File.ReadAllText(report.ResultsPath))!;
        Assert.All(json["episodes"]!.AsArray(), e => Assert.False(string.IsNullOrEmpty((string?)e!["failure_reason"])));
    }

    private sealed class ThrowingPolicy : IAgentPolicy
    {
        public void Reset(int seed) { }
        public double[] Act(AgentObservation observation, string instruction) => throw new InvalidOperationException("model exploded");
    }

    [Fact]
    public void APolicyThatThrowsFailsItsEpisodesWithTheReasonAndTheRunCompletes()
    {
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 2, OutRoot: root),
            () => new ClosedLoopPolicy("throws", [new ThrowingPolicy(), new ThrowingPolicy()], needsImages: false));
        Assert.Equal(2, report.Summary.Episodes);
        Assert.All(report.Results, r => Assert.Equal("policy error: InvalidOperationException: model exploded", r.FailureReason));
        Assert.True(File.Exists(report.ResultsPath));
    }

    [Fact]
    public void CancellationWritesPartialResults()
    {
        using var cts = new CancellationTokenSource();
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 5, OutRoot: root, Run: "c"), () => new ExpertPolicy("LiftBarrier"),
            new SyncProgress<EpisodeResult>(_ => cts.Cancel()), cancel: cts.Token);
        Assert.True(report.Summary.Interrupted);
        Assert.InRange(report.Summary.Episodes, 1, 4);
        Assert.True(File.Exists(report.ResultsPath));
    }

    private static int FrameCount(string video)
    {
        var psi = new ProcessStartInfo("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", video]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string o = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return int.Parse(o.Trim());
    }
}
