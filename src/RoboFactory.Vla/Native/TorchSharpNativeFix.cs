using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace RoboFactory.Vla.Native;

/// <summary>
/// Run-time safety net for the Debian 12 TorchSharp load failure (see build/TorchSharp.targets, which fixes it at build
/// time): libLibTorchSharp.so requires GLIBCXX_3.4.32 for a symbol it never calls. When this assembly loads, the copy
/// next to the application is patched (the Vernaux entry marked VER_FLG_WEAK) if the system libstdc++ lacks the version.
/// This covers executables that get TorchSharp transitively without importing the targets file.
/// </summary>
public static class TorchSharpNativeFix
{
    public const string Version = "GLIBCXX_3.4.32";

#pragma warning disable CA2255 // deliberately a module initializer: it must run before TorchSharp loads its native library
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void OnLoad()
    {
        try { EnsurePatched(AppContext.BaseDirectory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException) { /* build-time patch or a clear load error remains */ }
    }

    public static void EnsurePatched(string appDir)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || SystemHasVersion(Version)) return;
        foreach (var p in new[] { Path.Combine(appDir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"), Path.Combine(appDir, "libLibTorchSharp.so") })
            if (File.Exists(p)) WeakenVersionNeed(p, Version);
    }

    /// <summary>True when a system libstdc++.so.6 defines the version string.</summary>
    public static bool SystemHasVersion(string version)
    {
        foreach (var c in new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" })
            if (File.Exists(c)) return File.ReadAllBytes(c).AsSpan().IndexOf(Encoding.ASCII.GetBytes(version + "\0")) >= 0;
        return false;
    }

    public enum Result { NotElf, NoSuchNeed, AlreadyWeak, Patched }

    /// <summary>Reads the flags of the Vernaux entry named <paramref name="version"/> (null when absent).</summary>
    public static ushort? VernauxFlags(string path, string version)
    {
        ushort? flags = null;
        Walk(File.ReadAllBytes(path), version, (b, aux) => flags = (ushort)(b[aux + 4] | (b[aux + 5] << 8)));
        return flags;
    }

    /// <summary>Sets VER_FLG_WEAK (0x2) on the Vernaux entry for <paramref name="version"/> in .gnu.version_r.</summary>
    public static Result WeakenVersionNeed(string path, string version)
    {
        var b = File.ReadAllBytes(path);
        int found = 0, patched = 0;
        bool elf = Walk(b, version, (buf, aux) =>
        {
            found++;
            if ((buf[aux + 4] & 0x2) == 0) { buf[aux + 4] |= 0x2; patched++; }
        });
        if (!elf) return Result.NotElf;
        if (found == 0) return Result.NoSuchNeed;
        if (patched == 0) return Result.AlreadyWeak;
        var tmp = path + ".patching";
        File.WriteAllBytes(tmp, b);
        File.Move(tmp, path, overwrite: true);
        return Result.Patched;
    }

    /// <summary>Visits the Vernaux entries named <paramref name="version"/>; bounds-checked throughout.</summary>
    static bool Walk(byte[] b, string version, Action<byte[], long> visit)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' || b[4] != 2 || b[5] != 1) return false;
        ulong U64(long o) => o + 8 <= b.Length ? BitConverter.ToUInt64(b, (int)o) : throw new InvalidDataException("ELF offset out of range");
        uint U32(long o) => o + 4 <= b.Length ? BitConverter.ToUInt32(b, (int)o) : throw new InvalidDataException("ELF offset out of range");
        int U16(long o) => o + 2 <= b.Length ? BitConverter.ToUInt16(b, (int)o) : throw new InvalidDataException("ELF offset out of range");
        long shoff = (long)U64(0x28); int shentsize = U16(0x3A), shnum = U16(0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (U32(sh + 4) != 0x6ffffffe) continue; // SHT_GNU_verneed
            long off = (long)U64(sh + 0x18); uint link = U32(sh + 0x28); uint count = U32(sh + 0x2C);
            long str = (long)U64(shoff + link * shentsize + 0x18);
            long vn = off;
            for (uint n = 0; n < count; n++)
            {
                int cnt = U16(vn + 2);
                long aux = vn + U32(vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    long name = str + U32(aux + 8), e = name;
                    while (e < b.Length && b[e] != 0) e++;
                    if (Encoding.ASCII.GetString(b, (int)name, (int)(e - name)) == version) visit(b, aux);
                    uint next = U32(aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnext = U32(vn + 12);
                if (vnext == 0) break;
                vn += vnext;
            }
        }
        return true;
    }
}
