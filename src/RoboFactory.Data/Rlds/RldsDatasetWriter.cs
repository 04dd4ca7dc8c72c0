using System.IO.Compression;
using System.Text;
using RoboFactory.Core.Imaging;
using RoboFactory.Data.Datasets;
using RoboFactory.Data.Stats;
using RoboFactory.Data.TfRecord;

namespace RoboFactory.Data.Rlds;

/// <summary>What a finished RLDS dataset holds.</summary>
public sealed record RldsWriteResult(string DatasetDirectory, int NumEpisodes, long NumTransitions, IReadOnlyList<long> ShardLengths,
    long NumBytes, NormStats? Statistics);

/// <summary>
/// Writes an RLDS dataset in the TFDS on-disk layout: &lt;root&gt;/&lt;name&gt;/&lt;version&gt;/ with
/// NAME-train.tfrecord-0000k-of-0000n shards (one tf.train.Example per episode), features.json,
/// dataset_info.json and OpenVLA's dataset_statistics.json. Shards roll over at
/// <see cref="MaxShardBytes"/>; the directory is built as "&lt;version&gt;.partial" and renamed on
/// <see cref="Complete"/>, so a half-written dataset is never opened as a finished one.
/// </summary>
public sealed class RldsDatasetWriter : IDisposable
{
    private readonly RldsDatasetSpec _spec;
    private readonly List<string> _shardTempPaths = [];
    private readonly List<long> _shardLengths = [];
    private readonly List<float> _actions = [];
    private readonly List<float> _states = [];
    private TfRecordWriter? _current;
    private long _totalBytes;
    private bool _completed;

    public string DatasetDirectory { get; }
    public string WorkingDirectory => DatasetDirectory + ".partial";
    public long MaxShardBytes { get; init; } = 256L << 20;
    public CompressionLevel PngLevel { get; init; } = CompressionLevel.Fastest;
    public int EncodeThreads { get; init; } = Environment.ProcessorCount;
    public bool[]? ActionMask { get; init; }
    public int NumEpisodes { get; private set; }
    public long NumTransitions { get; private set; }
    public long BytesWritten => _totalBytes + (_current?.Position ?? 0);

    /// <param name="root">Output root, e.g. data/rlds; the dataset goes to root/name/version.</param>
    public RldsDatasetWriter(string root, RldsDatasetSpec spec, bool overwrite = false)
    {
        _spec = spec;
        DatasetDirectory = Path.Combine(root, spec.Name, spec.Version);
        if (Directory.Exists(DatasetDirectory) && !overwrite)
            throw new DatasetExistsException(DatasetDirectory);
        if (Directory.Exists(WorkingDirectory)) Directory.Delete(WorkingDirectory, recursive: true);
        Directory.CreateDirectory(WorkingDirectory);
    }

    /// <summary>Encodes and appends one episode as one tf.train.Example record.</summary>
    public void Write(RldsEpisode episode) => WriteEncoded(Encode(episode, _spec, PngLevel, EncodeThreads), episode);

    /// <summary>The serialized tf.train.Example of an episode (PNG encoding runs in parallel across frames).</summary>
    public static byte[] Encode(RldsEpisode e, RldsDatasetSpec spec, CompressionLevel pngLevel = CompressionLevel.Fastest, int threads = 0)
    {
        int t = e.Length;
        Validate(e, spec);
        var views = new List<(string Key, RldsImageSeries Series)> { (RldsKeys.Image, e.Image) };
        if (spec.HasGlobalImage) views.Add((RldsKeys.GlobalImage, e.GlobalImage!));
        if (spec.HasWristImage) views.Add((RldsKeys.WristImage, e.WristImage!));
        var pngs = new byte[views.Count * t][];
        Parallel.For(0, pngs.Length, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount }, i =>
        {
            var s = views[i / t].Series;
            pngs[i] = Png.Encode(s.Frame(i % t), s.Width, s.Height, 3, pngLevel);
        });

        var instruction = Encoding.UTF8.GetBytes(e.LanguageInstruction);
        var ex = new TfExample()
            .Set(RldsKeys.State, new TfFloatList(e.State))
            .Set(RldsKeys.Action, new TfFloatList(e.Action))
            .Set(RldsKeys.LanguageInstruction, new TfBytesList(Enumerable.Repeat(instruction, t).ToArray()))
            .Set(RldsKeys.IsFirst, new TfInt64List(Enumerable.Range(0, t).Select(i => i == 0 ? 1L : 0L).ToArray()))
            .Set(RldsKeys.IsLast, new TfInt64List(Enumerable.Range(0, t).Select(i => i == t - 1 ? 1L : 0L).ToArray()))
            .Set(RldsKeys.IsTerminal, new TfInt64List(Enumerable.Range(0, t).Select(i => e.Terminal && i == t - 1 ? 1L : 0L).ToArray()))
            .Set(RldsKeys.Reward, new TfFloatList(e.Reward ?? Enumerable.Range(0, t).Select(i => e.Terminal && i == t - 1 ? 1f : 0f).ToArray()))
            .Set(RldsKeys.Discount, new TfFloatList(e.Discount ?? Enumerable.Repeat(1f, t).ToArray()))
            .Set(RldsKeys.FilePath, TfBytesList.Of(e.FilePath))
            .Set(RldsKeys.EpisodeIndex, new TfInt64List([e.EpisodeIndex]));
        for (int v = 0; v < views.Count; v++) ex.Set(views[v].Key, new TfBytesList(pngs.AsSpan(v * t, t).ToArray()));
        return ex.ToByteArray();
    }

    private static void Validate(RldsEpisode e, RldsDatasetSpec s)
    {
        int t = e.Length;
        if (t <= 0) throw new ArgumentException("an episode needs at least one step");
        void Img(RldsImageSeries? im, string what, bool required)
        {
            if (!required) return;
            if (im is null) throw new ArgumentException($"dataset has {what} but the episode has none");
            if (im.Height != s.Height || im.Width != s.Width || im.Hwc.Length != t * im.FrameBytes)
                throw new ArgumentException($"{what}: expected {t} x {s.Height} x {s.Width} x 3, got {im.Hwc.Length} bytes of {im.Height} x {im.Width}");
        }
        Img(e.Image, "image", true);
        Img(e.GlobalImage, "global_image", s.HasGlobalImage);
        Img(e.WristImage, "wrist_image", s.HasWristImage);
        if (e.State.Length != t * s.StateDim) throw new ArgumentException($"state: expected {t} x {s.StateDim} values, got {e.State.Length}");
        if (e.Action.Length != t * s.ActionDim) throw new ArgumentException($"action: expected {t} x {s.ActionDim} values, got {e.Action.Length}");
        if (e.Reward is { } r && r.Length != t) throw new ArgumentException("reward: one value per step");
        if (e.Discount is { } d && d.Length != t) throw new ArgumentException("discount: one value per step");
    }

    /// <summary>Appends an already encoded episode (see <see cref="Encode"/>), e.g. from a pipelined converter.</summary>
    public void WriteEncoded(byte[] example, RldsEpisode episode)
    {
        if (_completed) throw new InvalidOperationException("dataset already completed");
        if (_current is not null && _current.Position > 0 && _current.Position + TfRecordWriter.FramedLength(example.Length) > MaxShardBytes)
            CloseShard();
        if (_current is null)
        {
            string tmp = Path.Combine(WorkingDirectory, $"shard-{_shardTempPaths.Count:D5}.tmp");
            _shardTempPaths.Add(tmp);
            _shardLengths.Add(0);
            _current = new TfRecordWriter(tmp);
        }
        _current.Write(example);
        _shardLengths[^1]++;
        NumEpisodes++;
        NumTransitions += episode.Length;
        _actions.AddRange(episode.Action);
        _states.AddRange(episode.State);
    }

    private void CloseShard()
    {
        if (_current is null) return;
        _totalBytes += _current.Position;
        _current.Dispose();
        _current = null;
    }

    /// <summary>Names the shards, writes the JSON metadata and statistics, and publishes the directory.</summary>
    public RldsWriteResult Complete()
    {
        if (_completed) throw new InvalidOperationException("dataset already completed");
        if (NumEpisodes == 0) throw new InvalidOperationException("no episodes were written");
        CloseShard();
        int n = _shardTempPaths.Count;
        for (int i = 0; i < n; i++)
            File.Move(_shardTempPaths[i], Path.Combine(WorkingDirectory, RldsMetadata.ShardFileName(_spec.Name, "train", i, n)));
        AtomicFile.WriteAllText(Path.Combine(WorkingDirectory, "features.json"), RldsMetadata.ToJson(RldsMetadata.Features(_spec)));
        AtomicFile.WriteAllText(Path.Combine(WorkingDirectory, "dataset_info.json"),
            RldsMetadata.ToJson(RldsMetadata.DatasetInfo(_spec, _shardLengths, _totalBytes)));
        var stats = DatasetStatistics.ComputeNormStats(_actions.ToArray(), _spec.ActionDim, _states.ToArray(), _spec.StateDim,
            NumEpisodes, ActionMask);
        DatasetStatistics.Write(Path.Combine(WorkingDirectory, "dataset_statistics.json"), _spec.Name, stats);
        if (Directory.Exists(DatasetDirectory)) Directory.Delete(DatasetDirectory, recursive: true);
        Directory.Move(WorkingDirectory, DatasetDirectory);
        _completed = true;
        return new RldsWriteResult(DatasetDirectory, NumEpisodes, NumTransitions, _shardLengths.ToArray(), _totalBytes, stats);
    }

    public void Dispose() => _current?.Dispose();
}
