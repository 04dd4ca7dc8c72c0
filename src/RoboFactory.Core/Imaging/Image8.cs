namespace RoboFactory.Core.Imaging;

/// <summary>
/// The one image type: 8 bits per channel, row-major HWC, top row first (channels 1 = gray, 2 = gray+alpha,
/// 3 = RGB, 4 = RGBA). Cameras render RGB, the PNG codec reads any of the four, the model takes RGB.
/// </summary>
public sealed class Image8
{
    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Pixels { get; }

    public Image8(int width, int height, int channels, byte[]? pixels = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"image size must be positive, got {width}x{height}");
        if (channels is < 1 or > 4) throw new ArgumentException($"1..4 channels, got {channels}");
        Width = width; Height = height; Channels = channels;
        long n = (long)width * height * channels;
        Pixels = pixels ?? new byte[checked((int)n)];
        if (Pixels.Length != n) throw new ArgumentException($"expected {n} bytes for {width}x{height}x{channels}, got {Pixels.Length}");
    }

    /// <summary>An RGB image (zeroed when no pixels are given).</summary>
    public static Image8 Rgb(int width, int height, byte[]? pixels = null) => new(width, height, 3, pixels);

    /// <summary>This image as RGB: gray is repeated, alpha dropped (as PIL's convert("RGB") does).</summary>
    public Image8 ToRgb()
    {
        if (Channels == 3) return this;
        var rgb = new byte[Width * Height * 3];
        for (int i = 0, n = Width * Height; i < n; i++)
        {
            int s = i * Channels;
            byte r = Pixels[s], g = Channels >= 3 ? Pixels[s + 1] : r, b = Channels >= 3 ? Pixels[s + 2] : r;
            rgb[i * 3] = r; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = b;
        }
        return Rgb(Width, Height, rgb);
    }
}
