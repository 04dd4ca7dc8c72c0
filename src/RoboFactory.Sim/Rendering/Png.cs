using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace RoboFactory.Sim.Rendering;

/// <summary>Minimal PNG writer for 8-bit RGB images (rows top-down), filter "Up" per row.</summary>
public static class Png
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    public static void Write(string path, byte[] rgb, int width, int height)
    {
        string? dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, Encode(rgb, width, height));
    }

    public static byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"expected {width}x{height}x3 = {width * height * 3} bytes, got {rgb.Length}");
        using var ms = new MemoryStream();
        ms.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0; // 8-bit RGB, deflate, no interlace
        WriteChunk(ms, "IHDR", ihdr);

        int stride = width * 3;
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
        {
            var line = new byte[stride + 1];
            for (int y = 0; y < height; y++)
            {
                var row = rgb.Slice(y * stride, stride);
                line[0] = (byte)(y == 0 ? 0 : 2); // Up filter compresses smooth renders well
                if (y == 0) row.CopyTo(line.AsSpan(1));
                else
                {
                    var prev = rgb.Slice((y - 1) * stride, stride);
                    for (int i = 0; i < stride; i++) line[i + 1] = (byte)(row[i] - prev[i]);
                }
                z.Write(line);
            }
        }
        WriteChunk(ms, "IDAT", raw.ToArray());
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(data);
        var crc = new Crc32();
        crc.Append(head[4..]);
        crc.Append(data);
        Span<byte> c = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(c, crc.GetCurrentHashAsUInt32());
        s.Write(c);
    }
}
