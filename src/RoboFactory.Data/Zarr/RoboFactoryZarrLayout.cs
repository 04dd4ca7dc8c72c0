using RoboFactory.Core.Naming;

namespace RoboFactory.Data.Zarr;

/// <summary>One recorded episode of one agent, in the upstream ZARR layout (images NCHW uint8).</summary>
public sealed record AgentEpisode
{
    public required long Seed { get; init; }
    public required int Length { get; init; }
    /// <summary>(T, 3, H, W) uint8.</summary>
    public required byte[] HeadCamera { get; init; }
    public byte[]? WristCamera { get; init; }
    public byte[]? GlobalCamera { get; init; }
    /// <summary>(T, ActionDim) commanded action.</summary>
    public required float[] Action { get; init; }
    /// <summary>(T, StateDim) measured joint state.</summary>
    public required float[] State { get; init; }
    /// <summary>(T, TcpPoseDim) end-effector pose.</summary>
    public float[]? TcpPose { get; init; }
}

/// <summary>Shape parameters of an agent store.</summary>
public sealed record AgentStoreShape(int Height = 240, int Width = 320, bool Wrist = true, bool Global = true,
    bool TcpPose = true, int ActionDim = 8, int StateDim = 8, int TcpPoseDim = 7, int ChunkRows = 100);

/// <summary>
/// Names and shapes of the per-agent ZARR store of issue 4 (upstream parse_pkl_to_zarr_dp.py layout
/// plus our measured state, global camera and tcp pose): data/{head,wrist,global}_camera uint8
/// (N,3,H,W), data/action, data/state float32 (N,8), data/tcp_pose float32 (N,7), meta/episode_ends.
/// </summary>
public static class RoboFactoryZarrLayout
{
    public const string HeadCamera = "data/head_camera";
    public const string WristCamera = "data/wrist_camera";
    public const string GlobalCamera = "data/global_camera";
    public const string Action = "data/action";
    public const string State = "data/state";
    public const string TcpPose = "data/tcp_pose";
    public const string EpisodeEnds = ZarrEpisodeWriter.EpisodeEndsName;

    /// <summary>data/zarr/{task}_Agent{i}_{num}.zarr</summary>
    public static string StorePath(string root, string task, int agentId, int numEpisodes) =>
        Path.Combine(root, DataNames.ZarrStore(task, agentId, numEpisodes));

    public static IReadOnlyList<EpisodeArraySpec> AgentArrays(AgentStoreShape s)
    {
        var list = new List<EpisodeArraySpec> { EpisodeArraySpec.Of<byte>(HeadCamera, [3, s.Height, s.Width], s.ChunkRows) };
        if (s.Wrist) list.Add(EpisodeArraySpec.Of<byte>(WristCamera, [3, s.Height, s.Width], s.ChunkRows));
        if (s.Global) list.Add(EpisodeArraySpec.Of<byte>(GlobalCamera, [3, s.Height, s.Width], s.ChunkRows));
        list.Add(EpisodeArraySpec.Of<float>(Action, [s.ActionDim], s.ChunkRows));
        list.Add(EpisodeArraySpec.Of<float>(State, [s.StateDim], s.ChunkRows));
        if (s.TcpPose) list.Add(EpisodeArraySpec.Of<float>(TcpPose, [s.TcpPoseDim], s.ChunkRows));
        return list;
    }

    public static EpisodeColumns ToColumns(AgentEpisode e, AgentStoreShape s)
    {
        var c = new EpisodeColumns().Add(HeadCamera, e.HeadCamera);
        if (s.Wrist) c.Add(WristCamera, e.WristCamera ?? throw new ArgumentException("store has a wrist camera but the episode has none"));
        if (s.Global) c.Add(GlobalCamera, e.GlobalCamera ?? throw new ArgumentException("store has a global camera but the episode has none"));
        c.Add(Action, e.Action).Add(State, e.State);
        if (s.TcpPose) c.Add(TcpPose, e.TcpPose ?? throw new ArgumentException("store has tcp_pose but the episode has none"));
        return c;
    }

    /// <summary>Opens (or resumes) an agent store for recording.</summary>
    public static ZarrEpisodeWriter OpenWriter(string path, AgentStoreShape shape, ZarrEpisodeWriterOptions options) =>
        ZarrEpisodeWriter.Open(path, AgentArrays(shape), options);

    public static void AppendEpisode(this ZarrEpisodeWriter writer, AgentEpisode episode, AgentStoreShape shape) =>
        writer.AppendEpisode(episode.Seed, episode.Length, ToColumns(episode, shape));
}
