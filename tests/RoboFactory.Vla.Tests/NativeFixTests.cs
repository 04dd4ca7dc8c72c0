using RoboFactory.Vla.Native;
using TorchSharp;

namespace RoboFactory.Vla.Tests;

public class NativeFixTests
{
    static string OutputLib => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void OutputCopy_IsWeakWhereNeeded_And_TorchSharpLoads()
    {
        Assert.True(File.Exists(OutputLib), $"native library expected at {OutputLib}");
        var flags = TorchSharpNativeFix.VernauxFlags(OutputLib, TorchSharpNativeFix.Version);
        if (!TorchSharpNativeFix.SystemHasVersion(TorchSharpNativeFix.Version))
        {
            Assert.NotNull(flags);
            Assert.True((flags!.Value & 0x2) != 0, "the build should have marked GLIBCXX_3.4.32 weak");
        }
        using var t = torch.ones(3, 3);
        Assert.Equal(9f, t.sum().item<float>());
    }

    [Fact]
    public void Patch_OnPristineNuGetCopy_IsIdempotent()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                   ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var pristine = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(pristine), $"TorchSharp package not found at {pristine}");
        using var dir = new TempDir();
        var copy = dir.File("libLibTorchSharp.so");
        File.Copy(pristine, copy);
        var before = TorchSharpNativeFix.VernauxFlags(copy, TorchSharpNativeFix.Version);
        Assert.NotNull(before);
        Assert.Equal(0, before!.Value & 0x2);
        Assert.Equal(TorchSharpNativeFix.Result.Patched, TorchSharpNativeFix.WeakenVersionNeed(copy, TorchSharpNativeFix.Version));
        Assert.Equal((ushort)(before.Value | 0x2), TorchSharpNativeFix.VernauxFlags(copy, TorchSharpNativeFix.Version)!.Value);
        Assert.Equal(TorchSharpNativeFix.Result.AlreadyWeak, TorchSharpNativeFix.WeakenVersionNeed(copy, TorchSharpNativeFix.Version));
        // Only that one byte changed.
        var a = File.ReadAllBytes(pristine); var b = File.ReadAllBytes(copy);
        Assert.Equal(a.Length, b.Length);
        Assert.Equal(1, a.Zip(b).Count(p => p.First != p.Second));
        Assert.Equal(TorchSharpNativeFix.Result.NoSuchNeed, TorchSharpNativeFix.WeakenVersionNeed(copy, "GLIBCXX_9.9.9"));
        File.WriteAllText(dir.File("x.so"), "not an elf file at all, really not");
        Assert.Equal(TorchSharpNativeFix.Result.NotElf, TorchSharpNativeFix.WeakenVersionNeed(dir.File("x.so"), TorchSharpNativeFix.Version));
    }
}
