using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using RoboFactory.Core.Naming;
using RoboFactory.Core.Rng;
using RoboFactory.Data.Datasets;
using RoboFactory.Data.Imaging;
using RoboFactory.Data.LeRobot;
using RoboFactory.Data.Rlds;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Bench;

/// <summary>
/// Data-format benchmarks:
/// <list type="bullet">
/// <item><c>bench prepare</c> → <see cref="Prepare"/>: ZARR write and read MB/s (uncompressed bytes) of our
/// writer/reader against Debian's zarr-python on the same arrays, interleaved in the same run.</item>
/// <item><c>bench convert</c> → <see cref="Convert"/>: ZARR→RLDS and ZARR→LeRobot conversion MB/s, and samples/s of
/// reading both through <see cref="IEpisodeDataset"/> (3 views decoded: PNG, or H.264 per episode; resized to 224).</item>
/// </list>
/// Only depends on RoboFactory.Data (plus /usr/bin/python3 with python3-zarr for the comparison, and ffmpeg for LeRobot).
/// </summary>
public static class DataBench
{
    public sealed record PrepareOptions
    {
        public int Episodes { get; init; } = 5;
        /// <summary>Not a multiple of the 100-step chunk, so partial edge chunks are rewritten on append as in real recording.</summary>
        public int StepsPerEpisode { get; init; } = 120;
        public int Height { get; init; } = 240;
        public int Width { get; init; } = 320;
        public int Repeats { get; init; } = 3;
        public string? WorkDirectory { get; init; }
    }

    public sealed record PrepareResult(Timing OursWrite, Timing PythonWrite, Timing OursRead, Timing PythonRead,
        long UncompressedBytes, long StoreBytes)
    {
        public double WriteRatio => OursWrite.Median / PythonWrite.Median;
        public double ReadRatio => OursRead.Median / PythonRead.Median;
    }

    public sealed record ConvertOptions
    {
        /// <summary>Existing agent store to convert; null synthesises one like <see cref="Prepare"/> does.</summary>
        public string? ZarrPath { get; init; }
        public int Episodes { get; init; } = 4;
        public int StepsPerEpisode { get; init; } = 120;
        public int Repeats { get; init; } = 2;
        public int ReaderSamples { get; init; } = 1500;
        public int ResizeTo { get; init; } = 224;
        public string? WorkDirectory { get; init; }
    }

    public sealed record ConvertResult(Timing ConvertMegabytesPerSecond, Timing ConvertStepsPerSecond,
        Timing RldsReaderSamplesPerSecond, long RldsBytes)
    {
        public required Timing LeRobotConvertMegabytesPerSecond { get; init; }
        public required Timing LeRobotReaderSamplesPerSecond { get; init; }
        public long LeRobotBytes { get; init; }
        public IEnumerable<Timing> Timings =>
            [ConvertMegabytesPerSecond, ConvertStepsPerSecond, RldsReaderSamplesPerSecond, LeRobotConvertMegabytesPerSecond, LeRobotReaderSamplesPerSecond];
    }

    private static readonly AgentStoreShape DefaultShape = new();

    /// <summary>Synthetic recording: smooth per-camera gradients with a moving block and a little noise (compresses like rendered frames, not like white noise).</summary>
    public static List<AgentEpisode> SyntheticEpisodes(int episodes, int steps, AgentStoreShape shape)
    {
        var list = new List<AgentEpisode>();
        int h = shape.Height, w = shape.Width, frame = 3 * h * w;
        for (int e = 0; e < episodes; e++)
        {
            byte[] Cam(int cam)
            {
                var b = new byte[steps * frame];
                Parallel.For(0, steps, t =>
                {
                    ulong s = (ulong)(e * 1_000_003 + t * 7919 + cam * 104729);
                    for (int c = 0; c < 3; c++)
                        for (int y = 0; y < h; y++)
                            for (int x = 0; x < w; x++)
                            {
                                s = s * 6364136223846793005UL + 1442695040888963407UL;
                                int v = (x * (c + 1) / 3 + y / 2 + cam * 40) & 0xff;
                                if (Math.Abs(x - (t * 2 + e * 30) % w) < 20 && Math.Abs(y - h / 2) < 25) v = 200 - c * 50;
                                b[t * frame + (c * h + y) * w + x] = (byte)(v + (int)(s >> 62));
                            }
                });
                return b;
            }
            float[] Floats(int dim, int salt)
            {
                var f = new float[steps * dim];
                for (int i = 0; i < f.Length; i++) f[i] = MathF.Sin(0.01f * i + e + salt) * (i % dim == dim - 1 ? 1 : 0.5f);
                return f;
            }
            list.Add(new AgentEpisode
            {
                Seed = e, Length = steps, HeadCamera = Cam(0), WristCamera = Cam(1), GlobalCamera = Cam(2),
                Action = Floats(shape.ActionDim, 1), State = Floats(shape.StateDim, 2), TcpPose = Floats(shape.TcpPoseDim, 3),
            });
        }
        return list;
    }

    public static void WriteStore(string path, IReadOnlyList<AgentEpisode> episodes, AgentStoreShape shape)
    {
        var w = RoboFactoryZarrLayout.OpenWriter(path, shape, new ZarrEpisodeWriterOptions
        {
            Overwrite = true, Attributes = new JsonObject { ["task"] = "LiftBarrier", ["language_instruction"] = "lift the barrier" },
        });
        foreach (var e in episodes) w.AppendEpisode(e, shape);
        w.Complete();
    }

    private static long ReadStore(string path)
    {
        var store = ZarrEpisodeStore.Open(path);
        long total = 0;
        foreach (var name in store.Root.OpenGroup("data").ArrayNames)
        {
            string full = "data/" + name;
            var meta = store.Root.ReadArrayMetadata(full);
            total += meta.DType.ItemSize == 1
                ? store.OpenArray<byte>(full).ReadAll().LongLength
                : store.OpenArray<float>(full).ReadAll().LongLength * 4;
        }
        return total;
    }

    public static PrepareResult Prepare(PrepareOptions o, TextWriter log)
    {
        var shape = DefaultShape with { Height = o.Height, Width = o.Width };
        string dir = o.WorkDirectory ?? Directory.CreateTempSubdirectory("robofactory-databench-").FullName;
        Directory.CreateDirectory(dir);
        try
        {
            var episodes = SyntheticEpisodes(o.Episodes, o.StepsPerEpisode, shape);
            long bytes = WriteRawInputs(Path.Combine(dir, "input"), episodes, shape);
            log.WriteLine(FormattableString.Invariant(
                $"bench prepare: {o.Episodes} episodes x {o.StepsPerEpisode} steps, 3 cameras {o.Height}x{o.Width} + action/state/tcp_pose = {bytes / 1e6:0.0} MB uncompressed; Blosc zstd 3 byteshuffle, 100-step chunks; {Environment.ProcessorCount} cores; {o.Repeats} interleaved repeats"));
            string ours = Path.Combine(dir, "ours.zarr"), py = Path.Combine(dir, "py.zarr");
            var ow = new List<double>(); var pw = new List<double>(); var or = new List<double>(); var pr = new List<double>();
            for (int r = 0; r < o.Repeats; r++)
            {
                var sw = Stopwatch.StartNew();
                WriteStore(ours, episodes, shape);
                ow.Add(bytes / 1e6 / sw.Elapsed.TotalSeconds);
                pw.Add(PythonMBps("write", Path.Combine(dir, "input"), py));
                sw.Restart();
                long read = ReadStore(ours);
                or.Add(read / 1e6 / sw.Elapsed.TotalSeconds);
                pr.Add(PythonMBps("read", py));
            }
            long storeBytes = Directory.EnumerateFiles(ours, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            var result = new PrepareResult(new("ZARR write, ours", ow, "MB/s"), new("ZARR write, zarr-python 2.13", pw, "MB/s"),
                new("ZARR read, ours", or, "MB/s"), new("ZARR read, zarr-python 2.13", pr, "MB/s"), bytes, storeBytes);
            foreach (var m in new[] { result.OursWrite, result.PythonWrite, result.OursRead, result.PythonRead }) log.WriteLine(m);
            log.WriteLine(FormattableString.Invariant(
                $"ratio ours/zarr-python: write {result.WriteRatio:0.00}x, read {result.ReadRatio:0.00}x; store {storeBytes / 1e6:0.0} MB on disk"));
            return result;
        }
        finally
        {
            if (o.WorkDirectory is null) Directory.Delete(dir, recursive: true);
        }
    }

    public static ConvertResult Convert(ConvertOptions o, TextWriter log)
    {
        string dir = o.WorkDirectory ?? Directory.CreateTempSubdirectory("robofactory-databench-").FullName;
        Directory.CreateDirectory(dir);
        try
        {
            string zarr = o.ZarrPath ?? Path.Combine(dir, DataNames.ZarrStore("LiftBarrier", "0", "bench"));
            if (o.ZarrPath is null) WriteStore(zarr, SyntheticEpisodes(o.Episodes, o.StepsPerEpisode, DefaultShape), DefaultShape);
            var store = ZarrEpisodeStore.Open(zarr);
            log.WriteLine($"bench convert: {store.EpisodeCount} episodes, {store.StepCount} steps from {zarr}; {Environment.ProcessorCount} cores");
            var mbps = new List<double>(); var sps = new List<double>(); var lembps = new List<double>();
            ZarrToRldsResult? last = null;
            ZarrToLeRobotResult? lastLe = null;
            for (int r = 0; r < o.Repeats; r++)
            {
                last = ZarrToRlds.Convert(zarr, Path.Combine(dir, DataNames.RldsFolder), new ZarrToRldsOptions { Overwrite = true });
                mbps.Add(last.MegabytesPerSecond);
                sps.Add(last.Dataset.NumTransitions / last.Seconds);
                lastLe = ZarrToLeRobot.Convert(zarr, Path.Combine(dir, "lerobot"), new ZarrToLeRobotOptions { Overwrite = true });
                lembps.Add(lastLe.MegabytesPerSecond);
            }
            var rlds = RldsDataset.Open(last!.Dataset.DatasetDirectory);
            var rps = ReaderSamplesPerSecond(() => EpisodeDatasets.Open(rlds.Directory), o);
            var lps = ReaderSamplesPerSecond(() => EpisodeDatasets.Open(lastLe!.Dataset.DatasetDirectory), o);
            long rldsBytes = Directory.EnumerateFiles(rlds.Directory).Sum(f => new FileInfo(f).Length);
            var result = new ConvertResult(new("ZARR->RLDS conversion (decoded bytes)", mbps, "MB/s"),
                new("ZARR->RLDS conversion", sps, "steps/s"),
                new($"RLDS read, 3 views PNG + resize {o.ResizeTo}", rps, "samples/s"), rldsBytes)
            {
                LeRobotConvertMegabytesPerSecond = new("ZARR->LeRobot conversion (decoded bytes)", lembps, "MB/s"),
                LeRobotReaderSamplesPerSecond = new($"LeRobot read, 3 views H.264 + resize {o.ResizeTo}", lps, "samples/s"),
                LeRobotBytes = lastLe!.Dataset.NumBytes,
            };
            foreach (var m in result.Timings) log.WriteLine(m);
            log.WriteLine(FormattableString.Invariant(
                $"RLDS dataset {rldsBytes / 1e6:0.0} MB in {rlds.ShardPaths.Count} shard(s); LeRobot dataset {result.LeRobotBytes / 1e6:0.0} MB"));
            return result;
        }
        finally
        {
            if (o.WorkDirectory is null) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Training-like reads through <see cref="IEpisodeDataset"/>: <see cref="ConvertOptions.ReaderSamples"/> samples at
    /// seeded random steps, each decoding all views through <see cref="EpisodeData.Frame"/> and resizing, in parallel.
    /// Each repeat opens the dataset afresh, so episode reads and (LeRobot) per-episode video decodes are counted.
    /// </summary>
    private static List<double> ReaderSamplesPerSecond(Func<IEpisodeDataset> open, ConvertOptions o)
    {
        var rates = new List<double>();
        for (int r = 0; r < o.Repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            var ds = open();
            var episodes = ds.Episodes().ToArray();
            var rng = new SplitMix64(1);
            var samples = Enumerable.Range(0, o.ReaderSamples).Select(_ =>
            {
                int e = rng.NextInt(episodes.Length);
                return (Episode: episodes[e], Step: rng.NextInt(episodes[e].Length));
            }).ToArray();
            Parallel.For(0, samples.Length, i =>
            {
                var (ep, step) = samples[i];
                for (int v = 0; v < DatasetViews.Count; v++)
                    if (ep.HasView(v)) ImageOps.ResizeBilinear(ep.Frame(v, step), o.ResizeTo, o.ResizeTo);
            });
            rates.Add(samples.Length / sw.Elapsed.TotalSeconds);
        }
        return rates;
    }

    private static long WriteRawInputs(string dir, IReadOnlyList<AgentEpisode> episodes, AgentStoreShape shape)
    {
        Directory.CreateDirectory(dir);
        long total = 0;
        var arrays = new JsonArray();
        void Dump<T>(string name, string dtype, int[] row, Func<AgentEpisode, T[]> pick) where T : unmanaged
        {
            using var f = File.Create(Path.Combine(dir, name.Replace("/", "__") + ".bin"));
            long n = 0;
            foreach (var e in episodes)
            {
                var span = MemoryMarshal.AsBytes(pick(e).AsSpan());
                f.Write(span);
                total += span.Length;
                n += e.Length;
            }
            arrays.Add(new JsonObject { ["name"] = name, ["dtype"] = dtype, ["shape"] = new JsonArray([(JsonNode)n, .. row.Select(r => (JsonNode)r)]) });
        }
        int[] img = [3, shape.Height, shape.Width];
        Dump(RoboFactoryZarrLayout.HeadCamera, "|u1", img, e => e.HeadCamera);
        Dump(RoboFactoryZarrLayout.WristCamera, "|u1", img, e => e.WristCamera!);
        Dump(RoboFactoryZarrLayout.GlobalCamera, "|u1", img, e => e.GlobalCamera!);
        Dump(RoboFactoryZarrLayout.Action, "<f4", [shape.ActionDim], e => e.Action);
        Dump(RoboFactoryZarrLayout.State, "<f4", [shape.StateDim], e => e.State);
        Dump(RoboFactoryZarrLayout.TcpPose, "<f4", [shape.TcpPoseDim], e => e.TcpPose!);
        long end = 0;
        var ends = new JsonArray(episodes.Select(e => (JsonNode)(end += e.Length)).ToArray());
        File.WriteAllText(Path.Combine(dir, "manifest.json"), new JsonObject { ["arrays"] = arrays, ["episode_ends"] = ends }.ToJsonString());
        return total;
    }

    /// <summary>Runs scripts/data/zarr_bench.py with Debian's python3 and returns its MB/s (only zarr calls timed).</summary>
    private static double PythonMBps(params string[] args)
    {
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(FindScript("zarr_bench.py"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"zarr_bench.py {args[0]} failed: {err.Result}");
        var j = JsonNode.Parse(output)!;
        return j["bytes"]!.GetValue<long>() / 1e6 / j["seconds"]!.GetValue<double>();
    }

    private static string FindScript(string name)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
            {
                string p = Path.Combine(d.FullName, "scripts", "data", name);
                if (File.Exists(p)) return p;
            }
        }
        throw new FileNotFoundException($"scripts/data/{name} not found above {Directory.GetCurrentDirectory()}");
    }
}
