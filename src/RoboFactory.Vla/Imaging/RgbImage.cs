using RoboFactory.Sim.Imaging;

namespace RoboFactory.Vla.Imaging;

/// <summary>An 8-bit RGB image, row-major, 3 bytes per pixel (the image processor's input).</summary>
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

    /// <summary>Reads a PNG (gray/RGB, with or without alpha; alpha dropped as PIL's convert("RGB") does).</summary>
    public static RgbImage Read(string path)
    {
        var img = Png.ReadRgb(path);
        return new RgbImage(img.Width, img.Height, img.Pixels);
    }

    public void Write(string path) => Png.Write(path, Pixels, Width, Height);
}
