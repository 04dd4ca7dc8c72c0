using System.Text.Json.Nodes;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Data.Tests;

/// <summary>Both directions against Debian's zarr-python 2.13.6 (scripts/data/zarr_interop.py).</summary>
public class ZarrInteropTests
{
    private static string ReadSha(ZarrGroup g, string name, string dtype) => dtype switch
    {
        "|u1" => Hash.Sha256<byte>(g.OpenArray<byte>(name).ReadAll()),
        "|b1" => Hash.Sha256<bool>(g.OpenArray<bool>(name).ReadAll()),
        "<i2" => Hash.Sha256<short>(g.OpenArray<short>(name).ReadAll()),
        "<i4" => Hash.Sha256<int>(g.OpenArray<int>(name).ReadAll()),
        "<u4" => Hash.Sha256<uint>(g.OpenArray<uint>(name).ReadAll()),
        "<i8" => Hash.Sha256<long>(g.OpenArray<long>(name).ReadAll()),
        "<f4" => Hash.Sha256<float>(g.OpenArray<float>(name).ReadAll()),
        "<f8" => Hash.Sha256<double>(g.OpenArray<double>(name).ReadAll()),
        _ => throw new InvalidOperationException(dtype),
    };

    [Fact]
    public void We_read_what_zarr_python_writes_and_refuse_what_we_do_not_support()
    {
        using var tmp = new TempDir();
        var manifest = JsonNode.Parse(Python.Run("zarr_interop.py", "suite", tmp["py.zarr"]))!;
        var g = ZarrGroup.Open(tmp["py.zarr"]);
        var arrays = manifest["arrays"]!.AsArray();
        Assert.True(arrays.Count >= 12);
        foreach (var a in arrays)
        {
            string name = (string)a!["name"]!;
            var meta = g.ReadArrayMetadata(name);
            Assert.Equal(a["shape"]!.AsArray().Select(n => (long)n!), meta.Shape);
            Assert.True((string)a["sha256"]! == ReadSha(g, name, (string)a["dtype"]!), $"values of '{name}' differ from zarr-python's");
        }
        foreach (var err in manifest["errors"]!.AsArray())
        {
            string name = (string)err!["name"]!;
            var e = Assert.Throws<ZarrFormatException>(() => g.ReadArrayMetadata(name));
            Assert.Equal((string)err["field"]!, e.Field);
            Assert.EndsWith(Path.Combine(name, ".zarray"), e.FilePath);
        }
    }

    private static (ZarrEpisodeWriter writer, List<AgentEpisode> episodes) WriteSmallAgentStore(string path, AgentStoreShape shape, int[] lengths)
    {
        var w = RoboFactoryZarrLayout.OpenWriter(path, shape, new ZarrEpisodeWriterOptions
        {
            Attributes = new JsonObject { ["task"] = "LiftBarrier", ["language_instruction"] = "lift the barrier", ["agent_id"] = 0 },
        });
        var eps = new List<AgentEpisode>();
        var rng = new TestRng(42);
        int img = 3 * shape.Height * shape.Width;
        for (int e = 0; e < lengths.Length; e++)
        {
            int t = lengths[e];
            var ep = new AgentEpisode
            {
                Seed = 1000 + e, Length = t,
                HeadCamera = rng.ImageBytes(t * img, shape.Width), WristCamera = rng.ImageBytes(t * img, shape.Width),
                GlobalCamera = rng.ImageBytes(t * img, shape.Width),
                Action = rng.Floats(t * shape.ActionDim), State = rng.Floats(t * shape.StateDim), TcpPose = rng.Floats(t * shape.TcpPoseDim),
            };
            w.AppendEpisode(ep, shape);
            eps.Add(ep);
        }
        return (w, eps);
    }

    [Fact]
    public void Zarr_python_reads_our_store_with_identical_values_and_rewrites_it_byte_for_byte()
    {
        using var tmp = new TempDir();
        var shape = new AgentStoreShape(Height: 24, Width: 32);
        int[] lengths = [37, 120, 64, 9];
        var (w, eps) = WriteSmallAgentStore(tmp["LiftBarrier_Agent0_4.zarr"], shape, lengths);
        w.Complete();

        var dump = JsonNode.Parse(Python.Run("zarr_interop.py", "dump", w.FinalPath))!;
        Assert.Equal(Hash.Sha256<byte>(eps.SelectMany(e => e.HeadCamera).ToArray()), (string)dump["data/head_camera"]!["sha256"]!);
        Assert.Equal(Hash.Sha256<float>(eps.SelectMany(e => e.Action).ToArray()), (string)dump["data/action"]!["sha256"]!);
        Assert.Equal(Hash.Sha256<float>(eps.SelectMany(e => e.TcpPose!).ToArray()), (string)dump["data/tcp_pose"]!["sha256"]!);
        Assert.Equal(Hash.Sha256<long>(new long[] { 37, 157, 221, 230 }), (string)dump["meta/episode_ends"]!["sha256"]!);
        Assert.Equal(new long[] { 230, 3, 24, 32 }, dump["data/global_camera"]!["shape"]!.AsArray().Select(n => (long)n!));
        Assert.Equal("<i8", (string)dump["meta/episode_ends"]!["dtype"]!);
        Assert.Equal("lift the barrier", (string)dump["__attrs__"]!["language_instruction"]!);
        Assert.Equal(new long[] { 1000, 1001, 1002, 1003 }, dump["__attrs__"]!["episode_seeds"]!.AsArray().Select(n => (long)n!));

        // zarr-python appending the same episodes with the same settings produces the same files.
        Python.Run("zarr_interop.py", "mirror", w.FinalPath, tmp["mirror.zarr"]);
        Hash.AssertTreesEqual(tmp["mirror.zarr"], w.FinalPath);
    }
}
