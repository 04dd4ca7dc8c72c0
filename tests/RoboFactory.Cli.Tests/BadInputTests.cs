using RoboFactory.Cli.Commands;
using RoboFactory.Core.Imaging;
using RoboFactory.Vla.Config;

namespace RoboFactory.Cli.Tests;

/// <summary>
/// Every command against the inputs users get wrong: unknown, missing, conflicting and mistyped flags; missing files;
/// files of the wrong kind; an output folder the system refuses (read-only, full). Each must exit with code 2 and
/// one error line that names what is wrong, with no stack trace.
/// </summary>
[Collection("console")]
public sealed class BadInputTests : IDisposable
{
    readonly TempDir tmp = new();
    public void Dispose() => tmp.Dispose();

    /// <summary>Exit code 2, error lines only (at most one per problem plus a pointer to --help), naming <paramref name="mentions"/>.</summary>
    internal static void AssertUserError(string[] args, params string[] mentions)
    {
        var (code, _, err) = CliHarness.Run(args);
        string line = string.Join(' ', args);
        Assert.True(code == 2, $"`{line}` exited {code}, expected 2; stderr:\n{err}");
        Assert.DoesNotContain("   at ", err);                       // no stack trace
        Assert.DoesNotContain("Exception:", err);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.True(l.StartsWith("error: ") || l.StartsWith("see: "), $"`{line}`: unexpected stderr line '{l}'"));
        foreach (var m in mentions) Assert.True(err.Contains(m, StringComparison.OrdinalIgnoreCase), $"`{line}`: stderr does not mention '{m}':\n{err}");
    }

    string Png(string name)
    {
        string p = tmp[name];
        global::RoboFactory.Core.Imaging.Png.Write(p, Image8.Rgb(4, 4));
        return p;
    }

    public static TheoryData<string[], string> CommandLineErrors() => new()
    {
        { ["train", "--task", "LiftBarrier", "--bogus"], "--bogus" },
        { ["eval", "--policy", "expert"], "--task" },
        { ["prepare", "--task", "LiftBarrier", "--num", "many"], "many" },
        { ["eval", "--policy", "gpt", "--task", "LiftBarrier"], "gpt" },
        { ["convert", "--task", "LiftBarrier", "--format", "parquet"], "parquet" },
        { ["model", "info", "--config", "openvla-13b"], "openvla-13b" },
        { ["sim", "info", "--task", "FoldLaundry"], "FoldLaundry" },
        { ["train", "--task", "LiftBarrier", "--views", "5"], "--views" },
        { ["train", "--task", "LiftBarrier", "--batch-size", "0"], "--batch-size" },
        { ["prepare", "--task", "LiftBarrier", "--num", "-3"], "--num" },
        { ["eval", "--policy", "expert", "--task", "LiftBarrier", "--episodes", "0"], "--episodes" },
        { ["bench", "nothing"], "nothing" },
        { ["eval", "--policy", "expert", "--task", "LiftBarrier", "--protocol", "maniskill"], "maniskill" },
    };

    [Theory, MemberData(nameof(CommandLineErrors))]
    public void ACommandLineThatDoesNotParse_IsExitCode2(string[] args, string mention) => AssertUserError(args, mention);

    [Fact]
    public void ConflictingFlags_AreNamed()
    {
        AssertUserError(["train", "--task", "LiftBarrier", "--full-finetune", "--lora"], "--full-finetune", "--lora");
        AssertUserError(["train", "--task", "LiftBarrier", "--resume", "--overwrite"], "--resume", "--overwrite");
        AssertUserError(["prepare", "--task", "LiftBarrier", "--resume", "--overwrite"], "--resume", "--overwrite");
        AssertUserError(["eval", "--policy", "expert", "--task", "LiftBarrier", "--episodes", "1", "--policy-calls", "10", "--out", tmp["e"]], "--policy-calls");
    }

    [Fact]
    public void MissingFiles_AreNamed()
    {
        string missing = tmp["nowhere"];
        AssertUserError(["train", "--task", "LiftBarrier", "--data", missing], missing);
        AssertUserError(["convert", "--task", "LiftBarrier", "--data", missing], missing);
        AssertUserError(["eval", "--policy", "openvla", "--task", "LiftBarrier", "--checkpoints", missing, "--episodes", "1"], missing);
        AssertUserError(["model", "predict", "--model", missing, "--image", Png("x.png"), "--instruction", "lift"], missing);
        AssertUserError(["sim", "info", "--task", "LiftBarrier", "--config", missing], missing);
        AssertUserError(["merge", "--checkpoint", missing, "--out", tmp["merged"]], missing);
        AssertUserError(["plot", missing], missing);
    }

    [Fact]
    public void FilesOfTheWrongKind_AreNamed()
    {
        string png = Png("image.png");
        // a PNG where a task YAML, a model config and a checkpoint are expected
        AssertUserError(["sim", "info", "--task", "LiftBarrier", "--config", png], png);
        AssertUserError(["model", "info", "--config", png], png);
        string model = tmp["model"];
        Directory.CreateDirectory(model);
        ConfigJson.Write(OpenVlaConfig.Tiny, Path.Combine(model, "config.json"));
        File.Copy(png, Path.Combine(model, "model.safetensors"));
        AssertUserError(["model", "predict", "--model", model, "--image", png, "--instruction", "lift"], "model.safetensors");
        // a truncated 7B checkpoint: named before anything is allocated
        string big = tmp["big"];
        Directory.CreateDirectory(big);
        ConfigJson.Write(OpenVlaConfig.OpenVla7B, Path.Combine(big, "config.json"));
        File.WriteAllBytes(Path.Combine(big, "model.safetensors"), new byte[1000]);
        AssertUserError(["model", "predict", "--model", big, "--image", png, "--instruction", "lift"], "model.safetensors");
        // a step folder whose policy.json is an image
        string ck = tmp["ck"];
        Directory.CreateDirectory(Path.Combine(ck, "LiftBarrier_Agent0"));
        Directory.CreateDirectory(Path.Combine(ck, "LiftBarrier_Agent1"));
        File.Copy(png, Path.Combine(ck, "LiftBarrier_Agent0", "policy.json"));
        File.Copy(png, Path.Combine(ck, "LiftBarrier_Agent1", "policy.json"));
        AssertUserError(["eval", "--policy", "auto", "--task", "LiftBarrier", "--checkpoints", ck, "--episodes", "1"], "policy.json");
        // a folder that is not a dataset given as training data
        string notData = tmp["notdata"];
        Directory.CreateDirectory(notData);
        File.Copy(png, Path.Combine(notData, "dataset_info.json"));
        AssertUserError(["train", "--task", "LiftBarrier", "--data", notData, "--max-steps", "1"], notData);
    }
}
