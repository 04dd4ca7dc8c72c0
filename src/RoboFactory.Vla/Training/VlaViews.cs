using RoboFactory.Core.Rng;
using RoboFactory.Core.Imaging;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Training;

/// <summary>
/// Image preprocessing shared by training and inference. Training with augmentation (OpenVLA's image_aug): a random
/// crop of 90 % of the area (side √0.9 of width and height, aspect kept, uniform position), Pillow-bicubic resize to
/// the model size, colour jitter (brightness ±0.2, contrast ×[0.8,1.2], saturation ×[0.8,1.2], hue ±0.05, in that
/// order, each clipped to [0,1]), then the per-backbone normalisation of <see cref="ImageProcessor"/>. Inference for a
/// policy trained with augmentation: the matching centre crop (same box size, centred), resize and normalisation.
/// Without augmentation: resize and normalisation only (OpenVLA's resize-naive).
/// </summary>
public sealed class VlaImagePipeline
{
    public const double CropAreaFraction = 0.9;
    public ImageProcessor Processor { get; }
    public int Size => Processor.Size;
    /// <summary>Whether inference takes the centre crop (true when training used random crops).</summary>
    public bool CenterCrop { get; }

    public VlaImagePipeline(OpenVlaConfig config, bool centerCrop)
    {
        Processor = new ImageProcessor(config);
        CenterCrop = centerCrop;
    }

    /// <summary>Crop box size for an image: round(√0.9 · side) for each side.</summary>
    public static (int W, int H) CropSize(int width, int height)
    {
        double f = Math.Sqrt(CropAreaFraction);
        return (Math.Max(1, (int)Math.Round(width * f)), Math.Max(1, (int)Math.Round(height * f)));
    }

    public static Image8 Crop(Image8 src, int x0, int y0, int w, int h)
    {
        var dst = Image8.Rgb(w, h);
        for (int y = 0; y < h; y++)
            Buffer.BlockCopy(src.Pixels, ((y0 + y) * src.Width + x0) * 3, dst.Pixels, y * w * 3, w * 3);
        return dst;
    }

    public static Image8 CenterCropImage(Image8 src)
    {
        var (w, h) = CropSize(src.Width, src.Height);
        return Crop(src, (src.Width - w) / 2, (src.Height - h) / 2, w, h);
    }

    /// <summary>Inference preprocessing of one view → 6·S·S floats.</summary>
    public float[] Eval(Image8 image) => Processor.Preprocess(CenterCrop ? CenterCropImage(image) : image);

    /// <summary>Inference preprocessing of K views (model order) → [1, 6K, S, S].</summary>
    public Tensor EvalViews(IReadOnlyList<Image8> views)
    {
        if (views.Count == 0) throw new ArgumentException("at least one view is needed");
        var all = new float[views.Count * 6 * Size * Size];
        for (int v = 0; v < views.Count; v++) Eval(views[v]).CopyTo(all, v * 6 * Size * Size);
        return torch.tensor(all, new long[] { 1, 6 * views.Count, Size, Size });
    }

    /// <summary>Training preprocessing: random crop + jitter from <paramref name="rng"/> (or <see cref="Eval"/> when not augmenting).</summary>
    public float[] Train(Image8 image, SplitMix64 rng, bool augment)
    {
        if (!augment) return Eval(image);
        var (w, h) = CropSize(image.Width, image.Height);
        int x0 = rng.NextInt(image.Width - w + 1), y0 = rng.NextInt(image.Height - h + 1);
        var resized = ImageProcessor.ResizeBicubic(Crop(image, x0, y0, w, h), Size, Size);
        ColorJitter(resized, rng);
        return Processor.Preprocess(resized);
    }

    static double Uniform(SplitMix64 rng, double lo, double hi) => lo + (hi - lo) * ((rng.Next() >> 11) * (1.0 / (1UL << 53)));

    /// <summary>Brightness, contrast, saturation, hue (TF image ops semantics, on [0,1] floats), in place on 8-bit RGB.</summary>
    public static void ColorJitter(Image8 img, SplitMix64 rng)
    {
        double brightness = Uniform(rng, -0.2, 0.2), contrast = Uniform(rng, 0.8, 1.2);
        double saturation = Uniform(rng, 0.8, 1.2), hue = Uniform(rng, -0.05, 0.05);
        int n = img.Width * img.Height;
        var px = new float[n * 3];
        for (int i = 0; i < px.Length; i++) px[i] = Math.Clamp(img.Pixels[i] / 255f + (float)brightness, 0f, 1f);
        // adjust_contrast: per-channel mean over the image.
        for (int c = 0; c < 3; c++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += px[i * 3 + c];
            mean /= n;
            for (int i = 0; i < n; i++) px[i * 3 + c] = (float)Math.Clamp((px[i * 3 + c] - mean) * contrast + mean, 0, 1);
        }
        for (int i = 0; i < n; i++)
        {
            float r = px[i * 3], g = px[i * 3 + 1], b = px[i * 3 + 2];
            float max = Math.Max(r, Math.Max(g, b)), min = Math.Min(r, Math.Min(g, b)), d = max - min;
            float hh = 0;
            if (d > 0)
            {
                if (max == r) hh = (g - b) / d / 6f;
                else if (max == g) hh = ((b - r) / d + 2) / 6f;
                else hh = ((r - g) / d + 4) / 6f;
                if (hh < 0) hh += 1;
            }
            float s = max > 0 ? d / max : 0, v = max;
            s = Math.Clamp(s * (float)saturation, 0f, 1f);
            hh = (float)((hh + hue) % 1.0); if (hh < 0) hh += 1;
            // HSV → RGB
            float h6 = hh * 6f; int k = (int)Math.Floor(h6) % 6; float f = h6 - MathF.Floor(h6);
            float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
            (r, g, b) = k switch { 0 => (v, t, p), 1 => (q, v, p), 2 => (p, v, t), 3 => (p, q, v), 4 => (t, p, v), _ => (v, p, q) };
            img.Pixels[i * 3] = (byte)Math.Clamp(MathF.Round(r * 255f), 0, 255);
            img.Pixels[i * 3 + 1] = (byte)Math.Clamp(MathF.Round(g * 255f), 0, 255);
            img.Pixels[i * 3 + 2] = (byte)Math.Clamp(MathF.Round(b * 255f), 0, 255);
        }
    }
}
