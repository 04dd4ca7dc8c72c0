using System.Globalization;
using System.Text.RegularExpressions;
using RoboFactory.Core.Imaging;
using RoboFactory.Data.Datasets;
using RoboFactory.Data.Stats;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.LeRobot;

/// <summary>Where one camera stream of one episode lies: an mp4 and the start time of the episode in it.</summary>
public sealed record LeRobotVideoSegment(string Path, FileIndex File, double FromTimestamp, double ToTimestamp);

/// <summary>One row of meta/episodes, as the reader uses it.</summary>
public sealed record LeRobotEpisodeInfo(int Index, int Length, FileIndex DataFile, long FromIndex, long ToIndex, IReadOnlyList<LeRobotVideoSegment?> Videos);

/// <summary>
/// The frames of one camera of one episode, decoded from its segment of the camera's mp4 by ffmpeg the first time
/// any frame is asked for (all of the episode's frames in one run: one process start instead of one per frame), then
/// served from memory. Thread-safe; a failed decode is reported to every caller.
/// </summary>
public sealed class VideoSegmentFrames : IFrameSource
{
    private readonly Lazy<byte[]> _pixels;
    private readonly int _width, _height;

    public VideoSegmentFrames(LeRobotVideoSegment segment, int length, int width, int height, int fps)
    {
        _width = width;
        _height = height;
        _pixels = new Lazy<byte[]>(() => Ffmpeg.DecodeSegment(segment.Path, segment.FromTimestamp, length, width, height, fps),
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public Image8 Frame(int step)
    {
        int bytes = _width * _height * 3;
        return Image8.Rgb(_width, _height, _pixels.Value.AsSpan(step * bytes, bytes).ToArray());
    }
}

/// <summary>
/// A LeRobotDataset v3.0 folder (as <see cref="LeRobotDatasetWriter"/> or LeRobot itself writes it) read through
/// <see cref="IEpisodeDataset"/>. Opening validates meta/info.json, reads tasks, the episodes metadata and every data
/// parquet file (actions and states stay in memory: a few MB), and checks the files agree with each other — the
/// checks LeRobot's own loader leaves out (huggingface/lerobot#1919, #2401: from/to ranges, index contiguity, each
/// episode's rows in the file its metadata names). Camera frames are decoded lazily per episode.
/// </summary>
public sealed class LeRobotDataset : IEpisodeDataset
{
    private readonly LeRobotEpisodeInfo[] _episodes;
    private readonly int[] _taskOfEpisode;
    private readonly float[] _actions;
    private readonly float[] _states;
    private readonly IReadOnlyList<string> _tasks;
    private readonly Lazy<NormStats> _statistics;

    public string Directory { get; }
    public LeRobotInfo Info { get; }
    public DatasetSpec Spec { get; }
    public int EpisodeCount => _episodes.Length;
    public IReadOnlyList<LeRobotEpisodeInfo> EpisodeInfos => _episodes;
    public IReadOnlyList<string> Tasks => _tasks;

    private LeRobotDataset(string dir, LeRobotInfo info, DatasetSpec spec, IReadOnlyList<string> tasks, LeRobotEpisodeInfo[] episodes,
        int[] taskOfEpisode, float[] actions, float[] states)
    {
        Directory = dir;
        Info = info;
        Spec = spec;
        _tasks = tasks;
        _episodes = episodes;
        _taskOfEpisode = taskOfEpisode;
        _actions = actions;
        _states = states;
        _statistics = new Lazy<NormStats>(ComputeStatistics);
    }

    public static LeRobotDataset Open(string directory)
    {
        directory = Path.TrimEndingDirectorySeparator(directory);
        string infoPath = Path.Combine(directory, LeRobotFormat.InfoPath);
        if (!File.Exists(infoPath))
        {
            if (System.IO.Directory.Exists(directory + ".partial"))
                throw new IOException($"{directory} was never completed (only {directory}.partial exists)");
            throw new FileNotFoundException($"{directory} is not a LeRobot dataset (no {LeRobotFormat.InfoPath})", infoPath);
        }
        var info = LeRobotInfo.Parse(File.ReadAllText(infoPath), infoPath);
        var spec = SpecFrom(info, Path.GetFileName(directory), infoPath);
        var tasks = LeRobotTables.ReadTasks(Path.Combine(directory, LeRobotFormat.TasksPath));
        if (tasks.Count != info.TotalTasks)
            throw new InputFormatException($"{Path.Combine(directory, LeRobotFormat.TasksPath)}: holds {tasks.Count} tasks but {infoPath} says total_tasks = {info.TotalTasks}");
        var episodes = ReadEpisodes(directory, info, spec, infoPath);
        var (actions, states, taskOfEpisode) = ReadData(directory, info, spec, episodes, tasks.Count, infoPath);
        return new LeRobotDataset(directory, info, spec, tasks, episodes, taskOfEpisode, actions, states);
    }

    private static DatasetSpec SpecFrom(LeRobotInfo info, string name, string infoPath)
    {
        int Vector(string feature)
        {
            var f = info.Feature(feature) ?? throw new InputFormatException($"{infoPath}: features has no '{feature}'");
            if (f.DType != "float32") throw new InputFormatException($"{infoPath}: features.{feature}.dtype is \"{f.DType}\", expected \"float32\"");
            if (f.Shape.Count != 1) throw new InputFormatException($"{infoPath}: features.{feature}.shape is [{string.Join(", ", f.Shape)}], expected [D]");
            return f.Shape[0];
        }
        int actionDim = Vector(LeRobotFormat.Action), stateDim = Vector(LeRobotFormat.State);
        var cameras = LeRobotFormat.VideoKeys.Select(info.Feature).ToArray();
        var head = cameras[0] ?? throw new InputFormatException(
            $"{infoPath}: features has no '{LeRobotFormat.VideoKey(0)}' (view 0, {DatasetViews.Descriptions[0]}); cameras present: {string.Join(", ", info.VideoFeatures.Select(f => f.Name))}");
        foreach (var c in cameras.OfType<LeRobotFeature>())
        {
            if (!c.IsVideo) throw new InputFormatException($"{infoPath}: features.{c.Name}.dtype is \"{c.DType}\", expected \"video\"");
            if (c.Shape.Count != 3 || c.Shape[2] != 3)
                throw new InputFormatException($"{infoPath}: features.{c.Name}.shape is [{string.Join(", ", c.Shape)}], expected [height, width, 3]");
            if (c.Shape[0] != head.Shape[0] || c.Shape[1] != head.Shape[1])
                throw new InputFormatException($"{infoPath}: features.{c.Name}.shape is [{string.Join(", ", c.Shape)}] but {head.Name} is [{string.Join(", ", head.Shape)}]; all cameras must share one size");
        }
        return new DatasetSpec
        {
            Name = name, Height = head.Shape[0], Width = head.Shape[1], StateDim = stateDim, ActionDim = actionDim,
            HasView = [.. cameras.Select(c => c is not null)],
        };
    }

    /// <summary>Python's str.format for the path templates: {name} and {name:03d}.</summary>
    internal static string FormatTemplate(string template, int chunk, int file, string? videoKey = null) =>
        Regex.Replace(template, @"\{(\w+)(?::0?(\d+)d)?\}", m =>
        {
            string name = m.Groups[1].Value;
            if (name == "video_key") return videoKey ?? throw new InputFormatException($"template '{template}' needs a video key");
            int value = name switch
            {
                "chunk_index" => chunk,
                "file_index" => file,
                _ => throw new InputFormatException($"template '{template}': unknown field {{{name}}}"),
            };
            int width = m.Groups[2].Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
            return value.ToString(new string('0', Math.Max(1, width)), CultureInfo.InvariantCulture);
        });

    /// <summary>Parquet files matching dir/*/*.parquet in sorted path order, the order LeRobot concatenates them in.</summary>
    private static List<string> Glob(string dir) => System.IO.Directory.Exists(dir)
        ? [.. System.IO.Directory.GetDirectories(dir).SelectMany(d => System.IO.Directory.GetFiles(d, "*.parquet")).Order(StringComparer.Ordinal)]
        : [];

    private static LeRobotEpisodeInfo[] ReadEpisodes(string dir, LeRobotInfo info, DatasetSpec spec, string infoPath)
    {
        var files = Glob(Path.Combine(dir, "meta", "episodes"));
        if (files.Count == 0 && info.TotalEpisodes > 0)
        {
            string expected = Path.Combine(dir, LeRobotFormat.EpisodesPath(new FileIndex(0, 0)));
            throw new FileNotFoundException($"{dir}: no episodes metadata (meta/episodes/*/*.parquet; expected {expected})", expected);
        }
        var episodes = new List<LeRobotEpisodeInfo>();
        var views = Enumerable.Range(0, DatasetViews.Count).Where(v => spec.HasView[v]).ToArray();
        foreach (string path in files)
        {
            using var t = ParquetTable.Open(path);
            for (int g = 0; g < t.RowGroupCount; g++)
            {
                var index = t.Int64(g, LeRobotFormat.EpisodeIndex);
                var length = t.Int64(g, "length");
                var dataChunk = t.Int64(g, "data/chunk_index");
                var dataFile = t.Int64(g, "data/file_index");
                var from = t.Int64(g, "dataset_from_index");
                var to = t.Int64(g, "dataset_to_index");
                var video = views.Select(v =>
                {
                    string key = LeRobotFormat.VideoKey(v);
                    return (View: v, Key: key, Chunk: t.Int64(g, $"videos/{key}/chunk_index"), File: t.Int64(g, $"videos/{key}/file_index"),
                        From: t.Real(g, $"videos/{key}/from_timestamp"), To: t.Real(g, $"videos/{key}/to_timestamp"));
                }).ToArray();
                for (int i = 0; i < index.Length; i++)
                {
                    int e = episodes.Count;
                    string row = $"{path}: row {i} (episode {e})";
                    // LeRobot looks episodes up by row position (meta.episodes[ep_idx]).
                    if (index[i] != e) throw new InputFormatException($"{row}: episode_index is {index[i]}, expected {e} (rows in episode order)");
                    long prevTo = e == 0 ? 0 : episodes[^1].ToIndex;
                    if (from[i] != prevTo || to[i] - from[i] != length[i] || length[i] <= 0)
                        throw new InputFormatException($"{row}: dataset_from_index/dataset_to_index are [{from[i]}, {to[i]}) with length {length[i]}, expected [{prevTo}, {prevTo + length[i]}) (contiguous, to = from + length)");
                    var segments = new LeRobotVideoSegment?[DatasetViews.Count];
                    foreach (var c in video)
                    {
                        var fi = new FileIndex((int)c.Chunk[i], (int)c.File[i]);
                        string mp4 = Path.Combine(dir, FormatTemplate(info.VideoPath!, fi.Chunk, fi.File, c.Key));
                        if (!File.Exists(mp4)) throw new FileNotFoundException($"{row}: the {c.Key} video it names is missing: {mp4}", mp4);
                        segments[c.View] = new LeRobotVideoSegment(mp4, fi, c.From[i], c.To[i]);
                    }
                    episodes.Add(new LeRobotEpisodeInfo(e, (int)length[i], new FileIndex((int)dataChunk[i], (int)dataFile[i]), from[i], to[i], segments));
                }
            }
        }
        if (episodes.Count != info.TotalEpisodes)
            throw new InputFormatException($"{Path.Combine(dir, "meta", "episodes")}: holds {episodes.Count} episodes but {infoPath} says total_episodes = {info.TotalEpisodes}");
        return [.. episodes];
    }

    private static (float[] Actions, float[] States, int[] TaskOfEpisode) ReadData(string dir, LeRobotInfo info, DatasetSpec spec,
        LeRobotEpisodeInfo[] episodes, int taskCount, string infoPath)
    {
        var dataFileOf = new string[episodes.Length];
        foreach (var e in episodes)
        {
            string named = Path.GetFullPath(Path.Combine(dir, FormatTemplate(info.DataPath, e.DataFile.Chunk, e.DataFile.File)));
            if (!File.Exists(named)) throw new FileNotFoundException($"{dir}: episode {e.Index}'s data file is missing: {named}", named);
            dataFileOf[e.Index] = named;
        }
        long total = episodes.Length == 0 ? 0 : episodes[^1].ToIndex;
        if (total != info.TotalFrames)
            throw new InputFormatException($"{infoPath}: total_frames is {info.TotalFrames} but the episodes metadata covers {total} frames");
        var actions = new float[total * spec.ActionDim];
        var states = new float[total * spec.StateDim];
        var taskOfEpisode = new int[episodes.Length];
        long row = 0;
        foreach (string path in Glob(Path.Combine(dir, "data")))
        {
            using var t = ParquetTable.Open(path);
            string fullPath = Path.GetFullPath(path);
            for (int g = 0; g < t.RowGroupCount; g++)
            {
                long n = t.RowCount(g);
                if (row + n > total) throw new InputFormatException($"{path}: the data files hold more than the {total} frames of info.json's total_frames");
                var episode = t.Int64(g, LeRobotFormat.EpisodeIndex);
                var frame = t.Int64(g, LeRobotFormat.FrameIndex);
                var index = t.Int64(g, LeRobotFormat.Index);
                var task = t.Int64(g, LeRobotFormat.TaskIndex);
                t.FloatRows(g, LeRobotFormat.Action, spec.ActionDim).CopyTo(actions, row * spec.ActionDim);
                t.FloatRows(g, LeRobotFormat.State, spec.StateDim).CopyTo(states, row * spec.StateDim);
                for (int i = 0; i < n; i++, row++)
                {
                    // The loader turns `index` straight into row positions, so it must count the rows of all files in order.
                    if (index[i] != row) throw new InputFormatException($"{path}: row {i} has index {index[i]}, expected {row} (the global frame position)");
                    var ep = EpisodeAt(episodes, row);
                    if (episode[i] != ep.Index || frame[i] != row - ep.FromIndex)
                        throw new InputFormatException($"{path}: row {i} (index {row}) is episode {episode[i]} frame {frame[i]}, but meta/episodes puts episode {ep.Index} frame {row - ep.FromIndex} there");
                    if (fullPath != dataFileOf[ep.Index])
                        throw new InputFormatException($"{path}: holds rows of episode {ep.Index}, whose metadata names {dataFileOf[ep.Index]} (data/chunk_index, data/file_index)");
                    if (task[i] < 0 || task[i] >= taskCount)
                        throw new InputFormatException($"{path}: row {i} has task_index {task[i]}, but meta/tasks.parquet has {taskCount} tasks");
                    if (frame[i] == 0) taskOfEpisode[ep.Index] = (int)task[i];
                }
            }
        }
        if (row != total)
            throw new InputFormatException($"{Path.Combine(dir, "data")}: the data files hold {row} frames but info.json says total_frames = {total}");
        return (actions, states, taskOfEpisode);
    }

    private static LeRobotEpisodeInfo EpisodeAt(LeRobotEpisodeInfo[] episodes, long row)
    {
        int lo = 0, hi = episodes.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (episodes[mid].FromIndex <= row) lo = mid; else hi = mid - 1;
        }
        return episodes[lo];
    }

    /// <summary>
    /// OpenVLA's statistics from dataset_statistics.json (written by our converter, identical to the RLDS dataset's for
    /// the same store); for a dataset without it (e.g. from LeRobot), computed from the parquet actions and states the
    /// same way the converters do.
    /// </summary>
    public NormStats? Statistics => _statistics.Value;

    private NormStats ComputeStatistics()
    {
        string p = Path.Combine(Directory, LeRobotFormat.OpenVlaStatisticsFile);
        if (File.Exists(p) && DatasetStatistics.Read(p).GetValueOrDefault(Spec.Name) is { } s) return s;
        return DatasetStatistics.ComputeNormStats(_actions, Spec.ActionDim, _states, Spec.StateDim, EpisodeCount);
    }

    public EpisodeData Episode(int index)
    {
        var e = _episodes[index];
        long from = e.FromIndex;
        int sd = Spec.StateDim, ad = Spec.ActionDim;
        var views = e.Videos.Select(v => v is null ? null : (IFrameSource)new VideoSegmentFrames(v, e.Length, Spec.Width, Spec.Height, Info.Fps)).ToArray();
        return new EpisodeData(index, e.Length, _tasks[_taskOfEpisode[index]],
            _states.AsSpan((int)(from * sd), e.Length * sd).ToArray(), _actions.AsSpan((int)(from * ad), e.Length * ad).ToArray(), views);
    }

    public IEnumerable<EpisodeData> Episodes(IEnumerable<int>? indices = null) => (indices ?? Enumerable.Range(0, EpisodeCount)).Select(Episode);
}
