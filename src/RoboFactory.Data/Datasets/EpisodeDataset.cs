using RoboFactory.Core.Imaging;
using RoboFactory.Data.Stats;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Datasets;

/// <summary>
/// The camera views of a RoboFactory dataset in the one fixed order training and evaluation use: view 0 is the
/// agent's own head camera, 1 the shared global camera, 2 the agent's wrist camera. Keys are RLDS's
/// steps/observation/* names; LeRobot stores them as observation.images.{key}.
/// </summary>
public static class DatasetViews
{
    public const string Head = "image";
    public const string Global = "global_image";
    public const string Wrist = "wrist_image";
    /// <summary>Keys in model order.</summary>
    public static readonly IReadOnlyList<string> Order = [Head, Global, Wrist];
    /// <summary>Human names, same order.</summary>
    public static readonly IReadOnlyList<string> Descriptions = ["agent head camera", "global camera", "wrist camera"];
    public const int Count = 3;
}

/// <summary>What a dataset holds, whatever its format.</summary>
public sealed record DatasetSpec
{
    /// <summary>Dataset name (snake_case): the key of its statistics in dataset_statistics.json.</summary>
    public required string Name { get; init; }
    public required int Width { get; init; }
    public required int Height { get; init; }
    public required int StateDim { get; init; }
    public required int ActionDim { get; init; }
    /// <summary>Which of <see cref="DatasetViews.Order"/> the dataset holds, by position.</summary>
    public required IReadOnlyList<bool> HasView { get; init; }
    /// <summary>Views the dataset holds, counting from view 0 without gaps (a policy with V views needs V ≤ this).</summary>
    public int LeadingViews => HasView.TakeWhile(h => h).Count();
}

/// <summary>One episode as a dataset serves it: per-step arrays and lazily decoded camera frames.</summary>
public sealed class EpisodeData(int index, int length, string instruction, float[] state, float[] action, IReadOnlyList<IFrameSource?> views)
{
    /// <summary>Position of the episode in the dataset.</summary>
    public int Index { get; } = index;
    public int Length { get; } = length;
    public string LanguageInstruction { get; } = instruction;
    /// <summary>[Length × StateDim], row-major.</summary>
    public float[] State { get; } = state;
    /// <summary>[Length × ActionDim], row-major.</summary>
    public float[] Action { get; } = action;

    public bool HasView(int view) => view < views.Count && views[view] is not null;

    /// <summary>RGB frame of view <paramref name="view"/> (model order) at <paramref name="step"/>; thread-safe.</summary>
    public Image8 Frame(int view, int step)
    {
        var v = HasView(view) ? views[view]! : throw new InputFormatException(
            $"episode {Index} has no {DatasetViews.Order[view]} (view {view}, {DatasetViews.Descriptions[view]})");
        if ((uint)step >= (uint)Length) throw new ArgumentOutOfRangeException(nameof(step), $"episode {Index} has {Length} steps");
        return v.Frame(step);
    }
}

/// <summary>The frames of one camera stream of one episode (PNG records, a video segment, …).</summary>
public interface IFrameSource
{
    /// <summary>RGB frame at <paramref name="step"/>; must be safe to call from several threads at once.</summary>
    Image8 Frame(int step);
}

/// <summary>
/// A dataset of episodes, the one interface training reads: RLDS (TFDS layout) and LeRobotDataset v3.0 implement it.
/// </summary>
public interface IEpisodeDataset
{
    /// <summary>The dataset's folder (for error messages and for finding its statistics).</summary>
    string Directory { get; }
    DatasetSpec Spec { get; }
    /// <summary>The dataset's normalisation statistics (OpenVLA's dataset_statistics.json), or null when it has none.</summary>
    NormStats? Statistics { get; }
    int EpisodeCount { get; }
    EpisodeData Episode(int index);
    /// <summary>Episodes in the given order (all when null), sharing open file handles.</summary>
    IEnumerable<EpisodeData> Episodes(IEnumerable<int>? indices = null);
}

/// <summary>A frame source over encoded PNG frames, decoded on demand.</summary>
public sealed class PngFrames(IReadOnlyList<byte[]> pngs) : IFrameSource
{
    public Image8 Frame(int step) => Png.Decode(pngs[step]).ToRgb();
}
