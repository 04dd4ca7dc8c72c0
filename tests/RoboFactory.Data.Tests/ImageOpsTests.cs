using RoboFactory.Core.Imaging;
using RoboFactory.Data.Imaging;

namespace RoboFactory.Data.Tests;

public class ImageOpsTests
{
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
