using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Config;

/// <summary>
/// dataset_statistics.json / config norm_stats: { "name": { "action": {q01, q99, mask, mean, std, min, max}, "proprio": …,
/// "num_transitions": n, "num_trajectories": n } }. Only the action block matters for inference.
/// </summary>
public static class NormStatsJson
{
    public static Dictionary<string, ActionStatistics> Load(string path)
    {
        JsonNode? root;
        try { root = JsonInput.ParseNode(File.ReadAllText(path)); }
        catch (JsonException e) { throw new VlaConfigException($"{path}: not valid JSON ({e.Message})"); }
        if (root is not JsonObject o) throw new VlaConfigException($"{path}: the top level must be an object of datasets");
        try { return Parse(o, path); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        { throw new VlaConfigException($"{path}: a field has the wrong type ({e.Message})"); }
    }

    public static Dictionary<string, ActionStatistics> Parse(JsonObject o, string where)
    {
        var result = new Dictionary<string, ActionStatistics>();
        foreach (var (name, node) in o)
        {
            if (node is not JsonObject ds || ds["action"] is not JsonObject a)
                throw new VlaConfigException($"{where}[{name}]: expected an object with an \"action\" block");
            string at = $"{name}.action";
            double[]? Vec(string k) => a[k] is { } arr ? JsonInput.Values<double>(arr, where, $"{at}.{k}") : null;
            var stats = new ActionStatistics
            {
                Q01 = Vec("q01") ?? throw new VlaConfigException($"{where}[{name}].action.q01 is missing"),
                Q99 = Vec("q99") ?? throw new VlaConfigException($"{where}[{name}].action.q99 is missing"),
                Mask = a["mask"] is { } m ? JsonInput.Values<bool>(m, where, $"{at}.mask") : null,
                Mean = Vec("mean"), Std = Vec("std"), Min = Vec("min"), Max = Vec("max"),
            };
            if (stats.Q01.Length != stats.Q99.Length)
                throw new VlaConfigException($"{where}[{name}].action: q01 has {stats.Q01.Length} entries but q99 has {stats.Q99.Length}");
            if (stats.Mask is not null && stats.Mask.Length != stats.Q01.Length)
                throw new VlaConfigException($"{where}[{name}].action: mask has {stats.Mask.Length} entries but q01 has {stats.Q01.Length}");
            result[name] = stats;
        }
        return result;
    }

    public static JsonObject ToJson(IReadOnlyDictionary<string, ActionStatistics> stats)
    {
        static JsonArray Arr(double[] v) => new(v.Select(x => (JsonNode)JsonValue.Create(x)).ToArray());
        var o = new JsonObject();
        foreach (var (name, s) in stats)
        {
            var a = new JsonObject { ["q01"] = Arr(s.Q01), ["q99"] = Arr(s.Q99) };
            if (s.Mask is not null) a["mask"] = new JsonArray(s.Mask.Select(x => (JsonNode)JsonValue.Create(x)).ToArray());
            if (s.Mean is not null) a["mean"] = Arr(s.Mean);
            if (s.Std is not null) a["std"] = Arr(s.Std);
            if (s.Min is not null) a["min"] = Arr(s.Min);
            if (s.Max is not null) a["max"] = Arr(s.Max);
            o[name] = new JsonObject { ["action"] = a };
        }
        return o;
    }

    /// <summary>Picks the statistics by unnorm_key; a single dataset may be chosen implicitly (as upstream).</summary>
    public static ActionStatistics Select(IReadOnlyDictionary<string, ActionStatistics> stats, string? key)
    {
        if (key is not null)
            return stats.TryGetValue(key, out var s) ? s
                : throw new VlaConfigException($"unnorm key '{key}' not in the statistics; available: {string.Join(", ", stats.Keys)}");
        if (stats.Count == 1) return stats.Values.First();
        throw new VlaConfigException(stats.Count == 0
            ? "no dataset statistics: pass --stats dataset_statistics.json"
            : $"several datasets in the statistics; choose one with --unnorm-key: {string.Join(", ", stats.Keys)}");
    }
}
