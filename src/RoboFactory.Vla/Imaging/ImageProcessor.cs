using RoboFactory.Core.Imaging;
using RoboFactory.Vla.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Imaging;

/// <summary>
/// PrismaticImageProcessor, "resize-naive": PIL bicubic resize to S×S (no crop, aspect not kept), /255, then
/// per-backbone normalisation: channels 0–2 DINO (ImageNet mean/std), 3–5 SigLIP (0.5/0.5) → [6, S, S].
/// Several views become [1, 6·K, S, S] (view k at channels 6k..6k+5).
/// </summary>
public sealed class ImageProcessor
{
    public int Size { get; }
    readonly float[] mean = new float[6], std = new float[6];

    public ImageProcessor(OpenVlaConfig config)
    {
        Size = config.ImageSize;
        for (int c = 0; c < 3; c++)
        {
            mean[c] = config.Dino.Mean[c]; std[c] = config.Dino.Std[c];
            mean[c + 3] = config.Siglip.Mean[c]; std[c + 3] = config.Siglip.Std[c];
        }
    }

    /// <summary>One image → 6·S·S floats (CHW).</summary>
    public float[] Preprocess(Image8 image)
    {
        var img = image.Width == Size && image.Height == Size ? image : ResizeBicubic(image, Size, Size);
        int n = Size * Size;
        var r = new float[6 * n];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++)
            {
                float v = img.Pixels[i * 3 + c] / 255f; // ToTensor
                r[c * n + i] = (v - mean[c]) / std[c];
                r[(c + 3) * n + i] = (v - mean[c + 3]) / std[c + 3];
            }
        return r;
    }

    /// <summary>K views → pixel values [1, 6·K, S, S] (fp32, CPU).</summary>
    public Tensor PreprocessViews(IReadOnlyList<Image8> views)
    {
        if (views.Count == 0) throw new ArgumentException("at least one image is needed");
        var all = views.SelectMany(Preprocess).ToArray();
        return torch.tensor(all, new long[] { 1, 6 * views.Count, Size, Size });
    }

    // ---- Pillow's ImagingResample (bicubic, a = −0.5), 8-bit fixed point, horizontal pass then vertical. ----
    const int PrecisionBits = 32 - 8 - 2;

    static double Bicubic(double x)
    {
        const double a = -0.5;
        if (x < 0) x = -x;
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }

    static (int KSize, int[] Bounds, int[] Coeffs) Precompute(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize, filterscale = Math.Max(scale, 1.0);
        double support = 2.0 * filterscale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var kk = new int[outSize * ksize];
        var k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale, ww = 0, ss = 1.0 / filterscale;
            int xmin = (int)(center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int)(center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            for (int x = 0; x < xmax; x++) { double w = Bicubic((x + xmin - center + 0.5) * ss); k[x] = w; ww += w; }
            for (int x = 0; x < ksize; x++)
            {
                double v = x < xmax && ww != 0 ? k[x] / ww : (x < xmax ? k[x] : 0);
                kk[xx * ksize + x] = v < 0 ? (int)(-0.5 + v * (1 << PrecisionBits)) : (int)(0.5 + v * (1 << PrecisionBits));
            }
            bounds[xx * 2] = xmin; bounds[xx * 2 + 1] = xmax;
        }
        return (ksize, bounds, kk);
    }

    static byte Clip8(int v)
    {
        v >>= PrecisionBits;
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }

    /// <summary>Pillow-exact bicubic resize of an RGB8 image (antialiased when downscaling).</summary>
    public static Image8 ResizeBicubic(Image8 src, int width, int height)
    {
        var cur = src;
        if (width != src.Width)
        {
            var (ks, b, kk) = Precompute(src.Width, width);
            var dst = Image8.Rgb(width, src.Height);
            for (int y = 0; y < src.Height; y++)
                for (int xx = 0; xx < width; xx++)
                {
                    int xmin = b[xx * 2], xmax = b[xx * 2 + 1];
                    int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                    for (int x = 0; x < xmax; x++)
                    {
                        int o = (y * src.Width + x + xmin) * 3, w = kk[xx * ks + x];
                        s0 += cur.Pixels[o] * w; s1 += cur.Pixels[o + 1] * w; s2 += cur.Pixels[o + 2] * w;
                    }
                    int d = (y * width + xx) * 3;
                    dst.Pixels[d] = Clip8(s0); dst.Pixels[d + 1] = Clip8(s1); dst.Pixels[d + 2] = Clip8(s2);
                }
            cur = dst;
        }
        if (height != src.Height)
        {
            var (ks, b, kk) = Precompute(src.Height, height);
            var dst = Image8.Rgb(cur.Width, height);
            for (int yy = 0; yy < height; yy++)
            {
                int ymin = b[yy * 2], ymax = b[yy * 2 + 1];
                for (int x = 0; x < cur.Width; x++)
                {
                    int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                    for (int y = 0; y < ymax; y++)
                    {
                        int o = ((y + ymin) * cur.Width + x) * 3, w = kk[yy * ks + y];
                        s0 += cur.Pixels[o] * w; s1 += cur.Pixels[o + 1] * w; s2 += cur.Pixels[o + 2] * w;
                    }
                    int d = (yy * cur.Width + x) * 3;
                    dst.Pixels[d] = Clip8(s0); dst.Pixels[d + 1] = Clip8(s1); dst.Pixels[d + 2] = Clip8(s2);
                }
            }
            cur = dst;
        }
        return cur == src ? Image8.Rgb(src.Width, src.Height, (byte[])src.Pixels.Clone()) : cur;
    }
}
