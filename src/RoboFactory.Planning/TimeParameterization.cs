namespace RoboFactory.Planning;

/// <summary>
/// Turns a joint path (waypoints in joint space) into samples at the control rate under per-joint velocity and
/// acceleration limits: a trapezoidal profile on the path parameter, scaled so that no joint exceeds its limits.
/// (Upstream used TOPP-RA with limits 0.9; a uniform trapezoid is a little slower but smooth and exact at the ends.)
/// </summary>
public static class TimeParameterization
{
    /// <summary>Joint-space samples every <paramref name="dt"/> seconds, from the first waypoint to the last (inclusive of the last).</summary>
    public static List<double[]> Sample(IReadOnlyList<double[]> path, double dt, double velocityLimit, double accelerationLimit, double minDuration = 0)
    {
        if (path.Count == 0) throw new ArgumentException("empty path");
        int n = path[0].Length;
        // cumulative arc length along the path with s ∈ [0, 1]; the steepest joint per unit s bounds the speed
        var seg = new double[path.Count];
        double total = 0;
        for (int i = 1; i < path.Count; i++)
        {
            double m = 0;
            for (int j = 0; j < n; j++) m = System.Math.Max(m, System.Math.Abs(path[i][j] - path[i - 1][j]));
            total += m;
            seg[i] = total;
        }
        if (total < 1e-9)
            return minDuration > 0 ? Enumerable.Repeat(path[^1], (int)System.Math.Ceiling(minDuration / dt)).Select(q => (double[])q.Clone()).ToList() : [];

        // Trapezoid over the max-norm joint distance D: reach v, cruise, brake.
        double D = total, v = velocityLimit, a = accelerationLimit;
        double tAcc = v / a, dAcc = 0.5 * a * tAcc * tAcc;
        double duration;
        if (2 * dAcc >= D) { tAcc = System.Math.Sqrt(D / a); v = a * tAcc; dAcc = D / 2; duration = 2 * tAcc; }
        else duration = 2 * tAcc + (D - 2 * dAcc) / v;
        double stretch = System.Math.Max(1, minDuration / duration); // slow down uniformly to a common duration
        int steps = System.Math.Max(1, (int)System.Math.Ceiling(duration * stretch / dt - 1e-9));

        var samples = new List<double[]>(steps);
        for (int k = 1; k <= steps; k++)
        {
            double t = System.Math.Min(k * dt / stretch, duration);
            double d;
            if (t < tAcc) d = 0.5 * a * t * t;
            else if (t > duration - tAcc) { double r = duration - t; d = D - 0.5 * a * r * r; }
            else d = dAcc + v * (t - tAcc);
            samples.Add(Interpolate(path, seg, System.Math.Clamp(d, 0, D)));
        }
        samples[^1] = (double[])path[^1].Clone();
        return samples;
    }

    /// <summary>Duration (s) the trapezoid needs for this path, before any stretching.</summary>
    public static double Duration(IReadOnlyList<double[]> path, double velocityLimit, double accelerationLimit)
    {
        double D = 0;
        for (int i = 1; i < path.Count; i++)
        {
            double m = 0;
            for (int j = 0; j < path[i].Length; j++) m = System.Math.Max(m, System.Math.Abs(path[i][j] - path[i - 1][j]));
            D += m;
        }
        double tAcc = velocityLimit / accelerationLimit, dAcc = 0.5 * accelerationLimit * tAcc * tAcc;
        return 2 * dAcc >= D ? 2 * System.Math.Sqrt(D / accelerationLimit) : 2 * tAcc + (D - 2 * dAcc) / velocityLimit;
    }

    private static double[] Interpolate(IReadOnlyList<double[]> path, double[] seg, double d)
    {
        int i = Array.BinarySearch(seg, d);
        if (i >= 0) return (double[])path[i].Clone();
        i = ~i; // seg[i-1] < d < seg[i]
        if (i >= path.Count) return (double[])path[^1].Clone();
        double f = (d - seg[i - 1]) / (seg[i] - seg[i - 1]);
        var q = new double[path[i].Length];
        for (int j = 0; j < q.Length; j++) q[j] = path[i - 1][j] + f * (path[i][j] - path[i - 1][j]);
        return q;
    }
}
