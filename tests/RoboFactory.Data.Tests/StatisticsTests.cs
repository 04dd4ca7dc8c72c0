using System.Text.Json.Nodes;
using RoboFactory.Data.Stats;

namespace RoboFactory.Data.Tests;

public class StatisticsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(101, 3)]
    [InlineData(20_011, 4)]
    public void Equal_to_numpy_on_the_same_float32_data(int n, int seed)
    {
        var rng = new TestRng((ulong)seed);
        var actions = rng.Floats(n * 8).Select((v, i) => i % 8 == 7 ? (v > 0 ? 1f : 0f) : v * 0.05f + i % 8).ToArray();
        var proprio = rng.Floats(n * 8);
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp["a.bin"], System.Runtime.InteropServices.MemoryMarshal.AsBytes(actions.AsSpan()).ToArray());
        File.WriteAllBytes(tmp["p.bin"], System.Runtime.InteropServices.MemoryMarshal.AsBytes(proprio.AsSpan()).ToArray());
        // OpenVLA's get_dataset_statistics on float32 arrays, serialised the way save_dataset_statistics does.
        string py = Python.RunCode("""
            import json, sys, numpy as np
            def st(x):
                return {"mean": x.mean(0).tolist(), "std": x.std(0).tolist(), "max": x.max(0).tolist(), "min": x.min(0).tolist(),
                        "q01": np.quantile(x, 0.01, axis=0).tolist(), "q99": np.quantile(x, 0.99, axis=0).tolist()}
            a = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, 8)
            p = np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, 8)
            s = {"ds": {"action": {**st(a), "mask": [True] * 7 + [False]}, "proprio": st(p),
                        "num_transitions": int(a.shape[0]), "num_trajectories": 3}}
            print(json.dumps(s, indent=2))
            """.Replace("\n            ", "\n"), tmp["a.bin"], tmp["p.bin"]);
        var ours = DatasetStatistics.ComputeNormStats(actions, 8, proprio, 8, numTrajectories: 3);
        string json = DatasetStatistics.ToJson(new Dictionary<string, NormStats> { ["ds"] = ours });
        // Bit-exact: same float32 reductions, same float64 interpolation, same repr() formatting.
        Assert.Equal(py.TrimEnd('\n'), json);
    }

    [Fact]
    public void Quantile_interpolates_linearly_like_numpy()
    {
        float[] sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        Assert.Equal(1.1, DatasetStatistics.Quantile(sorted, 0.01), 12);
        Assert.Equal(10.9, DatasetStatistics.Quantile(sorted, 0.99), 12);
        Assert.Equal(6, DatasetStatistics.Quantile(sorted, 0.5));
        Assert.Equal(4, DatasetStatistics.Quantile([4f], 0.99));
    }

    [Fact]
    public void Written_file_reads_back()
    {
        using var tmp = new TempDir();
        var s = DatasetStatistics.ComputeNormStats(new TestRng(1).Floats(80), 8, new TestRng(2).Floats(80), 8, 2);
        DatasetStatistics.Write(tmp["dataset_statistics.json"], "lift_barrier_agent0", s);
        var back = DatasetStatistics.Read(tmp["dataset_statistics.json"])["lift_barrier_agent0"];
        Assert.Equal(s.Action.Q99, back.Action.Q99);
        Assert.Equal(s.Action.Mask, back.Action.Mask);
        Assert.Null(back.Proprio.Mask);
        Assert.Equal(10, back.NumTransitions);
        var root = JsonNode.Parse(File.ReadAllText(tmp["dataset_statistics.json"]))!["lift_barrier_agent0"]!.AsObject();
        Assert.Equal(["action", "proprio", "num_transitions", "num_trajectories"], root.Select(kv => kv.Key));
    }
}
