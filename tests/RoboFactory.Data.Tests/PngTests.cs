using RoboFactory.Data.Imaging;
using RoboFactory.Sim.Imaging;

namespace RoboFactory.Data.Tests;

public class PngTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Round_trips(int channels)
    {
        var px = new TestRng((ulong)channels).ImageBytes(37 * 23 * channels, 37 * channels);
        var img = Png.Decode(Png.Encode(px, 37, 23, channels));
        Assert.Equal((37, 23, channels), (img.Width, img.Height, img.Channels));
        Assert.Equal(px, img.Pixels);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Decodes_all_five_filter_types_from_an_independent_encoder(int channels)
    {
        using var tmp = new TempDir();
        var px = new TestRng(99).ImageBytes(19 * 11 * channels, 19 * channels);
        File.WriteAllBytes(tmp["in.raw"], px);
        Python.Run("png_reference.py", "encode", "19", "11", channels.ToString(), tmp["in.raw"], tmp["ref.png"]);
        var img = Png.Decode(File.ReadAllBytes(tmp["ref.png"]));
        Assert.Equal(px, img.Pixels);
    }

    [Fact]
    public void Independent_decoder_reads_our_png()
    {
        using var tmp = new TempDir();
        var px = new TestRng(5).ImageBytes(32 * 24 * 3, 32 * 3);
        File.WriteAllBytes(tmp["ours.png"], Png.Encode(px, 32, 24, 3));
        Assert.Equal("32 24 3", Python.Run("png_reference.py", "decode", tmp["ours.png"], tmp["out.raw"]).Trim());
        Assert.Equal(px, File.ReadAllBytes(tmp["out.raw"]));
    }

    [Fact]
    public void Corrupt_png_is_rejected()
    {
        var png = Png.Encode(new byte[8 * 8 * 3], 8, 8, 3);
        png[^20] ^= 0xff;
        Assert.Throws<InvalidDataException>(() => Png.Decode(png));
    }

    [Fact]
    public void Chw_hwc_round_trip_and_resize_keeps_constant_images_constant()
    {
        var chw = new TestRng(1).ImageBytes(3 * 4 * 5, 5);
        var hwc = new byte[chw.Length];
        ImageOps.ChwToHwc(chw, hwc, 3, 4, 5);
        Assert.Equal(chw[1 * 20 + 2 * 5 + 3], hwc[(2 * 5 + 3) * 3 + 1]);
        var back = new byte[chw.Length];
        ImageOps.HwcToChw(hwc, back, 3, 4, 5);
        Assert.Equal(chw, back);
        var flat = new Image8(320, 240, 3, Enumerable.Repeat((byte)77, 320 * 240 * 3).ToArray());
        var r = ImageOps.ResizeBilinear(flat, 224, 224);
        Assert.All(r.Pixels, p => Assert.Equal(77, p));
    }
}
