using System.Text.Json.Nodes;
using RoboFactory.Cli.Commands;
using RoboFactory.Core.Imaging;

namespace RoboFactory.Cli.Tests;

/// <summary>The main job at toy size: every artefact the report promises exists and is well-formed.</summary>
[Collection("console")]
public class QuickstartTests
{
    [Fact]
    public void ToySizedQuickstart_ProducesEveryArtefact()
    {
        string root = Path.Combine(Path.GetTempPath(), "rf-quickstart-" + Guid.NewGuid().ToString("N")[..8]);
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var log = new StringWriter();
        try
        {
            Console.SetOut(log);
            Console.SetError(log);
            string report = QuickstartCommand.Run(new QuickstartCommand.QuickstartOptions
            {
                Task = "LiftBarrier", Demos = 2, TrainSteps = 2, BatchSize = 2, ImageSize = 56, EvalEpisodes = 1, EvalMaxSteps = 3,
                ExpertEpisodes = 1, Workers = 2, OutDir = root,
            });
            Console.SetOut(oldOut);
            Console.SetError(oldErr);

            Assert.Equal(Path.Combine(root, "report.md"), report);
            string md = File.ReadAllText(report);
            foreach (var s in new[] { "| prepare |", "| convert |", "| train tiny openvla-oft (per agent (the 2 at once", "tiny openvla-oft (all agents)", "scripted expert",
                         "8 of each chunk executed", "policy openvla-oft", "at most 3 steps each", "--prompt-stand-in words", "prompt ids: words" })
                Assert.Contains(s, md);

            // data: one finished ZARR store and one RLDS dataset with statistics per agent
            for (int i = 0; i < 2; i++)
            {
                Assert.True(Directory.Exists(Path.Combine(root, "data", "zarr", $"LiftBarrier_Agent{i}_2.zarr")), $"zarr agent {i}");
                string rlds = Path.Combine(root, "data", "rlds", $"lift_barrier_agent{i}", "1.0.0");
                var stats = JsonNode.Parse(File.ReadAllText(Path.Combine(rlds, "dataset_statistics.json")))!;
                Assert.Equal(8, stats[$"lift_barrier_agent{i}"]!["action"]!["q99"]!.AsArray().Count);
                Assert.NotEmpty(Directory.GetFiles(rlds, "*.tfrecord*"));
            }
            Assert.Empty(Directory.GetDirectories(Path.Combine(root, "data", "zarr"), "*.partial"));

            // training: a loadable checkpoint per agent at the requested image size, metrics and plots that decode
            for (int i = 0; i < 2; i++)
            {
                string run = Path.Combine(root, "checkpoints", $"LiftBarrier_Agent{i}");
                string step = Path.Combine(run, File.ReadAllText(Path.Combine(run, "latest")).Trim());
                Assert.Equal("step_2", Path.GetFileName(step));
                Assert.Equal(56, JsonNode.Parse(File.ReadAllText(Path.Combine(step, "config.json")))!["vision_backbones"]![0]!["image_size"]!.GetValue<int>());
                var policy = JsonNode.Parse(File.ReadAllText(Path.Combine(step, "policy.json")))!; // the default recipe
                Assert.Equal("openvla-oft", policy["policy"]!.GetValue<string>());
                Assert.Equal(8, policy["action_chunk"]!.GetValue<int>());
                Assert.True(File.Exists(Path.Combine(step, "action_head.safetensors")));
                Assert.Equal(8, policy["proprio_q01"]!.AsArray().Count);
                Assert.Equal("word-stand-in", policy["prompt"]!.GetValue<string>());
                Assert.Equal(2, File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Count(l => l.Contains("\"split\":\"train\"")));
                var pngs = Directory.GetFiles(run, "*.png", SearchOption.AllDirectories);
                Assert.NotEmpty(pngs);
                foreach (var png in pngs) Assert.True(Png.ReadRgb(png).Width > 100, png);
                Assert.Contains(Path.GetFileName(pngs[0]), md);
            }
            Assert.False(Directory.Exists(Path.Combine(root, "calibration")));

            // evaluation: results for both policies, with one video each, linked from the report
            foreach (var policy in new[] { "openvla-oft", "expert" })
            {
                var results = Directory.GetFiles(Path.Combine(root, "eval"), "results.json", SearchOption.AllDirectories)
                    .Where(f => f.Contains(policy)).ToList();
                Assert.Single(results);
                var doc = JsonNode.Parse(File.ReadAllText(results[0]))!;
                Assert.NotNull(doc);
                var videos = Directory.GetFiles(Path.GetDirectoryName(results[0])!, "*.mp4", SearchOption.AllDirectories);
                Assert.Single(videos);
                Assert.True(new FileInfo(videos[0]).Length > 1000, videos[0]);
                Assert.Contains(Path.GetFileName(videos[0]), md);
            }
            Assert.Contains("| scripted expert | 1000–1000 | 1/1", md); // the expert solves its held-out seed
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
