using System.IO.Compression;
using System.Text.Json.Nodes;
using RoboFactory.Data.Blosc;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Zarr;

/// <summary>A numcodecs compressor as configured in .zarray "compressor" (null means stored raw).</summary>
public abstract record ZarrCompressor
{
    /// <summary>numcodecs codec id ("blosc", "zlib", "gzip").</summary>
    public abstract string Id { get; }

    /// <summary>The "compressor" object as numcodecs' get_config() returns it.</summary>
    public abstract JsonObject ToConfig();

    /// <param name="itemSize">numpy itemsize of the chunk's dtype (blosc's typesize, which drives shuffling).</param>
    internal abstract byte[] Encode(ReadOnlySpan<byte> raw, int itemSize, int threads);

    internal abstract void Decode(ReadOnlySpan<byte> encoded, Span<byte> raw, int threads);

    /// <summary>The upstream RoboFactory setting: Blosc(cname='zstd', clevel=3, shuffle=1).</summary>
    public static BloscCompressor UpstreamDefault { get; } = new("zstd", 3, BloscShuffle.ByteShuffle);

    internal static ZarrCompressor? FromConfig(JsonNode? node, string filePath)
    {
        if (node is null) return null;
        if (node is not JsonObject obj)
            throw new ZarrFormatException(filePath, "compressor", "must be an object or null");
        string? id = (string?)obj["id"];
        switch (id)
        {
            case "blosc":
                string cname = (string?)obj["cname"] ?? "lz4";
                if (!BloscCodec.IsCompressorAvailable(cname))
                    throw new ZarrFormatException(filePath, "compressor.cname",
                        $"blosc compressor '{cname}' is not available in libblosc {BloscCodec.LibraryVersion}; expected one of {string.Join(", ", BloscCodec.Compressors)}");
                int shuffle = (int?)obj["shuffle"] ?? 1;
                if (shuffle is < -1 or > 2)
                    throw new ZarrFormatException(filePath, "compressor.shuffle", $"{shuffle}; expected -1, 0, 1 or 2");
                return new BloscCompressor(cname, (int?)obj["clevel"] ?? 5, (BloscShuffle)shuffle, (int?)obj["blocksize"] ?? 0);
            case "zlib":
                return new ZlibCompressor((int?)obj["level"] ?? 1);
            case "gzip":
                return new GzipCompressor((int?)obj["level"] ?? 1);
            default:
                throw new ZarrFormatException(filePath, "compressor.id",
                    $"codec '{id}' is not supported; expected 'blosc', 'zlib', 'gzip' or a null compressor");
        }
    }
}

/// <summary>numcodecs.Blosc: shuffle + (blosclz|lz4|lz4hc|zlib|zstd) through Debian's libblosc.</summary>
public sealed record BloscCompressor(string CName = "zstd", int CLevel = 3, BloscShuffle Shuffle = BloscShuffle.ByteShuffle, int BlockSize = 0)
    : ZarrCompressor
{
    public override string Id => "blosc";

    public override JsonObject ToConfig() => new()
    {
        ["blocksize"] = BlockSize, ["clevel"] = CLevel, ["cname"] = CName, ["id"] = Id, ["shuffle"] = (int)Shuffle,
    };

    // Always one blosc thread: libblosc 1.21's multi-threaded frames differ byte-wise from the
    // single-threaded ones, and byte-identical stores matter more than intra-chunk parallelism
    // (ZarrArray compresses several chunks in parallel instead).
    internal override byte[] Encode(ReadOnlySpan<byte> raw, int itemSize, int threads) =>
        BloscCodec.Compress(raw, itemSize, CName, CLevel, Shuffle, BlockSize, threads: 1);

    internal override void Decode(ReadOnlySpan<byte> encoded, Span<byte> raw, int threads) =>
        BloscCodec.Decompress(encoded, raw, threads);
}

/// <summary>numcodecs.Zlib (zlib stream with header, as Python's zlib.compress writes).</summary>
public sealed record ZlibCompressor(int Level = 1) : ZarrCompressor
{
    public override string Id => "zlib";
    public override JsonObject ToConfig() => new() { ["id"] = Id, ["level"] = Level };

    internal override byte[] Encode(ReadOnlySpan<byte> raw, int itemSize, int threads)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, ToLevel(Level), leaveOpen: true)) z.Write(raw);
        return ms.ToArray();
    }

    internal override void Decode(ReadOnlySpan<byte> encoded, Span<byte> raw, int threads)
    {
        using var z = new ZLibStream(new MemoryStream(encoded.ToArray()), CompressionMode.Decompress);
        ReadExactly(z, raw);
    }

    internal static CompressionLevel ToLevel(int level) => level switch
    {
        0 => CompressionLevel.NoCompression,
        <= 3 => CompressionLevel.Fastest,
        <= 7 => CompressionLevel.Optimal,
        _ => CompressionLevel.SmallestSize,
    };

    internal static void ReadExactly(Stream s, Span<byte> raw)
    {
        int total = 0;
        while (total < raw.Length)
        {
            int n;
            // zlib reports some corrupt streams as its internal ZLibException, an IOException, not InvalidDataException
            // (found by afl); reading from memory, any IOException is the data's fault
            try { n = s.Read(raw[total..]); }
            catch (IOException e) { throw new InputFormatException($"compressed chunk is corrupt ({e.Message})", e); }
            if (n == 0) throw new InputFormatException($"compressed chunk holds {total} bytes, expected {raw.Length}");
            total += n;
        }
    }
}

/// <summary>numcodecs.GZip (gzip member; numcodecs writes mtime=0).</summary>
public sealed record GzipCompressor(int Level = 1) : ZarrCompressor
{
    public override string Id => "gzip";
    public override JsonObject ToConfig() => new() { ["id"] = Id, ["level"] = Level };

    internal override byte[] Encode(ReadOnlySpan<byte> raw, int itemSize, int threads)
    {
        using var ms = new MemoryStream();
        using (var z = new GZipStream(ms, ZlibCompressor.ToLevel(Level), leaveOpen: true)) z.Write(raw);
        return ms.ToArray();
    }

    internal override void Decode(ReadOnlySpan<byte> encoded, Span<byte> raw, int threads)
    {
        using var z = new GZipStream(new MemoryStream(encoded.ToArray()), CompressionMode.Decompress);
        ZlibCompressor.ReadExactly(z, raw);
    }
}
