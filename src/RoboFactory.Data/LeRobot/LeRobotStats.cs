using System.Text.Json.Nodes;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Data.LeRobot;

/// <summary>
/// One feature's entry of meta/stats.json (huggingface/lerobot, lerobot/datasets/compute_stats.py): min, max, mean,
/// std (population), count and the quantiles q01, q10, q50, q90, q99, per dimension. Camera features hold one value
/// per RGB channel of pixels scaled to [0, 1], written with shape (3, 1, 1). Unlike LeRobot's per-episode histogram
/// estimates merged across episodes, these are exact statistics over every frame (quantiles interpolated linearly,
/// numpy's default), which LeRobot's loaders and normalisers accept as they are.
/// </summary>
public sealed record LeRobotFeatureStats(string Feature, double[] Min, double[] Max, double[] Mean, double[] Std, long Count,
    double[] Q01, double[] Q10, double[] Q50, double[] Q90, double[] Q99, bool IsImage = false)
{
    public static readonly IReadOnlyList<double> QuantileLevels = [0.01, 0.10, 0.50, 0.90, 0.99];

    /// <summary>Statistics of N rows of <paramref name="dim"/> values (row-major), in double.</summary>
    public static LeRobotFeatureStats OfRows(string feature, ReadOnlySpan<double> rows, int dim)
    {
        if (dim <= 0 || rows.Length % dim != 0 || rows.Length == 0)
            throw new ArgumentException($"{feature}: {rows.Length} values are not a non-empty multiple of {dim}");
        int n = rows.Length / dim;
        var min = new double[dim]; var max = new double[dim]; var mean = new double[dim]; var std = new double[dim];
        var q = Enumerable.Range(0, QuantileLevels.Count).Select(_ => new double[dim]).ToArray();
        var column = new double[n];
        for (int d = 0; d < dim; d++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += column[i] = rows[i * dim + d];
            mean[d] = sum / n;
            double sq = 0;
            foreach (double v in column) sq += (v - mean[d]) * (v - mean[d]);
            std[d] = Math.Sqrt(sq / n);
            Array.Sort(column);
            min[d] = column[0];
            max[d] = column[^1];
            for (int k = 0; k < q.Length; k++) q[k][d] = Quantile(column, QuantileLevels[k]);
        }
        return new LeRobotFeatureStats(feature, min, max, mean, std, n, q[0], q[1], q[2], q[3], q[4]);
    }

    public static LeRobotFeatureStats OfRows(string feature, ReadOnlySpan<float> rows, int dim)
    {
        var d = new double[rows.Length];
        for (int i = 0; i < d.Length; i++) d[i] = rows[i];
        return OfRows(feature, d, dim);
    }

    /// <summary>np.quantile(sorted, q) with method="linear".</summary>
    public static double Quantile(ReadOnlySpan<double> sorted, double q)
    {
        double vi = (sorted.Length - 1) * q;
        int lo = (int)Math.Floor(vi), hi = Math.Min(lo + 1, sorted.Length - 1);
        return Lerp(sorted[lo], sorted[hi], vi - lo);
    }

    /// <summary>numpy's _lerp: a + d·t, or b − d·(1 − t) for t ≥ 0.5 (monotonic near both ends).</summary>
    internal static double Lerp(double a, double b, double t) => t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;

    public JsonObject ToJson()
    {
        JsonNode Values(double[] v) => IsImage
            ? new JsonArray([.. v.Select(x => (JsonNode)new JsonArray(new JsonArray(JsonValue.Create(x))))])
            : new JsonArray([.. v.Select(x => (JsonNode)JsonValue.Create(x))]);
        return new JsonObject
        {
            ["min"] = Values(Min), ["max"] = Values(Max), ["mean"] = Values(Mean), ["std"] = Values(Std),
            ["count"] = new JsonArray(Count),
            ["q01"] = Values(Q01), ["q10"] = Values(Q10), ["q50"] = Values(Q50), ["q90"] = Values(Q90), ["q99"] = Values(Q99),
        };
    }

    /// <summary>meta/stats.json: {feature: {stat: values}} in feature order.</summary>
    public static string ToJson(IEnumerable<LeRobotFeatureStats> features)
    {
        var root = new JsonObject();
        foreach (var f in features) root[f.Feature] = f.ToJson();
        return PythonJson.Serialize(root, indent: 4, sortKeys: false, ensureAscii: false);
    }
}

/// <summary>
/// Exact per-channel statistics of a camera stream over every frame, from a 256-bin histogram per channel (uint8
/// pixels, so mean, std and quantiles are exact), scaled to [0, 1] as LeRobot's image statistics are.
/// </summary>
public sealed class ImageStatsAccumulator(string feature)
{
    private readonly long[][] _hist = [new long[256], new long[256], new long[256]];
    public long Frames { get; private set; }

    /// <summary>Adds <paramref name="frames"/> frames in the ZARR layout (T, 3, H, W).</summary>
    public void AddChw(ReadOnlySpan<byte> chw, int frames)
    {
        if (frames <= 0 || chw.Length % (3 * frames) != 0) throw new ArgumentException($"{feature}: {chw.Length} bytes are not {frames} x 3 planes");
        int plane = chw.Length / (3 * frames);
        for (int t = 0; t < frames; t++)
            for (int c = 0; c < 3; c++)
            {
                var h = _hist[c];
                foreach (byte v in chw.Slice((t * 3 + c) * plane, plane)) h[v]++;
            }
        Frames += frames;
    }

    public LeRobotFeatureStats ToStats()
    {
        if (Frames == 0) throw new InvalidOperationException($"{feature}: no frames");
        var min = new double[3]; var max = new double[3]; var mean = new double[3]; var std = new double[3];
        var q = Enumerable.Range(0, LeRobotFeatureStats.QuantileLevels.Count).Select(_ => new double[3]).ToArray();
        for (int c = 0; c < 3; c++)
        {
            var h = _hist[c];
            long n = 0, sum = 0;
            Int128 sumSq = 0;
            for (int v = 0; v < 256; v++)
            {
                n += h[v];
                sum += h[v] * v;
                sumSq += (Int128)h[v] * v * v;
            }
            min[c] = Array.FindIndex(h, x => x > 0) / 255.0;
            max[c] = Array.FindLastIndex(h, x => x > 0) / 255.0;
            mean[c] = (double)sum / n / 255.0;
            // Population variance from integer sums, exact until the final division.
            std[c] = Math.Sqrt((double)(n * sumSq - (Int128)sum * sum) / ((double)n * n)) / 255.0;
            for (int k = 0; k < q.Length; k++)
            {
                double vi = (n - 1) * LeRobotFeatureStats.QuantileLevels[k];
                long lo = (long)Math.Floor(vi);
                q[k][c] = LeRobotFeatureStats.Lerp(OrderStatistic(h, lo), OrderStatistic(h, Math.Min(lo + 1, n - 1)), vi - lo) / 255.0;
            }
        }
        return new LeRobotFeatureStats(feature, min, max, mean, std, Frames, q[0], q[1], q[2], q[3], q[4], IsImage: true);
    }

    /// <summary>The k-th smallest pixel value (0-based) of a histogram.</summary>
    private static double OrderStatistic(long[] hist, long k)
    {
        long seen = 0;
        for (int v = 0; v < hist.Length; v++)
        {
            seen += hist[v];
            if (seen > k) return v;
        }
        return hist.Length - 1;
    }
}
