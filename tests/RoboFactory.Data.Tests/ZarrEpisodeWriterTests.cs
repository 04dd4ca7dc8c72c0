using System.Text.Json.Nodes;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Data.Tests;

public class ZarrEpisodeWriterTests
{
    private static readonly AgentStoreShape Shape = new(Height: 12, Width: 16, ChunkRows: 10);

    private sealed class SimulatedCrash : Exception;

    private static AgentEpisode Episode(int index, int length)
    {
        // Depends only on the episode index, like a recorder seeded per episode.
        var rng = new TestRng((ulong)(index * 7919 + 1));
        int img = 3 * Shape.Height * Shape.Width;
        return new AgentEpisode
        {
            Seed = index, Length = length,
            HeadCamera = rng.ImageBytes(length * img, Shape.Width), WristCamera = rng.ImageBytes(length * img, Shape.Width),
            GlobalCamera = rng.ImageBytes(length * img, Shape.Width),
            Action = rng.Floats(length * 8), State = rng.Floats(length * 8), TcpPose = rng.Floats(length * 7),
        };
    }

    private static readonly int[] Lengths = [13, 7, 25, 4, 10];

    private static ZarrEpisodeWriterOptions Options(bool resume = false) => new()
    {
        Resume = resume,
        Attributes = new JsonObject { ["task"] = "LiftBarrier", ["language_instruction"] = "lift the barrier" },
    };

    private static void WriteAll(string path)
    {
        var w = RoboFactoryZarrLayout.OpenWriter(path, Shape, Options());
        for (int e = 0; e < Lengths.Length; e++) w.AppendEpisode(Episode(e, Lengths[e]), Shape);
        w.Complete();
    }

    [Fact]
    public void Same_inputs_give_byte_identical_stores()
    {
        using var tmp = new TempDir();
        WriteAll(tmp["a.zarr"]);
        WriteAll(tmp["b.zarr"]);
        Hash.AssertTreesEqual(tmp["a.zarr"], tmp["b.zarr"]);
        var store = ZarrEpisodeStore.Open(tmp["a.zarr"]);
        Assert.Equal(new long[] { 13, 20, 45, 49, 59 }, store.EpisodeEnds);
        Assert.Equal(Episode(2, 25).State, store.ReadEpisode<float>(RoboFactoryZarrLayout.State, 2));
        Assert.Equal(Episode(3, 4).HeadCamera, store.ReadEpisode<byte>(RoboFactoryZarrLayout.HeadCamera, 3));
    }

    [Theory]
    [InlineData("data")]
    [InlineData("attributes")]
    public void Resume_after_a_crash_continues_without_duplicates_and_matches_an_uninterrupted_run(string crashPoint)
    {
        using var tmp = new TempDir();
        WriteAll(tmp["reference.zarr"]);

        string path = tmp["run.zarr"];
        var w = RoboFactoryZarrLayout.OpenWriter(path, Shape, Options());
        for (int e = 0; e < 3; e++) w.AppendEpisode(Episode(e, Lengths[e]), Shape);
        w.FaultHook = point => { if (point == crashPoint) throw new SimulatedCrash(); };
        Assert.Throws<SimulatedCrash>(() => w.AppendEpisode(Episode(3, Lengths[3]), Shape));

        // The interrupted store is never taken for a finished one.
        Assert.False(Directory.Exists(path));
        Assert.Throws<IOException>(() => ZarrEpisodeStore.Open(path));
        Assert.Throws<IOException>(() => ZarrEpisodeStore.Open(path + ZarrEpisodeWriter.PartialSuffix));

        var resumed = RoboFactoryZarrLayout.OpenWriter(path, Shape, Options(resume: true));
        Assert.Equal(3, resumed.ResumedEpisodes);
        Assert.Equal(new long[] { 0, 1, 2 }, resumed.EpisodeSeeds);
        Assert.Equal(45, resumed.StepCount);
        for (int e = resumed.EpisodeCount; e < Lengths.Length; e++) resumed.AppendEpisode(Episode(e, Lengths[e]), Shape);
        resumed.Complete();

        Hash.AssertTreesEqual(tmp["reference.zarr"], path);
    }

    [Fact]
    public void Without_resume_an_unfinished_store_is_discarded()
    {
        using var tmp = new TempDir();
        string path = tmp["run.zarr"];
        var w = RoboFactoryZarrLayout.OpenWriter(path, Shape, Options());
        w.AppendEpisode(Episode(0, 5), Shape);
        var fresh = RoboFactoryZarrLayout.OpenWriter(path, Shape, Options());
        Assert.Equal(0, fresh.EpisodeCount);
    }

    [Fact]
    public void A_finished_store_is_not_overwritten_unless_asked()
    {
        using var tmp = new TempDir();
        WriteAll(tmp["a.zarr"]);
        Assert.Throws<IOException>(() => RoboFactoryZarrLayout.OpenWriter(tmp["a.zarr"], Shape, Options()));
        var w = RoboFactoryZarrLayout.OpenWriter(tmp["a.zarr"], Shape, Options() with { Overwrite = true });
        w.AppendEpisode(Episode(0, 3), Shape);
        Assert.Equal(59, ZarrEpisodeStore.Open(tmp["a.zarr"]).StepCount); // old one still readable meanwhile
        w.Complete();
        Assert.Equal(3, ZarrEpisodeStore.Open(tmp["a.zarr"]).StepCount);
    }

    [Fact]
    public void Resume_with_a_different_layout_is_refused_with_the_field_named()
    {
        using var tmp = new TempDir();
        string path = tmp["run.zarr"];
        var w = RoboFactoryZarrLayout.OpenWriter(path, Shape, Options());
        w.AppendEpisode(Episode(0, 5), Shape);
        var other = Shape with { ChunkRows = 20 };
        var e = Assert.Throws<ZarrFormatException>(() => RoboFactoryZarrLayout.OpenWriter(path, other, Options(resume: true)));
        Assert.Equal("chunks", e.Field);
    }

    [Fact]
    public void Episode_with_wrong_row_count_is_rejected_before_anything_is_written()
    {
        using var tmp = new TempDir();
        var w = RoboFactoryZarrLayout.OpenWriter(tmp["x.zarr"], Shape, Options());
        var bad = Episode(0, 5) with { Action = new float[4 * 8] };
        var ex = Assert.Throws<ArgumentException>(() => w.AppendEpisode(bad, Shape));
        Assert.Contains("data/action", ex.Message);
        Assert.Equal(0, w.Array<byte>(RoboFactoryZarrLayout.HeadCamera).Length);
    }
}
