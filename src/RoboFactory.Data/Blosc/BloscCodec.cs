using System.Buffers.Binary;
using System.Text;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Blosc;

/// <summary>Blosc shuffle filter, with numcodecs' integer codes (as stored in .zarray "shuffle").</summary>
public enum BloscShuffle
{
    /// <summary>numcodecs AUTOSHUFFLE (-1): bit shuffle for 1-byte items, byte shuffle otherwise.</summary>
    Auto = -1,
    NoShuffle = 0,
    ByteShuffle = 1,
    BitShuffle = 2,
}

/// <summary>What a blosc frame header says about its contents.</summary>
public readonly record struct BloscFrameInfo(long NBytes, long CBytes, long BlockSize, int TypeSize, int Flags);

/// <summary>
/// Thread-safe Blosc compression through libblosc's context API. Produces the same bytes as
/// numcodecs.Blosc for the same (cname, clevel, shuffle, blocksize, typesize), because both call the
/// same Debian library with the same arguments; thread count does not change the output.
/// </summary>
public static unsafe class BloscCodec
{
    private static readonly Lazy<string[]> s_compressors = new(() =>
        Marshal(BloscNative.blosc_list_compressors()).Split(',', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Compressor names this libblosc was built with (Debian: blosclz, lz4, lz4hc, snappy?, zlib, zstd).</summary>
    public static IReadOnlyList<string> Compressors => s_compressors.Value;

    public static string LibraryVersion => Marshal(BloscNative.blosc_get_version_string());

    public static bool IsCompressorAvailable(string cname) => Array.IndexOf(s_compressors.Value, cname) >= 0;

    /// <summary>Resolves numcodecs' AUTOSHUFFLE the way numcodecs does before calling blosc.</summary>
    public static BloscShuffle Resolve(BloscShuffle shuffle, int typeSize) =>
        shuffle == BloscShuffle.Auto ? (typeSize == 1 ? BloscShuffle.BitShuffle : BloscShuffle.ByteShuffle) : shuffle;

    /// <summary>Upper bound of the compressed size of <paramref name="nbytes"/> input bytes.</summary>
    public static int MaxCompressedLength(int nbytes) => nbytes + BloscNative.MaxOverhead;

    /// <summary>Compresses <paramref name="source"/> and returns the blosc frame.</summary>
    /// <remarks>With threads &gt; 1 libblosc 1.21 produces a differently laid-out (still valid) frame;
    /// use threads = 1 wherever output must be reproducible or identical to numcodecs' ctx path.</remarks>
    public static byte[] Compress(ReadOnlySpan<byte> source, int typeSize, string cname, int clevel,
        BloscShuffle shuffle, int blockSize = 0, int threads = 1)
    {
        var dest = new byte[MaxCompressedLength(source.Length)];
        int n = Compress(source, dest, typeSize, cname, clevel, shuffle, blockSize, threads);
        Array.Resize(ref dest, n);
        return dest;
    }

    /// <summary>Compresses into <paramref name="destination"/> (at least MaxCompressedLength bytes); returns the frame length.</summary>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int typeSize, string cname,
        int clevel, BloscShuffle shuffle, int blockSize = 0, int threads = 1)
    {
        if (!IsCompressorAvailable(cname))
            throw new NotSupportedException(
                $"blosc compressor '{cname}' is not available in {LibraryVersion} (available: {string.Join(", ", Compressors)})");
        if (clevel is < 0 or > 9) throw new ArgumentOutOfRangeException(nameof(clevel), clevel, "blosc clevel must be 0..9");
        if (typeSize < 1) throw new ArgumentOutOfRangeException(nameof(typeSize));
        if (destination.Length < MaxCompressedLength(source.Length))
            throw new ArgumentException("destination is smaller than MaxCompressedLength(source)", nameof(destination));
        // blosc 1.x caps a single buffer at 2 GiB - 16 (BLOSC_MAX_BUFFERSIZE).
        if (source.Length > int.MaxValue - BloscNative.MaxOverhead)
            throw new ArgumentException("blosc buffers are limited to 2 GiB", nameof(source));

        var resolved = Resolve(shuffle, typeSize);
        Span<byte> name = stackalloc byte[32];
        int len = Encoding.ASCII.GetBytes(cname, name);
        name[len] = 0;
        int result;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        fixed (byte* cn = name)
        {
            result = BloscNative.blosc_compress_ctx(clevel, (int)resolved, (nuint)typeSize, (nuint)source.Length,
                src, dst, (nuint)destination.Length, cn, (nuint)blockSize, Math.Max(1, threads));
        }
        if (result <= 0)
            throw new InvalidOperationException($"blosc_compress_ctx failed with code {result} (cname={cname}, clevel={clevel})");
        return result;
    }

    /// <summary>BLOSC_MEMCPYED: the frame stores its bytes uncompressed after the header.</summary>
    private const int MemcpyedFlag = 0x02;

    /// <summary>
    /// Reads a blosc frame header without decompressing and checks it against the buffer: libblosc trusts the header
    /// (blosc_decompress_ctx takes no source length), so every size it will use is bounded here first.
    /// </summary>
    public static BloscFrameInfo ReadHeader(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < BloscNative.MaxOverhead)
            throw new InputFormatException($"blosc frame is {frame.Length} bytes, shorter than the 16-byte header");
        // The header's sizes are little-endian 32-bit fields; read unsigned so that 0x80000000 is a huge size, not a negative one.
        var info = new BloscFrameInfo(
            NBytes: BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]),
            CBytes: BinaryPrimitives.ReadUInt32LittleEndian(frame[12..]),
            BlockSize: BinaryPrimitives.ReadUInt32LittleEndian(frame[8..]),
            TypeSize: frame[3], Flags: frame[2]);
        if (info.CBytes < BloscNative.MaxOverhead || info.CBytes > frame.Length)
            throw new InputFormatException($"blosc frame header says {info.CBytes} compressed bytes; the frame holds {frame.Length} (at least 16 expected)");
        if (info.NBytes > MaxBufferBytes)
            throw new InputFormatException($"blosc frame header says it decompresses to {info.NBytes} bytes, above blosc's limit of {MaxBufferBytes}");
        if (info.TypeSize == 0)
            throw new InputFormatException("blosc frame header has typesize 0 (expected 1..255)");
        if (info.NBytes > 0 && (info.BlockSize == 0 || info.BlockSize > info.NBytes))
            throw new InputFormatException($"blosc frame header has blocksize {info.BlockSize} for {info.NBytes} bytes (expected 1..{info.NBytes})");
        if ((info.Flags & MemcpyedFlag) != 0 && info.CBytes != info.NBytes + BloscNative.MaxOverhead)
            throw new InputFormatException($"blosc frame is stored uncompressed but holds {info.CBytes} bytes for {info.NBytes} (expected nbytes + 16)");
        return info;
    }

    /// <summary>Decompresses a blosc frame into <paramref name="destination"/>, whose length must equal the frame's nbytes.</summary>
    public static void Decompress(ReadOnlySpan<byte> frame, Span<byte> destination, int threads = 1)
    {
        var info = ReadHeader(frame);
        if (info.NBytes != destination.Length)
            throw new InputFormatException($"blosc frame decompresses to {info.NBytes} bytes, expected {destination.Length}");
        int result;
        fixed (byte* src = frame)
        fixed (byte* dst = destination)
        {
            result = BloscNative.blosc_decompress_ctx(src, dst, (nuint)destination.Length, Math.Max(1, threads));
        }
        if (result < 0 || result != destination.Length)
            throw new InputFormatException($"blosc_decompress_ctx failed with code {result}");
    }

    /// <summary>libblosc's BLOSC_MAX_BUFFERSIZE: no frame holds more.</summary>
    public const long MaxBufferBytes = int.MaxValue - 16;

    /// <summary>Decompresses a whole frame; refuses (before allocating) a header that claims more than
    /// <paramref name="maxBytes"/> or more compressed bytes than the frame holds.</summary>
    public static byte[] Decompress(ReadOnlySpan<byte> frame, int threads = 1, long maxBytes = MaxBufferBytes)
    {
        var info = ReadHeader(frame);
        if (info.NBytes > maxBytes)
            throw new InputFormatException($"blosc frame header says it decompresses to {info.NBytes} bytes; at most {maxBytes} expected");
        var dest = new byte[info.NBytes];
        Decompress(frame, dest, threads);
        return dest;
    }

    private static string Marshal(byte* p) => p == null ? "" : System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)p) ?? "";
}
