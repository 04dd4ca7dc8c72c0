using RoboFactory.Data.Blosc;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Tests;

public class BloscTests
{
    [Fact]
    public void Library_offers_the_codecs_zarr_stores_use()
    {
        Assert.StartsWith("1.", BloscCodec.LibraryVersion);
        foreach (var c in new[] { "blosclz", "lz4", "lz4hc", "zlib", "zstd" })
            Assert.Contains(c, BloscCodec.Compressors);
    }

    [Theory]
    [InlineData("zstd", BloscShuffle.ByteShuffle, 4)]
    [InlineData("lz4", BloscShuffle.BitShuffle, 4)]
    [InlineData("blosclz", BloscShuffle.NoShuffle, 1)]
    [InlineData("lz4hc", BloscShuffle.Auto, 8)]
    [InlineData("zlib", BloscShuffle.ByteShuffle, 2)]
    public void Round_trips_and_reports_header(string cname, BloscShuffle shuffle, int typeSize)
    {
        var data = new TestRng(7).ImageBytes(100_003 - 100_003 % typeSize, 320);
        var frame = BloscCodec.Compress(data, typeSize, cname, 5, shuffle);
        var info = BloscCodec.ReadHeader(frame);
        Assert.Equal(data.Length, info.NBytes);
        Assert.Equal(frame.Length, info.CBytes);
        Assert.Equal(typeSize, info.TypeSize);
        Assert.Equal(data, BloscCodec.Decompress(frame, threads: 2));
    }

    [Fact]
    public void Single_thread_output_is_deterministic_and_threaded_frames_decode_the_same()
    {
        // libblosc 1.21 lays blocks out differently with several threads (numcodecs shows the same),
        // which is why the Zarr writer always compresses with one blosc thread per chunk.
        var data = new TestRng(3).ImageBytes(1 << 20, 320);
        var a = BloscCodec.Compress(data, 1, "zstd", 3, BloscShuffle.ByteShuffle, threads: 1);
        var b = BloscCodec.Compress(data, 1, "zstd", 3, BloscShuffle.ByteShuffle, threads: 1);
        var threaded = BloscCodec.Compress(data, 1, "zstd", 3, BloscShuffle.ByteShuffle, threads: 2);
        Assert.Equal(a, b);
        Assert.Equal(data, BloscCodec.Decompress(threaded));
        Assert.Equal(data, BloscCodec.Decompress(a, threads: 2));
    }

    [Fact]
    public void Truncated_frame_is_rejected_before_libblosc_reads_past_it()
    {
        var frame = BloscCodec.Compress(new TestRng(1).ImageBytes(50_000, 100), 1, "zstd", 3, BloscShuffle.ByteShuffle);
        var cut = frame.AsSpan(0, frame.Length / 2).ToArray();
        var e = Assert.Throws<InputFormatException>(() => BloscCodec.Decompress(cut));
        Assert.Contains("compressed bytes", e.Message);
        Assert.Throws<InputFormatException>(() => BloscCodec.Decompress(frame.AsSpan(0, 10)));
    }

    /// <summary>Headers afl found (or could find) that libblosc would trust: each size is checked before it sees them.
    /// The first is the input that crashed the test host intermittently (cbytes 0x80000000 read as negative).</summary>
    [Theory]
    [InlineData(12, 0x80000000u, "compressed bytes")]  // cbytes with the sign bit set
    [InlineData(12, 8u, "compressed bytes")]           // cbytes shorter than the header
    [InlineData(8, 0u, "blocksize")]                   // blocksize 0 for a non-empty frame
    [InlineData(8, 0x7fffffffu, "blocksize")]          // blocksize above nbytes
    [InlineData(4, 0xfffffff0u, "blosc's limit")]      // nbytes above BLOSC_MAX_BUFFERSIZE
    public void Header_sizes_libblosc_would_trust_are_checked_first(int field, uint value, string expected)
    {
        var frame = BloscCodec.Compress(new TestRng(2).ImageBytes(20_000, 100), 1, "lz4", 5, BloscShuffle.ByteShuffle);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(field), value);
        var e = Assert.Throws<InputFormatException>(() => BloscCodec.Decompress(frame));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Uncompressed_frame_must_hold_exactly_its_bytes()
    {
        var frame = BloscCodec.Compress(new byte[64], 1, "lz4", 0, BloscShuffle.NoShuffle); // clevel 0: stored as is
        Assert.True((BloscCodec.ReadHeader(frame).Flags & 0x02) != 0, "clevel 0 should give a memcpyed frame");
        Assert.Equal(new byte[64], BloscCodec.Decompress(frame));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), 200); // nbytes beyond the stored bytes
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), 200);
        Assert.Throws<InputFormatException>(() => BloscCodec.Decompress(frame));
    }

    [Fact]
    public void Unknown_compressor_names_the_available_ones()
    {
        var e = Assert.Throws<NotSupportedException>(() => BloscCodec.Compress(new byte[10], 1, "brotli", 3, BloscShuffle.NoShuffle));
        Assert.Contains("zstd", e.Message);
    }

    [Fact]
    public void Same_bytes_as_numcodecs_Blosc()
    {
        // numcodecs calls the same libblosc with typesize = itemsize, so frames must be identical.
        var floats = new TestRng(11).Floats(4000);
        var raw = System.Runtime.InteropServices.MemoryMarshal.AsBytes(floats.AsSpan()).ToArray();
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp["raw.bin"], raw);
        string py = Python.RunCode("""
            import sys, numpy as np, hashlib
            from numcodecs import Blosc
            a = np.fromfile(sys.argv[1], dtype='<f4')
            for cname, shuffle in (('zstd', 1), ('lz4', 2), ('blosclz', 0)):
                print(hashlib.sha256(Blosc(cname=cname, clevel=3, shuffle=shuffle).encode(a)).hexdigest())
            """.Replace("\n            ", "\n"), tmp["raw.bin"]);
        var expected = py.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var ours = new[] { ("zstd", BloscShuffle.ByteShuffle), ("lz4", BloscShuffle.BitShuffle), ("blosclz", BloscShuffle.NoShuffle) }
            .Select(c => Hash.Sha256<byte>(BloscCodec.Compress(raw, 4, c.Item1, 3, c.Item2))).ToArray();
        Assert.Equal(expected, ours);
    }
}
