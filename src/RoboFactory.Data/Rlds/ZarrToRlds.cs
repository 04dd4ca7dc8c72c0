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
        var store = ZarrEpisodeStore.Open(zarrPath);
        ZarrEpisodeStore? globalStore = null;
        string globalArray = RoboFactoryZarrLayout.GlobalCamera;
        bool hasGlobal = options.IncludeGlobal && store.HasArray(globalArray);
        if (options.IncludeGlobal && !hasGlobal && options.GlobalZarrPath is not null)
        {
            globalStore = ZarrEpisodeStore.Open(options.GlobalZarrPath);
            if (!globalStore.EpisodeEnds.SequenceEqual(store.EpisodeEnds))
                throw new InvalidDataException($"{options.GlobalZarrPath}: episode_ends differ from {zarrPath}");
            globalArray = RoboFactoryZarrLayout.HeadCamera;
            hasGlobal = true;
        }
        bool hasWrist = options.IncludeWrist && store.HasArray(RoboFactoryZarrLayout.WristCamera);
        var head = store.OpenArray<byte>(RoboFactoryZarrLayout.HeadCamera);
        int height = (int)head.Shape[2], width = (int)head.Shape[3];
        var action = store.OpenArray<float>(RoboFactoryZarrLayout.Action);
        var state = store.OpenArray<float>(RoboFactoryZarrLayout.State);
        string instruction = options.LanguageInstruction
            ?? (string?)store.Attributes["language_instruction"]
            ?? throw new ArgumentException($"{zarrPath} has no language_instruction attribute; pass LanguageInstruction");

        var spec = new RldsDatasetSpec
        {
            Name = options.DatasetName ?? DatasetNameFor(zarrPath),
            Description = $"RoboFactory demonstrations converted from {Path.GetFileName(zarrPath)}.",
            Height = height, Width = width, StateDim = (int)state.Shape[1], ActionDim = (int)action.Shape[1],
            HasGlobalImage = hasGlobal, HasWristImage = hasWrist,
        };
        int episodes = Math.Min(store.EpisodeCount, options.MaxEpisodes ?? int.MaxValue);
        string sourceName = Path.GetFileName(Path.TrimEndingDirectorySeparator(zarrPath));

        Loaded Load(int e)
        {
            int t = store.EpisodeLength(e);
            var (s, _) = store.EpisodeRange(e);
            long bytes = 0;
            RldsImageSeries Img(ZarrEpisodeStore st, string name)
            {
                var chw = st.OpenArray<byte>(name).ReadRows(s, t);
                bytes += chw.Length;
                return RldsImageSeries.FromChw(chw, t, height, width);
            }
            var ep = new RldsEpisode
            {
                LanguageInstruction = instruction, Length = t,
                Image = Img(store, RoboFactoryZarrLayout.HeadCamera),
                WristImage = hasWrist ? Img(store, RoboFactoryZarrLayout.WristCamera) : null,
                GlobalImage = hasGlobal ? Img(globalStore ?? store, globalArray) : null,
                State = state.ReadRows(s, t), Action = action.ReadRows(s, t),
                FilePath = $"{sourceName}#episode={e}", EpisodeIndex = e,
            };
            bytes += (ep.State.Length + ep.Action.Length) * 4L;
            return new Loaded(e, ep, bytes);
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
