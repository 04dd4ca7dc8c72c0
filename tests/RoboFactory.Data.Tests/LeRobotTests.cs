using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Data.Datasets;
using RoboFactory.Data.Imaging;
using RoboFactory.Data.LeRobot;
using RoboFactory.Data.Rlds;
using RoboFactory.Data.Stats;
using RoboFactory.Data.Zarr;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Tests;

/// <summary>
/// One small agent store converted once to LeRobot (small file-size limits, so data and videos both span several
/// files) and to RLDS, shared by the tests that only read. Images are smooth (gradients, a soft moving disc, ±1 noise),
/// like rendered frames, so the lossy H.264 round trip has a meaningful tolerance.
/// </summary>
public sealed class LeRobotFixture : IDisposable
{
    public static readonly AgentStoreShape Shape = new(Height: 48, Width: 64, ChunkRows: 10);
    public static readonly int[] Lengths = [6, 11, 4, 9, 7];
    public const int Fps = 20;
    public const string Instruction = "lift the barrier";
    /// <summary>Small enough that every data file and every mp4 holds two or three episodes.</summary>
    public const long DataFileBytes = 2_500, VideoFileBytes = 5_000;

    public TempDir Tmp { get; } = new();
    public string Zarr { get; }
    public List<AgentEpisode> Episodes { get; }
    public ZarrToLeRobotResult LeRobot { get; }
    public string LeRobotDir => LeRobot.Dataset.DatasetDirectory;

    public LeRobotFixture()
    {
        (Zarr, Episodes) = MakeStore(Tmp.Path, Lengths);
        LeRobot = ZarrToLeRobot.Convert(Zarr, Tmp["lerobot"], new ZarrToLeRobotOptions
        {
            MaxDataFileBytes = DataFileBytes, MaxVideoFileBytes = VideoFileBytes,
        });
    }

    public static (string Path, List<AgentEpisode> Episodes) MakeStore(string root, int[] lengths)
    {
        string path = RoboFactoryZarrLayout.StorePath(root, "LiftBarrier", 0, lengths.Length);
        var w = RoboFactoryZarrLayout.OpenWriter(path, Shape, new ZarrEpisodeWriterOptions
        {
            Attributes = new JsonObject { ["language_instruction"] = Instruction, ["control_freq"] = Fps },
        });
        var eps = new List<AgentEpisode>();
        for (int e = 0; e < lengths.Length; e++)
        {
            var rng = new TestRng((ulong)e + 500);
            int t = lengths[e];
            var ep = new AgentEpisode
            {
                Seed = e, Length = t,
                HeadCamera = Camera(e, 0, t, rng), GlobalCamera = Camera(e, 1, t, rng), WristCamera = Camera(e, 2, t, rng),
                Action = rng.Floats(t * 8), State = rng.Floats(t * 8), TcpPose = rng.Floats(t * 7),
            };
            w.AppendEpisode(ep, Shape);
            eps.Add(ep);
        }
        w.Complete();
        return (path, eps);
    }

    /// <summary>(T, 3, H, W): a per-camera gradient with a soft disc moving 3 px per step, so neighbouring frames differ.</summary>
    private static byte[] Camera(int episode, int cam, int steps, TestRng rng)
    {
        int h = Shape.Height, w = Shape.Width;
        var b = new byte[steps * 3 * h * w];
        for (int t = 0; t < steps; t++)
        {
            double cx = 10 + (t * 3 + episode * 5 + cam * 7) % (w - 20), cy = h / 2.0 + cam * 4 - 4;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        double v = 50 + 90.0 * x / w + 50.0 * y / h + 25 * c + 15 * cam;
                        double d = Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
                        double a = Math.Clamp((9 - d) / 3, 0, 1);
                        v = v * (1 - a) + a * (c == 0 ? 230 : c == 1 ? 70 : 110 - cam * 30);
                        v += (int)(rng.Next() % 3) - 1;
                        b[((t * 3 + c) * h + y) * w + x] = (byte)Math.Clamp(Math.Round(v), 0, 255);
                    }
        }
        return b;
    }

    public static byte[] Hwc(byte[] chw, int t)
    {
        int frame = 3 * Shape.Height * Shape.Width;
        var hwc = new byte[frame];
        ImageOps.ChwToHwc(chw.AsSpan(t * frame, frame), hwc, 3, Shape.Height, Shape.Width);
        return hwc;
    }

    public void Dispose() => Tmp.Dispose();
}

public class LeRobotTests(LeRobotFixture fx) : IClassFixture<LeRobotFixture>
{
    private static readonly int[] Lengths = LeRobotFixture.Lengths;

    private static (double MeanAbs, int MaxAbs, double Psnr) Error(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        long sum = 0, sq = 0;
        int max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            int d = Math.Abs(a[i] - b[i]);
            sum += d;
            sq += d * d;
            max = Math.Max(max, d);
        }
        double mse = (double)sq / a.Length;
        return ((double)sum / a.Length, max, mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255 / mse));
    }

    private static byte[] Source(AgentEpisode e, int view, int t) =>
        LeRobotFixture.Hwc(view switch { 0 => e.HeadCamera, 1 => e.GlobalCamera!, _ => e.WristCamera! }, t);

    // ---- (a) round trip -------------------------------------------------------------------------------------------

    /// <summary>
    /// Tolerance of the default encoding (H.264 yuv420p, CRF 18): per frame, mean absolute error ≤ 3 levels and PSNR ≥ 32 dB
    /// against the recorded RGB (chroma subsampling dominates); and each frame is nearer its own source frame than the
    /// neighbouring ones, which catches any off-by-one in the episode offsets.
    /// </summary>
    [Fact]
    public void Round_trip_gives_the_recorded_values_exactly_and_frames_within_tolerance()
    {
        var r = fx.LeRobot.Dataset;
        Assert.Equal(Path.Combine(fx.Tmp["lerobot"], "lift_barrier_agent0"), r.DatasetDirectory);
        Assert.Equal(Lengths.Sum(), r.NumFrames);
        Assert.True(r.DataFiles > 1, $"small data limit should give several data files, got {r.DataFiles}");
        Assert.All(r.VideoFilesPerCamera, n => Assert.True(n > 1 && n < Lengths.Length, $"expected 2..{Lengths.Length - 1} mp4 per camera, got {n} (sizes {string.Join(", ", Directory.GetFiles(r.DatasetDirectory, "*.mp4", SearchOption.AllDirectories).Select(f => new FileInfo(f).Length))} bytes)"));
        Assert.False(Directory.Exists(r.DatasetDirectory + ".partial"));

        var ds = Assert.IsType<LeRobotDataset>(EpisodeDatasets.Open(r.DatasetDirectory));
        Assert.Equal(DatasetFormat.LeRobot, EpisodeDatasets.Detect(r.DatasetDirectory));
        Assert.Equal(new DatasetSpec
        {
            Name = "lift_barrier_agent0", Width = 64, Height = 48, StateDim = 8, ActionDim = 8, HasView = ds.Spec.HasView,
        }, ds.Spec);
        Assert.Equal([true, true, true], ds.Spec.HasView);
        Assert.Equal(Lengths.Length, ds.EpisodeCount);
        Assert.Contains(ds.EpisodeInfos, e => e.Videos[0]!.FromTimestamp > 0); // some mp4 holds several episodes

        int k = 0;
        foreach (var e in ds.Episodes())
        {
            var src = fx.Episodes[k++];
            Assert.Equal(src.Length, e.Length);
            Assert.Equal(src.Action, e.Action);
            Assert.Equal(src.State, e.State);
            Assert.Equal(LeRobotFixture.Instruction, e.LanguageInstruction);
            for (int v = 0; v < DatasetViews.Count; v++)
                for (int t = 0; t < e.Length; t++)
                {
                    var px = e.Frame(v, t).Pixels;
                    var (mean, _, psnr) = Error(px, Source(src, v, t));
                    Assert.True(mean <= 3 && psnr >= 32, $"episode {e.Index} view {v} step {t}: mean abs error {mean:0.00}, PSNR {psnr:0.0} dB");
                    foreach (int n in new[] { t - 1, t + 1 })
                        if (n >= 0 && n < e.Length)
                            Assert.True(Error(px, Source(src, v, n)).MeanAbs > mean, $"episode {e.Index} view {v} step {t} looks like step {n}");
                }
        }
    }

    [Fact]
    public void Lossless_encoding_round_trips_within_colour_conversion_rounding()
    {
        using var tmp = new TempDir();
        var (zarr, eps) = LeRobotFixture.MakeStore(tmp.Path, [5, 3]);
        var r = ZarrToLeRobot.Convert(zarr, tmp["lerobot"], new ZarrToLeRobotOptions
        {
            Video = new LeRobotVideoEncoding { PixelFormat = "yuv444p", Crf = 0 },
        });
        var ds = LeRobotDataset.Open(r.Dataset.DatasetDirectory);
        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(ds.Directory, LeRobotFormat.InfoPath)))!;
        Assert.Equal(("yuv444p", 0), ((string)info["features"]!["observation.images.image"]!["info"]!["video.pix_fmt"]!,
            (int)info["features"]!["observation.images.image"]!["info"]!["video.crf"]!));
        foreach (var e in ds.Episodes())
            for (int v = 0; v < DatasetViews.Count; v++)
                for (int t = 0; t < e.Length; t++)
                    Assert.True(Error(e.Frame(v, t).Pixels, Source(eps[e.Index], v, t)).MaxAbs <= 2, $"episode {e.Index} view {v} step {t}");
    }

    [Fact]
    public void Frames_decode_lazily_once_per_episode_and_camera_and_are_thread_safe()
    {
        // Lazy: without its video an episode still serves actions and states; only asking for a frame fails, naming the file.
        using var tmp = new TempDir();
        string copy = CopyDataset(tmp);
        var lazy = LeRobotDataset.Open(copy);
        string wrist = lazy.EpisodeInfos[0].Videos[2]!.Path;
        File.Delete(wrist);
        var all = lazy.Episodes().ToList();
        Assert.Equal(fx.Episodes[0].Action, all[0].Action);
        Assert.Equal(3 * 48 * 64, all[0].Frame(0, 0).Pixels.Length); // the head camera's video is still there
        Assert.Contains(wrist, Assert.Throws<InputFormatException>(() => all[0].Frame(2, 0)).Message);

        var ds = LeRobotDataset.Open(fx.LeRobotDir);
        var e = ds.Episode(1);
        var frames = new byte[e.Length][];
        Parallel.For(0, e.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => frames[i % e.Length] = e.Frame(0, i % e.Length).Pixels);
        for (int t = 0; t < e.Length; t++) Assert.Equal(e.Frame(0, t).Pixels, frames[t]);
        Assert.Throws<ArgumentOutOfRangeException>(() => e.Frame(1, e.Length));
    }

    // ---- (b) statistics -------------------------------------------------------------------------------------------

    private static void AssertSame(NormStats a, NormStats b) =>
        Assert.Equal(DatasetStatistics.ToJson(new Dictionary<string, NormStats> { ["x"] = a }),
                     DatasetStatistics.ToJson(new Dictionary<string, NormStats> { ["x"] = b }));

    [Fact]
    public void Statistics_equal_the_rlds_converters_for_the_same_store()
    {
        using var tmp = new TempDir();
        var rlds = RldsDataset.Open(ZarrToRlds.Convert(fx.Zarr, tmp["rlds"]).Dataset.DatasetDirectory);
        var expected = rlds.Statistics!;
        var ds = EpisodeDatasets.Open(fx.LeRobotDir);
        AssertSame(expected, ds.Statistics!);
        Assert.Equal(rlds.Spec.Name, ds.Spec.Name);
        AssertSame(expected, fx.LeRobot.Dataset.Statistics);

        // Without dataset_statistics.json (a dataset LeRobot wrote) they are derived from the parquet data, identically.
        string copy = CopyDataset(tmp);
        File.Delete(Path.Combine(copy, LeRobotFormat.OpenVlaStatisticsFile));
        AssertSame(expected, LeRobotDataset.Open(copy).Statistics!);
    }

    [Fact]
    public void Stats_json_holds_every_feature_with_lerobots_shapes()
    {
        var stats = JsonNode.Parse(File.ReadAllText(Path.Combine(fx.LeRobotDir, LeRobotFormat.StatsPath)))!.AsObject();
        var info = LeRobotDataset.Open(fx.LeRobotDir).Info;
        Assert.Equal(info.Features.Select(f => f.Name).Order(), stats.Select(kv => kv.Key).Order());
        string[] keys = ["min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"];
        foreach (var (name, node) in stats)
        {
            Assert.Equal(keys.Order(), node!.AsObject().Select(kv => kv.Key).Order());
            Assert.Equal(Lengths.Sum(), (long)node["count"]![0]!);
            if (name.StartsWith("observation.images.", StringComparison.Ordinal))
                Assert.All(keys.Where(s => s != "count"), s =>
                {
                    var a = node[s]!.AsArray();
                    Assert.Equal(3, a.Count); // (3, 1, 1)
                    Assert.All(a, c => Assert.InRange((double)c![0]![0]!, 0.0, 1.0));
                });
            else Assert.Equal(info.Feature(name)!.Shape[0], node["mean"]!.AsArray().Count);
        }
        // Exact over all frames: action mean and q50 per dimension.
        var actions = fx.Episodes.SelectMany(e => e.Action).ToArray();
        for (int d = 0; d < 8; d++)
        {
            var col = Enumerable.Range(0, actions.Length / 8).Select(i => (double)actions[i * 8 + d]).Order().ToArray();
            Assert.Equal(col.Average(), (double)stats["action"]!["mean"]![d]!, 12);
            Assert.Equal(LeRobotFeatureStats.Quantile(col, 0.5), (double)stats["action"]!["q50"]![d]!);
            Assert.Equal(col[0], (double)stats["action"]!["min"]![d]!);
        }
        Assert.Equal(0.0, (double)stats["frame_index"]!["min"]![0]!);
        Assert.Equal(Lengths.Max() - 1, (double)stats["frame_index"]!["max"]![0]!);
        // Image stats: per channel over every pixel of every frame, scaled to [0, 1].
        var head = fx.Episodes.SelectMany(e => e.HeadCamera).ToArray();
        int plane = 48 * 64;
        double redMean = Enumerable.Range(0, head.Length / (3 * plane)).Sum(t => head.AsSpan(t * 3 * plane, plane).ToArray().Sum(b => (double)b)) / (head.Length / 3) / 255;
        Assert.Equal(redMean, (double)stats["observation.images.image"]!["mean"]![0]![0]![0]!, 12);
    }

    // ---- (c) independent readers: DuckDB, ffprobe, PyAV -----------------------------------------------------------

    [Fact]
    public void Duckdb_reads_the_parquet_files_with_lerobots_columns_types_and_indices()
    {
        var j = Node.RunDuckDb(fx.LeRobotDir, LeRobotFixture.Fps);
        var data = j["data"]!;
        Assert.Equal(
            [("action", "FLOAT[]"), ("observation.state", "FLOAT[]"), ("timestamp", "FLOAT"), ("frame_index", "BIGINT"),
             ("episode_index", "BIGINT"), ("index", "BIGINT"), ("task_index", "BIGINT")],
            data["columns"]!.AsArray().Select(c => ((string)c!["name"]!, (string)c["type"]!)));
        Assert.Equal(Lengths.Sum(), long.Parse((string)data["rows"]!));
        Assert.Equal("0", (string)data["index_mismatches"]!);
        Assert.Equal(["8"], data["action_widths"]!.AsArray().Select(n => (string)n!)); // BIGINTs come back as strings
        Assert.Equal(["8"], data["state_widths"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(fx.Episodes[0].Action.Take(8).Select(v => (double)v), data["first_action"]!.AsArray().Select(n => (double)n!));
        var files = data["files"]!.AsArray().Select(n => (string)n!).ToArray();
        Assert.True(files.Length > 1);
        Assert.All(files, f => Assert.Matches(@"^data/chunk-000/file-\d{3}\.parquet$", f));

        var eps = data["episodes"]!.AsArray();
        var meta = j["episodes"]!["rows"]!.AsArray();
        Assert.Equal(Lengths.Length, eps.Count);
        Assert.Equal(Lengths.Length, meta.Count);
        long from = 0;
        for (int e = 0; e < Lengths.Length; e++)
        {
            var d = eps[e]!;
            var m = meta[e]!;
            Assert.Equal(e.ToString(), (string)d["episode_index"]!);
            Assert.Equal(Lengths[e].ToString(), (string)d["length"]!);
            Assert.Equal(("0", (Lengths[e] - 1).ToString()), ((string)d["first_frame"]!, (string)d["last_frame"]!));
            Assert.Equal("1", (string)d["files"]!); // an episode is never split across files
            Assert.True((double)d["timestamp_error_frames"]! < 1e-4);
            Assert.Equal((from.ToString(), (from + Lengths[e]).ToString()), ((string)d["from_index"]!, (string)d["to_index"]!));
            // The episodes metadata names the data file that really holds the rows (huggingface/lerobot#2401).
            Assert.Equal((string)d["file"]!, LeRobotFormat.DataPath(new FileIndex(int.Parse((string)m["data/chunk_index"]!), int.Parse((string)m["data/file_index"]!))));
            Assert.Equal((from.ToString(), (from + Lengths[e]).ToString()), ((string)m["dataset_from_index"]!, (string)m["dataset_to_index"]!));
            Assert.Equal([LeRobotFixture.Instruction], m["tasks"]!.AsArray().Select(n => (string)n!));
            from += Lengths[e];
        }
        var metaTypes = j["episodes"]!["columns"]!.AsArray().ToDictionary(c => (string)c!["name"]!, c => (string)c!["type"]!);
        Assert.Equal("VARCHAR[]", metaTypes["tasks"]);
        Assert.Equal("BIGINT", metaTypes["videos/observation.images.wrist_image/file_index"]);
        Assert.Equal("DOUBLE", metaTypes["videos/observation.images.global_image/from_timestamp"]);
        Assert.Equal("BIGINT", metaTypes["meta/episodes/chunk_index"]);

        var tasks = j["tasks"]!;
        Assert.Equal([("task_index", "BIGINT"), ("task", "VARCHAR")], tasks["columns"]!.AsArray().Select(c => ((string)c!["name"]!, (string)c["type"]!)));
        Assert.Equal(("0", LeRobotFixture.Instruction), ((string)tasks["rows"]![0]!["task_index"]!, (string)tasks["rows"]![0]!["task"]!));
        var pandas = JsonNode.Parse((string)tasks["metadata"]!.AsArray().Single(m => (string)m!["key"]! == "pandas")!["value"]!)!;
        Assert.Equal(["task"], pandas["index_columns"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(["task_index", "task"], pandas["columns"]!.AsArray().Select(c => (string)c!["name"]!));
    }

    [Fact]
    public void Ffprobe_sees_h264_at_constant_frame_rate_with_every_episode_at_its_offset()
    {
        var ds = LeRobotDataset.Open(fx.LeRobotDir);
        foreach (int v in Enumerable.Range(0, DatasetViews.Count))
        {
            foreach (var group in ds.EpisodeInfos.GroupBy(e => e.Videos[v]!.Path))
            {
                var probe = Ffprobe(group.Key);
                var stream = probe["streams"]![0]!;
                Assert.Equal(("h264", "yuv420p", 64, 48), ((string)stream["codec_name"]!, (string)stream["pix_fmt"]!, (int)stream["width"]!, (int)stream["height"]!));
                Assert.Equal("20/1", (string)stream["avg_frame_rate"]!);
                int frames = group.Sum(e => e.Length);
                Assert.Equal(frames.ToString(), (string)stream["nb_frames"]!);
                var pts = probe["frames"]!.AsArray().Select(f => double.Parse((string)f!["pts_time"]!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
                Assert.Equal(frames, pts.Length);
                for (int i = 0; i < pts.Length; i++) Assert.True(Math.Abs(pts[i] - (double)i / LeRobotFixture.Fps) < 1e-4, $"{group.Key}: frame {i} at {pts[i]} s");
                // Each episode starts where the previous ones in the file end (from_timestamp = frames before / fps).
                int before = 0;
                foreach (var e in group)
                {
                    Assert.Equal((double)before / LeRobotFixture.Fps, e.Videos[v]!.FromTimestamp);
                    Assert.Equal((double)(before + e.Length) / LeRobotFixture.Fps, e.Videos[v]!.ToTimestamp);
                    before += e.Length;
                }
            }
        }
    }

    [Fact]
    public void Pyav_finds_every_queried_frame_within_lerobots_tolerance()
    {
        var ds = LeRobotDataset.Open(fx.LeRobotDir);
        var queries = new JsonArray();
        foreach (var e in ds.EpisodeInfos)
            for (int v = 0; v < DatasetViews.Count; v++)
            {
                // LeRobot's query time: from_timestamp + the parquet timestamp (frame_index / fps).
                var steps = new[] { 0, e.Length / 2, e.Length - 1 };
                queries.Add(new JsonObject
                {
                    ["id"] = $"{e.Index}/{v}", ["path"] = e.Videos[v]!.Path,
                    ["times"] = new JsonArray([.. steps.Select(t => (JsonNode)(e.Videos[v]!.FromTimestamp + (float)((double)t / LeRobotFixture.Fps)))]),
                    ["steps"] = new JsonArray([.. steps.Select(t => (JsonNode)t)]),
                });
            }
        var results = JsonNode.Parse(Python.RunWithInput(queries.ToJsonString(), "lerobot_pyav.py"))!.AsArray();
        Assert.Equal(queries.Count, results.Count);
        for (int i = 0; i < results.Count; i++)
        {
            var q = queries[i]!;
            var r = results[i]!;
            var ids = ((string)q["id"]!).Split('/').Select(int.Parse).ToArray();
            var errors = r["pts_errors"]!.AsArray().Select(n => (double)n!).ToArray();
            Assert.All(errors, err => Assert.True(err < 1e-4, $"{q["id"]}: nearest frame {err} s from the query (LeRobot's tolerance_s is 1e-4)"));
            var frames = r["frames"]!.AsArray();
            for (int k = 0; k < frames.Count; k++)
            {
                int t = (int)q["steps"]![k]!;
                var (mean, _, psnr) = Error(Convert.FromBase64String((string)frames[k]!), Source(fx.Episodes[ids[0]], ids[1], t));
                Assert.True(mean <= 3 && psnr >= 32, $"{q["id"]} step {t}: PyAV's frame has mean abs error {mean:0.00}, PSNR {psnr:0.0} dB");
            }
        }
    }

    [Fact]
    public void Info_json_matches_lerobots_worked_example_keys()
    {
        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(fx.LeRobotDir, LeRobotFormat.InfoPath)))!.AsObject();
        Assert.Equal(["codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks", "chunks_size", "data_files_size_in_mb",
            "video_files_size_in_mb", "fps", "splits", "data_path", "video_path", "features"], info.Select(kv => kv.Key));
        Assert.Equal("v3.0", (string)info["codebase_version"]!);
        Assert.Equal("0:5", (string)info["splits"]!["train"]!);
        Assert.Equal(LeRobotFixture.Fps, (int)info["fps"]!);
        Assert.Equal(Lengths.Sum(), (int)info["total_frames"]!);
        var f = info["features"]!.AsObject();
        Assert.Equal(["action", "observation.state", "observation.images.image", "observation.images.global_image", "observation.images.wrist_image",
            "timestamp", "frame_index", "episode_index", "index", "task_index"], f.Select(kv => kv.Key));
        Assert.Equal(["height", "width", "channels"], f["observation.images.wrist_image"]!["names"]!.AsArray().Select(n => (string)n!));
        Assert.Equal([48, 64, 3], f["observation.images.image"]!["shape"]!.AsArray().Select(n => (int)n!));
        Assert.Equal("h264", (string)f["observation.images.image"]!["info"]!["video.codec"]!);
        Assert.Equal("yuv420p", (string)f["observation.images.image"]!["info"]!["video.pix_fmt"]!);
        Assert.Null(f["index"]!["names"]);
        Assert.True(f["index"]!.AsObject().ContainsKey("names")); // LeRobot reads the key of every feature
        Assert.Equal("gripper", (string)f["action"]!["names"]![7]!);
    }

    // ---- (d) bad input ---------------------------------------------------------------------------------------------

    private string CopyDataset(TempDir tmp)
    {
        string dst = Path.Combine(tmp.Path, "copy", "lift_barrier_agent0");
        foreach (var f in Directory.EnumerateFiles(fx.LeRobotDir, "*", SearchOption.AllDirectories))
        {
            string to = Path.Combine(dst, Path.GetRelativePath(fx.LeRobotDir, f));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(f, to);
        }
        return dst;
    }

    [Fact]
    public void Truncated_or_invalid_info_json_names_the_file_and_field()
    {
        using var tmp = new TempDir();
        string dir = CopyDataset(tmp);
        string info = Path.Combine(dir, LeRobotFormat.InfoPath);
        string good = File.ReadAllText(info);

        File.WriteAllText(info, good[..(good.Length / 2)]);
        var e = Assert.Throws<InputFormatException>(() => EpisodeDatasets.Open(dir));
        Assert.Contains(info, e.Message);
        Assert.Contains("not valid JSON", e.Message);

        void Expect(Func<JsonObject, JsonObject> edit, params string[] words)
        {
            File.WriteAllText(info, edit(JsonNode.Parse(good)!.AsObject()).ToJsonString());
            var ex = Assert.Throws<InputFormatException>(() => LeRobotDataset.Open(dir));
            Assert.Contains(info, ex.Message);
            foreach (var w in words) Assert.Contains(w, ex.Message);
        }
        Expect(o => { o["codebase_version"] = "v2.1"; return o; }, "'codebase_version'", "\"v2.1\"", "\"v3.0\"");
        Expect(o => { o.Remove("fps"); return o; }, "'fps'", "missing");
        Expect(o => { o["fps"] = "twenty"; return o; }, "'fps'", "positive integer", "\"twenty\"");
        Expect(o => { o["features"]!.AsObject().Remove("observation.images.image"); return o; }, "observation.images.image", "head camera");
        Expect(o => { o["features"]!["action"]!["dtype"] = "float64"; return o; }, "features.action.dtype", "\"float32\"");
        Expect(o => { o["features"]!.AsObject().Remove("task_index"); return o; }, "'task_index'");
        Expect(o => { o["total_frames"] = 3; return o; }, "total_frames");
    }

    [Fact]
    public void Missing_or_corrupt_parquet_and_video_files_are_named()
    {
        using var tmp = new TempDir();
        string dir = CopyDataset(tmp);
        string data1 = Path.Combine(dir, "data", "chunk-000", "file-001.parquet");
        File.Move(data1, data1 + ".gone");
        var e = Assert.Throws<FileNotFoundException>(() => EpisodeDatasets.Open(dir));
        Assert.Contains(data1, e.Message);
        Assert.Equal(data1, e.FileName);

        File.WriteAllBytes(data1, File.ReadAllBytes(data1 + ".gone")[..^20]); // the footer cut off
        var bad = Assert.Throws<InputFormatException>(() => EpisodeDatasets.Open(dir));
        Assert.Contains(data1, bad.Message);
        File.Move(data1 + ".gone", data1, overwrite: true);

        string tasks = Path.Combine(dir, LeRobotFormat.TasksPath);
        File.Move(tasks, tasks + ".gone");
        Assert.Equal(tasks, Assert.Throws<FileNotFoundException>(() => EpisodeDatasets.Open(dir)).FileName);
        File.Move(tasks + ".gone", tasks);

        string episodes = Path.Combine(dir, "meta", "episodes", "chunk-000", "file-000.parquet");
        File.Move(episodes, episodes + ".gone");
        Assert.Contains(episodes, Assert.Throws<FileNotFoundException>(() => EpisodeDatasets.Open(dir)).Message);
        File.Move(episodes + ".gone", episodes);

        string mp4 = Path.Combine(dir, "videos", "observation.images.wrist_image", "chunk-000", "file-001.mp4");
        File.Delete(mp4);
        Assert.Equal(mp4, Assert.Throws<FileNotFoundException>(() => EpisodeDatasets.Open(dir)).FileName);
    }

    [Fact]
    public void Video_shorter_than_its_metadata_fails_naming_the_file_when_frames_are_read()
    {
        using var tmp = new TempDir();
        string dir = CopyDataset(tmp);
        var ds = LeRobotDataset.Open(dir);
        var last = ds.EpisodeInfos[^1];
        string mp4 = last.Videos[0]!.Path;
        // Re-cut the file without the last episode's final frames.
        string cut = mp4 + ".cut.mp4";
        int keep = (int)Math.Round(last.Videos[0]!.ToTimestamp * LeRobotFixture.Fps) - 3;
        Run("ffmpeg", "-v", "error", "-i", mp4, "-frames:v", keep.ToString(), "-c", "copy", cut);
        File.Move(cut, mp4, overwrite: true);
        var e = Assert.Throws<InputFormatException>(() => LeRobotDataset.Open(dir).Episode(last.Index).Frame(0, 0));
        Assert.Contains(mp4, e.Message);
        Assert.Contains($"of {last.Length} frames", e.Message);
    }

    // ---- writing: atomic, existing datasets -----------------------------------------------------------------------

    [Fact]
    public void Converting_into_a_finished_dataset_needs_overwrite_and_a_failed_write_never_reads_as_complete()
    {
        using var tmp = new TempDir();
        var (zarr, _) = LeRobotFixture.MakeStore(tmp.Path, [4, 2]);
        string root = tmp["lerobot"];
        var first = ZarrToLeRobot.Convert(zarr, root);
        var ex = Assert.Throws<DatasetExistsException>(() => ZarrToLeRobot.Convert(zarr, root));
        Assert.Contains("--overwrite", ex.Message);
        Assert.Equal(first.Dataset.DatasetDirectory, ex.Directory);
        ZarrToRlds.Convert(zarr, tmp["rlds"]);
        Assert.Contains("--overwrite", Assert.Throws<DatasetExistsException>(() => ZarrToRlds.Convert(zarr, tmp["rlds"])).Message);

        var again = ZarrToLeRobot.Convert(zarr, root, new ZarrToLeRobotOptions { Overwrite = true, MaxEpisodes = 1 });
        Assert.Equal(1, LeRobotDataset.Open(again.Dataset.DatasetDirectory).EpisodeCount);

        // An interrupted write: only NAME.partial exists, and opening NAME says so.
        var spec = new LeRobotDatasetSpec { Name = "interrupted", Width = 64, Height = 48 };
        using (var w = new LeRobotDatasetWriter(root, spec))
            w.Write(new LeRobotEpisode("t", 2, new float[16], new float[16], [new byte[2 * 3 * 48 * 64], new byte[2 * 3 * 48 * 64], new byte[2 * 3 * 48 * 64]]));
        string dir = Path.Combine(root, "interrupted");
        Assert.True(Directory.Exists(dir + ".partial"));
        Assert.Null(EpisodeDatasets.Detect(dir));
        Assert.Contains("never completed", Assert.Throws<IOException>(() => LeRobotDataset.Open(dir)).Message);
        Assert.Contains("never completed", Assert.Throws<IOException>(() => EpisodeDatasets.Open(dir)).Message);
        var none = Assert.Throws<FileNotFoundException>(() => EpisodeDatasets.Open(tmp.Path));
        Assert.Contains("neither dataset_info.json (RLDS) nor meta/info.json (LeRobot v3.0)", none.Message);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    private static JsonNode Ffprobe(string mp4) => JsonNode.Parse(Run("ffprobe", "-v", "error", "-select_streams", "v:0",
        "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_frames,avg_frame_rate:frame=pts_time", "-of", "json", mp4))!;

    private static string Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed ({p.ExitCode}): {err.Result}");
        return output;
    }

    /// <summary>DuckDB through Node (scripts/data/duckdb, installed by scripts/setup.sh).</summary>
    private static class Node
    {
        public static JsonNode RunDuckDb(string dataset, int fps)
        {
            string folder = Path.Combine(Repo.Root, "scripts", "data", "duckdb");
            if (!Directory.Exists(Path.Combine(folder, "node_modules", "@duckdb", "node-api")))
                throw new InvalidOperationException($"DuckDB is not installed in {folder}; run scripts/setup.sh (npm ci there)");
            return JsonNode.Parse(Run("node", Path.Combine(folder, "lerobot_parquet.mjs"), dataset, fps.ToString()))!;
        }
    }
}
