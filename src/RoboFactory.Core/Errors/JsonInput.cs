using System.Text.Json;
using System.Text.Json.Nodes;

namespace RoboFactory.Core.Errors;

/// <summary>
/// Typed reads from a JSON document a user handed us, each failure an <see cref="InputFormatException"/> naming the
/// file and the field path ("datasets.lift.action.q01[3]") with what was expected, instead of the
/// InvalidOperationException/NullReferenceException that System.Text.Json's node API throws.
/// </summary>
public static class JsonInput
{
    /// <summary>Duplicate keys are an error (as in Python's json with object_pairs_hook checks and Rust's serde for
    /// safetensors): System.Text.Json would otherwise fail later, on first access, with an ArgumentException.</summary>
    public static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false };

    /// <summary>JsonNode.Parse with <see cref="Strict"/> options (throws JsonException).</summary>
    public static JsonNode? ParseNode(string text) => JsonNode.Parse(text, null, Strict);

    /// <summary>Parses <paramref name="text"/>; invalid JSON names the file.</summary>
    public static JsonNode? Parse(string text, string file, Func<string, JsonNode?>? parser = null)
    {
        try { return (parser ?? ParseNode)(text); }
        catch (JsonException e) { throw new InputFormatException(file, null, $"not valid JSON ({e.Message})", e); }
    }

    public static JsonObject Object(JsonNode? node, string file, string field) =>
        node as JsonObject ?? throw Expected(file, field, "an object", node);

    public static JsonArray Array(JsonNode? node, string file, string field) =>
        node as JsonArray ?? throw Expected(file, field, "an array", node);

    /// <summary>A required member of <paramref name="o"/>.</summary>
    public static JsonNode Member(JsonObject o, string name, string file, string field) =>
        o[name] ?? throw new InputFormatException(file, Join(field, name), "is missing");

    /// <summary>A number, string or boolean of type <typeparamref name="T"/> (a JSON number for long must be integral).</summary>
    public static T Value<T>(JsonNode? node, string file, string field)
    {
        if (node is JsonValue v)
        {
            try { if (v.TryGetValue<T>(out var x)) return x; }
            catch (Exception e) when (e is FormatException or OverflowException or InvalidOperationException) { }
            // Python writes NaN/Infinity; PythonJson turns them into strings, which double fields accept
            if (typeof(T) == typeof(double) && v.TryGetValue<string>(out var s) && s is "NaN" or "Infinity" or "-Infinity")
                return (T)(object)double.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        }
        throw Expected(file, field, TypeName<T>(), node);
    }

    /// <summary>An array whose every element is a <typeparamref name="T"/>.</summary>
    public static T[] Values<T>(JsonNode? node, string file, string field)
    {
        var a = Array(node, file, field);
        var r = new T[a.Count];
        for (int i = 0; i < r.Length; i++) r[i] = Value<T>(a[i], file, $"{field}[{i}]");
        return r;
    }

    public static string Join(string field, string name) => field.Length == 0 ? name : $"{field}.{name}";

    static InputFormatException Expected(string file, string field, string what, JsonNode? got) =>
        new(file, field, $"expected {what}, got {Describe(got)}");

    static string Describe(JsonNode? n) => n switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "an array",
        _ => Truncate(n.ToJsonString()),
    };

    static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    static string TypeName<T>() => typeof(T) == typeof(double) || typeof(T) == typeof(float) ? "a number"
        : typeof(T) == typeof(long) || typeof(T) == typeof(int) ? "an integer"
        : typeof(T) == typeof(bool) ? "true or false"
        : typeof(T) == typeof(string) ? "a string" : typeof(T).Name;
}
