using System.Buffers.Binary;
using System.IO.Compression;

namespace RoboFactory.Vla.Imaging;

/// <summary>An 8-bit RGB image, row-major, 3 bytes per pixel.</summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[]? pixels = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException("image size must be positive");
        Width = width; Height = height;
        Pixels = pixels ?? new byte[checked(width * height * 3)];
        if (Pixels.Length != width * height * 3) throw new ArgumentException("pixel buffer size mismatch");
    }
}

/// <summary>
/// Minimal PNG codec (no ImageSharp: licence). Decodes non-interlaced grey/RGB/palette/grey-alpha/RGBA at bit depth 8
/// or 16 (alpha dropped, as PIL's convert("RGB") does for this use); encodes RGB8.
/// </summary>
public static class Png
{
    static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    public static RgbImage Read(string path) => Decode(File.ReadAllBytes(path), path);

    public static RgbImage Decode(byte[] data, string name = "png")
    {
        if (data.Length < 8 || !data.AsSpan(0, 8).SequenceEqual(Signature)) throw new InvalidDataException($"{name}: not a PNG file");
        int pos = 8, width = 0, height = 0, depth = 0, colorType = 0, interlace = 0;
        byte[]? palette = null;
        using var idat = new MemoryStream();
        while (pos + 8 <= data.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(data, pos + 4, 4);
            if (len < 0 || pos + 12L + len > data.Length) throw new InvalidDataException($"{name}: truncated {type} chunk");
            var body = data.AsSpan(pos + 8, len);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(body); height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                    depth = body[8]; colorType = body[9]; interlace = body[12];
                    break;
                case "PLTE": palette = body.ToArray(); break;
                case "IDAT": idat.Write(body); break;
            }
            pos += 12 + len;
            if (type == "IEND") break;
        }
        if (width <= 0 || height <= 0 || (long)width * height > 1L << 28) throw new InvalidDataException($"{name}: bad size {width}×{height}");
        if (interlace != 0) throw new InvalidDataException($"{name}: interlaced PNG is not supported");
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new InvalidDataException($"{name}: bad colour type {colorType}") };
        if (depth != 8 && !(depth == 16 && colorType != 3)) throw new InvalidDataException($"{name}: bit depth {depth} is not supported (8 or 16)");
        if (colorType == 3 && palette is null) throw new InvalidDataException($"{name}: palette image without PLTE");
        int bpp = channels * depth / 8, stride = width * bpp;
        var raw = new byte[(long)height * (stride + 1)];
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress))
        {
            int read = 0;
            while (read < raw.Length) { int n = z.Read(raw, read, raw.Length - read); if (n == 0) break; read += n; }
            if (read != raw.Length) throw new InvalidDataException($"{name}: image data is truncated");
        }
        var prev = new byte[stride];
        var cur = new byte[stride];
        var img = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
        {
            int f = raw[y * (stride + 1)];
            Array.Copy(raw, y * (stride + 1) + 1, cur, 0, stride);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                cur[i] = f switch
                {
                    0 => cur[i],
                    1 => (byte)(cur[i] + a),
                    2 => (byte)(cur[i] + b),
                    3 => (byte)(cur[i] + ((a + b) >> 1)),
                    4 => (byte)(cur[i] + Paeth(a, b, c)),
                    _ => throw new InvalidDataException($"{name}: bad filter {f}"),
                };
            }
            for (int x = 0; x < width; x++)
            {
                int o = (y * width + x) * 3, s = x * bpp, step = depth / 8; // 16-bit: the high byte comes first
                byte r, g, bl;
                switch (colorType)
                {
                    case 0: case 4: r = g = bl = cur[s]; break;
                    case 3:
                        int idx = cur[s] * 3;
                        if (idx + 2 >= palette!.Length) throw new InvalidDataException($"{name}: palette index out of range");
                        r = palette[idx]; g = palette[idx + 1]; bl = palette[idx + 2]; break;
                    default: r = cur[s]; g = cur[s + step]; bl = cur[s + 2 * step]; break;
                }
                img.Pixels[o] = r; img.Pixels[o + 1] = g; img.Pixels[o + 2] = bl;
            }
            (prev, cur) = (cur, prev);
        }
        return img;
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    public static void Write(string path, RgbImage img) => File.WriteAllBytes(path, Encode(img));

    public static byte[] Encode(RgbImage img)
    {
        using var ms = new MemoryStream();
        ms.Write(Signature);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, img.Width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), img.Height);
        ihdr[8] = 8; ihdr[9] = 2;
        Chunk(ms, "IHDR", ihdr);
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true))
            for (int y = 0; y < img.Height; y++) { zs.WriteByte(0); zs.Write(img.Pixels, y * img.Width * 3, img.Width * 3); }
        Chunk(ms, "IDAT", z.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] body)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, body.Length);
        s.Write(len);
        var tb = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(tb); s.Write(body);
        uint crc = Crc(Crc(0xffffffffu, tb), body) ^ 0xffffffffu;
        BinaryPrimitives.WriteUInt32BigEndian(len, crc);
        s.Write(len);
    }

    static uint[]? crcTable;
    static uint Crc(uint c, byte[] data)
    {
        crcTable ??= Enumerable.Range(0, 256).Select(n =>
        {
            uint v = (uint)n;
            for (int k = 0; k < 8; k++) v = (v & 1) != 0 ? 0xedb88320u ^ (v >> 1) : v >> 1;
            return v;
        }).ToArray();
        foreach (var b in data) c = crcTable[(c ^ b) & 0xff] ^ (c >> 8);
        return c;
    }
}
