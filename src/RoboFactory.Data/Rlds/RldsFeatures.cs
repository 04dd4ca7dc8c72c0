using RoboFactory.Core.Naming;
using System.Text.Json.Nodes;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Data.Rlds;

/// <summary>Shape of an RLDS dataset produced by <see cref="RldsDatasetWriter"/>.</summary>
public sealed record RldsDatasetSpec
{
    /// <summary>TFDS dataset name (snake_case), also the shard file prefix and the norm_stats key.</summary>
    public required string Name { get; init; }
    public string Version { get; init; } = DataNames.RldsVersion;
    public string Description { get; init; } = "";
    public int Height { get; init; } = 240;
    public int Width { get; init; } = 320;
    public int StateDim { get; init; } = 8;
    public int ActionDim { get; init; } = 8;
    public bool HasGlobalImage { get; init; } = true;
    public bool HasWristImage { get; init; } = true;
}

/// <summary>Feature keys as flattened in the tf.train.Example (TFDS joins nested FeaturesDict keys with '/').</summary>
public static class RldsKeys
{
    public const string Image = "steps/observation/image";
    public const string GlobalImage = "steps/observation/global_image";
    public const string WristImage = "steps/observation/wrist_image";
    public const string State = "steps/observation/state";
    public const string Action = "steps/action";
    public const string LanguageInstruction = "steps/language_instruction";
    public const string IsFirst = "steps/is_first";
    public const string IsLast = "steps/is_last";
    public const string IsTerminal = "steps/is_terminal";
    public const string Reward = "steps/reward";
    public const string Discount = "steps/discount";
    public const string FilePath = "episode_metadata/file_path";
    public const string EpisodeIndex = "episode_metadata/episode_index";
}

/// <summary>
/// features.json and dataset_info.json as TFDS writes them (protobuf JSON of FeaturesDict / DatasetInfo:
/// camelCase fields, int64 as strings), so tfds.builder_from_directory can open the dataset directory.
/// </summary>
public static class RldsMetadata
{
    private const string Pkg = "tensorflow_datasets.core.features.";

    private static JsonObject Dict(JsonObject features) => new()
    {
        ["pythonClassName"] = Pkg + "features_dict.FeaturesDict",
        ["featuresDict"] = new JsonObject { ["features"] = features },
    };

    private static JsonObject Image(int h, int w, string description) => new()
    {
        ["pythonClassName"] = Pkg + "image_feature.Image",
        ["image"] = new JsonObject
        {
            ["shape"] = new JsonObject { ["dimensions"] = new JsonArray(h.ToString(), w.ToString(), "3") },
            ["dtype"] = "uint8",
            ["encodingFormat"] = "png",
        },
        ["description"] = description,
    };

    private static JsonObject Tensor(int dim, string dtype, string description) => new()
    {
        ["pythonClassName"] = Pkg + "tensor_feature.Tensor",
        ["tensor"] = new JsonObject
        {
            ["shape"] = new JsonObject { ["dimensions"] = new JsonArray(dim.ToString()) },
            ["dtype"] = dtype,
            ["encoding"] = "none",
        },
        ["description"] = description,
    };

    private static JsonObject Scalar(string dtype, string description) => new()
    {
        ["pythonClassName"] = Pkg + "scalar.Scalar",
        ["tensor"] = new JsonObject { ["shape"] = new JsonObject(), ["dtype"] = dtype, ["encoding"] = "none" },
        ["description"] = description,
    };

    private static JsonObject Text(string description) => new()
    {
        ["pythonClassName"] = Pkg + "text_feature.Text",
        ["text"] = new JsonObject(),
        ["description"] = description,
    };

    public static JsonObject Features(RldsDatasetSpec s)
    {
        var obs = new JsonObject
        {
            ["image"] = Image(s.Height, s.Width, "Agent head camera RGB."),
            ["state"] = Tensor(s.StateDim, "float32", "Measured joint state: 7 arm joints + gripper."),
        };
        if (s.HasGlobalImage) obs["global_image"] = Image(s.Height, s.Width, "Global (overhead) camera RGB.");
        if (s.HasWristImage) obs["wrist_image"] = Image(s.Height, s.Width, "Wrist camera RGB.");
        var step = new JsonObject
        {
            ["observation"] = Dict(obs),
            ["action"] = Tensor(s.ActionDim, "float32", "Commanded action: 7 joint targets + gripper."),
            ["language_instruction"] = Text("Language instruction."),
            ["is_first"] = Scalar("bool", "True on first step of the episode."),
            ["is_last"] = Scalar("bool", "True on last step of the episode."),
            ["is_terminal"] = Scalar("bool", "True on last step of the episode if it is a terminal step, True for demos."),
            ["reward"] = Scalar("float32", "Reward if provided, 1 on final step for successful demos."),
            ["discount"] = Scalar("float32", "Discount if provided, default to 1."),
        };
        return Dict(new JsonObject
        {
            ["steps"] = new JsonObject
            {
                ["pythonClassName"] = Pkg + "dataset_feature.Dataset",
                ["sequence"] = new JsonObject { ["feature"] = Dict(step), ["length"] = "-1" },
            },
            ["episode_metadata"] = Dict(new JsonObject
            {
                ["file_path"] = Text("Source ZARR store of the episode."),
                ["episode_index"] = Scalar("int64", "Index of the episode in the source store."),
            }),
        });
    }

    public const string FilepathTemplate = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}";

    public static JsonObject DatasetInfo(RldsDatasetSpec s, IReadOnlyList<long> shardLengths, long numBytes) => new()
    {
        ["name"] = s.Name,
        ["description"] = s.Description,
        ["version"] = s.Version,
        ["fileFormat"] = "tfrecord",
        ["moduleName"] = "robofactory.rlds",
        ["releaseNotes"] = new JsonObject { [s.Version] = "Converted from RoboFactory ZARR demonstrations." },
        ["citation"] = "",
        ["splits"] = new JsonArray(new JsonObject
        {
            ["name"] = "train",
            ["numBytes"] = numBytes.ToString(),
            ["shardLengths"] = new JsonArray(shardLengths.Select(l => (JsonNode)l.ToString()).ToArray()),
            ["filepathTemplate"] = FilepathTemplate,
        }),
    };

    /// <summary>NAME-train.tfrecord-0000k-of-0000n</summary>
    public static string ShardFileName(string name, string split, int shard, int numShards) =>
        $"{name}-{split}.tfrecord-{shard:D5}-of-{numShards:D5}";

    internal static string ToJson(JsonObject o) => PythonJson.Serialize(o, indent: 2, sortKeys: true, ensureAscii: false);
}
