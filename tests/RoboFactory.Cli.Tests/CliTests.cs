using System.Text.RegularExpressions;
using RoboFactory.Cli.Commands;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Cli.Tests;

/// <summary>The public command-line interface: names, flags, exit codes and messages users script against.</summary>
[Collection("console")] // the tests redirect Console.Out/Error
public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliHarness.Run(args);

    [Fact]
    public void HelpListsEveryCommandGroup()
    {
        // the command objects themselves: a group missing from Root.Build() fails here, whatever the help text says
        string[] groups = ["quickstart", "sim", "prepare", "convert", "eval", "bench", "model", "train", "merge", "plot"];
        Assert.Equal(groups, Root.Build().Subcommands.Select(c => c.Name));

        // and --help lists exactly those, one entry per line of its Commands: section (not words of other text)
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        string commands = output[(output.IndexOf("Commands:", StringComparison.Ordinal) + "Commands:".Length)..];
        var listed = Regex.Matches(commands, @"^  (\S+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value);
        Assert.Equal(groups, listed);
    }

    [Fact]
    public void IssueFlagsAreAccepted()
    {
        // the interface written in the issues; parsing must succeed (no invocation)
        string[][] lines =
        [
            ["prepare", "--task", "LiftBarrier", "--num", "150", "--workers", "2", "--seed-start", "0", "--out", "data", "--resume"],
            ["convert", "--task", "LiftBarrier", "--agent-id", "0", "--zarr", "x.zarr", "--out", "data/rlds"],
            ["eval", "--policy", "expert", "--task", "LiftBarrier-rf", "--config", "configs/table/lift_barrier.yaml", "--episodes", "100",
                "--seed-start", "1000", "--max-steps", "250", "--workers", "2", "--video", "3"],
            ["sim", "rollout", "--task", "LiftBarrier", "--seed", "0", "--steps", "200", "--policy", "random"],
            ["sim", "render", "--task", "LiftBarrier", "--seed", "0", "--out", "dir"],
            ["model", "info", "--config", "tiny"],
            // issue 18: sharded prepare and eval, and their merges
            ["prepare", "--task", "LiftBarrier", "--num", "800", "--shard", "3/8", "--out", "data"],
            ["prepare", "--task", "LiftBarrier", "--num", "800", "--shard", "auto", "--shards", "8"],
            ["prepare", "merge", "--task", "LiftBarrier", "--out", "data"],
            ["eval", "--policy", "expert", "--task", "LiftBarrier-rf", "--episodes", "100", "--shard", "auto", "--shards", "4", "--run", "heldout"],
            ["eval", "merge", "eval_results/expert/LiftBarrier-rf/heldout"],
            ["bench", "train", "--ranks", "1,2"],
            // issue 20: the upstream evaluation protocol
            ["eval", "--policy", "openvla-oft", "--task", "LiftBarrier-rf", "--protocol", "upstream", "--policy-calls", "250", "--execute-steps", "6"],
            ["eval", "--policy", "expert", "--task", "LiftBarrier-rf", "--protocol", "robofactory-net", "--max-steps", "222"],
        ];
        foreach (var line in lines)
            Assert.True(Root.Build().Parse(line).Errors.Count == 0, $"{string.Join(' ', line)}: {string.Join("; ", Root.Build().Parse(line).Errors.Select(e => e.Message))}");
    }

    [Fact]
    public void ModelInfo_CountsTheOftHeadOfOpenVla7b()
    {
        var (code, output, _) = Run("model", "info", "--config", "openvla-7b", "--policy", "openvla-oft");
        Assert.Equal(0, code);
        Assert.Contains("167,907,336", output); // LayerNorm(32768) + Linear(32768→4096) + 2 blocks + LayerNorm + Linear(4096→8)
        Assert.Contains((7_541_237_184L + 167_907_336L).ToString("N0", System.Globalization.CultureInfo.InvariantCulture), output);
        var (code2, plain, _) = Run("model", "info", "--config", "openvla-7b");
        Assert.Equal(0, code2);
        Assert.DoesNotContain("action_head", plain);
    }

    [Fact]
    public void SimInfoDescribesTheTask()
    {
        var (code, output, _) = Run("sim", "info", "--task", "LiftBarrier-rf");
        Assert.Equal(0, code);
        Assert.Contains("lift the barrier", output);
        Assert.Contains("head_camera_agent1", output);
        Assert.Contains("wrist_camera_agent", output);
        Assert.Contains("Box(8)", output);
    }

    [Fact]
    public void UnknownTaskIsAClearErrorWithExitCode2()
    {
        var (code, _, err) = Run("sim", "info", "--task", "LiftBarrel");
        Assert.Equal(2, code);
        Assert.Contains("unknown task 'LiftBarrel'", err);
        Assert.Contains("LiftBarrier", err);
    }

    [Fact]
    public void BadConfigFileNamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bad_{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "name: LiftBarrier\n");
        try
        {
            var (code, _, err) = Run("sim", "info", "--task", "LiftBarrier", "--config", path);
            Assert.Equal(2, code);
            Assert.Contains(path, err);
            Assert.Contains("missing required key", err);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void RolloutPrintsStepsPerSecondAndAStableHash()
    {
        var a = Run("sim", "rollout", "--task", "LiftBarrier", "--steps", "20", "--policy", "random", "--seed", "3");
        var b = Run("sim", "rollout", "--task", "LiftBarrier", "--steps", "20", "--policy", "random", "--seed", "3");
        Assert.Equal(0, a.Code);
        Assert.Contains("steps/s", a.Out);
        string Hash(string s) => s.Split('\n').Single(l => l.StartsWith("state hash"));
        Assert.Equal(Hash(a.Out), Hash(b.Out));
    }

    [Fact]
    public void RenderWritesOnePngPerCamera()
    {
        string dir = Directory.CreateTempSubdirectory("rf-render-").FullName;
        try
        {
            var (code, _, _) = Run("sim", "render", "--task", "LiftBarrier", "--out", dir);
            Assert.Equal(0, code);
            var files = Directory.GetFiles(dir).Select(f => Path.GetFileName(f)!).Order().ToArray();
            Assert.Equal(["head_camera_agent0.png", "head_camera_agent1.png", "head_camera_global.png", "render_camera.png",
                "wrist_camera_agent0.png", "wrist_camera_agent1.png"], files);
            var img = RoboFactory.Core.Imaging.Png.ReadRgb(Path.Combine(dir, "render_camera.png"));
            Assert.Equal((640, 360), (img.Width, img.Height));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void EvalRejectsAnUnknownPolicy()
    {
        var (code, _, err) = Run("eval", "--policy", "magic", "--task", "LiftBarrier");
        Assert.NotEqual(0, code);
        Assert.Contains("magic", err);
    }

    [Fact]
    public void ConvertWithoutRecordingsSaysToRunPrepare()
    {
        string dir = Directory.CreateTempSubdirectory("rf-conv-").FullName;
        try
        {
            var (code, _, err) = Run("convert", "--task", "LiftBarrier", "--data", dir);
            Assert.Equal(2, code);
            Assert.Contains("run `prepare --task LiftBarrier` first", err);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ConvertIntoAFinishedDatasetFailsInOneLineUnlessOverwrite()
    {
        string dir = Directory.CreateTempSubdirectory("rf-conv-").FullName;
        try
        {
            CliHarness.MakeStore(dir);
            foreach (var (format, expected) in new[] { ("lerobot", Path.Combine(dir, "out", "lift_barrier_agent0")), ("rlds", Path.Combine(dir, "out", "lift_barrier_agent0", "1.0.0")) })
            {
                string root = Path.Combine(dir, "out");
                string[] args = ["convert", "--task", "LiftBarrier", "--agent-id", "0", "--data", dir, "--format", format, "--out", root];
                var (code, output, err) = Run(args);
                Assert.True(code == 0, err);
                Assert.Contains($"-> {expected}: 2 episodes", output);
                (code, _, err) = Run(args);
                Assert.Equal(2, code);
                Assert.Equal([$"error: {expected} already exists (a finished dataset); pass --overwrite to replace it"], err.Trim().Split('\n'));
                (code, _, err) = Run([.. args, "--overwrite"]);
                Assert.True(code == 0, err);
                if (format == "lerobot") Directory.Delete(root, recursive: true);
            }
            var (c2, _, e2) = Run("convert", "--task", "LiftBarrier", "--agent-id", "0", "--data", dir, "--crf", "0");
            Assert.Equal(2, c2);
            Assert.Contains("--format lerobot", e2);
            Assert.NotEqual(0, Run("convert", "--task", "LiftBarrier", "--format", "parquet").Code);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ConvertHelpDocumentsTheLeRobotOptions()
    {
        var (code, output, _) = Run("convert", "--help");
        Assert.Equal(0, code);
        foreach (var flag in new[] { "--format", "--crf", "--pix-fmt", "data/lerobot" }) Assert.Contains(flag, output);
    }
}
