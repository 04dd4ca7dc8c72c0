using System.Diagnostics;

namespace RoboFactory.Bench;

/// <summary>Repeated timings of one measurement, summarised as min / median / max.</summary>
public sealed record Timing(string Name, IReadOnlyList<double> Values, string Unit)
{
    public double Min => Values.Min();
    public double Max => Values.Max();
    public double Median
    {
        get
        {
            var s = Values.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
    }

    public override string ToString() =>
        FormattableString.Invariant($"{Name,-44} median {Median,10:0.##} {Unit}   (min {Min:0.##}, max {Max:0.##}, n={Values.Count})");
}

/// <summary>Small helpers shared by the benchmarks.</summary>
public static class BenchUtil
{
    public static string RunProcess(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} exited with {p.ExitCode}: {stderr.Trim()}");
        return stdout;
    }

    /// <summary>Compiles a C file from the bench's native/ folder against libmujoco; returns the executable path.</summary>
    public static string CompileNative(string name, string libs)
    {
        string src = Path.Combine(AppContext.BaseDirectory, "native", name + ".c");
        if (!File.Exists(src)) throw new FileNotFoundException($"benchmark source missing: {src}");
        string exe = Path.Combine(Path.GetTempPath(), $"robofactory-{name}-{Environment.ProcessId}");
        RunProcess("gcc", ["-O2", "-o", exe, src, .. libs.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
        return exe;
    }
}
