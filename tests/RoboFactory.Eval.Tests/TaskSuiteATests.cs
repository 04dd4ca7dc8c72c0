using RoboFactory.Planning;
using RoboFactory.Recording;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Eval.Tests;

/// <summary>
/// End to end for every one- and two-arm task: `prepare` records two expert demos into one ZARR store per agent, and
/// `eval --policy expert` solves seed 0 (checked to succeed for every task; the experts solve 50/50 of seeds 0-49).
/// </summary>
public class TaskSuiteATests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("rf-suite-a-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    [Theory]
    [MemberData(nameof(TaskSuites.UpToTwoArms), MemberType = typeof(TaskSuites))]
    public void PrepareRecordsTwoDemosPerAgent(string task)
    {
        int agents = TaskSuites.Agents(task);
        var result = DemoRecorder.Run(new PrepareOptions(task, 2, OutRoot: root));
        Assert.Equal(2, result.Successes);
        Assert.Equal(agents, result.Stores.Count);
        for (int i = 0; i < agents; i++)
        {
            Assert.EndsWith($"{task}_Agent{i}_2.zarr", result.Stores[i]);
            Assert.True(ZarrEpisodeWriter.IsComplete(result.Stores[i]), $"{result.Stores[i]} is not finished");
            var ends = ZarrArray<long>.Open(Path.Combine(result.Stores[i], "meta/episode_ends")).ReadAll();
            Assert.Equal(2, ends.Length);
            Assert.True(ends[0] > 0 && ends[1] > ends[0], $"episode ends {ends[0]}, {ends[1]}");
        }
    }

    [Theory]
    [MemberData(nameof(TaskSuites.UpToTwoArms), MemberType = typeof(TaskSuites))]
    public void ExpertSolvesSeedZero(string name)
    {
        string task = name + "-rf"; // the env id form is accepted too
        var report = Evaluator.Run(new EvalOptions(task, Episodes: 1, SeedStart: 0, OutRoot: root), () => new ExpertPolicy(task));
        var episode = Assert.Single(report.Results);
        Assert.True(episode.Success, $"{task} seed 0: {episode.FailureReason}");
        Assert.InRange(episode.Steps, 1, TaskRegistry.Load(task).Config.MaxEpisodeSteps);
        Assert.True(File.Exists(report.ResultsPath));
    }
}
