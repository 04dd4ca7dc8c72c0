using RoboFactory.Data.Imaging;
using RoboFactory.Core.Imaging;

namespace RoboFactory.Data.Rlds;

/// <summary>Per-step images of one camera, (T, H, W, 3) uint8 interleaved.</summary>
public sealed record RldsImageSeries(int Height, int Width, byte[] Hwc)
{
    public int FrameBytes => Height * Width * 3;
    public int Steps => Hwc.Length / FrameBytes;

    public ReadOnlySpan<byte> Frame(int t) => Hwc.AsSpan(t * FrameBytes, FrameBytes);

    /// <summary>From the ZARR layout (T, 3, H, W).</summary>
    public static RldsImageSeries FromChw(byte[] chw, int steps, int height, int width)
    {
        var hwc = new byte[chw.Length];
        int frame = 3 * height * width;
        if (chw.Length != steps * frame) throw new ArgumentException($"expected {steps} x 3 x {height} x {width} bytes");
        Parallel.For(0, steps, t => ImageOps.ChwToHwc(chw.AsSpan(t * frame, frame), hwc.AsSpan(t * frame, frame), 3, height, width));
        return new RldsImageSeries(height, width, hwc);
    }
}

/// <summary>
/// One episode for the RLDS writer. Image = the agent's head camera (steps/observation/image);
/// state = proprio (steps/observation/state); action = commanded action (steps/action).
/// </summary>
public sealed record RldsEpisode
{
    public required string LanguageInstruction { get; init; }
    public required int Length { get; init; }
    public required RldsImageSeries Image { get; init; }
    public RldsImageSeries? GlobalImage { get; init; }
    public RldsImageSeries? WristImage { get; init; }
    /// <summary>(T, StateDim).</summary>
    public required float[] State { get; init; }
    /// <summary>(T, ActionDim).</summary>
    public required float[] Action { get; init; }
    /// <summary>Per-step reward; default 1 on the last step of a successful demo, else 0.</summary>
    public float[]? Reward { get; init; }
    /// <summary>Per-step discount; default 1.</summary>
    public float[]? Discount { get; init; }
    /// <summary>Whether the episode ended in a terminal (task-complete) state: is_terminal on the last step.</summary>
    public bool Terminal { get; init; } = true;
    public string FilePath { get; init; } = "";
    public long EpisodeIndex { get; init; }
}
