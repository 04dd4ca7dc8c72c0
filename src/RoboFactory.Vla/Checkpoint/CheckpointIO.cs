using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Checkpoint;

/// <summary>A checkpoint that does not match the model; lists every problem at once.</summary>
public sealed class CheckpointMismatchException(IReadOnlyList<string> problems)
    : Exception($"checkpoint does not match the model ({problems.Count} problem(s)):\n  " + string.Join("\n  ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>What a load did.</summary>
public sealed record LoadReport(int TensorsLoaded, long BytesRead, IReadOnlyList<string> Files, IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);

/// <summary>
/// Hugging Face checkpoint layout: model.safetensors, or model-0000i-of-0000n.safetensors shards with
/// model.safetensors.index.json {"metadata": {"total_size": bytes}, "weight_map": {key: shard}}.
/// Loading streams tensor by tensor into the existing parameters (peak extra memory: one tensor).
/// </summary>
public static class CheckpointIO
{
    public const string IndexFile = "model.safetensors.index.json";
    public const string SingleFile = "model.safetensors";

    /// <summary>The model's state: parameters and persistent buffers by checkpoint key.</summary>
    public static Dictionary<string, Tensor> StateOf(nn.Module model)
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (name, p) in model.named_parameters()) d[name] = p;
        foreach (var (name, b) in model.named_buffers(include_nonpersistent: false)) d[name] = b;
        return d;
    }

    /// <summary>Resolves a directory (index or single file) or a .safetensors file into key → shard path.</summary>
    public static Dictionary<string, string> ResolveWeightMap(string path)
    {
        if (File.Exists(path) && path.EndsWith(".json", StringComparison.Ordinal)) return ReadIndex(path);
        if (File.Exists(path))
        {
            using var f = SafetensorsFile.Open(path);
            return f.Entries.Keys.ToDictionary(k => k, _ => path);
        }
        if (!Directory.Exists(path)) throw new FileNotFoundException($"no checkpoint at {path}");
        var index = Path.Combine(path, IndexFile);
        if (File.Exists(index)) return ReadIndex(index);
        var single = Path.Combine(path, SingleFile);
        if (File.Exists(single)) return ResolveWeightMap(single);
        throw new FileNotFoundException($"{path} holds neither {IndexFile} nor {SingleFile}");
    }

    static Dictionary<string, string> ReadIndex(string indexPath)
    {
        JsonNode? root;
        try { root = JsonInput.ParseNode(File.ReadAllText(indexPath)); }
        catch (JsonException e) { throw new SafetensorsException($"{indexPath}: not valid JSON ({e.Message})"); }
        if (root?["weight_map"] is not JsonObject wm) throw new SafetensorsException($"{indexPath}: no weight_map object");
        var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var map = new Dictionary<string, string>();
        foreach (var (k, v) in wm)
        {
            var file = v is JsonValue jv && jv.GetValueKind() == JsonValueKind.String ? jv.GetValue<string>()
                : throw new SafetensorsException($"{indexPath}: weight_map[{k}] is not a file name");
            if (file.Contains('/') || file.Contains('\\') || file == "..")
                throw new SafetensorsException($"{indexPath}: weight_map[{k}] = '{file}' is not a plain file name");
            map[k] = Path.Combine(dir, file);
        }
        return map;
    }

    /// <summary>
    /// Loads a checkpoint into <paramref name="model"/>. All headers are read and checked against the model first
    /// (missing, unexpected, wrong-shape and wrong-dtype keys, shards missing from disk or keys missing from their shard),
    /// and every problem is reported in one <see cref="CheckpointMismatchException"/>; then the tensors are streamed
    /// one at a time into the parameters. <paramref name="strict"/>=false tolerates missing/unexpected keys.
    /// </summary>
    public static LoadReport Load(nn.Module model, string path, bool strict = true)
    {
        var state = StateOf(model);
        var expected = state.ToDictionary(kv => kv.Key, kv => new Expected(kv.Value.shape, kv.Value.is_floating_point()));
        var files = new Dictionary<string, SafetensorsFile>();
        try
        {
            var (entries, missing, unexpected) = Inspect(path, expected, strict, strict, files);
            int n = 0; long bytes = 0;
            foreach (var (key, (sf, e)) in entries.OrderBy(kv => kv.Value.File.Path).ThenBy(kv => kv.Value.Entry.Begin))
            {
                if (!state.TryGetValue(key, out var p)) continue;
                sf.ReadInto(key, p);
                n++; bytes += e.ByteLength;
            }
            return new LoadReport(n, bytes, files.Keys.ToList(), missing, unexpected);
        }
        finally
        {
            foreach (var f in files.Values) f.Dispose();
        }
    }

    /// <summary>
    /// The checks of <see cref="Load"/> against shapes known without a model (e.g. <c>ParameterShapes</c> of a
    /// config), so a truncated shard, a malformed header or a checkpoint of another size is named before gigabytes of
    /// weights are allocated. Unexpected keys are left to <see cref="Load"/>, which knows the model's buffers too.
    /// </summary>
    public static void CheckHeaders(string path, IEnumerable<(string Key, long[] Shape)> parameters, bool strict = true)
    {
        var files = new Dictionary<string, SafetensorsFile>();
        try { Inspect(path, parameters.ToDictionary(p => p.Key, p => new Expected(p.Shape, true)), strict, reportUnexpected: false, files); }
        finally { foreach (var f in files.Values) f.Dispose(); }
    }

    private readonly record struct Expected(long[] Shape, bool Float);

    private static (Dictionary<string, (SafetensorsFile File, SafetensorsEntry Entry)> Entries, List<string> Missing, List<string> Unexpected)
        Inspect(string path, IReadOnlyDictionary<string, Expected> expected, bool strict, bool reportUnexpected, Dictionary<string, SafetensorsFile> files)
    {
        var weightMap = ResolveWeightMap(path);
        var problems = new List<string>();
        foreach (var f in weightMap.Values.Distinct().Order())
        {
            if (!File.Exists(f)) { problems.Add($"shard {Path.GetFileName(f)} listed in the index does not exist"); continue; }
            files[f] = SafetensorsFile.Open(f); // throws SafetensorsException on a malformed header or a truncated file
        }
        var entries = new Dictionary<string, (SafetensorsFile File, SafetensorsEntry Entry)>();
        foreach (var (key, f) in weightMap)
        {
            if (!files.TryGetValue(f, out var sf)) continue;
            if (!sf.Entries.TryGetValue(key, out var e)) { problems.Add($"{key}: listed in the index for {Path.GetFileName(f)} but not in that shard"); continue; }
            entries[key] = (sf, e);
        }
        var missing = expected.Keys.Where(k => !entries.ContainsKey(k) && !weightMap.ContainsKey(k)).Order().ToList();
        var unexpected = weightMap.Keys.Where(k => !expected.ContainsKey(k)).Order().ToList();
        if (strict)
        {
            problems.AddRange(missing.Select(k => $"missing key {k} [{string.Join(",", expected[k].Shape)}]"));
            if (reportUnexpected)
                problems.AddRange(unexpected.Select(k => entries.TryGetValue(k, out var x)
                    ? $"unexpected key {k} [{string.Join(",", x.Entry.Shape)}]" : $"unexpected key {k}"));
        }
        foreach (var (key, (_, e)) in entries.OrderBy(kv => kv.Key))
        {
            if (!expected.TryGetValue(key, out var p)) continue;
            if (!e.Shape.SequenceEqual(p.Shape))
                problems.Add($"wrong shape for {key}: checkpoint [{string.Join(",", e.Shape)}], model [{string.Join(",", p.Shape)}]");
            else if (!SafetensorsFile.IsFloat(e.DType) && p.Float)
                problems.Add($"wrong dtype for {key}: checkpoint {e.DType}, model floating point");
        }
        if (problems.Count > 0) throw new CheckpointMismatchException(problems);
        return (entries, missing, unexpected);
    }

    /// <summary>
    /// Saves the model's state in the HF layout: one model.safetensors when it fits in <paramref name="maxShardBytes"/>,
    /// else model-0000i-of-0000n.safetensors plus the index. <paramref name="dtype"/> casts float tensors (e.g. bf16).
    /// Returns the files written.
    /// </summary>
    /// <summary>
    /// <see cref="Save"/>'s layout for tensors produced one at a time in <paramref name="entries"/> order (for weights
    /// that never exist together in memory); <paramref name="produce"/>(i) is called once per entry, in order.
    /// </summary>
    public static IReadOnlyList<string> SaveStreaming(IReadOnlyList<SafetensorsWriter.Entry> entries, string directory, long maxShardBytes, Func<int, Tensor> produce)
    {
        Directory.CreateDirectory(directory);
        var shards = new List<List<int>> { new() };
        long cur = 0, total = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            long s = entries[i].Bytes;
            if (cur + s > maxShardBytes && shards[^1].Count > 0) { shards.Add(new()); cur = 0; }
            shards[^1].Add(i); cur += s; total += s;
        }
        foreach (var stale in Directory.GetFiles(directory, "model*.safetensors").Append(Path.Combine(directory, IndexFile)))
            if (File.Exists(stale)) File.Delete(stale);
        var written = new List<string>();
        var weightMap = new JsonObject();
        for (int k = 0; k < shards.Count; k++)
        {
            var name = shards.Count == 1 ? SingleFile : $"model-{k + 1:D5}-of-{shards.Count:D5}.safetensors";
            var p = Path.Combine(directory, name);
            var shard = shards[k];
            SafetensorsWriter.WriteStreaming(p, shard.Select(i => entries[i]).ToList(), j => produce(shard[j]));
            written.Add(p);
            foreach (var i in shard) weightMap[entries[i].Name] = name;
        }
        if (shards.Count == 1) return written;
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap };
        var ip = Path.Combine(directory, IndexFile);
        File.WriteAllText(ip, index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        written.Add(ip);
        return written;
    }

    public static IReadOnlyList<string> Save(nn.Module model, string directory, long maxShardBytes = 5_000_000_000, ScalarType? dtype = null)
    {
        Directory.CreateDirectory(directory);
        var state = StateOf(model).ToList();
        long Size(Tensor t)
        {
            var dt = dtype is ScalarType c && t.is_floating_point() ? c : t.dtype;
            return t.NumberOfElements * SafetensorsFile.ElementSize(SafetensorsFile.DTypeName(dt));
        }
        // Greedy sharding in state order, like transformers' shard_checkpoint.
        var shards = new List<List<(string, Tensor)>> { new() };
        long cur = 0, total = 0;
        foreach (var (k, t) in state)
        {
            long s = Size(t);
            if (cur + s > maxShardBytes && shards[^1].Count > 0) { shards.Add(new()); cur = 0; }
            shards[^1].Add((k, t)); cur += s; total += s;
        }
        foreach (var stale in Directory.GetFiles(directory, "model*.safetensors").Append(Path.Combine(directory, IndexFile)))
            if (File.Exists(stale)) File.Delete(stale);
        var written = new List<string>();
        if (shards.Count == 1)
        {
            var p = Path.Combine(directory, SingleFile);
            SafetensorsWriter.Write(p, shards[0], castTo: dtype);
            written.Add(p);
            return written;
        }
        var weightMap = new JsonObject();
        for (int i = 0; i < shards.Count; i++)
        {
            var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            var p = Path.Combine(directory, name);
            SafetensorsWriter.Write(p, shards[i], castTo: dtype);
            written.Add(p);
            foreach (var (k, _) in shards[i]) weightMap[k] = name;
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap };
        var ip = Path.Combine(directory, IndexFile);
        File.WriteAllText(ip, index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        written.Add(ip);
        return written;
    }
}
