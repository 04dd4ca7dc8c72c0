using RoboFactory.Core.Naming;
using System.Text.Json.Nodes;
using RoboFactory.Data.Datasets;
using RoboFactory.Data.Stats;
using RoboFactory.Data.TfRecord;
using RoboFactory.Data.Zarr;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Rlds;

/// <summary>One episode as stored (images still PNG-encoded).</summary>
public sealed record RldsEpisodeRecord
{
    /// <summary>Position of the episode in the dataset (shard order).</summary>
    public required int Index { get; init; }
    public required int Length { get; init; }
    public required string LanguageInstruction { get; init; }
    public required float[] State { get; init; }
    public required float[] Action { get; init; }
    public required IReadOnlyList<byte[]> ImagePng { get; init; }
    public IReadOnlyList<byte[]>? GlobalImagePng { get; init; }
    public IReadOnlyList<byte[]>? WristImagePng { get; init; }
    public required long[] IsFirst { get; init; }
    public required long[] IsLast { get; init; }
    public required long[] IsTerminal { get; init; }
    public required float[] Reward { get; init; }
    public required float[] Discount { get; init; }
    public string FilePath { get; init; } = "";
    public long SourceEpisodeIndex { get; init; }

    public static RldsEpisodeRecord FromExample(TfExample ex, int index, RldsDatasetSpec spec, string where)
    {
        var image = ex.Get<TfBytesList>(RldsKeys.Image).Values;
        int t = image.Count;
        T Check<T>(string key, T f, int expected) where T : TfFeature =>
            f.Count == expected ? f : throw new InputFormatException($"{where}: feature '{key}' has {f.Count} values, expected {expected}");
        TfFeature? Opt(string key) => ex.Features.GetValueOrDefault(key);
        var instr = Check(RldsKeys.LanguageInstruction, ex.Get<TfBytesList>(RldsKeys.LanguageInstruction), t);
        return new RldsEpisodeRecord
        {
            Index = index, Length = t,
            LanguageInstruction = t > 0 ? instr.GetString(0) : "",
            State = Check(RldsKeys.State, ex.Get<TfFloatList>(RldsKeys.State), t * spec.StateDim).Values,
            Action = Check(RldsKeys.Action, ex.Get<TfFloatList>(RldsKeys.Action), t * spec.ActionDim).Values,
            ImagePng = image,
            GlobalImagePng = spec.HasGlobalImage ? Check(RldsKeys.GlobalImage, ex.Get<TfBytesList>(RldsKeys.GlobalImage), t).Values : null,
            WristImagePng = spec.HasWristImage ? Check(RldsKeys.WristImage, ex.Get<TfBytesList>(RldsKeys.WristImage), t).Values : null,
            IsFirst = Check(RldsKeys.IsFirst, ex.Get<TfInt64List>(RldsKeys.IsFirst), t).Values,
            IsLast = Check(RldsKeys.IsLast, ex.Get<TfInt64List>(RldsKeys.IsLast), t).Values,
            IsTerminal = Check(RldsKeys.IsTerminal, ex.Get<TfInt64List>(RldsKeys.IsTerminal), t).Values,
            Reward = Check(RldsKeys.Reward, ex.Get<TfFloatList>(RldsKeys.Reward), t).Values,
            Discount = Check(RldsKeys.Discount, ex.Get<TfFloatList>(RldsKeys.Discount), t).Values,
            FilePath = Opt(RldsKeys.FilePath) is TfBytesList fp && fp.Count > 0 ? fp.GetString(0) : "",
            SourceEpisodeIndex = Opt(RldsKeys.EpisodeIndex) is TfInt64List ei && ei.Count > 0 ? ei.Values[0] : index,
        };
    }
}

/// <summary>
/// An RLDS dataset directory in the TFDS layout (as written by <see cref="RldsDatasetWriter"/>):
/// reads dataset_info.json / features.json, indexes the shards (header CRCs checked) and reads
/// episodes with payload CRCs verified.
/// </summary>
public sealed class RldsDataset : IEpisodeDataset
{
    private readonly List<TfRecordLocation> _episodes = [];

    public string Directory { get; }
    public RldsDatasetSpec Spec { get; }
    public IReadOnlyList<string> ShardPaths { get; }
    public IReadOnlyList<TfRecordLocation> EpisodeLocations => _episodes;
    public int EpisodeCount => _episodes.Count;

    private RldsDataset(string dir, RldsDatasetSpec spec, List<string> shards)
    {
        Directory = dir;
        Spec = spec;
        ShardPaths = shards;
    }

    public static RldsDataset Open(string datasetDirectory)
    {
        string infoPath = Path.Combine(datasetDirectory, "dataset_info.json");
        string featuresPath = Path.Combine(datasetDirectory, "features.json");
        if (!File.Exists(infoPath))
        {
            if (System.IO.Directory.Exists(datasetDirectory + ".partial"))
                throw new IOException($"{datasetDirectory} was never completed (only {datasetDirectory}.partial exists)");
            throw new FileNotFoundException($"{datasetDirectory} is not a TFDS dataset directory (no dataset_info.json)", infoPath);
        }
        var info = JsonInput.Object(PythonJson.Parse(File.ReadAllText(infoPath), infoPath), infoPath, "(root)");
        var features = JsonInput.Object(PythonJson.Parse(File.ReadAllText(featuresPath), featuresPath), featuresPath, "(root)");
        string name = (string)info["name"]!;
        var train = info["splits"]!.AsArray().Select(s => s!.AsObject()).FirstOrDefault(s => (string?)s["name"] == "train")
                    ?? throw new InputFormatException($"{infoPath}: no 'train' split");
        var lengths = train["shardLengths"]!.AsArray().Select(n => long.Parse((string)n!)).ToList();

        var spec = SpecFromFeatures(features, name, (string?)info["version"] ?? DataNames.RldsVersion, featuresPath);
        var shards = Enumerable.Range(0, lengths.Count)
            .Select(i => Path.Combine(datasetDirectory, RldsMetadata.ShardFileName(name, "train", i, lengths.Count))).ToList();
        var ds = new RldsDataset(datasetDirectory, spec, shards);
        for (int i = 0; i < shards.Count; i++)
        {
            if (!File.Exists(shards[i])) throw new FileNotFoundException($"shard listed in {infoPath} is missing", shards[i]);
            using var r = new TfRecordReader(shards[i]);
            var index = r.Index();
            if (index.Count != lengths[i])
                throw new InputFormatException($"{shards[i]}: holds {index.Count} records but dataset_info.json says {lengths[i]}");
            ds._episodes.AddRange(index);
        }
        return ds;
    }

    private static RldsDatasetSpec SpecFromFeatures(JsonObject features, string name, string version, string path)
    {
        try
        {
            var top = features["featuresDict"]!["features"]!;
            var step = top["steps"]!["sequence"]!["feature"]!["featuresDict"]!["features"]!;
            var obs = step["observation"]!["featuresDict"]!["features"]!.AsObject();
            var imageDims = obs["image"]!["image"]!["shape"]!["dimensions"]!.AsArray().Select(n => int.Parse((string)n!)).ToArray();
            int Dim(JsonNode tensor) => int.Parse((string)tensor["tensor"]!["shape"]!["dimensions"]![0]!);
            return new RldsDatasetSpec
            {
                Name = name, Version = version, Height = imageDims[0], Width = imageDims[1],
                StateDim = Dim(obs["state"]!), ActionDim = Dim(step["action"]!),
                HasGlobalImage = obs.ContainsKey("global_image"), HasWristImage = obs.ContainsKey("wrist_image"),
            };
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InputFormatException($"{path}: not an RLDS features.json with steps/observation/{{image,state}} and steps/action", e);
        }
    }

    public NormStats? Statistics
    {
        get
        {
            string p = Path.Combine(Directory, "dataset_statistics.json");
            return File.Exists(p) ? DatasetStatistics.Read(p).GetValueOrDefault(Spec.Name) : null;
        }
    }

    DatasetSpec IEpisodeDataset.Spec => new()
    {
        Name = Spec.Name, Width = Spec.Width, Height = Spec.Height, StateDim = Spec.StateDim, ActionDim = Spec.ActionDim,
        HasView = [true, Spec.HasGlobalImage, Spec.HasWristImage],
    };

    public EpisodeData Episode(int index) => ToEpisode(ReadEpisode(index));

    public IEnumerable<EpisodeData> Episodes(IEnumerable<int>? indices = null) => ReadEpisodes(indices).Select(ToEpisode);

    private static EpisodeData ToEpisode(RldsEpisodeRecord e) => new(e.Index, e.Length, e.LanguageInstruction, e.State, e.Action,
        [new PngFrames(e.ImagePng), e.GlobalImagePng is { } g ? new PngFrames(g) : null, e.WristImagePng is { } w ? new PngFrames(w) : null]);

    public RldsEpisodeRecord ReadEpisode(int index)
    {
        var loc = _episodes[index];
        using var r = new TfRecordReader(loc.FilePath);
        return Decode(r, loc, index);
    }

    /// <summary>Episodes <paramref name="indices"/> in the given order, one shard handle per shard.</summary>
    public IEnumerable<RldsEpisodeRecord> ReadEpisodes(IEnumerable<int>? indices = null)
    {
        var readers = new Dictionary<string, TfRecordReader>();
        try
        {
            foreach (int i in indices ?? Enumerable.Range(0, EpisodeCount))
            {
                var loc = _episodes[i];
                if (!readers.TryGetValue(loc.FilePath, out var r)) readers[loc.FilePath] = r = new TfRecordReader(loc.FilePath);
                yield return Decode(r, loc, i);
            }
        }
        finally
        {
            foreach (var r in readers.Values) r.Dispose();
        }
    }

    private RldsEpisodeRecord Decode(TfRecordReader r, TfRecordLocation loc, int index)
    {
        var payload = r.ReadAt(loc.Offset, out _)!;
        string where = $"{loc.FilePath}: record at byte offset {loc.Offset}";
        try
        {
            return RldsEpisodeRecord.FromExample(TfExample.Parse(payload), index, Spec, where);
        }
        catch (InputFormatException e)
        {
            throw new InputFormatException($"{where}: {e.Message}", e);
        }
    }
}
