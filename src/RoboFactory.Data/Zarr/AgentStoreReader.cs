using RoboFactory.Core.Errors;
namespace RoboFactory.Data.Zarr;

/// <summary>What a converter reads from an agent store, whatever format it writes.</summary>
public sealed record AgentStoreReadOptions
{
    /// <summary>Default: the store's "language_instruction" attribute.</summary>
    public string? LanguageInstruction { get; init; }
    /// <summary>Upstream-style global store ({task}_global_{n}.zarr, data/head_camera) used when the agent store has no data/global_camera.</summary>
    public string? GlobalZarrPath { get; init; }
    public bool IncludeWrist { get; init; } = true;
    public bool IncludeGlobal { get; init; } = true;
}

/// <summary>One episode of an agent store: per-step arrays, cameras still in the ZARR layout (T, 3, H, W).</summary>
public sealed record AgentStoreEpisode(int Index, int Length, byte[] HeadChw, byte[]? GlobalChw, byte[]? WristChw, float[] State, float[] Action)
{
    /// <summary>Decoded ZARR bytes (images + floats), for MB/s figures.</summary>
    public long Bytes => HeadChw.LongLength + (GlobalChw?.LongLength ?? 0) + (WristChw?.LongLength ?? 0) + (State.LongLength + Action.LongLength) * 4;
}

/// <summary>
/// The read side shared by the ZARR → RLDS and ZARR → LeRobot converters: opens an agent store (and the upstream
/// global store when the agent store lacks data/global_camera), checks they agree, and reads whole episodes.
/// </summary>
public sealed class AgentStoreReader
{
    private readonly ZarrEpisodeStore _store;
    private readonly ZarrEpisodeStore? _globalStore;
    private readonly string _globalArray;

    public string Path { get; }
    /// <summary>The store's folder name ("LiftBarrier_Agent0_160.zarr").</summary>
    public string SourceName => System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(Path));
    public int Height { get; }
    public int Width { get; }
    public int StateDim { get; }
    public int ActionDim { get; }
    public bool HasGlobal { get; }
    public bool HasWrist { get; }
    public string Instruction { get; }
    public int EpisodeCount => _store.EpisodeCount;
    public ZarrEpisodeStore Store => _store;

    private AgentStoreReader(string path, AgentStoreReadOptions o)
    {
        Path = path;
        _store = ZarrEpisodeStore.Open(path);
        _globalArray = RoboFactoryZarrLayout.GlobalCamera;
        HasGlobal = o.IncludeGlobal && _store.HasArray(_globalArray);
        if (o.IncludeGlobal && !HasGlobal && o.GlobalZarrPath is not null)
        {
            _globalStore = ZarrEpisodeStore.Open(o.GlobalZarrPath);
            if (!_globalStore.EpisodeEnds.SequenceEqual(_store.EpisodeEnds))
                throw new InputFormatException($"{o.GlobalZarrPath}: episode_ends differ from {path}");
            _globalArray = RoboFactoryZarrLayout.HeadCamera;
            HasGlobal = true;
        }
        HasWrist = o.IncludeWrist && _store.HasArray(RoboFactoryZarrLayout.WristCamera);
        var head = _store.OpenArray<byte>(RoboFactoryZarrLayout.HeadCamera);
        Height = (int)head.Shape[2];
        Width = (int)head.Shape[3];
        StateDim = (int)_store.OpenArray<float>(RoboFactoryZarrLayout.State).Shape[1];
        ActionDim = (int)_store.OpenArray<float>(RoboFactoryZarrLayout.Action).Shape[1];
        Instruction = o.LanguageInstruction
            ?? (string?)_store.Attributes["language_instruction"]
            ?? throw new ArgumentException($"{path} has no language_instruction attribute; pass LanguageInstruction");
    }

    public static AgentStoreReader Open(string zarrPath, AgentStoreReadOptions? options = null) => new(zarrPath, options ?? new AgentStoreReadOptions());

    /// <summary>An integer store attribute (e.g. "control_freq"), or null when absent or not an integer.</summary>
    public int? IntAttribute(string name) =>
        _store.Attributes[name] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out int i) ? i : null;

    /// <summary>All arrays of episode <paramref name="e"/>; safe to call from several threads (each call opens its own array handles).</summary>
    public AgentStoreEpisode Read(int e)
    {
        int t = _store.EpisodeLength(e);
        var (s, _) = _store.EpisodeRange(e);
        byte[] Img(ZarrEpisodeStore st, string name) => st.OpenArray<byte>(name).ReadRows(s, t);
        return new AgentStoreEpisode(e, t,
            Img(_store, RoboFactoryZarrLayout.HeadCamera),
            HasGlobal ? Img(_globalStore ?? _store, _globalArray) : null,
            HasWrist ? Img(_store, RoboFactoryZarrLayout.WristCamera) : null,
            _store.OpenArray<float>(RoboFactoryZarrLayout.State).ReadRows(s, t),
            _store.OpenArray<float>(RoboFactoryZarrLayout.Action).ReadRows(s, t));
    }
}
