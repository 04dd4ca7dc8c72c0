using RoboFactory.Core.Errors;
using System.Buffers.Binary;
using System.Text.Json.Nodes;

namespace RoboFactory.Data.Zarr;

/// <summary>
/// The contents of a v2 ".zarray" file. Only C order, no filters, and the dtypes/codecs of
/// <see cref="ZarrDataType"/>/<see cref="ZarrCompressor"/> are accepted; anything else is rejected at
/// open time with a <see cref="ZarrFormatException"/> rather than misread later.
/// </summary>
public sealed record ZarrArrayMetadata
{
    public required long[] Shape { get; init; }
    public required int[] Chunks { get; init; }
    public required ZarrDataType DType { get; init; }
    public ZarrCompressor? Compressor { get; init; }

    /// <summary>fill_value as JSON (number, "NaN"/"Infinity"/"-Infinity", bool or null).</summary>
    public JsonNode? FillValue { get; init; }

    /// <summary>'.' (zarr v2 default) or '/'.</summary>
    public char DimensionSeparator { get; init; } = '.';

    /// <summary>
    /// Whether "dimension_separator" appears in the file. zarr-python 2.x omits it for the default '.'
    /// on a DirectoryStore, so we omit it too unless asked (keeps our files byte-identical to theirs).
    /// </summary>
    public bool WriteDimensionSeparator { get; init; }

    public int Rank => Shape.Length;

    /// <summary>Number of chunks along each dimension (ceil(shape/chunks)).</summary>
    public long[] ChunkGrid => Shape.Select((s, i) => (s + Chunks[i] - 1) / Chunks[i]).ToArray();

    public long ChunkElements => Chunks.Aggregate(1L, (a, c) => a * c);

    public string ChunkKey(ReadOnlySpan<long> chunkIndex)
    {
        var parts = new string[chunkIndex.Length];
        for (int i = 0; i < parts.Length; i++) parts[i] = chunkIndex[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Join(DimensionSeparator, parts);
    }

    /// <summary>One element of fill_value, encoded in the dtype's little-endian bytes (zeros for null).</summary>
    public byte[] FillBytes()
    {
        var bytes = new byte[DType.ItemSize];
        if (FillValue is null) return bytes;
        var v = (JsonValue)FillValue;
        switch (DType.Kind)
        {
            case 'b':
                bytes[0] = (byte)(v.TryGetValue(out bool b) ? (b ? 1 : 0) : (ToDouble(v) != 0 ? 1 : 0));
                break;
            case 'f':
                double d = ToDouble(v);
                if (DType.ItemSize == 4)
                    BinaryPrimitives.WriteSingleLittleEndian(bytes, double.IsNaN(d) ? BitConverter.Int32BitsToSingle(0x7FC00000) : (float)d);
                else BinaryPrimitives.WriteDoubleLittleEndian(bytes, d);
                break;
            default:
                long l = v.TryGetValue(out long ll) ? ll : (long)ToDouble(v);
                for (int i = 0; i < DType.ItemSize; i++) bytes[i] = (byte)(l >> (8 * i));
                break;
        }
        return bytes;
    }

    private static double ToDouble(JsonValue v)
    {
        if (v.TryGetValue(out string? s))
            return s switch
            {
                // numpy's NaN is the positive quiet NaN; .NET's double.NaN has the sign bit set.
                "NaN" => BitConverter.Int64BitsToDouble(0x7FF8000000000000),
                "Infinity" => double.PositiveInfinity,
                "-Infinity" => double.NegativeInfinity,
                _ => throw new FormatException($"fill_value '{s}' is not a number"),
            };
        if (v.TryGetValue(out bool b)) return b ? 1 : 0;
        return v.GetValue<double>();
    }

    /// <summary>JSON for a fill value of type <typeparamref name="T"/>, formatted as zarr-python encodes it.</summary>
    public static JsonNode? EncodeFillValue<T>(T value) where T : unmanaged => value switch
    {
        bool b => JsonValue.Create(b),
        float f => EncodeFloat(f),
        double d => EncodeFloat(d),
        ulong u => JsonValue.Create(u),
        _ => JsonValue.Create(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)),
    };

    private static JsonNode EncodeFloat(double d) =>
        double.IsNaN(d) ? JsonValue.Create("NaN")
        : double.IsPositiveInfinity(d) ? JsonValue.Create("Infinity")
        : double.IsNegativeInfinity(d) ? JsonValue.Create("-Infinity")
        : JsonValue.Create(d);

    public string ToJson()
    {
        var obj = new JsonObject
        {
            ["chunks"] = new JsonArray(Chunks.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()),
            ["compressor"] = Compressor?.ToConfig(),
            ["dtype"] = DType.Name,
            ["fill_value"] = FillValue?.DeepClone(),
            ["filters"] = null,
            ["order"] = "C",
            ["shape"] = new JsonArray(Shape.Select(s => (JsonNode)JsonValue.Create(s)).ToArray()),
            ["zarr_format"] = 2,
        };
        if (WriteDimensionSeparator) obj["dimension_separator"] = DimensionSeparator.ToString();
        return PythonJson.Serialize(obj);
    }

    public static ZarrArrayMetadata Parse(string json, string filePath)
    {
        JsonObject obj;
        try
        {
            obj = PythonJson.Parse(json) as JsonObject
                  ?? throw new ZarrFormatException(filePath, "(root)", "is not a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ZarrFormatException(filePath, "(root)", $"is not valid JSON: {e.Message}");
        }

        int format = JsonInput.Value<int>(Required(obj, "zarr_format", filePath), filePath, "zarr_format");
        if (format != 2) throw new ZarrFormatException(filePath, "zarr_format", $"{format}; expected 2");

        string order = JsonInput.Value<string>(Required(obj, "order", filePath), filePath, "order");
        if (order != "C")
            throw new ZarrFormatException(filePath, "order", $"'{order}' is not supported; expected 'C' (Fortran order is not implemented)");

        var filters = obj["filters"];
        if (filters is not null && !(filters is JsonArray fa && fa.Count == 0))
            throw new ZarrFormatException(filePath, "filters", $"{filters.ToJsonString()} is not supported; expected null");

        var shape = JsonInput.Values<long>(Required(obj, "shape", filePath), filePath, "shape");
        var chunks = JsonInput.Values<int>(Required(obj, "chunks", filePath), filePath, "chunks");
        if (shape.Length == 0)
            throw new ZarrFormatException(filePath, "shape", "0-d arrays are not supported; expected at least one dimension");
        if (shape.Any(d => d < 0))
            throw new ZarrFormatException(filePath, "shape", $"[{string.Join(",", shape)}] has a negative extent");
        // the element count must fit a long (numpy's limit as well); later size arithmetic relies on it
        try { _ = shape.Aggregate(1L, (a, d) => checked(a * d)); }
        catch (OverflowException) { throw new ZarrFormatException(filePath, "shape", $"[{string.Join(",", shape)}] holds more than 2^63 elements"); }
        if (chunks.Length != shape.Length || chunks.Any(c => c <= 0))
            throw new ZarrFormatException(filePath, "chunks", $"[{string.Join(",", chunks)}] does not match shape rank {shape.Length}");

        var dtype = ZarrDataType.Parse(JsonInput.Value<string>(Required(obj, "dtype", filePath), filePath, "dtype"), filePath);
        var compressor = ZarrCompressor.FromConfig(obj["compressor"], filePath);

        char sep = '.';
        bool writeSep = false;
        if (obj["dimension_separator"] is JsonNode sepNode)
        {
            string s = JsonInput.Value<string>(sepNode, filePath, "dimension_separator");
            if (s is not ("." or "/"))
                throw new ZarrFormatException(filePath, "dimension_separator", $"'{s}'; expected '.' or '/'");
            sep = s[0];
            writeSep = true;
        }

        var meta = new ZarrArrayMetadata
        {
            Shape = shape, Chunks = chunks, DType = dtype, Compressor = compressor,
            FillValue = obj["fill_value"]?.DeepClone(), DimensionSeparator = sep, WriteDimensionSeparator = writeSep,
        };
        try { meta.FillBytes(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException or InvalidCastException)
        {
            throw new ZarrFormatException(filePath, "fill_value", $"{obj["fill_value"]?.ToJsonString()} is not valid for dtype {dtype}: {e.Message}");
        }
        return meta;
    }

    private static JsonNode Required(JsonObject obj, string field, string filePath) =>
        obj[field] ?? throw new ZarrFormatException(filePath, field, "is missing");
}
