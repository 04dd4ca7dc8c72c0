using System.Text.Json.Nodes;
using RoboFactory.Data.Zarr;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Stats;

/// <summary>Per-dimension statistics of one quantity (action or proprio), as OpenVLA stores them.</summary>
public sealed record DimensionStats(double[] Mean, double[] Std, double[] Max, double[] Min, double[] Q01, double[] Q99, bool[]? Mask = null);

/// <summary>One dataset's entry of dataset_statistics.json / norm_stats.</summary>
public sealed record NormStats(DimensionStats Action, DimensionStats Proprio, long NumTransitions, long NumTrajectories);

/// <summary>
/// OpenVLA's get_dataset_statistics, reproduced bit for bit: the inputs are float32 (N, D) arrays and
/// numpy reduces them along axis 0 in float32 — a sequential per-column sum for mean, the two-pass
/// variance with ddof 0 for std — while np.quantile (method "linear") interpolates in float64 after
/// taking b − a in float32. Results are widened to double exactly as .tolist() does.
/// </summary>
public static class DatasetStatistics
{
    /// <summary>Default action mask for a 7-joint + gripper action: normalise everything but the gripper.</summary>
    public static bool[] GripperLastMask(int dim) => Enumerable.Range(0, dim).Select(i => i < dim - 1).ToArray();

    public static DimensionStats Compute(ReadOnlySpan<float> rows, int dim, bool[]? mask = null)
    {
        if (dim <= 0 || rows.Length % dim != 0) throw new ArgumentException($"data length {rows.Length} is not a multiple of {dim}");
        int n = rows.Length / dim;
        if (n == 0) throw new ArgumentException("statistics of an empty array");
        var mean32 = new float[dim];
        var sum = new float[dim];
        var min = new float[dim];
        var max = new float[dim];
        for (int d = 0; d < dim; d++) { min[d] = float.PositiveInfinity; max[d] = float.NegativeInfinity; }
        for (int i = 0; i < n; i++)
            for (int d = 0; d < dim; d++)
            {
                float v = rows[i * dim + d];
                sum[d] += v;
                // numpy's minimum/maximum propagate NaN.
                if (float.IsNaN(v) || v < min[d]) min[d] = float.IsNaN(min[d]) ? min[d] : v;
                if (float.IsNaN(v) || v > max[d]) max[d] = float.IsNaN(max[d]) ? max[d] : v;
            }
        for (int d = 0; d < dim; d++) mean32[d] = sum[d] / n;

        var sq = new float[dim];
        for (int i = 0; i < n; i++)
            for (int d = 0; d < dim; d++)
            {
                float x = rows[i * dim + d] - mean32[d];
                sq[d] += x * x;
            }
        var std = new double[dim];
        for (int d = 0; d < dim; d++) std[d] = MathF.Sqrt(sq[d] / n);

        var q01 = new double[dim];
        var q99 = new double[dim];
        var column = new float[n];
        for (int d = 0; d < dim; d++)
        {
            for (int i = 0; i < n; i++) column[i] = rows[i * dim + d];
            Array.Sort(column);
            q01[d] = Quantile(column, 0.01);
            q99[d] = Quantile(column, 0.99);
        }
        return new DimensionStats(mean32.Select(v => (double)v).ToArray(), std, max.Select(v => (double)v).ToArray(),
            min.Select(v => (double)v).ToArray(), q01, q99, mask);
    }

    /// <summary>np.quantile(sorted, q) with method="linear" on a sorted float32 column.</summary>
    public static double Quantile(ReadOnlySpan<float> sorted, double q)
    {
        int n = sorted.Length;
        if (float.IsNaN(sorted[^1])) return double.NaN; // numpy: any NaN ⇒ NaN
        double virtualIndex = (n - 1) * q;
        int previous, next;
        if (virtualIndex >= n - 1) previous = next = n - 1;
        else if (virtualIndex < 0) previous = next = 0;
        else
        {
            previous = (int)Math.Floor(virtualIndex);
            next = previous + 1;
        }
        double gamma = virtualIndex - previous;
        float a = sorted[previous], b = sorted[next];
        float diff = b - a; // numpy subtracts in the array's dtype
        // numpy's _lerp: a + diff*t, or b - diff*(1-t) for t >= 0.5 (monotonic near both ends).
        return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
    }

    public static NormStats ComputeNormStats(ReadOnlySpan<float> actions, int actionDim, ReadOnlySpan<float> proprio, int proprioDim,
        long numTrajectories, bool[]? actionMask = null)
    {
        var action = Compute(actions, actionDim, actionMask ?? GripperLastMask(actionDim));
        var prop = Compute(proprio, proprioDim);
        return new NormStats(action, prop, actions.Length / actionDim, numTrajectories);
    }

    private static JsonArray Arr(double[] v) => new(v.Select(x => (JsonNode)JsonValue.Create(x)).ToArray());

    private static JsonObject ToJson(DimensionStats s)
    {
        var o = new JsonObject
        {
            ["mean"] = Arr(s.Mean), ["std"] = Arr(s.Std), ["max"] = Arr(s.Max), ["min"] = Arr(s.Min),
            ["q01"] = Arr(s.Q01), ["q99"] = Arr(s.Q99),
        };
        if (s.Mask is not null) o["mask"] = new JsonArray(s.Mask.Select(m => (JsonNode)JsonValue.Create(m)).ToArray());
        return o;
    }

    /// <summary>dataset_statistics.json content: {name: {action, proprio, num_transitions, num_trajectories}} (json.dump indent=2, OpenVLA's key order).</summary>
    public static string ToJson(IReadOnlyDictionary<string, NormStats> datasets)
    {
        var root = new JsonObject();
        foreach (var (name, s) in datasets)
            root[name] = new JsonObject
            {
                ["action"] = ToJson(s.Action), ["proprio"] = ToJson(s.Proprio),
                ["num_transitions"] = s.NumTransitions, ["num_trajectories"] = s.NumTrajectories,
            };
        return PythonJson.Serialize(root, indent: 2, sortKeys: false, ensureAscii: true);
    }

    public static void Write(string path, string datasetName, NormStats stats) =>
        AtomicFile.WriteAllText(path, ToJson(new Dictionary<string, NormStats> { [datasetName] = stats }));

    public static Dictionary<string, NormStats> Read(string path)
    {
        var root = JsonInput.Object(JsonInput.Parse(File.ReadAllText(path), path, PythonJson.Parse), path, "(root)");
        var result = new Dictionary<string, NormStats>(StringComparer.Ordinal);
        foreach (var (name, node) in root)
        {
            var o = JsonInput.Object(node, path, name);
            long Long(string k) => JsonInput.Value<long>(JsonInput.Member(o, k, path, name), path, $"{name}.{k}");
            result[name] = new NormStats(ParseDim(o, "action", path, name), ParseDim(o, "proprio", path, name),
                Long("num_transitions"), Long("num_trajectories"));
        }
        return result;
    }

    private static DimensionStats ParseDim(JsonObject parent, string key, string path, string field)
    {
        field = JsonInput.Join(field, key);
        var o = JsonInput.Object(JsonInput.Member(parent, key, path, field), path, field);
        string f = field;
        double[] D(string k) => JsonInput.Values<double>(JsonInput.Member(o, k, path, f), path, $"{f}.{k}");
        var stats = new DimensionStats(D("mean"), D("std"), D("max"), D("min"), D("q01"), D("q99"),
            o["mask"] is { } m ? JsonInput.Values<bool>(m, path, $"{field}.mask") : null);
        int dim = stats.Mean.Length;
        foreach (var (k, v) in new[] { ("std", stats.Std.Length), ("max", stats.Max.Length), ("min", stats.Min.Length),
                     ("q01", stats.Q01.Length), ("q99", stats.Q99.Length), ("mask", stats.Mask?.Length ?? dim) })
            if (v != dim) throw new InputFormatException(path, $"{field}.{k}", $"has {v} entries; mean has {dim}");
        return stats;
    }
}
