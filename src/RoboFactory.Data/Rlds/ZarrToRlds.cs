using RoboFactory.Core.Naming;
using System.Diagnostics;
using System.IO.Compression;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Data.Rlds;

public sealed record ZarrToRldsOptions
{
    /// <summary>TFDS dataset name; default derived from the store name ("LiftBarrier_Agent0_160.zarr" → "lift_barrier_agent0").</summary>
    public string? DatasetName { get; init; }
    /// <summary>Default: the store's "language_instruction" attribute.</summary>
    public string? LanguageInstruction { get; init; }
    /// <summary>Upstream-style global store ({task}_global_{n}.zarr, data/head_camera) used when the agent store has no data/global_camera.</summary>
    public string? GlobalZarrPath { get; init; }
    public bool IncludeWrist { get; init; } = true;
    public bool IncludeGlobal { get; init; } = true;
    public bool Overwrite { get; init; }
    public long MaxShardBytes { get; init; } = 256L << 20;
    public CompressionLevel PngLevel { get; init; } = CompressionLevel.Fastest;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Convert only the first N episodes (benchmarks, smoke runs).</summary>
    public int? MaxEpisodes { get; init; }
    public Action<int, int>? Progress { get; init; }
}

public sealed record ZarrToRldsResult(RldsWriteResult Dataset, long ZarrBytesDecoded, double Seconds)
{
    /// <summary>Decoded ZARR bytes (images + floats) per second.</summary>
    public double MegabytesPerSecond => ZarrBytesDecoded / 1e6 / Seconds;
}

/// <summary>Converts one agent's ZARR store into an RLDS dataset (issue 5: ./robofactory convert).</summary>
public static class ZarrToRlds
{
    /// <summary>"LiftBarrier_Agent0_160.zarr" → "lift_barrier_agent0".</summary>
    public static string DatasetNameFor(string zarrPath) => DataNames.RldsDatasetForStore(zarrPath);

    private sealed record Loaded(int Index, RldsEpisode Episode, long Bytes);

    public static ZarrToRldsResult Convert(string zarrPath, string outRoot, ZarrToRldsOptions? options = null)
    {
        options ??= new ZarrToRldsOptions();
        var sw = Stopwatch.StartNew();
        var source = AgentStoreReader.Open(zarrPath, new AgentStoreReadOptions
        {
            LanguageInstruction = options.LanguageInstruction, GlobalZarrPath = options.GlobalZarrPath,
            IncludeGlobal = options.IncludeGlobal, IncludeWrist = options.IncludeWrist,
        });
        int height = source.Height, width = source.Width;
        var spec = new RldsDatasetSpec
        {
            Name = options.DatasetName ?? DatasetNameFor(zarrPath),
            Description = $"RoboFactory demonstrations converted from {source.SourceName}.",
            Height = height, Width = width, StateDim = source.StateDim, ActionDim = source.ActionDim,
            HasGlobalImage = source.HasGlobal, HasWristImage = source.HasWrist,
        };
        int episodes = Math.Min(source.EpisodeCount, options.MaxEpisodes ?? int.MaxValue);

        Loaded Load(int e)
        {
            var raw = source.Read(e);
            RldsImageSeries? Img(byte[]? chw) => chw is null ? null : RldsImageSeries.FromChw(chw, raw.Length, height, width);
            var ep = new RldsEpisode
            {
                LanguageInstruction = source.Instruction, Length = raw.Length,
                Image = Img(raw.HeadChw)!, WristImage = Img(raw.WristChw), GlobalImage = Img(raw.GlobalChw),
                State = raw.State, Action = raw.Action,
                FilePath = $"{source.SourceName}#episode={e}", EpisodeIndex = e,
            };
            return new Loaded(e, ep, raw.Bytes);
        }

        using var writer = new RldsDatasetWriter(outRoot, spec, options.Overwrite)
        {
            MaxShardBytes = options.MaxShardBytes, PngLevel = options.PngLevel, EncodeThreads = options.Threads,
        };
        long decoded = 0;
        // Read/decompress episode e+1 while episode e is PNG-encoded.
        Task<Loaded>? next = episodes > 0 ? Task.Run(() => Load(0)) : null;
        for (int e = 0; e < episodes; e++)
        {
            var loaded = next!.GetAwaiter().GetResult();
            next = e + 1 < episodes ? Task.Run(() => Load(loaded.Index + 1)) : null;
            writer.WriteEncoded(RldsDatasetWriter.Encode(loaded.Episode, spec, options.PngLevel, options.Threads), loaded.Episode);
            decoded += loaded.Bytes;
            options.Progress?.Invoke(e + 1, episodes);
        }
        var result = writer.Complete();
        return new ZarrToRldsResult(result, decoded, sw.Elapsed.TotalSeconds);
    }
}
