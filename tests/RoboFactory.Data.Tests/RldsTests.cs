using RoboFactory.Data.Datasets;
using RoboFactory.Data.Imaging;
using System.Text.Json.Nodes;
using RoboFactory.Core.Imaging;
using RoboFactory.Data.Rlds;
using RoboFactory.Data.Stats;
using RoboFactory.Data.TfRecord;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Data.Tests;

public class RldsTests
{
    private static readonly AgentStoreShape Shape = new(Height: 24, Width: 32, ChunkRows: 10);
    private static readonly int[] Lengths = [6, 11, 4, 9, 7, 5, 8, 3, 10, 6];

    /// <summary>A finished agent store with 10 short episodes of smooth synthetic images.</summary>
    private static (string Path, List<AgentEpisode> Episodes) MakeStore(TempDir tmp)
    {
        string path = RoboFactoryZarrLayout.StorePath(tmp.Path, "LiftBarrier", 0, Lengths.Length);
        var w = RoboFactoryZarrLayout.OpenWriter(path, Shape, new ZarrEpisodeWriterOptions
        {
            Attributes = new JsonObject { ["language_instruction"] = "lift the barrier" },
        });
        var eps = new List<AgentEpisode>();
        int img = 3 * Shape.Height * Shape.Width;
        for (int e = 0; e < Lengths.Length; e++)
        {
            var rng = new TestRng((ulong)e + 100);
            int t = Lengths[e];
            var ep = new AgentEpisode
            {
                Seed = e, Length = t,
                HeadCamera = rng.ImageBytes(t * img, Shape.Width), WristCamera = rng.ImageBytes(t * img, Shape.Width),
                GlobalCamera = rng.ImageBytes(t * img, Shape.Width),
                Action = rng.Floats(t * 8), State = rng.Floats(t * 8), TcpPose = rng.Floats(t * 7),
            };
            w.AppendEpisode(ep, Shape);
            eps.Add(ep);
        }
        w.Complete();
        return (path, eps);
    }

    private static byte[] Hwc(byte[] chw, int t)
    {
        int frame = 3 * Shape.Height * Shape.Width;
        var hwc = new byte[frame];
        ImageOps.ChwToHwc(chw.AsSpan(t * frame, frame), hwc, 3, Shape.Height, Shape.Width);
        return hwc;
    }

    [Fact]
    public void Conversion_writes_tfds_layout_and_reads_back_every_value()
    {
        using var tmp = new TempDir();
        var (zarr, eps) = MakeStore(tmp);
        var result = ZarrToRlds.Convert(zarr, tmp["rlds"], new ZarrToRldsOptions { MaxShardBytes = 40_000 });
        var dir = result.Dataset.DatasetDirectory;
        Assert.Equal(Path.Combine(tmp["rlds"], "lift_barrier_agent0", "1.0.0"), dir);
        int shards = result.Dataset.ShardLengths.Count;
        Assert.True(shards > 1, "small MaxShardBytes should produce several shards");
        for (int i = 0; i < shards; i++)
            Assert.True(File.Exists(Path.Combine(dir, $"lift_barrier_agent0-train.tfrecord-{i:D5}-of-{shards:D5}")));
        Assert.Equal(Lengths.Sum(), result.Dataset.NumTransitions);

        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "dataset_info.json")))!;
        Assert.Equal("lift_barrier_agent0", (string)info["name"]!);
        Assert.Equal(Lengths.Length, info["splits"]![0]!["shardLengths"]!.AsArray().Sum(n => long.Parse((string)n!)));
        var features = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "features.json")))!;
        var obs = features["featuresDict"]!["features"]!["steps"]!["sequence"]!["feature"]!["featuresDict"]!["features"]!["observation"]!["featuresDict"]!["features"]!;
        Assert.Equal("png", (string)obs["image"]!["image"]!["encodingFormat"]!);
        Assert.Equal(["24", "32", "3"], obs["wrist_image"]!["image"]!["shape"]!["dimensions"]!.AsArray().Select(n => (string)n!));

        var ds = RldsDataset.Open(dir);
        Assert.Equal(Lengths.Length, ds.EpisodeCount);
        Assert.True(ds.Spec.HasGlobalImage && ds.Spec.HasWristImage);
        int k = 0;
        foreach (var rec in ds.ReadEpisodes())
        {
            var src = eps[k++];
            Assert.Equal(src.Length, rec.Length);
            Assert.Equal(src.Action, rec.Action);
            Assert.Equal(src.State, rec.State);
            Assert.Equal("lift the barrier", rec.LanguageInstruction);
            Assert.Equal(1, rec.IsFirst[0]);
            Assert.Equal(1, rec.IsLast[^1]);
            Assert.Equal(1, rec.IsTerminal[^1]);
            Assert.Equal(1f, rec.Reward[^1]);
            Assert.All(rec.Discount, d => Assert.Equal(1f, d));
            Assert.Equal(rec.Length - 1, rec.IsFirst.Skip(1).Count(v => v == 0));
            for (int t = 0; t < rec.Length; t++)
            {
                Assert.Equal(Hwc(src.HeadCamera, t), Png.Decode(rec.ImagePng[t]).Pixels);
                Assert.Equal(Hwc(src.WristCamera!, t), Png.Decode(rec.WristImagePng![t]).Pixels);
                Assert.Equal(Hwc(src.GlobalCamera!, t), Png.Decode(rec.GlobalImagePng![t]).Pixels);
            }
        }

        var stats = ds.Statistics!;
        var allActions = eps.SelectMany(e => e.Action).ToArray();
        Assert.Equal(DatasetStatistics.Compute(allActions, 8).Q99, stats.Action.Q99);
        Assert.Equal(Lengths.Length, stats.NumTrajectories);
        Assert.Equal([true, true, true, true, true, true, true, false], stats.Action.Mask!);
    }

    [Fact]
    public void Python_protobuf_reads_the_episode_records()
    {
        using var tmp = new TempDir();
        var (zarr, eps) = MakeStore(tmp);
        var result = ZarrToRlds.Convert(zarr, tmp["rlds"]);
        var shard = Directory.GetFiles(result.Dataset.DatasetDirectory, "*.tfrecord-*").Order().First();
        var recs = JsonNode.Parse(Python.Run("tfrecord_interop.py", "read", shard))!.AsArray();
        var first = recs[0]!["features"]!;
        Assert.Equal(Lengths[0] * 8, first[RldsKeys.Action]!["values"]!.AsArray().Count);
        Assert.Equal("float_list", (string)first[RldsKeys.State]!["kind"]!);
        Assert.Equal(Lengths[0], first[RldsKeys.Image]!["values"]!.AsArray().Count);
        Assert.Equal(new long[] { 1, 0, 0, 0, 0, 0 }, first[RldsKeys.IsFirst]!["values"]!.AsArray().Select(n => (long)n!));
        Assert.Equal(eps[0].Action.Select(v => (double)v), first[RldsKeys.Action]!["values"]!.AsArray().Select(n => (double)n!));
    }

    [Fact]
    public void Unfinished_dataset_is_not_opened()
    {
        using var tmp = new TempDir();
        var spec = new RldsDatasetSpec { Name = "x", Height = 24, Width = 32 };
        var w = new RldsDatasetWriter(tmp.Path, spec);
        Assert.Throws<IOException>(() => RldsDataset.Open(w.DatasetDirectory));
        w.Dispose();
    }

    [Fact]
    public void Split_is_by_episode_deterministic_and_disjoint()
    {
        var (train, val) = EpisodeSplit.Compute(160, 0.1, seed: 7);
        Assert.Equal(16, val.Length);
        Assert.Equal(144, train.Length);
        Assert.Empty(train.Intersect(val));
        Assert.Equal(val, EpisodeSplit.Compute(160, 0.1, seed: 7).Validation);
        Assert.NotEqual(val, EpisodeSplit.Compute(160, 0.1, seed: 8).Validation);
    }

    [Fact]
    public void Episodes_read_through_the_dataset_interface_carry_the_recorded_values()
    {
        using var tmp = new TempDir();
        var (zarr, eps) = MakeStore(tmp);
        IEpisodeDataset ds = EpisodeDatasets.Open(ZarrToRlds.Convert(zarr, tmp["rlds"]).Dataset.DatasetDirectory);
        Assert.Equal(Lengths.Length, ds.EpisodeCount);
        Assert.Equal([true, true, true], ds.Spec.HasView);
        Assert.Equal(3, ds.Spec.LeadingViews);
        var e1 = ds.Episode(1);
        Assert.Equal((1, Lengths[1], "lift the barrier"), (e1.Index, e1.Length, e1.LanguageInstruction));
        Assert.Equal(eps[1].Action, e1.Action);
        Assert.Equal(eps[1].State, e1.State);
        Assert.Equal(Hwc(eps[1].HeadCamera, 2), e1.Frame(0, 2).Pixels);
        Assert.Equal(Hwc(eps[1].GlobalCamera!, 2), e1.Frame(1, 2).Pixels);
        Assert.Equal(Hwc(eps[1].WristCamera!, 2), e1.Frame(2, 2).Pixels);
        Assert.Throws<ArgumentOutOfRangeException>(() => e1.Frame(0, Lengths[1]));
        // Episodes(indices) serves them in the order asked for.
        Assert.Equal([7, 2, 7], ds.Episodes([7, 2, 7]).Select(e => e.Index));
        Assert.Equal(Lengths.Sum(), ds.Episodes().Sum(e => e.Length));
    }

    [Fact]
    public void Corrupted_shard_fails_naming_file_and_offset()
    {
        using var tmp = new TempDir();
        var (zarr, _) = MakeStore(tmp);
        var ds0 = RldsDataset.Open(ZarrToRlds.Convert(zarr, tmp["rlds"]).Dataset.DatasetDirectory);
        var loc = ds0.EpisodeLocations[4];
        var bytes = File.ReadAllBytes(loc.FilePath);
        bytes[loc.Offset + 12 + loc.Length / 2] ^= 0x40;
        File.WriteAllBytes(loc.FilePath, bytes);
        var ds = RldsDataset.Open(ds0.Directory); // headers are intact, the payload is not
        var e = Assert.Throws<TfRecordCorruptException>(() => ((IEpisodeDataset)ds).Episode(4));
        Assert.Equal(loc.FilePath, e.FilePath);
        Assert.Equal(loc.Offset, e.Offset);
        // Streaming every episode hits it too; the neighbours still read.
        Assert.Throws<TfRecordCorruptException>(() => ((IEpisodeDataset)ds).Episodes().ToList());
        Assert.Equal(Lengths[3], ((IEpisodeDataset)ds).Episode(3).Length);
    }

    [Fact]
    public void Truncated_shard_fails_at_open()
    {
        using var tmp = new TempDir();
        var (zarr, _) = MakeStore(tmp);
        var dir = ZarrToRlds.Convert(zarr, tmp["rlds"]).Dataset.DatasetDirectory;
        var shard = Directory.GetFiles(dir, "*.tfrecord-*").Order().Last();
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..^100]);
        var e = Assert.Throws<TfRecordCorruptException>(() => RldsDataset.Open(dir));
        Assert.Equal(shard, e.FilePath);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Dataset_name_follows_the_store_name() =>
        Assert.Equal("lift_barrier_agent0", ZarrToRlds.DatasetNameFor("data/zarr/LiftBarrier_Agent0_160.zarr"));
}
