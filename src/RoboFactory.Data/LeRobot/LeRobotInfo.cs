using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Data.Zarr;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.LeRobot;

/// <summary>
/// How a camera stream is encoded; written into the feature's "info" block (the keys LeRobot v0.4.x and later write
/// after probing file-000 of each camera).
/// </summary>
public sealed record LeRobotVideoInfo(int Height, int Width, int Fps, string Codec, string PixelFormat, int Gop, int Crf);

/// <summary>One entry of info.json "features": numpy dtype (or "video"), shape and names.</summary>
public sealed record LeRobotFeature(string Name, string DType, IReadOnlyList<int> Shape, IReadOnlyList<string>? Names, LeRobotVideoInfo? Video = null)
{
    public bool IsVideo => DType == "video";
}

/// <summary>
/// meta/info.json of a LeRobotDataset v3.0 (huggingface/lerobot, lerobot/datasets/utils.py, DatasetInfo and
/// create_empty_dataset_info). Every key LeRobot v0.4.x reads by name is written; parsing checks what our reader
/// relies on and names the file and field of anything wrong.
/// </summary>
public sealed record LeRobotInfo
{
    public string CodebaseVersion { get; init; } = LeRobotFormat.CodebaseVersion;
    public string? RobotType { get; init; }
    public required int TotalEpisodes { get; init; }
    public required long TotalFrames { get; init; }
    public required int TotalTasks { get; init; }
    public int ChunksSize { get; init; } = LeRobotFormat.DefaultChunksSize;
    public int DataFilesSizeMb { get; init; } = LeRobotFormat.DefaultDataFilesSizeMb;
    public int VideoFilesSizeMb { get; init; } = LeRobotFormat.DefaultVideoFilesSizeMb;
    public required int Fps { get; init; }
    public string DataPath { get; init; } = LeRobotFormat.DataPathTemplate;
    public string? VideoPath { get; init; } = LeRobotFormat.VideoPathTemplate;
    /// <summary>In file order (LeRobot keeps the insertion order of the dict).</summary>
    public required IReadOnlyList<LeRobotFeature> Features { get; init; }

    public LeRobotFeature? Feature(string name) => Features.FirstOrDefault(f => f.Name == name);
    public IEnumerable<LeRobotFeature> VideoFeatures => Features.Where(f => f.IsVideo);

    /// <summary>The five default features with LeRobot's dtypes and shapes (lerobot/utils/constants.py DEFAULT_FEATURES).</summary>
    public static IEnumerable<LeRobotFeature> DefaultFeatures() =>
    [
        new(LeRobotFormat.Timestamp, "float32", [1], null),
        new(LeRobotFormat.FrameIndex, "int64", [1], null),
        new(LeRobotFormat.EpisodeIndex, "int64", [1], null),
        new(LeRobotFormat.Index, "int64", [1], null),
        new(LeRobotFormat.TaskIndex, "int64", [1], null),
    ];

    public string ToJson()
    {
        var features = new JsonObject();
        foreach (var f in Features)
        {
            var o = new JsonObject
            {
                ["dtype"] = f.DType,
                ["shape"] = new JsonArray(f.Shape.Select(d => (JsonNode)d).ToArray()),
                ["names"] = f.Names is null ? null : new JsonArray(f.Names.Select(n => (JsonNode)n).ToArray()),
            };
            if (f.Video is { } v)
                o["info"] = new JsonObject
                {
                    ["video.height"] = v.Height, ["video.width"] = v.Width, ["video.codec"] = v.Codec, ["video.pix_fmt"] = v.PixelFormat,
                    ["video.is_depth_map"] = false, ["video.fps"] = v.Fps, ["video.channels"] = 3, ["has_audio"] = false,
                    ["is_depth_map"] = false, ["video.g"] = v.Gop, ["video.crf"] = v.Crf, ["video.preset"] = null,
                    ["video.fast_decode"] = 0, ["video.video_backend"] = "pyav", ["video.extra_options"] = new JsonObject(),
                };
            features[f.Name] = o;
        }
        var root = new JsonObject
        {
            ["codebase_version"] = CodebaseVersion, ["robot_type"] = RobotType,
            ["total_episodes"] = TotalEpisodes, ["total_frames"] = TotalFrames, ["total_tasks"] = TotalTasks,
            ["chunks_size"] = ChunksSize, ["data_files_size_in_mb"] = DataFilesSizeMb, ["video_files_size_in_mb"] = VideoFilesSizeMb,
            ["fps"] = Fps, ["splits"] = new JsonObject { ["train"] = $"0:{TotalEpisodes}" },
            ["data_path"] = DataPath, ["video_path"] = VideoPath, ["features"] = features,
        };
        // LeRobot's write_json: json.dump(indent=4, ensure_ascii=False), keys in insertion order.
        return PythonJson.Serialize(root, indent: 4, sortKeys: false, ensureAscii: false);
    }

    /// <summary>Reads and validates meta/info.json; <paramref name="path"/> names the file in errors.</summary>
    public static LeRobotInfo Parse(string json, string path)
    {
        JsonObject root;
        try
        {
            root = PythonJson.Parse(json, path) as JsonObject ?? throw new InputFormatException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InputFormatException($"{path}: not valid JSON ({e.Message})", e);
        }
        var r = new FieldReader(root, path);
        string version = r.String("codebase_version");
        if (!version.StartsWith("v3.", StringComparison.Ordinal))
            throw new InputFormatException($"{path}: field 'codebase_version' is \"{version}\", expected \"{LeRobotFormat.CodebaseVersion}\" (LeRobotDataset v3; convert older datasets with LeRobot's convert_dataset_v21_to_v30)");
        var featuresNode = root["features"] as JsonObject
            ?? throw new InputFormatException($"{path}: field 'features' is missing or not an object");
        var features = featuresNode.Select(kv => ParseFeature(kv.Key, kv.Value, path)).ToList();
        var info = new LeRobotInfo
        {
            CodebaseVersion = version,
            RobotType = root["robot_type"] is JsonValue rt && rt.TryGetValue(out string? s) ? s : null,
            TotalEpisodes = r.Int("total_episodes", min: 0),
            TotalFrames = r.Long("total_frames", min: 0),
            TotalTasks = r.Int("total_tasks", min: 0),
            ChunksSize = r.Int("chunks_size", min: 1),
            DataFilesSizeMb = r.Int("data_files_size_in_mb", min: 1),
            VideoFilesSizeMb = r.Int("video_files_size_in_mb", min: 1),
            Fps = r.Int("fps", min: 1),
            DataPath = r.String("data_path"),
            VideoPath = root["video_path"] is null ? null : r.String("video_path"),
            Features = features,
        };
        foreach (var d in DefaultFeatures())
        {
            var f = info.Feature(d.Name) ?? throw new InputFormatException($"{path}: features has no '{d.Name}' (one of LeRobot's five default features)");
            if (f.DType != d.DType) throw new InputFormatException($"{path}: features.{d.Name}.dtype is \"{f.DType}\", expected \"{d.DType}\"");
        }
        if (info.VideoFeatures.Any() && info.VideoPath is null)
            throw new InputFormatException($"{path}: field 'video_path' is null but features has video features ({string.Join(", ", info.VideoFeatures.Select(f => f.Name))})");
        return info;
    }

    private static LeRobotFeature ParseFeature(string name, JsonNode? node, string path)
    {
        string where = $"features.{name}";
        var o = node as JsonObject ?? throw new InputFormatException($"{path}: {where} is not an object");
        var r = new FieldReader(o, path, where + ".");
        string dtype = r.String("dtype");
        var shapeNode = o["shape"] as JsonArray ?? throw new InputFormatException($"{path}: {where}.shape is missing or not a list");
        var shape = new List<int>();
        foreach (var d in shapeNode)
            shape.Add(d is JsonValue v && v.TryGetValue(out int i) && i > 0 ? i
                : throw new InputFormatException($"{path}: {where}.shape must hold positive integers, got {shapeNode.ToJsonString()}"));
        var names = o["names"] is JsonArray a ? a.Select(n => n?.ToString() ?? "").ToList() : null;
        return new LeRobotFeature(name, dtype, shape, names);
    }

    /// <summary>Typed access to the keys of one JSON object, with errors that name the file and the key.</summary>
    private readonly struct FieldReader(JsonObject o, string path, string prefix = "")
    {
        public string String(string key) =>
            o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad(key, "a string");

        public long Long(string key, long min)
        {
            if (o[key] is JsonValue v && v.TryGetValue(out long l) && l >= min) return l;
            throw Bad(key, min > 0 ? "a positive integer" : "a non-negative integer");
        }

        public int Int(string key, int min) => (int)Math.Min(Long(key, min), int.MaxValue);

        private InputFormatException Bad(string key, string expected) => new(o.ContainsKey(key)
            ? $"{path}: field '{prefix}{key}' must be {expected}, got {o[key]?.ToJsonString() ?? "null"}"
            : $"{path}: field '{prefix}{key}' is missing (expected {expected})");
    }
}
