using RoboFactory.Planning;
using RoboFactory.Recording;
using RoboFactory.Data.Zarr;
using YamlDotNet.RepresentationModel;

namespace RoboFactory.Eval.Tests;

/// <summary>
/// End-to-end checks of every three- and four-arm task: the scripted expert records demos (`prepare`, one ZARR store
/// per agent) and solves a verified seed in closed-loop evaluation (`eval --policy expert`).
/// </summary>
public class TaskSuiteBTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("rf-suite-b-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    [Theory]
    [MemberData(nameof(TaskSuites.ThreeOrMoreArms), MemberType = typeof(TaskSuites))]
    public void PrepareRecordsOneStorePerAgent(string task)
    {
        int agents = TaskSuites.Agents(task);
        var prep = DemoRecorder.Run(new PrepareOptions(task, 2, Workers: 2, OutRoot: root, ConfigFile: SmallImagesConfig(task)));
        Assert.Equal(2, prep.Successes);
        Assert.Equal(agents, prep.Stores.Count);
        Assert.Equal(agents, prep.Stores.Distinct().Count());
        foreach (string store in prep.Stores)
        {
            Assert.True(ZarrEpisodeWriter.IsComplete(store), $"{store} is not a finished store");
            var ends = ZarrArray<long>.Open(Path.Combine(store, "meta/episode_ends")).ReadAll();
            Assert.Equal(2, ends.Length);
            Assert.True(ends[0] > 0 && ends[1] > ends[0], $"{store}: episode ends {ends[0]}, {ends[1]}");
        }
    }

    /// <summary>
    /// The task's own YAML with every observation camera (head, global, wrist) at 64×48: the same scene and expert,
    /// but rendering the 3–4 arm tasks' 7–9 views per step at full size would make these tests take minutes.
    /// </summary>
    private string SmallImagesConfig(string task)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(TaskRegistry.Get(task).ConfigPath))
            yaml.Load(reader);
        var doc = (YamlMappingNode)yaml.Documents[0].RootNode;
        var cameras = ((YamlSequenceNode)doc.Children[new YamlScalarNode("cameras")]).Cast<YamlMappingNode>()
            .Where(c => ((YamlScalarNode)c.Children[new YamlScalarNode("name")]).Value != "render_camera");
        foreach (var cam in cameras.Append((YamlMappingNode)doc.Children[new YamlScalarNode("wrist_camera")]))
        {
            cam.Children[new YamlScalarNode("width")] = new YamlScalarNode("64");
            cam.Children[new YamlScalarNode("height")] = new YamlScalarNode("48");
        }
        string path = Path.Combine(root, $"{task}_small_images.yaml");
        using (var writer = new StreamWriter(path)) yaml.Save(writer, assignAnchors: false);
        return path;
    }

    [Theory]
    [MemberData(nameof(TaskSuites.ThreeOrMoreArms), MemberType = typeof(TaskSuites))]
    public void ExpertSolvesSeedZeroInClosedLoopEvaluation(string task)
    {
        var report = Evaluator.Run(new EvalOptions(task, Episodes: 1, SeedStart: 0, OutRoot: root), () => new ExpertPolicy(task));
        Assert.Equal(1, report.Summary.Successes);
        Assert.True(report.Results[0].Steps > 50, "a multi-arm expert episode takes more than a few steps");
    }
}
