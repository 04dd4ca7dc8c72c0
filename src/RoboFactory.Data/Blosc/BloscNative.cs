using System.Runtime.InteropServices;

namespace RoboFactory.Data.Blosc;

/// <summary>
/// P/Invoke surface of Debian's libblosc1 (c-blosc 1.21). Only the *_ctx entry points are used for
/// compression/decompression: unlike blosc_compress/blosc_decompress they keep no global state, so
/// several chunks can be (de)compressed concurrently from different threads.
/// </summary>
internal static unsafe partial class BloscNative
{
    private const string Library = "libblosc.so.1";

    /// <summary>BLOSC_MAX_OVERHEAD: header bytes blosc may add to an incompressible buffer.</summary>
    internal const int MaxOverhead = 16;

    [LibraryImport(Library)]
    internal static partial int blosc_compress_ctx(
        int clevel, int doshuffle, nuint typesize, nuint nbytes, void* src, void* dest, nuint destsize,
        byte* compressor, nuint blocksize, int numinternalthreads);

    [LibraryImport(Library)]
    internal static partial int blosc_decompress_ctx(void* src, void* dest, nuint destsize, int numinternalthreads);

    [LibraryImport(Library)]
    internal static partial byte* blosc_list_compressors();

    [LibraryImport(Library)]
    internal static partial byte* blosc_get_version_string();
}
