using System.Globalization;
using RoboFactory.Data.Datasets;

namespace RoboFactory.Data.LeRobot;

/// <summary>
/// Names and path templates of LeRobotDataset v3.0 (huggingface/lerobot, lerobot/datasets/utils.py and
/// lerobot/utils/constants.py): meta/info.json, meta/stats.json, meta/tasks.parquet, meta/episodes/…,
/// data/chunk-XXX/file-YYY.parquet and videos/{key}/chunk-XXX/file-YYY.mp4.
/// </summary>
public static class LeRobotFormat
{
    public const string CodebaseVersion = "v3.0";
    public const string InfoPath = "meta/info.json";
    public const string StatsPath = "meta/stats.json";
    public const string TasksPath = "meta/tasks.parquet";
    /// <summary>OpenVLA's statistics, next to the LeRobot ones so training normalises exactly as with RLDS.</summary>
    public const string OpenVlaStatisticsFile = "dataset_statistics.json";
    public const string DataPathTemplate = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet";
    public const string VideoPathTemplate = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4";
    public const int DefaultChunksSize = 1000;
    public const int DefaultDataFilesSizeMb = 100;
    public const int DefaultVideoFilesSizeMb = 200;

    public const string Action = "action";
    public const string State = "observation.state";
    public const string Timestamp = "timestamp";
    public const string FrameIndex = "frame_index";
    public const string EpisodeIndex = "episode_index";
    public const string Index = "index";
    public const string TaskIndex = "task_index";
    /// <summary>tasks.parquet: the task text (the pandas index column, see LeRobotTables.WriteTasks).</summary>
    public const string Task = "task";

    /// <summary>observation.images.{image,global_image,wrist_image}: one LeRobot camera per view of <see cref="DatasetViews.Order"/>.</summary>
    public static string VideoKey(int view) => "observation.images." + DatasetViews.Order[view];
    public static readonly IReadOnlyList<string> VideoKeys = [.. Enumerable.Range(0, DatasetViews.Count).Select(VideoKey)];

    public static string DataPath(FileIndex f) => Invariant($"data/chunk-{f.Chunk:D3}/file-{f.File:D3}.parquet");
    public static string VideoPath(string videoKey, FileIndex f) => Invariant($"videos/{videoKey}/chunk-{f.Chunk:D3}/file-{f.File:D3}.mp4");
    public static string EpisodesPath(FileIndex f) => Invariant($"meta/episodes/chunk-{f.Chunk:D3}/file-{f.File:D3}.parquet");

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Where a file sits in a chunked tree: chunk-{Chunk:000}/file-{File:000}.</summary>
public readonly record struct FileIndex(int Chunk, int File)
{
    /// <summary>The next file: file + 1, or the next chunk's file 0 once a chunk holds <paramref name="chunksSize"/> files.</summary>
    public FileIndex Next(int chunksSize) => File + 1 >= chunksSize ? new FileIndex(Chunk + 1, 0) : this with { File = File + 1 };
}
