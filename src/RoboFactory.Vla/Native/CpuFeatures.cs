namespace RoboFactory.Vla.Native;

/// <summary>
/// The CPU's name and the instruction sets that decide which GEMM path is fast (Linux /proc/cpuinfo): bf16 matmul is
/// fast only with AVX512_BF16 or AMX; without them libtorch's bf16 GEMM runs several times slower than fp32.
/// </summary>
public static class CpuFeatures
{
    /// <summary>The flags that matter for matmul speed, in this order when present.</summary>
    public static readonly string[] Relevant = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "avx_vnni"];

    static readonly Lazy<(string Model, HashSet<string> Flags)> info = new(Read);

    public static string ModelName => info.Value.Model;
    public static IReadOnlyList<string> Flags => [.. Relevant.Where(info.Value.Flags.Contains)];
    public static bool HasFastBf16 => info.Value.Flags.Contains("avx512_bf16") || info.Value.Flags.Contains("amx_bf16");

    /// <summary>One line for logs and benchmarks: "AMD EPYC … (avx2 fma avx512f … avx512_bf16)".</summary>
    public static string Describe() => $"{ModelName} ({string.Join(' ', Flags)})";

    static (string, HashSet<string>) Read()
    {
        try
        {
            string model = "unknown CPU";
            var flags = new HashSet<string>(StringComparer.Ordinal);
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon < 0) continue;
                string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                if (key == "model name" && model == "unknown CPU") model = value;
                else if (key is "flags" or "Features" && flags.Count == 0) flags.UnionWith(value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
            return (model, flags);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ("unknown CPU", []); }
    }
}
