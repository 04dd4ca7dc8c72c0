using RoboFactory.Core.Imaging;

namespace RoboFactory.Data.Imaging;

/// <summary>Layout conversions and the loader's resize.</summary>
public static class ImageOps
{
    /// <summary>(3, H, W) planar → (H, W, 3) interleaved, as the converter needs for PNG (upstream process_image).</summary>
    public static void ChwToHwc(ReadOnlySpan<byte> chw, Span<byte> hwc, int channels, int height, int width)
    {
        int plane = height * width;
        for (int c = 0; c < channels; c++)
        {
            var src = chw.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++) hwc[i * channels + c] = src[i];
        }
    }

    public static void HwcToChw(ReadOnlySpan<byte> hwc, Span<byte> chw, int channels, int height, int width)
    {
        int plane = height * width;
        for (int c = 0; c < channels; c++)
        {
            var dst = chw.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++) dst[i] = hwc[i * channels + c];
        }
    }

    /// <summary>
    /// Bilinear resize with half-pixel centres and no antialiasing (like tf.image.resize bilinear).
    /// Used by the loader benchmark's "resize to 224"; the VLA's own preprocessing lives in Vla.
    /// </summary>
    public static Image8 ResizeBilinear(Image8 src, int width, int height)
    {
        int ch = src.Channels;
        var dst = new byte[width * height * ch];
        float sx = (float)src.Width / width, sy = (float)src.Height / height;
        var x0 = new int[width]; var x1 = new int[width]; var fx = new float[width];
        for (int x = 0; x < width; x++)
        {
            float fxs = Math.Max(0, (x + 0.5f) * sx - 0.5f);
            x0[x] = Math.Min((int)fxs, src.Width - 1);
            x1[x] = Math.Min(x0[x] + 1, src.Width - 1);
            fx[x] = fxs - x0[x];
        }
        for (int y = 0; y < height; y++)
        {
            float fys = Math.Max(0, (y + 0.5f) * sy - 0.5f);
            int y0 = Math.Min((int)fys, src.Height - 1), y1 = Math.Min(y0 + 1, src.Height - 1);
            float wy = fys - y0;
            int r0 = y0 * src.Width * ch, r1 = y1 * src.Width * ch, o = y * width * ch;
            for (int x = 0; x < width; x++)
            {
                int a = x0[x] * ch, b = x1[x] * ch;
                float wx = fx[x];
                for (int c = 0; c < ch; c++)
                {
                    float top = src.Pixels[r0 + a + c] + (src.Pixels[r0 + b + c] - src.Pixels[r0 + a + c]) * wx;
                    float bot = src.Pixels[r1 + a + c] + (src.Pixels[r1 + b + c] - src.Pixels[r1 + a + c]) * wx;
                    dst[o + x * ch + c] = (byte)Math.Clamp((int)MathF.Round(top + (bot - top) * wy), 0, 255);
                }
            }
        }
        return new Image8(width, height, ch, dst);
    }
}
