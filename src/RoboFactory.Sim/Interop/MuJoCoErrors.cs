using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RoboFactory.Sim.Interop;

/// <summary>MuJoCo refused a model or failed inside the engine; the message is MuJoCo's own.</summary>
public sealed class MuJoCoException(string message) : Exception(message);

/// <summary>
/// Routes MuJoCo's global warning/error callbacks into per-thread queues so they are surfaced, not printed
/// and lost (the default error handler even calls exit()). Installed once per process.
/// </summary>
internal static unsafe class MuJoCoCallbacks
{
    [ThreadStatic] private static List<string>? warnings;
    [ThreadStatic] private static string? error;
    private static readonly object Gate = new();
    private static bool installed;

    public static void EnsureInstalled()
    {
        if (installed) return;
        lock (Gate)
        {
            if (installed) return;
            *(IntPtr*)MuJoCoNative.GlobalAddress("mju_user_warning") = (IntPtr)(delegate* unmanaged[Cdecl]<byte*, void>)&OnWarning;
            *(IntPtr*)MuJoCoNative.GlobalAddress("mju_user_error") = (IntPtr)(delegate* unmanaged[Cdecl]<byte*, void>)&OnError;
            installed = true;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnWarning(byte* msg) => (warnings ??= []).Add(Marshal.PtrToStringUTF8((IntPtr)msg) ?? "");

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnError(byte* msg) => error = Marshal.PtrToStringUTF8((IntPtr)msg) ?? "unknown MuJoCo error";

    /// <summary>Warnings raised on this thread since the last call.</summary>
    public static IReadOnlyList<string> TakeWarnings()
    {
        var w = warnings;
        if (w is null || w.Count == 0) return [];
        warnings = null;
        return w;
    }

    /// <summary>Throws if MuJoCo reported an error on this thread since the last check.</summary>
    public static void ThrowIfError(string context)
    {
        var e = error;
        if (e is null) return;
        error = null;
        throw new MuJoCoException($"{context}: {e}");
    }
}
