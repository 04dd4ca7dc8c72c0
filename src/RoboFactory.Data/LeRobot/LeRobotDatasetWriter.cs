using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;
using RoboFactory.Data.Datasets;
using RoboFactory.Data.Imaging;
using RoboFactory.Data.Stats;
using RoboFactory.Data.Zarr;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.LeRobot;

/// <summary>What a LeRobot dataset holds (fixed for all its episodes).</summary>
public sealed record LeRobotDatasetSpec
{
    /// <summary>Dataset name (snake_case): the folder name and the key of its entry in dataset_statistics.json.</summary>
    public required string Name { get; init; }
    public required int Width { get; init; }
    public required int Height { get; init; }
    public int StateDim { get; init; } = 8;
    public int ActionDim { get; init; } = 8;
    public int Fps { get; init; } = 20;
    /// <summary>Which of <see cref="DatasetViews.Order"/> the dataset holds; view 0 (head camera) is required.</summary>
    public IReadOnlyList<bool> HasView { get; init; } = [true, true, true];
    public string? RobotType { get; init; } = "panda";

    /// <summary>Joint names of a 7-joint arm plus gripper (LeRobot requires a names list; these are the dataset's dimensions).</summary>
    public static IReadOnlyList<string> JointNames(int dim) =>
        [.. Enumerable.Range(0, dim).Select(i => i == dim - 1 && dim > 1 ? "gripper" : $"joint_{i}")];
}

/// <summary>One episode for the writer: per-step arrays and the cameras in the ZARR layout (T, 3, H, W), by view.</summary>
public sealed record LeRobotEpisode(string Task, int Length, float[] State, float[] Action, IReadOnlyList<byte[]?> ViewsChw);

/// <summary>What a finished LeRobot dataset holds.</summary>
public sealed record LeRobotWriteResult(string DatasetDirectory, int NumEpisodes, long NumFrames, int DataFiles,
    IReadOnlyList<int> VideoFilesPerCamera, long NumBytes, NormStats Statistics);

/// <summary>
/// Writes a LeRobotDataset v3.0 folder (huggingface/lerobot, lerobot/datasets/dataset_writer.py's layout):
/// data parquet files holding many episodes each (one row group per episode), one MP4 per camera holding many
/// episodes (each episode encoded on its own, then joined by stream copy, as LeRobot appends), meta/info.json,
/// meta/stats.json, meta/tasks.parquet, meta/episodes/chunk-000/file-000.parquet, plus OpenVLA's
/// dataset_statistics.json. Files roll over at <see cref="MaxDataFileBytes"/> / <see cref="MaxVideoFileBytes"/> like
/// LeRobot's size rules; an episode is never split. Everything is built in "NAME.partial" and renamed on
/// <see cref="Complete"/>, so a half-written dataset never reads as a finished one.
/// </summary>
public sealed class LeRobotDatasetWriter : IDisposable
{
    private sealed record VideoSegment(FileIndex File, double FromTimestamp, double ToTimestamp);

    private sealed record EpisodeRecord(int Index, int Length, int TaskIndex, FileIndex DataFile, long FromIndex, long ToIndex,
        IReadOnlyList<VideoSegment?> Videos);

    /// <summary>The mp4 a camera is filling: per-episode parts joined when it is closed.</summary>
    private sealed class VideoShard(FileIndex file)
    {
        public FileIndex File { get; } = file;
        public List<string> Parts { get; } = [];
        public long Bytes { get; set; }
        public long Frames { get; set; }
    }

    private readonly LeRobotDatasetSpec _spec;
    private readonly LeRobotVideoEncoding _video;
    private readonly List<EpisodeRecord> _episodes = [];
    private readonly List<string> _tasks = [];
    private readonly List<float> _actions = [];
    private readonly List<float> _states = [];
    private readonly ImageStatsAccumulator?[] _imageStats;
    private readonly VideoShard?[] _shards;
    private readonly int[] _videoFiles;
    private readonly string _partsDirectory;
    private readonly ListField _actionField = ParquetColumns.FloatList(LeRobotFormat.Action);
    private readonly ListField _stateField = ParquetColumns.FloatList(LeRobotFormat.State);
    private readonly DataField<float> _timestampField = new(LeRobotFormat.Timestamp);
    private readonly DataField<long> _frameIndexField = new(LeRobotFormat.FrameIndex);
    private readonly DataField<long> _episodeIndexField = new(LeRobotFormat.EpisodeIndex);
    private readonly DataField<long> _indexField = new(LeRobotFormat.Index);
    private readonly DataField<long> _taskIndexField = new(LeRobotFormat.TaskIndex);
    private FileStream? _dataStream;
    private ParquetWriter? _data;
    private FileIndex _dataFile = new(0, 0);
    private long _dataRows;
    private int _dataFiles;
    private bool _completed;

    public string DatasetDirectory { get; }
    public string WorkingDirectory => DatasetDirectory + ".partial";
    /// <summary>LeRobot's data_files_size_in_mb rule: a new data file once the current one would pass this size.</summary>
    public long MaxDataFileBytes { get; init; } = LeRobotFormat.DefaultDataFilesSizeMb * 1_000_000L;
    /// <summary>LeRobot's video_files_size_in_mb rule, per camera.</summary>
    public long MaxVideoFileBytes { get; init; } = LeRobotFormat.DefaultVideoFilesSizeMb * 1_000_000L;
    public int ChunksSize { get; init; } = LeRobotFormat.DefaultChunksSize;
    public bool[]? ActionMask { get; init; }
    public int NumEpisodes => _episodes.Count;
    public long NumFrames { get; private set; }

    /// <param name="root">Output root, e.g. data/lerobot; the dataset goes to root/name.</param>
    public LeRobotDatasetWriter(string root, LeRobotDatasetSpec spec, LeRobotVideoEncoding? video = null, bool overwrite = false)
    {
        _spec = spec;
        _video = video ?? new LeRobotVideoEncoding();
        _video.Validate();
        if (spec.HasView.Count != DatasetViews.Count || !spec.HasView[0])
            throw new ArgumentException($"HasView must list {DatasetViews.Count} views and include view 0 ({DatasetViews.Descriptions[0]})");
        if (spec.Width % 2 != 0 || spec.Height % 2 != 0)
            throw new ArgumentException($"H.264 needs even frame sizes; the cameras are {spec.Width}x{spec.Height}");
        DatasetDirectory = Path.Combine(root, spec.Name);
        if (Directory.Exists(DatasetDirectory) && !overwrite) throw new DatasetExistsException(DatasetDirectory);
        if (Directory.Exists(WorkingDirectory)) Directory.Delete(WorkingDirectory, recursive: true);
        Directory.CreateDirectory(WorkingDirectory);
        _partsDirectory = Path.Combine(WorkingDirectory, ".episode-videos");
        Directory.CreateDirectory(_partsDirectory);
        _imageStats = [.. Enumerable.Range(0, DatasetViews.Count).Select(v => spec.HasView[v] ? new ImageStatsAccumulator(LeRobotFormat.VideoKey(v)) : null)];
        _shards = new VideoShard?[DatasetViews.Count];
        _videoFiles = new int[DatasetViews.Count];
    }

    /// <summary>Appends one episode: its rows to the current data file, each camera to its current mp4.</summary>
    public void Write(LeRobotEpisode e)
    {
        if (_completed) throw new InvalidOperationException("dataset already completed");
        Validate(e);
        int index = _episodes.Count;
        int task = _tasks.IndexOf(e.Task);
        if (task < 0) { task = _tasks.Count; _tasks.Add(e.Task); }

        // Cameras are independent (own ffmpeg process, own shard), so they encode in parallel.
        var segments = new VideoSegment?[DatasetViews.Count];
        Parallel.For(0, DatasetViews.Count, v =>
        {
            if (e.ViewsChw[v] is not { } chw) return;
            segments[v] = WriteVideo(v, index, chw, e.Length);
            _imageStats[v]!.AddChw(chw, e.Length);
        });
        var dataFile = WriteRows(e, index, task);
        _episodes.Add(new EpisodeRecord(index, e.Length, task, dataFile, NumFrames, NumFrames + e.Length, segments));
        NumFrames += e.Length;
        _actions.AddRange(e.Action);
        _states.AddRange(e.State);
    }

    private void Validate(LeRobotEpisode e)
    {
        int t = e.Length;
        if (t <= 0) throw new ArgumentException("an episode needs at least one step");
        if (string.IsNullOrWhiteSpace(e.Task)) throw new ArgumentException("an episode needs a task (language instruction)");
        if (e.State.Length != t * _spec.StateDim) throw new ArgumentException($"state: expected {t} x {_spec.StateDim} values, got {e.State.Length}");
        if (e.Action.Length != t * _spec.ActionDim) throw new ArgumentException($"action: expected {t} x {_spec.ActionDim} values, got {e.Action.Length}");
        if (e.ViewsChw.Count != DatasetViews.Count) throw new ArgumentException($"expected {DatasetViews.Count} view slots, got {e.ViewsChw.Count}");
        long frame = 3L * _spec.Height * _spec.Width;
        for (int v = 0; v < DatasetViews.Count; v++)
        {
            var chw = e.ViewsChw[v];
            if (_spec.HasView[v] != chw is not null)
                throw new ArgumentException($"{DatasetViews.Order[v]}: the dataset {(_spec.HasView[v] ? "has" : "has no")} this view but the episode {(chw is null ? "has none" : "has one")}");
            if (chw is not null && chw.LongLength != t * frame)
                throw new ArgumentException($"{DatasetViews.Order[v]}: expected {t} x 3 x {_spec.Height} x {_spec.Width} bytes, got {chw.LongLength}");
        }
    }

    private VideoSegment WriteVideo(int view, int episode, byte[] chw, int length)
    {
        string key = LeRobotFormat.VideoKey(view);
        int h = _spec.Height, w = _spec.Width, frame = 3 * h * w;
        var hwc = new byte[chw.Length];
        for (int t = 0; t < length; t++) ImageOps.ChwToHwc(chw.AsSpan(t * frame, frame), hwc.AsSpan(t * frame, frame), 3, h, w);
        string part = Path.Combine(_partsDirectory, $"{key}-episode-{episode:D6}.mp4");
        Ffmpeg.Encode(part, hwc, w, h, _spec.Fps, _video);
        long bytes = new FileInfo(part).Length;

        var shard = _shards[view];
        // LeRobot's rule: a new file when the current one plus this episode would reach the limit.
        if (shard is not null && shard.Parts.Count > 0 && shard.Bytes + bytes >= MaxVideoFileBytes)
        {
            CloseVideo(view);
            shard = _shards[view] = new VideoShard(shard.File.Next(ChunksSize));
        }
        shard ??= _shards[view] = new VideoShard(new FileIndex(0, 0));
        // Offsets from integer frame counts, one division each: summing float durations drifts (huggingface/lerobot#3177).
        double from = (double)shard.Frames / _spec.Fps, to = (double)(shard.Frames + length) / _spec.Fps;
        shard.Parts.Add(part);
        shard.Bytes += bytes;
        shard.Frames += length;
        return new VideoSegment(shard.File, from, to);
    }

    private void CloseVideo(int view)
    {
        if (_shards[view] is not { Parts.Count: > 0 } shard) return;
        string path = Path.Combine(WorkingDirectory, LeRobotFormat.VideoPath(LeRobotFormat.VideoKey(view), shard.File));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Ffmpeg.Concat(shard.Parts, path);
        int frames = Ffmpeg.CountFrames(path);
        if (frames != shard.Frames)
            throw new InputFormatException($"{path}: joined {shard.Parts.Count} episode(s) of {shard.Frames} frames but the file holds {frames}");
        foreach (var p in shard.Parts) File.Delete(p);
        shard.Parts.Clear();
        _videoFiles[view]++;
    }

    private FileIndex WriteRows(LeRobotEpisode e, int episode, int task)
    {
        int t = e.Length;
        if (_data is not null && _dataRows > 0)
        {
            long size = _dataStream!.Position;
            if (size + size / _dataRows * t >= MaxDataFileBytes)
            {
                CloseData();
                _dataFile = _dataFile.Next(ChunksSize);
            }
        }
        if (_data is null)
        {
            string path = Path.Combine(WorkingDirectory, LeRobotFormat.DataPath(_dataFile));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            _dataStream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite);
            var schema = new ParquetSchema(_actionField, _stateField, _timestampField, _frameIndexField, _episodeIndexField, _indexField, _taskIndexField);
            _data = ParquetColumns.Run(() => ParquetWriter.CreateAsync(schema, _dataStream));
            _dataRows = 0;
            _dataFiles++;
        }
        var timestamps = new float[t];
        var frames = new long[t];
        var indices = new long[t];
        for (int i = 0; i < t; i++)
        {
            // LeRobot: timestamp = frame_index / fps in Python floats, stored as float32.
            timestamps[i] = (float)((double)i / _spec.Fps);
            frames[i] = i;
            indices[i] = NumFrames + i;
        }
        var writer = _data;
        ParquetColumns.Run(async () =>
        {
            using var rg = writer.CreateRowGroup();
            await ParquetColumns.WriteFloatRows(rg, _actionField, e.Action, _spec.ActionDim);
            await ParquetColumns.WriteFloatRows(rg, _stateField, e.State, _spec.StateDim);
            await ParquetColumns.Write(rg, _timestampField, timestamps);
            await ParquetColumns.Write(rg, _frameIndexField, frames);
            await ParquetColumns.Write(rg, _episodeIndexField, Enumerable.Repeat((long)episode, t).ToArray());
            await ParquetColumns.Write(rg, _indexField, indices);
            await ParquetColumns.Write(rg, _taskIndexField, Enumerable.Repeat((long)task, t).ToArray());
            rg.CompleteValidate();
        });
        _dataRows += t;
        return _dataFile;
    }

    private void CloseData()
    {
        if (_data is null) return;
        var writer = _data;
        // Disposing writes the footer; without it readers fail with "magic bytes not found" (huggingface/lerobot#2529).
        ParquetColumns.Run(async () => await writer.DisposeAsync());
        _dataStream!.Dispose();
        _data = null;
        _dataStream = null;
    }

    /// <summary>Closes the open files, writes the metadata and statistics, and publishes the folder.</summary>
    public LeRobotWriteResult Complete()
    {
        if (_completed) throw new InvalidOperationException("dataset already completed");
        if (NumEpisodes == 0) throw new InvalidOperationException("no episodes were written");
        CloseData();
        for (int v = 0; v < DatasetViews.Count; v++) CloseVideo(v);
        Directory.Delete(_partsDirectory);

        WriteEpisodesTable(Path.Combine(WorkingDirectory, LeRobotFormat.EpisodesPath(new FileIndex(0, 0))));
        LeRobotTables.WriteTasks(Path.Combine(WorkingDirectory, LeRobotFormat.TasksPath), _tasks);
        AtomicFile.WriteAllText(Path.Combine(WorkingDirectory, LeRobotFormat.StatsPath), LeRobotFeatureStats.ToJson(FeatureStatistics()));
        var norm = DatasetStatistics.ComputeNormStats(_actions.ToArray(), _spec.ActionDim, _states.ToArray(), _spec.StateDim, NumEpisodes, ActionMask);
        DatasetStatistics.Write(Path.Combine(WorkingDirectory, LeRobotFormat.OpenVlaStatisticsFile), _spec.Name, norm);
        // info.json last: it is what marks a folder as a LeRobot dataset.
        AtomicFile.WriteAllText(Path.Combine(WorkingDirectory, LeRobotFormat.InfoPath), Info().ToJson());

        long bytes = Directory.EnumerateFiles(WorkingDirectory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        if (Directory.Exists(DatasetDirectory))
        {
            // Swap the old dataset out before the new one moves in, so a crash never leaves a mix of both.
            string old = DatasetDirectory + ".replaced";
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
            Directory.Move(DatasetDirectory, old);
            Directory.Move(WorkingDirectory, DatasetDirectory);
            Directory.Delete(old, recursive: true);
        }
        else Directory.Move(WorkingDirectory, DatasetDirectory);
        _completed = true;
        var perCamera = Enumerable.Range(0, DatasetViews.Count).Where(v => _spec.HasView[v]).Select(v => _videoFiles[v]).ToArray();
        return new LeRobotWriteResult(DatasetDirectory, NumEpisodes, NumFrames, _dataFiles, perCamera, bytes, norm);
    }

    private LeRobotInfo Info()
    {
        var names = new[] { "height", "width", "channels" };
        var features = new List<LeRobotFeature>
        {
            new(LeRobotFormat.Action, "float32", [_spec.ActionDim], LeRobotDatasetSpec.JointNames(_spec.ActionDim)),
            new(LeRobotFormat.State, "float32", [_spec.StateDim], LeRobotDatasetSpec.JointNames(_spec.StateDim)),
        };
        for (int v = 0; v < DatasetViews.Count; v++)
            if (_spec.HasView[v])
                features.Add(new LeRobotFeature(LeRobotFormat.VideoKey(v), "video", [_spec.Height, _spec.Width, 3], names,
                    new LeRobotVideoInfo(_spec.Height, _spec.Width, _spec.Fps, LeRobotVideoEncoding.Codec, _video.PixelFormat, _video.Gop, _video.Crf)));
        features.AddRange(LeRobotInfo.DefaultFeatures());
        static int Mb(long bytes) => (int)Math.Max(1, Math.Round(bytes / 1e6));
        return new LeRobotInfo
        {
            RobotType = _spec.RobotType, TotalEpisodes = NumEpisodes, TotalFrames = NumFrames, TotalTasks = _tasks.Count,
            ChunksSize = ChunksSize, DataFilesSizeMb = Mb(MaxDataFileBytes), VideoFilesSizeMb = Mb(MaxVideoFileBytes),
            Fps = _spec.Fps, Features = features,
        };
    }

    private IEnumerable<LeRobotFeatureStats> FeatureStatistics()
    {
        yield return LeRobotFeatureStats.OfRows(LeRobotFormat.Action, _actions.ToArray(), _spec.ActionDim);
        yield return LeRobotFeatureStats.OfRows(LeRobotFormat.State, _states.ToArray(), _spec.StateDim);
        foreach (var s in _imageStats) if (s is not null) yield return s.ToStats();
        double[] PerFrame(Func<EpisodeRecord, int, double> value) =>
            [.. _episodes.SelectMany(e => Enumerable.Range(0, e.Length).Select(i => value(e, i)))];
        yield return LeRobotFeatureStats.OfRows(LeRobotFormat.Timestamp, PerFrame((_, i) => (float)((double)i / _spec.Fps)), 1);
        yield return LeRobotFeatureStats.OfRows(LeRobotFormat.FrameIndex, PerFrame((_, i) => i), 1);
        yield return LeRobotFeatureStats.OfRows(LeRobotFormat.EpisodeIndex, PerFrame((e, _) => e.Index), 1);
        yield return LeRobotFeatureStats.OfRows(LeRobotFormat.Index, PerFrame((e, i) => e.FromIndex + i), 1);
        yield return LeRobotFeatureStats.OfRows(LeRobotFormat.TaskIndex, PerFrame((e, _) => e.TaskIndex), 1);
    }

    private void WriteEpisodesTable(string path)
    {
        var views = Enumerable.Range(0, DatasetViews.Count).Where(v => _spec.HasView[v]).ToArray();
        var columns = new List<LeRobotTables.Column>
        {
            LeRobotTables.Column.Int64(LeRobotFormat.EpisodeIndex, _episodes.Select(e => (long)e.Index)),
            LeRobotTables.Column.StringLists("tasks", _episodes.Select(e => (IReadOnlyList<string>)[_tasks[e.TaskIndex]])),
            LeRobotTables.Column.Int64("length", _episodes.Select(e => (long)e.Length)),
            LeRobotTables.Column.Int64("data/chunk_index", _episodes.Select(e => (long)e.DataFile.Chunk)),
            LeRobotTables.Column.Int64("data/file_index", _episodes.Select(e => (long)e.DataFile.File)),
            LeRobotTables.Column.Int64("dataset_from_index", _episodes.Select(e => e.FromIndex)),
            LeRobotTables.Column.Int64("dataset_to_index", _episodes.Select(e => e.ToIndex)),
        };
        foreach (int v in views)
        {
            string key = LeRobotFormat.VideoKey(v);
            columns.Add(LeRobotTables.Column.Int64($"videos/{key}/chunk_index", _episodes.Select(e => (long)e.Videos[v]!.File.Chunk)));
            columns.Add(LeRobotTables.Column.Int64($"videos/{key}/file_index", _episodes.Select(e => (long)e.Videos[v]!.File.File)));
            columns.Add(LeRobotTables.Column.Double($"videos/{key}/from_timestamp", _episodes.Select(e => e.Videos[v]!.FromTimestamp)));
            columns.Add(LeRobotTables.Column.Double($"videos/{key}/to_timestamp", _episodes.Select(e => e.Videos[v]!.ToTimestamp)));
        }
        columns.Add(LeRobotTables.Column.Int64("meta/episodes/chunk_index", _episodes.Select(_ => 0L)));
        columns.Add(LeRobotTables.Column.Int64("meta/episodes/file_index", _episodes.Select(_ => 0L)));
        LeRobotTables.Write(path, columns, metadata: null);
    }

    /// <summary>Closes open files without publishing (an incomplete dataset stays "NAME.partial").</summary>
    public void Dispose()
    {
        if (_data is not null)
            try { CloseData(); } catch (IOException) { } // best effort: the .partial folder is discarded on the next run
    }
}
