using RoboFactory.Planning;
using RoboFactory.Recording;
using RoboFactory.Data.Rlds;
using RoboFactory.Vla.Training;

namespace RoboFactory.Eval.Tests;

/// <summary>`eval --policy openvla` with tiny checkpoints trained for a few steps on one recorded demo per agent.</summary>
public class OpenVlaEvalTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("rf-vlaeval-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    private PrepareResult? prep;

    private string TrainAgents(int views, bool proprio = false, int chunk = 1, string policy = "openvla")
    {
        prep ??= DemoRecorder.Run(new PrepareOptions("LiftBarrier", 1, OutRoot: Path.Combine(root, "zarr")));
        string ckpts = Path.Combine(root, $"ckpt{views}_{proprio}_{chunk}_{policy}");
        for (int i = 0; i < prep.Stores.Count; i++)
        {
            var ds = ZarrToRlds.Convert(prep.Stores[i], Path.Combine(root, "rlds"), new ZarrToRldsOptions { Overwrite = true }).Dataset;
            using var trainer = VlaTrainer.Create(new TrainOptions
            {
                Policy = policy, Task = "LiftBarrier", AgentId = i, DataPath = ds.DatasetDirectory, MaxSteps = 2, BatchSize = 2, SaveEvery = 2,
                ValEvery = 0, ValFraction = 0, Views = views, Proprio = proprio, ActionChunk = chunk, CheckpointRoot = ckpts, Logger = "none", Plots = false,
            });
            trainer.Run();
        }
        return ckpts;
    }

    [Fact]
    public void TrainedAgentsActTogetherAndMismatchedCheckpointsAreRefusedBeforeSimulating()
    {
        var (cfg, _) = TaskRegistry.Load("LiftBarrier");
        string ckpts = TrainAgents(views: 3);
        var dirs = LearnedPolicy.CheckpointDirs(ckpts, cfg);
        Assert.Equal(2, dirs.Count);
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 1, MaxSteps: 3, OutRoot: root, Run: "vla"), () => LearnedPolicy.Load(dirs));
        var ep = Assert.Single(report.Results);
        Assert.Equal(3, ep.Steps); // a 2-step model does not lift the barrier in 3 steps
        Assert.False(ep.Success);
        Assert.Contains("--max-steps 3", ep.FailureReason);

        // the same agents, deterministic: same seed, same actions, same outcome
        var again = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 1, MaxSteps: 3, OutRoot: root, Run: "vla2"), () => LearnedPolicy.Load(dirs));
        Assert.Equal((ep.Steps, ep.ClippedActions), (again.Results[0].Steps, again.Results[0].ClippedActions));

        // agents trained on one view (--views 1) get the first view (the head camera) and act
        var oneView = LearnedPolicy.CheckpointDirs(TrainAgents(views: 1), cfg);
        var single = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 1, MaxSteps: 3, OutRoot: root, Run: "one"), () => LearnedPolicy.Load(oneView));
        Assert.Equal(3, single.Results[0].Steps);
        Assert.DoesNotContain("policy error", single.Results[0].FailureReason ?? "");

        // checkpoints for fewer agents than the task has: refused before any episode runs
        var e = Assert.Throws<ArgumentException>(() =>
            Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 1, MaxSteps: 3, OutRoot: root, Run: "bad"), () => LearnedPolicy.Load(dirs.Take(1).ToList())));
        Assert.Contains("LiftBarrier has 2 agents but 1 policies", e.Message);
        Assert.False(Directory.Exists(Path.Combine(root, "openvla", "LiftBarrier-rf", "bad")));
    }

    [Fact]
    public void ChunkedProprioAgents_ExecuteEachChunkBeforeAskingAgain()
    {
        var (cfg, _) = TaskRegistry.Load("LiftBarrier");
        var dirs = LearnedPolicy.CheckpointDirs(TrainAgents(views: 3, proprio: true, chunk: 3), cfg);
        LearnedPolicy? policy = null;
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 1, MaxSteps: 7, OutRoot: root, Run: "chunk"),
            () => policy = LearnedPolicy.Load(dirs));
        Assert.Equal(7, Assert.Single(report.Results).Steps);
        Assert.DoesNotContain("policy error", report.Results[0].FailureReason ?? "");
        // steps 0, 3 and 6 ask the model; 1, 2, 4, 5 replay the chunk: 3 queries for each of the 2 agents
        Assert.Equal(6, policy!.Queries);
    }

    [Fact]
    public void OftAgents_RunTheFirstNActionsOfEachChunk_AndResultsRecordThePolicyCalls()
    {
        var (cfg, _) = TaskRegistry.Load("LiftBarrier");
        var dirs = LearnedPolicy.CheckpointDirs(TrainAgents(views: 3, proprio: true, chunk: 4, policy: "openvla-oft"), cfg, "openvla-oft");
        Assert.Equal("openvla-oft", LearnedPolicy.PolicyOf(dirs));
        LearnedPolicy? policy = null;
        var report = Evaluator.Run(new EvalOptions("LiftBarrier", Episodes: 1, MaxSteps: 7, OutRoot: root, Run: "oft"),
            () => policy = LearnedPolicy.Load(dirs, options: new Vla.Policies.PolicyLoadOptions(ExecuteSteps: 3)));
        var e = Assert.Single(report.Results);
        Assert.Equal(7, e.Steps);
        Assert.DoesNotContain("policy error", e.FailureReason ?? "");
        // chunks of 4, 3 executed: steps 0, 3 and 6 ask the model, for each of the 2 agents
        Assert.Equal(6, policy!.Queries);
        Assert.Equal(6, e.PolicyCalls);
        Assert.True(e.PolicySeconds > 0);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(report.ResultsPath))!;
        Assert.Equal(6, json["episodes"]![0]!["policy_calls"]!.GetValue<int>());
        Assert.Throws<ArgumentException>(() => LearnedPolicy.Load(dirs, options: new Vla.Policies.PolicyLoadOptions(ExecuteSteps: 5)));
        Assert.Throws<ArgumentException>(() => LearnedPolicy.Load(dirs, "openvla"));
    }

    [Fact]
    public void MissingCheckpointsAreAClearError()
    {
        var (cfg, _) = TaskRegistry.Load("LiftBarrier");
        var e = Assert.Throws<DirectoryNotFoundException>(() => LearnedPolicy.CheckpointDirs(Path.Combine(root, "nothing"), cfg));
        Assert.Contains("train --policy openvla --task LiftBarrier-rf --agent-id 0", e.Message);
    }
}
