using RoboFactory.Core.Imaging;
using RoboFactory.Core.Errors;

namespace RoboFactory.Core.Tests;

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
        Assert.Throws<InputFormatException>(() => Png.Decode(png));
    }
}
