using System.Buffers.Binary;
using System.IO.Compression;
using RoboFactory.Core.Errors;

namespace RoboFactory.Core.Imaging;

/// <summary>
/// Minimal PNG codec for RLDS observations: encodes 8-bit gray/RGB/RGBA (non-interlaced, one IDAT,
/// per-row choice between the Sub and Up filters), decodes any non-interlaced 8-bit gray, gray+alpha,
/// RGB or RGBA PNG with all five filter types. Chunk CRCs are verified on decode.
/// </summary>
public static class Png
{
    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    public static byte[] Encode(Image8 image, CompressionLevel level = CompressionLevel.Fastest) =>
        Encode(image.Pixels, image.Width, image.Height, image.Channels, level);

    /// <summary>Writes an image to a PNG file, creating the folder.</summary>
    public static void Write(string path, Image8 image) => Write(path, image.Pixels, image.Width, image.Height, image.Channels);

    /// <summary>Writes 8-bit pixels (HWC, top row first; RGB by default) to a PNG file, creating the folder.</summary>
    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels = 3)
    {
        string? dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, Encode(pixels, width, height, channels));
    }

    /// <summary>Reads a PNG file as 8-bit RGB (gray and alpha are converted); errors name the file.</summary>
    public static Image8 ReadRgb(string path)
    {
        try { return Decode(File.ReadAllBytes(path)).ToRgb(); }
        catch (InputFormatException e) { throw new InputFormatException($"{path}: {e.Message}", e); }
    }

    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels,
        CompressionLevel level = CompressionLevel.Fastest)
    {
        byte colorType = channels switch
        {
            1 => 0, 2 => 4, 3 => 2, 4 => 6,
            _ => throw new ArgumentOutOfRangeException(nameof(channels), "1..4 channels"),
        };
        int stride = width * channels;
        if (pixels.Length != stride * height) throw new ArgumentException($"expected {stride * height} bytes for {width}x{height}x{channels}");

        // Filtered scanlines: for each row keep whichever of Sub/Up has the smaller sum of |residual|
        // (the usual libpng heuristic, restricted to the two cheap filters).
        var filtered = new byte[(stride + 1) * height];
        var sub = new byte[stride];
        var up = new byte[stride];
        for (int y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * stride, stride);
            long subCost = 0, upCost = 0;
            for (int x = 0; x < stride; x++)
            {
                byte left = x >= channels ? row[x - channels] : (byte)0;
                byte above = y > 0 ? pixels[(y - 1) * stride + x] : (byte)0;
                sub[x] = (byte)(row[x] - left);
                up[x] = (byte)(row[x] - above);
                subCost += (sbyte)sub[x] is var s && s < 0 ? -s : s;
                upCost += (sbyte)up[x] is var u && u < 0 ? -u : u;
            }
            int o = y * (stride + 1);
            bool useUp = y > 0 && upCost < subCost;
            filtered[o] = useUp ? (byte)2 : (byte)1;
            (useUp ? up : sub).CopyTo(filtered, o + 1);
        }

        using var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, level, leaveOpen: true)) z.Write(filtered);

        using var ms = new MemoryStream(idat.Length > int.MaxValue - 1024 ? 0 : (int)idat.Length + 64);
        ms.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8; ihdr[9] = colorType; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
        WriteChunk(ms, "IHDR"u8, ihdr);
        WriteChunk(ms, "IDAT"u8, idat.GetBuffer().AsSpan(0, (int)idat.Length));
        WriteChunk(ms, "IEND"u8, []);
        return ms.ToArray();
    }

    private static void WriteChunk(Stream s, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> b4 = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b4, data.Length);
        s.Write(b4);
        s.Write(type);
        s.Write(data);
        uint crc = Crc32.Update(Crc32.Update(0xFFFFFFFFu, type), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(b4, crc);
        s.Write(b4);
    }

    /// <summary>deflate's largest expansion (a 258-byte match in 2 bits): the most output one input byte can give.</summary>
    const long MaxDeflateRatio = 1032;

    public static Image8 Decode(ReadOnlySpan<byte> png)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(Signature)) throw new InputFormatException("not a PNG (bad signature)");
        int pos = 8, width = 0, height = 0, channels = 0;
        bool seenHeader = false;
        using var idat = new MemoryStream();
        while (true)
        {
            if (pos + 12L > png.Length) throw new InputFormatException("truncated PNG chunk");
            int len = BinaryPrimitives.ReadInt32BigEndian(png[pos..]);
            if (len < 0 || pos + 12L + len > png.Length) throw new InputFormatException("truncated PNG chunk");
            var type = png.Slice(pos + 4, 4);
            var data = png.Slice(pos + 8, len);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(png[(pos + 8 + len)..]);
            uint crc = Crc32.Update(Crc32.Update(0xFFFFFFFFu, type), data) ^ 0xFFFFFFFFu;
            if (crc != stored) throw new InputFormatException($"PNG chunk {System.Text.Encoding.ASCII.GetString(type)} CRC mismatch");
            pos += 12 + len;
            if (type.SequenceEqual("IHDR"u8))
            {
                if (len != 13) throw new InputFormatException(null, "IHDR", $"{len} bytes; expected 13");
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                if (width <= 0 || height <= 0) throw new InputFormatException(null, "IHDR", $"image size {width}x{height}; expected positive sides");
                if (data[8] != 8) throw new InputFormatException(null, "IHDR", $"bit depth {data[8]} is not supported (8 only)");
                channels = data[9] switch
                {
                    0 => 1, 4 => 2, 2 => 3, 6 => 4,
                    _ => throw new InputFormatException(null, "IHDR", $"color type {data[9]} is not supported (gray, gray+alpha, RGB, RGBA)"),
                };
                if (data[12] != 0) throw new InputFormatException(null, "IHDR", "interlaced PNG is not supported");
                seenHeader = true;
            }
            else if (type.SequenceEqual("IDAT"u8)) idat.Write(data);
            else if (type.SequenceEqual("IEND"u8)) break;
        }
        if (!seenHeader) throw new InputFormatException("PNG has no IHDR");

        // The header's size drives the allocation, so it is checked against the data first: deflate expands at most
        // 1032:1, so a few bytes of IDAT cannot hold a gigapixel image.
        long rawBytes = ((long)width * channels + 1) * height;
        if (rawBytes > MaxDeflateRatio * idat.Length + 1024 || rawBytes > Array.MaxLength)
            throw new InputFormatException(null, "IHDR", $"image size {width}x{height} needs {rawBytes} bytes, more than its {idat.Length} bytes of compressed data can hold");
        int stride = width * channels;
        var raw = new byte[rawBytes];
        idat.Position = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            int total = 0;
            while (total < raw.Length)
            {
                int n = z.Read(raw, total, raw.Length - total);
                if (n == 0) throw new InputFormatException("PNG image data is shorter than its header says");
                total += n;
            }
        }
        catch (InvalidDataException e)
        {
            throw new InputFormatException(null, "IDAT", $"bad zlib stream ({e.Message})", e);
        }
        var pixels = new byte[stride * height];
        Unfilter(raw, pixels, width, height, channels);
        return new Image8(width, height, channels, pixels);
    }

    private static void Unfilter(byte[] raw, byte[] pixels, int width, int height, int bpp)
    {
        int stride = width * bpp;
        for (int y = 0; y < height; y++)
        {
            byte filter = raw[y * (stride + 1)];
            var src = raw.AsSpan(y * (stride + 1) + 1, stride);
            var dst = pixels.AsSpan(y * stride, stride);
            ReadOnlySpan<byte> prev = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : new byte[stride];
            switch (filter)
            {
                case 0: src.CopyTo(dst); break;
                case 1:
                    for (int x = 0; x < stride; x++) dst[x] = (byte)(src[x] + (x >= bpp ? dst[x - bpp] : 0));
                    break;
                case 2:
                    for (int x = 0; x < stride; x++) dst[x] = (byte)(src[x] + prev[x]);
                    break;
                case 3:
                    for (int x = 0; x < stride; x++) dst[x] = (byte)(src[x] + (((x >= bpp ? dst[x - bpp] : 0) + prev[x]) >> 1));
                    break;
                case 4:
                    for (int x = 0; x < stride; x++)
                    {
                        int a = x >= bpp ? dst[x - bpp] : 0, b = prev[x], c = x >= bpp ? prev[x - bpp] : 0;
                        int p = a + b - c, pa = System.Math.Abs(p - a), pb = System.Math.Abs(p - b), pc = System.Math.Abs(p - c);
                        dst[x] = (byte)(src[x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c));
                    }
                    break;
                default: throw new InputFormatException($"PNG row {y} has unknown filter type {filter}");
            }
        }
    }

    /// <summary>zlib's CRC-32 (PNG chunk checksums).</summary>
    private static class Crc32
    {
        private static readonly uint[] Table = Build();

        private static uint[] Build()
        {
            var t = new uint[256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                t[n] = c;
            }
            return t;
        }

        public static uint Update(uint crc, ReadOnlySpan<byte> data)
        {
            foreach (byte b in data) crc = Table[(crc ^ b) & 0xff] ^ (crc >> 8);
            return crc;
        }
    }
}
