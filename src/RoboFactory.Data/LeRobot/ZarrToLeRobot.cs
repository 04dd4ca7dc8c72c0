using System.Diagnostics;
using RoboFactory.Data.Rlds;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Data.LeRobot;

public sealed record ZarrToLeRobotOptions
{
    /// <summary>Dataset (folder) name; default from the store name, as for RLDS ("LiftBarrier_Agent0_160.zarr" → "lift_barrier_agent0").</summary>
    public string? DatasetName { get; init; }
    /// <summary>Default: the store's "language_instruction" attribute.</summary>
    public string? LanguageInstruction { get; init; }
    /// <summary>Upstream-style global store used when the agent store has no data/global_camera.</summary>
    public string? GlobalZarrPath { get; init; }
    public bool IncludeWrist { get; init; } = true;
    public bool IncludeGlobal { get; init; } = true;
    public bool Overwrite { get; init; }
    /// <summary>Frames per second of data and video; default the store's control_freq attribute, else 20.</summary>
    public int? Fps { get; init; }
    public string? RobotType { get; init; } = "panda";
    public LeRobotVideoEncoding Video { get; init; } = new();
    public long MaxDataFileBytes { get; init; } = LeRobotFormat.DefaultDataFilesSizeMb * 1_000_000L;
    public long MaxVideoFileBytes { get; init; } = LeRobotFormat.DefaultVideoFilesSizeMb * 1_000_000L;
    /// <summary>Convert only the first N episodes (benchmarks, smoke runs).</summary>
    public int? MaxEpisodes { get; init; }
    public Action<int, int>? Progress { get; init; }
}

public sealed record ZarrToLeRobotResult(LeRobotWriteResult Dataset, long ZarrBytesDecoded, double Seconds)
{
    /// <summary>Decoded ZARR bytes (images + floats) per second.</summary>
    public double MegabytesPerSecond => ZarrBytesDecoded / 1e6 / Seconds;
}

/// <summary>Converts one agent's ZARR store into a LeRobotDataset v3.0 folder (`convert --format lerobot`).</summary>
public static class ZarrToLeRobot
{
    public static ZarrToLeRobotResult Convert(string zarrPath, string outRoot, ZarrToLeRobotOptions? options = null)
    {
        options ??= new ZarrToLeRobotOptions();
        var sw = Stopwatch.StartNew();
        var source = AgentStoreReader.Open(zarrPath, new AgentStoreReadOptions
        {
            LanguageInstruction = options.LanguageInstruction, GlobalZarrPath = options.GlobalZarrPath,
            IncludeGlobal = options.IncludeGlobal, IncludeWrist = options.IncludeWrist,
        });
        int fps = options.Fps ?? source.IntAttribute("control_freq") ?? 20;
        var spec = new LeRobotDatasetSpec
        {
            Name = options.DatasetName ?? ZarrToRlds.DatasetNameFor(zarrPath),
            Width = source.Width, Height = source.Height, StateDim = source.StateDim, ActionDim = source.ActionDim, Fps = fps,
            HasView = [true, source.HasGlobal, source.HasWrist], RobotType = options.RobotType,
        };
        int episodes = Math.Min(source.EpisodeCount, options.MaxEpisodes ?? int.MaxValue);
        using var writer = new LeRobotDatasetWriter(outRoot, spec, options.Video, options.Overwrite)
        {
            MaxDataFileBytes = options.MaxDataFileBytes, MaxVideoFileBytes = options.MaxVideoFileBytes,
        };
        long decoded = 0;
        // Read/decompress episode e+1 while episode e is encoded.
        Task<AgentStoreEpisode>? next = episodes > 0 ? Task.Run(() => source.Read(0)) : null;
        for (int e = 0; e < episodes; e++)
        {
            var raw = next!.GetAwaiter().GetResult();
            next = e + 1 < episodes ? Task.Run(() => source.Read(raw.Index + 1)) : null;
            writer.Write(new LeRobotEpisode(source.Instruction, raw.Length, raw.State, raw.Action, [raw.HeadChw, raw.GlobalChw, raw.WristChw]));
            decoded += raw.Bytes;
            options.Progress?.Invoke(e + 1, episodes);
        }
        return new ZarrToLeRobotResult(writer.Complete(), decoded, sw.Elapsed.TotalSeconds);
    }
}
