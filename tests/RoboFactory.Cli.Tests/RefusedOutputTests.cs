using System.Diagnostics;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Cli.Tests;

/// <summary>
/// Every writing command against an output folder the system refuses: a full file system (a 64 KiB tmpfs) and a
/// read-only one (a tmpfs mounted read-only; root ignores permission bits, so a chmod would prove nothing). Each must
/// exit with code 2 and one line naming the problem, and leave nothing that a later run would take for complete.
/// Mounting needs CAP_SYS_ADMIN: where the test runs without it, it is skipped with that reason.
/// </summary>
[Collection("console")]
public sealed class RefusedOutputTests : IDisposable
{
    readonly TempDir tmp = new();
    readonly List<string> mounts = [];

    public void Dispose()
    {
        foreach (var m in mounts) Sh("umount", "-l", m);
        tmp.Dispose();
    }

    static (int Code, string Output) Sh(params string[] args)
    {
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args[1..]) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e) { return (-1, e.Message); }
    }

    /// <summary>A fresh tmpfs at a new folder <paramref name="name"/>: <paramref name="options"/> as for mount -o.</summary>
    string Mount(string name, string options)
    {
        string dir = tmp[name];
        Directory.CreateDirectory(dir);
        var (code, output) = Sh("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir);
        Skip.If(code != 0, $"cannot mount a tmpfs here (needs CAP_SYS_ADMIN): {output.Trim()}");
        mounts.Add(dir);
        return dir;
    }

    /// <summary>Writes a filler file into <paramref name="dir"/> until its file system refuses (nothing on a read-only one).</summary>
    static void FillUp(string dir)
    {
        try
        {
            using var f = new FileStream(Path.Combine(dir, "filler"), FileMode.Create);
            var block = new byte[4096];
            while (true) { f.Write(block); f.Flush(); }
        }
        catch (IOException) { }
    }

    /// <summary>A store (under a writable folder) and its RLDS conversion, the inputs of convert, train and eval.</summary>
    (string Data, string Rlds) Inputs()
    {
        string data = tmp["data"];
        CliHarness.MakeStore(data);
        string rlds = Path.Combine(data, "rlds");
        var (code, _, err) = CliHarness.Run("convert", "--task", "LiftBarrier", "--agent-id", "0", "--data", data, "--out", rlds);
        Assert.True(code == 0, err);
        return (data, Path.Combine(rlds, "lift_barrier_agent0", "1.0.0"));
    }

    /// <summary>Exit code 2 and exactly one error line naming <paramref name="mention"/>; progress lines printed before
    /// the refusal may stand above it (a disk fills up part way).</summary>
    static void AssertRefused(string[] args, string mention)
    {
        var (code, _, err) = CliHarness.Run(args);
        string line = string.Join(' ', args);
        Assert.True(code == 2, $"`{line}` exited {code}, expected 2; stderr:\n{err}");
        Assert.DoesNotContain("   at ", err);
        Assert.DoesNotContain("Exception:", err);
        var errors = err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error: ")).ToList();
        Assert.True(errors.Count == 1, $"`{line}`: expected one error line, got:\n{err}");
        Assert.True(errors[0].Contains(mention, StringComparison.OrdinalIgnoreCase), $"`{line}`: '{errors[0]}' does not mention '{mention}'");
    }

    void EveryWriterRefuses(string output, string mention)
    {
        var (data, rlds) = Inputs();

        string prepared = Path.Combine(output, "prep");
        AssertRefused(["prepare", "--task", "LiftBarrier", "--num", "1", "--out", prepared], mention);
        foreach (int agent in new[] { 0, 1 })
            Assert.False(ZarrEpisodeWriter.IsComplete(RoboFactoryZarrLayout.StorePath(Path.Combine(prepared, "zarr"), "LiftBarrier", agent, 1)),
                $"agent {agent}'s store reads as complete after a refused prepare");

        string converted = Path.Combine(output, "rlds");
        AssertRefused(["convert", "--task", "LiftBarrier", "--agent-id", "0", "--data", data, "--out", converted], mention);
        Assert.False(Directory.Exists(Path.Combine(converted, "lift_barrier_agent0", "1.0.0")), "a refused convert left a dataset folder");

        string run = Path.Combine(output, "run");
        AssertRefused(["train", "--task", "LiftBarrier", "--agent-id", "0", "--data", rlds, "--val-every", "0", "--logger", "none", "--no-plots",
            "--max-steps", "2", "--save-every", "1", "--batch-size", "2", "--out", run], mention);
        Assert.False(File.Exists(Path.Combine(run, "latest")) || Directory.Exists(Path.Combine(run, "latest")),
            "a refused train left a `latest` checkpoint");

        // One short expert episode's results fit in a few KiB: fill what is left so that eval meets a full disk too.
        FillUp(output);
        string results = Path.Combine(output, "eval");
        AssertRefused(["eval", "--policy", "expert", "--task", "LiftBarrier", "--episodes", "1", "--max-steps", "5",
            "--out", results], mention);
        Assert.Empty(Directory.Exists(results) ? Directory.GetFiles(results, "results.json", SearchOption.AllDirectories) : []);
    }

    [SkippableFact]
    public void AFullFileSystem_IsOneLine_AndLeavesNothingComplete() => EveryWriterRefuses(Mount("full", "size=64k"), "space");

    [SkippableFact]
    public void AReadOnlyFileSystem_IsOneLine_AndLeavesNothingComplete() => EveryWriterRefuses(Mount("ro", "ro,size=1m"), "read-only");
}
