// Test helpers shared by the test projects that link this folder (see their .csproj).
using RoboFactory.Core.Rng;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace RoboFactory.Tests.Shared;

/// <summary>A scratch directory removed at dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rf-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public TempDir() => Directory.CreateDirectory(Path);

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public static class Repo
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(System.IO.Path.Combine(dir.FullName, "RoboFactory.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (RoboFactory.sln) not found");
    }

    public static string Script(string name) => System.IO.Path.Combine(Root, "scripts", "data", name);
}

/// <summary>
/// Runs Debian's python3 (which has python3-zarr/numcodecs/numpy/protobuf from scripts/setup.sh).
/// /usr/bin/python3 is preferred over whatever "python3" is first on PATH (e.g. a pyenv shim
/// without the Debian packages).
/// </summary>
public static class Python
{
    public static string Executable { get; } = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public static string Run(string script, params string[] args) => RunRaw([Repo.Script(script), .. args]);

    public static string RunWithInput(string stdin, string script, params string[] args) => RunRaw([Repo.Script(script), .. args], stdin);

    public static string RunCode(string code, params string[] args) => RunRaw(["-c", code, .. args]);

    private static string RunRaw(string[] args, string? stdin = null)
    {
        var psi = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            RedirectStandardInput = stdin != null,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin != null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var stderrTask = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string stderr = stderrTask.Result;
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{Executable} {string.Join(' ', args.Take(2))} failed ({p.ExitCode}):\n{stderr}\n{stdout}");
        return stdout;
    }
}

public static class Hash
{
    public static string Sha256<T>(ReadOnlySpan<T> data) where T : unmanaged =>
        Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(data)));

    /// <summary>All files below a directory: relative path → bytes, for byte-for-byte tree comparison.</summary>
    public static SortedDictionary<string, byte[]> Tree(string dir) =>
        new(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                .ToDictionary(f => System.IO.Path.GetRelativePath(dir, f), File.ReadAllBytes), StringComparer.Ordinal);

    public static void AssertTreesEqual(string expectedDir, string actualDir, Func<string, bool>? include = null)
    {
        var a = Tree(expectedDir);
        var b = Tree(actualDir);
        if (include != null)
        {
            a = new(a.Where(kv => include(kv.Key)).ToDictionary(), StringComparer.Ordinal);
            b = new(b.Where(kv => include(kv.Key)).ToDictionary(), StringComparer.Ordinal);
        }
        Assert.Equal(a.Keys, b.Keys);
        foreach (var key in a.Keys)
            Assert.True(a[key].AsSpan().SequenceEqual(b[key]), $"{key} differs between {expectedDir} and {actualDir}");
    }
}

/// <summary>Deterministic test data (the project's SplitMix64), so failures reproduce.</summary>
public sealed class TestRng(ulong seed)
{
    private readonly SplitMix64 _g = new(seed);

    public ulong Next() => _g.Next();

    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    public float NextGaussian()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    /// <summary>Image-like bytes: smooth gradients plus noise, so blosc/PNG see realistic redundancy.</summary>
    public byte[] ImageBytes(int count, int width)
    {
        var b = new byte[count];
        for (int i = 0; i < count; i++) b[i] = (byte)(((i % width) * 3 + (i / width) + (int)(Next() % 8)) & 0xff);
        return b;
    }

    public float[] Floats(int count)
    {
        var f = new float[count];
        for (int i = 0; i < count; i++) f[i] = NextGaussian();
        return f;
    }
}
