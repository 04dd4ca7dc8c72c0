using System.Runtime.InteropServices;

namespace RoboFactory.Vla.Native;

/// <summary>
/// This process's memory as Linux reports it (/proc/self/status), and the two calls that make a peak measurable
/// within one process: hand freed heap pages back to the system (glibc malloc_trim) and restart the peak (writing 5
/// to /proc/self/clear_refs resets VmHWM to the current RSS). Elsewhere the figures fall back to the working set.
/// </summary>
public static partial class ProcessMemory
{
    /// <summary>Peak resident set size (VmHWM) in bytes.</summary>
    public static long PeakRssBytes() => StatusField("VmHWM:") ?? Environment.WorkingSet;

    /// <summary>Current resident set size (VmRSS) in bytes.</summary>
    public static long RssBytes() => StatusField("VmRSS:") ?? Environment.WorkingSet;

    /// <summary>Returns freed heap memory to the system, so RSS is close to what is live. False where unavailable.</summary>
    public static bool Trim()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return false;
        try { malloc_trim(0); return true; } // its result only says whether anything was released
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { return false; } // not glibc
    }

    /// <summary>Restarts the peak: VmHWM becomes the current RSS. False where the kernel does not allow it.</summary>
    public static bool ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// Serve every allocation of 1 MiB or more with its own mapping, returned to the system when freed (glibc's
    /// M_MMAP_THRESHOLD; by default the threshold rises to 32 MiB as blocks are freed, and freed blocks below it stay
    /// in the heap, counted in RSS). False where unavailable.
    /// </summary>
    public static bool ReturnLargeBlocksToSystem()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return false;
        const int M_MMAP_THRESHOLD = -3;
        try { return mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1; }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { return false; }
    }

    static long? StatusField(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return null;
        foreach (var line in File.ReadLines(status))
            if (line.StartsWith(field, StringComparison.Ordinal)) // "VmHWM:\t  123 kB"
                return long.Parse(line[field.Length..].Replace("kB", "").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return null;
    }

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);

    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int malloc_trim(nuint pad);
}
