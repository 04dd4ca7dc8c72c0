using System.Text.Json.Nodes;

namespace RoboFactory.Data.Zarr;

/// <summary>Options of <see cref="ZarrEpisodeWriter.Open"/>.</summary>
public sealed record ZarrEpisodeWriterOptions
{
    /// <summary>Continue an interrupted store (the ".partial" directory) instead of starting over.</summary>
    public bool Resume { get; init; }

    /// <summary>Replace an existing finished store when this one completes (the old one stays readable until then).</summary>
    public bool Overwrite { get; init; }

    public ZarrCompressor? Compressor { get; init; } = ZarrCompressor.UpstreamDefault;

    /// <summary>Store-level attributes for the root .zattrs (task, instruction, agent id...). Must be stable for byte-identical output.</summary>
    public JsonObject? Attributes { get; init; }

    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Chunk length of meta/episode_ends.</summary>
    public int EpisodeEndsChunk { get; init; } = 1024;
}

/// <summary>
/// Writes an episode store (root group with data/*, meta/episode_ends and per-episode attributes)
/// one episode at a time, crash-safely:
/// <list type="bullet">
/// <item>Everything is written under "&lt;path&gt;.partial"; <see cref="Complete"/> renames it to the final
/// path, so a reader that opens the final path only ever sees finished stores.</item>
/// <item>Every file is replaced atomically. Per episode the order is: data arrays, then the root
/// .zattrs (seeds/lengths), then meta/episode_ends whose .zarray rename is the commit point.</item>
/// <item><see cref="ZarrEpisodeWriterOptions.Resume"/> reopens the ".partial" store, takes the committed
/// episodes from meta/episode_ends and truncates arrays/attributes written after the last commit, so the
/// result is byte-identical to an uninterrupted run.</item>
/// </list>
/// </summary>
public sealed class ZarrEpisodeWriter
{
    public const string EpisodeEndsName = "meta/episode_ends";
    public const string PartialSuffix = ".partial";
    public const string SeedsAttribute = "episode_seeds";
    public const string LengthsAttribute = "episode_lengths";

    private readonly ZarrGroup _root;
    private readonly IReadOnlyList<EpisodeArraySpec> _specs;
    private readonly Dictionary<string, object> _arrays = new(StringComparer.Ordinal);
    private readonly ZarrArray<long> _episodeEnds;
    private readonly bool _overwrite;
    private JsonObject _attributes;
    private bool _completed;

    /// <summary>Test hook: invoked at named points ("data", "attributes") so tests can simulate a crash.</summary>
    internal Action<string>? FaultHook { get; set; }

    public string FinalPath { get; }
    public string WorkingPath => FinalPath + PartialSuffix;
    public int EpisodeCount { get; private set; }
    public long StepCount { get; private set; }

    /// <summary>Seeds of the committed episodes, in order (what --resume uses to skip finished work).</summary>
    public IReadOnlyList<long> EpisodeSeeds => ((JsonArray)_attributes[SeedsAttribute]!).Select(n => n!.GetValue<long>()).ToList();

    /// <summary>Episodes that a fresh run would find already present after a resume.</summary>
    public int ResumedEpisodes { get; }

    /// <summary>True when a finished store exists at <paramref name="finalPath"/>.</summary>
    public static bool IsComplete(string finalPath) => ZarrGroup.Exists(finalPath);

    private ZarrEpisodeWriter(string finalPath, ZarrGroup root, IReadOnlyList<EpisodeArraySpec> specs,
        ZarrArray<long> episodeEnds, JsonObject attributes, bool overwrite, int resumed)
    {
        FinalPath = finalPath;
        _root = root;
        _specs = specs;
        _episodeEnds = episodeEnds;
        _attributes = attributes;
        _overwrite = overwrite;
        ResumedEpisodes = resumed;
        EpisodeCount = (int)episodeEnds.Length;
        StepCount = EpisodeCount == 0 ? 0 : episodeEnds.ReadRows(EpisodeCount - 1, 1)[0];
    }

    public static ZarrEpisodeWriter Open(string finalPath, IReadOnlyList<EpisodeArraySpec> arrays, ZarrEpisodeWriterOptions? options = null)
    {
        options ??= new ZarrEpisodeWriterOptions();
        finalPath = Path.TrimEndingDirectorySeparator(finalPath);
        if (IsComplete(finalPath) && !options.Overwrite)
            throw new IOException($"{finalPath} is already a finished store; pass Overwrite to replace it");
        if (arrays.Select(a => a.Name).Distinct().Count() != arrays.Count)
            throw new ArgumentException("duplicate array names", nameof(arrays));
        string working = finalPath + PartialSuffix;

        if (options.Resume && ZarrGroup.Exists(working) && ZarrGroup.Open(working).ContainsArray(EpisodeEndsName))
            return Resume(finalPath, working, arrays, options);

        if (Directory.Exists(working)) Directory.Delete(working, recursive: true);
        var root = ZarrGroup.Create(working);
        var attrs = options.Attributes?.DeepClone().AsObject() ?? new JsonObject();
        attrs[SeedsAttribute] = new JsonArray();
        attrs[LengthsAttribute] = new JsonArray();
        root.WriteAttributes(attrs);
        var writer = new ZarrEpisodeWriter(finalPath, root, arrays,
            CreateEpisodeEnds(root, options), attrs, options.Overwrite, 0);
        foreach (var spec in arrays) writer._arrays[spec.Name] = CreateArray(root, spec, options);
        return writer;
    }

    private static ZarrArray<long> CreateEpisodeEnds(ZarrGroup root, ZarrEpisodeWriterOptions options)
    {
        // Created first and committed last: its .zarray is the per-episode commit record.
        var ends = root.CreateArray<long>(EpisodeEndsName, [0], [options.EpisodeEndsChunk], options.Compressor);
        ends.Threads = 1;
        return ends;
    }

    private static object CreateArray(ZarrGroup root, EpisodeArraySpec spec, ZarrEpisodeWriterOptions options)
    {
        long[] shape = [0, .. spec.RowShape.Select(s => (long)s)];
        int[] chunks = [spec.ChunkRows, .. spec.RowShape];
        return spec.DType.ClrType switch
        {
            var t when t == typeof(byte) => Configure(root.CreateArray<byte>(spec.Name, shape, chunks, options.Compressor), options),
            var t when t == typeof(float) => Configure(root.CreateArray<float>(spec.Name, shape, chunks, options.Compressor), options),
            var t when t == typeof(double) => Configure(root.CreateArray<double>(spec.Name, shape, chunks, options.Compressor), options),
            var t when t == typeof(long) => Configure(root.CreateArray<long>(spec.Name, shape, chunks, options.Compressor), options),
            var t when t == typeof(int) => Configure(root.CreateArray<int>(spec.Name, shape, chunks, options.Compressor), options),
            var t when t == typeof(bool) => Configure(root.CreateArray<bool>(spec.Name, shape, chunks, options.Compressor), options),
            _ => throw new NotSupportedException($"episode arrays of {spec.DType} are not supported"),
        };
    }

    private static ZarrArray<T> Configure<T>(ZarrArray<T> a, ZarrEpisodeWriterOptions o) where T : unmanaged
    {
        a.Threads = o.Threads;
        return a;
    }

    private static ZarrEpisodeWriter Resume(string finalPath, string working, IReadOnlyList<EpisodeArraySpec> specs,
        ZarrEpisodeWriterOptions options)
    {
        AtomicFile.DeleteLeftovers(working);
        var root = ZarrGroup.Open(working);
        var ends = root.OpenArray<long>(EpisodeEndsName);
        ends.Threads = 1;
        int episodes = (int)ends.Length;
        long steps = episodes == 0 ? 0 : ends.ReadRows(episodes - 1, 1)[0];

        // Per-episode attribute lists may be one episode ahead of the commit record.
        var attrs = root.ReadAttributes();
        foreach (var key in new[] { SeedsAttribute, LengthsAttribute })
        {
            if (attrs[key] is not JsonArray list)
                throw new ZarrFormatException(root.AttributesPath, key, "is missing; the store was not written by ZarrEpisodeWriter");
            while (list.Count > episodes) list.RemoveAt(list.Count - 1);
            if (list.Count < episodes)
                throw new ZarrFormatException(root.AttributesPath, key, $"lists {list.Count} episodes but meta/episode_ends has {episodes}");
        }
        root.WriteAttributes(attrs);

        var writer = new ZarrEpisodeWriter(finalPath, root, specs, ends, attrs, options.Overwrite, episodes);
        foreach (var spec in specs)
        {
            if (!root.ContainsArray(spec.Name))
                throw new ZarrFormatException(Path.Combine(root.ChildPath(spec.Name), ".zarray"), "(file)", "is missing from the store being resumed");
            var meta = root.ReadArrayMetadata(spec.Name);
            string file = Path.Combine(root.ChildPath(spec.Name), ".zarray");
            if (meta.DType != spec.DType)
                throw new ZarrFormatException(file, "dtype", $"'{meta.DType}'; expected '{spec.DType}'");
            if (!meta.Shape.Skip(1).SequenceEqual(spec.RowShape.Select(s => (long)s)))
                throw new ZarrFormatException(file, "shape", $"[{string.Join(", ", meta.Shape)}] does not have rows of [{string.Join(", ", spec.RowShape)}]");
            if (meta.Chunks[0] != spec.ChunkRows)
                throw new ZarrFormatException(file, "chunks", $"[{string.Join(", ", meta.Chunks)}]; expected {spec.ChunkRows} rows per chunk");
            if (meta.Compressor != options.Compressor)
                throw new ZarrFormatException(file, "compressor", $"{meta.Compressor?.ToConfig().ToJsonString() ?? "null"}; expected {options.Compressor?.ToConfig().ToJsonString() ?? "null"}");
            writer._arrays[spec.Name] = OpenAndTruncate(root, spec, steps, options);
        }
        return writer;
    }

    private static object OpenAndTruncate(ZarrGroup root, EpisodeArraySpec spec, long steps, ZarrEpisodeWriterOptions options)
    {
        object Trunc<T>() where T : unmanaged
        {
            var a = root.OpenArray<T>(spec.Name);
            a.Threads = options.Threads;
            if (a.Length < steps)
                throw new ZarrFormatException(a.MetadataPath, "shape", $"has {a.Length} rows but meta/episode_ends commits {steps}");
            a.Truncate(steps);
            return a;
        }
        var t = spec.DType.ClrType;
        if (t == typeof(byte)) return Trunc<byte>();
        if (t == typeof(float)) return Trunc<float>();
        if (t == typeof(double)) return Trunc<double>();
        if (t == typeof(long)) return Trunc<long>();
        if (t == typeof(int)) return Trunc<int>();
        if (t == typeof(bool)) return Trunc<bool>();
        throw new NotSupportedException($"episode arrays of {spec.DType} are not supported");
    }

    /// <summary>
    /// Un-commits every episode after the first <paramref name="episodes"/> of the interrupted store of
    /// <paramref name="finalPath"/> (its ".partial" folder): for stores that must hold the same episodes, such as one
    /// per agent, when a kill fell between their commits. Only the commit record (meta/episode_ends) shrinks here; the
    /// next resume trims the attributes and arrays as after any kill, so a kill during the roll-back is harmless too.
    /// </summary>
    public static void RollBack(string finalPath, int episodes)
    {
        string working = Path.TrimEndingDirectorySeparator(finalPath) + PartialSuffix;
        var root = ZarrGroup.Open(working);
        var ends = root.OpenArray<long>(EpisodeEndsName);
        ends.Threads = 1;
        if (episodes < 0 || episodes > ends.Length)
            throw new ArgumentOutOfRangeException(nameof(episodes), $"{working} commits {ends.Length} episodes; cannot roll back to {episodes}");
        ends.Truncate(episodes, metadataFirst: true);
    }

    /// <summary>Typed handle to one of the store's arrays (e.g. for inspection while recording).</summary>
    public ZarrArray<T> Array<T>(string name) where T : unmanaged => (ZarrArray<T>)_arrays[name];

    /// <summary>Appends and commits one episode; every array of the store must be given exactly <paramref name="length"/> rows.</summary>
    public void AppendEpisode(long seed, int length, EpisodeColumns columns)
    {
        if (_completed) throw new InvalidOperationException("the store is already complete");
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), "an episode needs at least one step");
        foreach (var name in columns.Columns.Keys)
            if (!_arrays.ContainsKey(name)) throw new ArgumentException($"'{name}' is not an array of this store");
        foreach (var spec in _specs)
        {
            if (!columns.Columns.TryGetValue(spec.Name, out var data))
                throw new ArgumentException($"episode is missing array '{spec.Name}'");
            if (data.GetType().GetElementType() != spec.DType.ClrType)
                throw new ArgumentException($"'{spec.Name}' holds {spec.DType} but was given {data.GetType().Name}");
            if (data.LongLength != length * spec.RowElements)
                throw new ArgumentException($"'{spec.Name}' needs {length} x {spec.RowElements} = {length * spec.RowElements} values, got {data.LongLength}");
        }

        // 1. data: rows past the committed end are harmless until episode_ends says otherwise.
        // Arrays are independent files, so they are written concurrently (each also compresses its chunks in parallel).
        try
        {
            Parallel.ForEach(_specs, spec => WriteRows(spec, columns.Columns[spec.Name]));
        }
        catch (AggregateException e)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        FaultHook?.Invoke("data");

        // 2. per-episode attributes (trimmed back on resume if the commit below never happens).
        ((JsonArray)_attributes[SeedsAttribute]!).Add(seed);
        ((JsonArray)_attributes[LengthsAttribute]!).Add(length);
        _root.WriteAttributes(_attributes);
        FaultHook?.Invoke("attributes");

        // 3. commit: the episode exists once meta/episode_ends/.zarray lists it.
        _episodeEnds.Append([StepCount + length]);
        StepCount += length;
        EpisodeCount++;
    }

    private void WriteRows(EpisodeArraySpec spec, Array data)
    {
        switch (data)
        {
            case byte[] b: Write((ZarrArray<byte>)_arrays[spec.Name], b); break;
            case float[] f: Write((ZarrArray<float>)_arrays[spec.Name], f); break;
            case double[] d: Write((ZarrArray<double>)_arrays[spec.Name], d); break;
            case long[] l: Write((ZarrArray<long>)_arrays[spec.Name], l); break;
            case int[] i: Write((ZarrArray<int>)_arrays[spec.Name], i); break;
            case bool[] z: Write((ZarrArray<bool>)_arrays[spec.Name], z); break;
            default: throw new NotSupportedException(data.GetType().Name);
        }
    }

    private void Write<T>(ZarrArray<T> array, T[] data) where T : unmanaged
    {
        // Any rows past the commit point (a crashed episode in this session) are overwritten.
        array.WriteRows(StepCount, data);
        if (array.Length != StepCount + data.Length / array.RowElements) array.Truncate(StepCount + data.Length / array.RowElements);
    }

    /// <summary>Marks the store finished by renaming it to its final path.</summary>
    public void Complete()
    {
        if (_completed) return;
        if (IsComplete(FinalPath))
        {
            if (!_overwrite) throw new IOException($"{FinalPath} appeared while writing; not replacing it");
            Directory.Delete(FinalPath, recursive: true);
        }
        Directory.Move(WorkingPath, FinalPath);
        _completed = true;
    }
}
