using System.Diagnostics;
using System.Text.Json.Nodes;
using RoboFactory.Data.Rlds;
using RoboFactory.Recording;
using RoboFactory.Vla.Checkpoint;
using TorchSharp;

namespace RoboFactory.Cli.Tests;

/// <summary>
/// `mpirun -np 2 robofactory train` (Open MPI from scripts/setup.sh): 2 ranks × batch 4 train exactly as 1 rank × batch
/// 8, for both policies, and a resume under 2 ranks continues the same run.
/// </summary>
public sealed class MpiTrainingTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("rf-mpi-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>The CLI next to this test's configuration (bin/Release or bin/Debug of src/RoboFactory.Cli).</summary>
    private static string CliDll
    {
        get
        {
            string config = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // …/bin/{Release|Debug}/net10.0/
            var repo = new DirectoryInfo(AppContext.BaseDirectory);
            while (!File.Exists(Path.Combine(repo.FullName, "RoboFactory.sln"))) repo = repo.Parent!;
            return Path.Combine(repo.FullName, "src", "RoboFactory.Cli", "bin", config, "net10.0", "RoboFactory.Cli.dll");
        }
    }

    private string Dataset()
    {
        string rlds = Path.Combine(root, "rlds", "lift_barrier_agent0", "1.0.0");
        if (Directory.Exists(rlds)) return rlds;
        var prep = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 2, OutRoot: Path.Combine(root, "zarr")));
        return ZarrToRlds.Convert(prep.Stores[0], Path.Combine(root, "rlds"), new ZarrToRldsOptions()).Dataset.DatasetDirectory;
    }

    private static (int Code, string Output) Launch(int ranks, IEnumerable<string> trainArgs)
    {
        var psi = new ProcessStartInfo(ranks == 1 ? "dotnet" : "mpirun") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (ranks > 1)
            foreach (var a in new[] { "-np", ranks.ToString(), "--oversubscribe", "dotnet" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(CliDll);
        foreach (var a in trainArgs) psi.ArgumentList.Add(a);
        // root in CI containers; shared memory without cross-memory attach, which containers often forbid
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        psi.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        psi.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4))) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{psi.FileName} did not finish in 4 minutes:\n{stdout.Result}\n{stderr.Result}"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private string[] Args(string policy, string data, string outDir, int batch, int steps, bool resume = false) =>
    [
        "train", "--policy", policy, "--task", "LiftBarrier", "--agent-id", "0", "--data", data, "--image-size", "56", "--views", "1",
        "--no-image-aug", "--batch-size", batch.ToString(), "--max-steps", steps.ToString(), "--warmup-steps", "1", "--log-every", "1",
        "--val-every", "0", "--save-every", "3", "--keep", "0", "--decode-threads", "1", "--no-plots", "--out", outDir, .. (resume ? new[] { "--resume" } : []),
    ];

    private static List<double> Losses(string runDir) =>
        File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(n => (string?)n["split"] == "train")
            .Select(n => n["loss"]!.GetValue<double>()).ToList();

    /// <summary>Every weight file of a step folder (not the optimizer moments) as key → values.</summary>
    private static Dictionary<string, float[]> Weights(string stepDir)
    {
        var d = new Dictionary<string, float[]>();
        foreach (var f in Directory.GetFiles(stepDir, "*.safetensors").Where(f => !f.EndsWith("optimizer.safetensors")))
        {
            using var st = SafetensorsFile.Open(f);
            foreach (var (key, e) in st.Entries)
            {
                using var t = torch.zeros(e.Shape, torch.ScalarType.Float32);
                st.ReadInto(key, t);
                d[$"{Path.GetFileName(f)}:{key}"] = t.data<float>().ToArray();
            }
        }
        return d;
    }

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<double> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Abs(expected[i]), $"{what}[{i}]: {expected[i]} vs {actual[i]}");
    }

    private static void AssertSameWeights(string a, string b)
    {
        var (wa, wb) = (Weights(a), Weights(b));
        Assert.Equal(wa.Keys.Order(), wb.Keys.Order());
        Assert.NotEmpty(wa);
        // relative error of each tensor, ‖a − b‖ / ‖a‖: the two runs add the same gradients in another order, and AdamW
        // turns a rounding difference in a near-zero gradient into a visible difference of that one weight's step
        foreach (var (key, x) in wa)
        {
            var y = wb[key];
            double norm = Math.Sqrt(x.Sum(v => (double)v * v)), diff = Math.Sqrt(x.Zip(y, (p, q) => (double)(p - q) * (p - q)).Sum());
            Assert.True(diff <= 1e-5 * Math.Max(norm, 1e-12), $"{key}: ‖Δ‖ {diff:g3} against ‖w‖ {norm:g3}");
        }
    }

    [Theory]
    [InlineData("openvla-oft")]
    [InlineData("openvla")]
    public void TwoRanksOfBatch4_TrainAsOneRankOfBatch8(string policy)
    {
        string data = Dataset();
        string one = Path.Combine(root, policy, "one"), two = Path.Combine(root, policy, "two");
        var (c1, o1) = Launch(1, Args(policy, data, one, batch: 8, steps: 5));
        Assert.True(c1 == 0, o1);
        var (c2, o2) = Launch(2, Args(policy, data, two, batch: 4, steps: 5));
        Assert.True(c2 == 0, o2);
        Assert.Contains("data parallel: rank 0 of 2, global batch 8 (2 × 4)", o2);

        AssertClose(Losses(one), Losses(two), "loss");
        AssertSameWeights(Path.Combine(one, "step_5"), Path.Combine(two, "step_5"));
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(two, "step_5", "trainer_state.json")))!;
        Assert.Equal(2, state["world_size"]!.GetValue<int>());
        Assert.Equal(40, state["samples_seen"]!.GetValue<long>());

        if (policy != "openvla-oft") return;
        // a resume under 2 ranks from the run's step-3 checkpoint continues the same run
        string resumed = Path.Combine(root, policy, "resumed");
        CopyDirectory(two, resumed);
        Directory.Delete(Path.Combine(resumed, "step_5"), recursive: true);
        File.WriteAllText(Path.Combine(resumed, "latest"), "step_3\n");
        var (c3, o3) = Launch(2, Args(policy, data, resumed, batch: 4, steps: 5, resume: true));
        Assert.True(c3 == 0, o3);
        AssertClose(Losses(two), Losses(resumed), "loss after resume");
        AssertSameWeights(Path.Combine(two, "step_5"), Path.Combine(resumed, "step_5"));

        // resuming that 2 × 4 run with one rank would change the global batch: refused with the reason
        var (c4, o4) = Launch(1, Args(policy, data, resumed, batch: 4, steps: 6, resume: true));
        Assert.Equal(2, c4);
        Assert.Contains("trained with 2 rank(s) × 4 samples per step", o4);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var d in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(d.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(f, f.Replace(from, to));
    }

    [Fact]
    public void A_failing_rank_ends_the_job_with_its_error()
    {
        // both ranks fail on the missing dataset: the job ends (no hang) with the message and a non-zero exit
        var (code, output) = Launch(2, Args("openvla-oft", Path.Combine(root, "no-such-dataset"), Path.Combine(root, "fail"), batch: 4, steps: 2));
        Assert.NotEqual(0, code);
        Assert.Contains("no dataset at", output);
    }
}
