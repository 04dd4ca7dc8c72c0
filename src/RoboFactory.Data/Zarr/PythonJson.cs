using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Zarr;

/// <summary>
/// Serialises a <see cref="JsonNode"/> exactly like Python's <c>json.dumps(obj, indent=N, sort_keys=..., ensure_ascii=...)</c>.
/// zarr-python writes .zarray/.zgroup/.zattrs with indent=4, sort_keys=True, ensure_ascii=True, and
/// OpenVLA/TFDS write their JSON with Python too; matching the formatter byte for byte is what makes
/// our stores byte-identical to zarr-python's and our files diff-able against Python-written ones.
/// </summary>
public static class PythonJson
{
    public static string Serialize(JsonNode? node, int indent = 4, bool sortKeys = true, bool ensureAscii = true)
    {
        var sb = new StringBuilder();
        Write(sb, node, indent, 0, sortKeys, ensureAscii);
        return sb.ToString();
    }

    /// <summary>Python's <c>repr(float)</c> (shortest round-trip digits; exponent form when decpt &lt;= -4 or &gt; 16).</summary>
    public static string FormatFloat(double value)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsPositiveInfinity(value)) return "Infinity";
        if (double.IsNegativeInfinity(value)) return "-Infinity";
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";

        // .NET's "R" is also shortest-round-trip; only the layout differs from Python's.
        string shortest = value.ToString("R", CultureInfo.InvariantCulture);
        bool negative = shortest.StartsWith('-');
        if (negative) shortest = shortest[1..];
        int exp = 0;
        int e = shortest.IndexOfAny(['E', 'e']);
        string mantissa = shortest;
        if (e >= 0)
        {
            exp = int.Parse(shortest[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            mantissa = shortest[..e];
        }
        int dot = mantissa.IndexOf('.');
        string intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        string fracPart = dot >= 0 ? mantissa[(dot + 1)..] : "";
        string digits = intPart + fracPart;
        int decpt = intPart.Length + exp; // value = 0.digits * 10^decpt
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') { lead++; decpt--; }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";

        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        if (decpt <= -4 || decpt > 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            int x = decpt - 1;
            sb.Append('e').Append(x < 0 ? '-' : '+').Append(Math.Abs(x).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (decpt <= 0)
        {
            sb.Append("0.").Append('0', -decpt).Append(digits);
        }
        else if (decpt >= digits.Length)
        {
            sb.Append(digits).Append('0', decpt - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, decpt).Append('.').Append(digits, decpt, digits.Length - decpt);
        }
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, JsonNode? node, int indent, int level, bool sortKeys, bool ensureAscii)
    {
        switch (node)
        {
            case null:
                sb.Append("null");
                return;
            case JsonObject obj:
            {
                if (obj.Count == 0) { sb.Append("{}"); return; }
                var keys = obj.Select(kv => kv.Key).ToList();
                if (sortKeys) keys.Sort(StringComparer.Ordinal);
                sb.Append('{');
                for (int i = 0; i < keys.Count; i++)
                {
                    if (i > 0) sb.Append(',');
                    NewLine(sb, indent, level + 1);
                    WriteString(sb, keys[i], ensureAscii);
                    sb.Append(": ");
                    Write(sb, obj[keys[i]], indent, level + 1, sortKeys, ensureAscii);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                return;
            }
            case JsonArray arr:
            {
                if (arr.Count == 0) { sb.Append("[]"); return; }
                sb.Append('[');
                for (int i = 0; i < arr.Count; i++)
                {
                    if (i > 0) sb.Append(',');
                    NewLine(sb, indent, level + 1);
                    Write(sb, arr[i], indent, level + 1, sortKeys, ensureAscii);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                return;
            }
            case JsonValue val:
                WriteValue(sb, val, ensureAscii);
                return;
        }
    }

    private static void NewLine(StringBuilder sb, int indent, int level)
    {
        if (indent < 0) { sb.Append(' '); return; }
        sb.Append('\n').Append(' ', indent * level);
    }

    private static void WriteValue(StringBuilder sb, JsonValue val, bool ensureAscii)
    {
        if (val.TryGetValue(out string? s)) { WriteString(sb, s, ensureAscii); return; }
        if (val.TryGetValue(out bool b)) { sb.Append(b ? "true" : "false"); return; }
        if (val.TryGetValue(out long l)) { sb.Append(l.ToString(CultureInfo.InvariantCulture)); return; }
        if (val.TryGetValue(out int i)) { sb.Append(i.ToString(CultureInfo.InvariantCulture)); return; }
        if (val.TryGetValue(out ulong ul)) { sb.Append(ul.ToString(CultureInfo.InvariantCulture)); return; }
        if (val.TryGetValue(out double d)) { sb.Append(FormatFloat(d)); return; }
        if (val.TryGetValue(out float f)) { sb.Append(FormatFloat(f)); return; }
        if (val.TryGetValue(out JsonElement el))
        {
            switch (el.ValueKind)
            {
                case JsonValueKind.String: WriteString(sb, el.GetString()!, ensureAscii); return;
                case JsonValueKind.True: sb.Append("true"); return;
                case JsonValueKind.False: sb.Append("false"); return;
                case JsonValueKind.Null: sb.Append("null"); return;
                case JsonValueKind.Number:
                    // Keep Python's int/float distinction from the source text.
                    string raw = el.GetRawText();
                    if (raw.IndexOfAny(['.', 'e', 'E']) < 0) sb.Append(raw);
                    else sb.Append(FormatFloat(el.GetDouble()));
                    return;
            }
        }
        // Other CLR numerics (short, byte, decimal...) go through double, as Python would see them.
        sb.Append(val.ToJsonString());
    }

    private static void WriteString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7e))
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    /// <summary>Parses JSON that Python may have written; invalid JSON is an InputFormatException naming <paramref name="file"/>.</summary>
    public static JsonNode? Parse(string text, string file) => JsonInput.Parse(text, file, Parse);

    /// <summary>Parses JSON that Python may have written (accepts NaN/Infinity/-Infinity literals).</summary>
    public static JsonNode? Parse(string text)
    {
        try
        {
            return JsonInput.ParseNode(text);
        }
        catch (JsonException) when (text.Contains("NaN") || text.Contains("Infinity"))
        {
            // Python's json emits bare NaN/Infinity; turn them into strings outside of string literals.
            return JsonInput.ParseNode(QuoteNonFiniteLiterals(text));
        }
    }

    private static string QuoteNonFiniteLiterals(string text)
    {
        var sb = new StringBuilder(text.Length + 16);
        bool inString = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                sb.Append(c);
                if (c == '\\' && i + 1 < text.Length) sb.Append(text[++i]);
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') { inString = true; sb.Append(c); continue; }
            foreach (var lit in (string[])["-Infinity", "Infinity", "NaN"])
            {
                if (string.CompareOrdinal(text, i, lit, 0, lit.Length) == 0)
                {
                    sb.Append('"').Append(lit).Append('"');
                    i += lit.Length - 1;
                    goto next;
                }
            }
            sb.Append(c);
        next:;
        }
        return sb.ToString();
    }
}
