using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Checkpoint;

/// <summary>A malformed or mismatching safetensors file (never a crash or an out-of-bounds read).</summary>
public sealed class SafetensorsException(string message) : InputFormatException(message);

/// <summary>One tensor's header entry; offsets are relative to the start of the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long NumElements => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteLength => End - Begin;
}

/// <summary>
/// Reader for the safetensors format: u64 little-endian header length N, N bytes of JSON
/// {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {str: str}}, then the data section.
/// The header is validated completely on open (dtype, shape × element size = byte range, bounds, no overlap, no holes),
/// so reads afterwards cannot go out of range. Tensors are read one at a time from the file (streaming).
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>Header size cap, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    readonly FileStream stream;
    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Absolute file offset of the data section.</summary>
    public long DataStart { get; }

    SafetensorsFile(string path, FileStream s, Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> meta, long dataStart)
    {
        Path = path; stream = s; Entries = entries; Metadata = meta; DataStart = dataStart;
    }

    public static int ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => 0,
    };

    public static ScalarType? TorchType(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64, "F32" => ScalarType.Float32, "F16" => ScalarType.Float16, "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64, "I32" => ScalarType.Int32, "I16" => ScalarType.Int16, "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte, "BOOL" => ScalarType.Bool, _ => null,
    };

    public static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float64 => "F64", ScalarType.Float32 => "F32", ScalarType.Float16 => "F16", ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64", ScalarType.Int32 => "I32", ScalarType.Int16 => "I16", ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8", ScalarType.Bool => "BOOL",
        _ => throw new SafetensorsException($"dtype {t} cannot be stored in safetensors"),
    };

    public static bool IsFloat(string dtype) => dtype is "F64" or "F32" or "F16" or "BF16";

    public static SafetensorsFile Open(string path)
    {
        var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            var (entries, meta, dataStart) = ParseHeader(s, path);
            return new SafetensorsFile(path, s, entries, meta, dataStart);
        }
        catch { s.Dispose(); throw; }
    }

    static (Dictionary<string, SafetensorsEntry>, Dictionary<string, string>, long) ParseHeader(FileStream s, string path)
    {
        long fileLen = s.Length;
        if (fileLen < 8) throw new SafetensorsException($"{path}: file is {fileLen} bytes, shorter than the 8-byte header length");
        Span<byte> lenBytes = stackalloc byte[8];
        s.ReadExactly(lenBytes);
        ulong n = BitConverter.ToUInt64(lenBytes);
        if (n == 0 || n > (ulong)(fileLen - 8))
            throw new SafetensorsException($"{path}: bad header length {n}: the file has only {fileLen - 8} bytes after the length field");
        if (n > MaxHeaderBytes) throw new SafetensorsException($"{path}: header length {n} exceeds the {MaxHeaderBytes}-byte limit");
        var headerBytes = new byte[n];
        s.ReadExactly(headerBytes);
        long dataStart = 8 + (long)n, dataLen = fileLen - dataStart;

        JsonObject root;
        try
        {
            root = JsonInput.ParseNode(Encoding.UTF8.GetString(headerBytes).TrimEnd(' ')) as JsonObject
                ?? throw new SafetensorsException($"{path}: header is not a JSON object");
        }
        catch (JsonException e) { throw new SafetensorsException($"{path}: header is not valid JSON ({e.Message})"); }

        var entries = new Dictionary<string, SafetensorsEntry>();
        var meta = new Dictionary<string, string>();
        foreach (var (name, node) in root)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject mo) throw new SafetensorsException($"{path}: __metadata__ must be an object of strings");
                foreach (var (k, v) in mo)
                    meta[k] = v is JsonValue jv && jv.GetValueKind() == JsonValueKind.String ? jv.GetValue<string>()
                        : throw new SafetensorsException($"{path}: __metadata__.{k} must be a string");
                continue;
            }
            if (node is not JsonObject e) throw new SafetensorsException($"{path}: entry '{name}' is not an object");
            string dtype = e["dtype"] is JsonValue dv && dv.GetValueKind() == JsonValueKind.String ? dv.GetValue<string>()
                : throw new SafetensorsException($"{path}: entry '{name}' has no dtype string");
            int es = ElementSize(dtype);
            if (es == 0 || TorchType(dtype) is null) throw new SafetensorsException($"{path}: entry '{name}' has unsupported dtype '{dtype}'");
            if (e["shape"] is not JsonArray sa) throw new SafetensorsException($"{path}: entry '{name}' has no shape array");
            var shape = new long[sa.Count];
            long count = 1;
            for (int i = 0; i < sa.Count; i++)
            {
                if (sa[i] is not JsonValue sv || sv.GetValueKind() != JsonValueKind.Number || !sv.TryGetValue<long>(out var d) || d < 0)
                    throw new SafetensorsException($"{path}: entry '{name}' has an invalid shape dimension {sa[i]?.ToJsonString()}");
                shape[i] = d;
                try { count = checked(count * d); }
                catch (OverflowException) { throw new SafetensorsException($"{path}: entry '{name}' shape overflows"); }
            }
            if (e["data_offsets"] is not JsonArray oa || oa.Count != 2
                || oa[0] is not JsonValue b0 || !b0.TryGetValue<long>(out var begin)
                || oa[1] is not JsonValue b1 || !b1.TryGetValue<long>(out var end))
                throw new SafetensorsException($"{path}: entry '{name}' needs data_offsets [begin, end] as integers");
            if (begin < 0 || end < begin || end > dataLen)
                throw new SafetensorsException($"{path}: entry '{name}' offsets [{begin}, {end}] out of range (data section is {dataLen} bytes)");
            long need;
            try { need = checked(count * es); }
            catch (OverflowException) { throw new SafetensorsException($"{path}: entry '{name}' size overflows"); }
            if (end - begin != need)
                throw new SafetensorsException($"{path}: entry '{name}' dtype/shape mismatch: {dtype} [{string.Join(",", shape)}] needs {need} bytes but offsets span {end - begin}");
            foreach (var k in e.Select(kv => kv.Key))
                if (k is not ("dtype" or "shape" or "data_offsets")) throw new SafetensorsException($"{path}: entry '{name}' has unknown field '{k}'");
            entries[name] = new SafetensorsEntry(name, dtype, shape, begin, end);
        }
        // The data section must be covered exactly once (no overlap, no hole), as the format requires.
        long pos = 0;
        foreach (var e in entries.Values.OrderBy(x => x.Begin).ThenBy(x => x.End))
        {
            if (e.Begin < pos) throw new SafetensorsException($"{path}: entry '{e.Name}' overlaps the previous tensor (begins at {e.Begin} < {pos})");
            if (e.Begin > pos) throw new SafetensorsException($"{path}: hole in the data section before '{e.Name}' ({pos}..{e.Begin})");
            pos = e.End;
        }
        if (pos != dataLen) throw new SafetensorsException($"{path}: data section is {dataLen} bytes but the tensors cover {pos}");
        return (entries, meta, dataStart);
    }

    SafetensorsEntry Get(string name) =>
        Entries.TryGetValue(name, out var e) ? e : throw new SafetensorsException($"{Path}: no tensor '{name}'");

    /// <summary>Reads a tensor into a new CPU tensor of the file's dtype.</summary>
    public Tensor ReadTensor(string name)
    {
        var e = Get(name);
        var t = torch.empty(e.Shape, TorchType(e.DType)!.Value, CPU);
        try { ReadRaw(e, t); return t; }
        catch { t.Dispose(); throw; }
    }

    /// <summary>
    /// Copies a tensor into <paramref name="target"/> (same shape, any float dtype, any device). When the target is a
    /// contiguous CPU tensor of the file's dtype the bytes go straight into its storage: no second copy in memory.
    /// </summary>
    public void ReadInto(string name, Tensor target)
    {
        var e = Get(name);
        if (!e.Shape.SequenceEqual(target.shape))
            throw new SafetensorsException($"{Path}: '{name}' has shape [{string.Join(",", e.Shape)}], target is [{string.Join(",", target.shape)}]");
        var fileType = TorchType(e.DType)!.Value;
        bool targetFloat = target.dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;
        if (IsFloat(e.DType) != targetFloat)
            throw new SafetensorsException($"{Path}: '{name}' is {e.DType}, target is {target.dtype}: dtype mismatch");
        using var noGrad = torch.no_grad();
        if (target.device_type == DeviceType.CPU && target.dtype == fileType && target.is_contiguous())
        {
            ReadRaw(e, target);
            return;
        }
        using var tmp = torch.empty(e.Shape, fileType, CPU);
        ReadRaw(e, tmp);
        target.copy_(tmp);
    }

    void ReadRaw(SafetensorsEntry e, Tensor dst)
    {
        lock (stream)
        {
            stream.Position = DataStart + e.Begin;
            if (e.ByteLength > 0) dst.ReadBytesFromStream(stream, bufferSize: 1 << 20);
        }
    }

    public void Dispose() => stream.Dispose();
}

/// <summary>Writes safetensors files tensor by tensor (each tensor is copied to CPU only while it is written).</summary>
public static class SafetensorsWriter
{
    public static long Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null, ScalarType? castTo = null)
    {
        var list = tensors.ToList();
        var header = new JsonObject();
        var meta = new JsonObject { ["format"] = "pt" };
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        foreach (var (name, t) in list)
        {
            var dt = castTo is ScalarType c && IsFloatType(t.dtype) ? c : t.dtype;
            long bytes = t.NumberOfElements * SafetensorsFile.ElementSize(SafetensorsFile.DTypeName(dt));
            header[name] = new JsonObject
            {
                ["dtype"] = SafetensorsFile.DTypeName(dt),
                ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var hb = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - hb.Length % 8) % 8; // keep the data section 8-byte aligned
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        fs.Write(BitConverter.GetBytes((ulong)(hb.Length + pad)));
        fs.Write(hb);
        for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
        using var noGrad = torch.no_grad();
        foreach (var (_, t) in list)
        {
            var dt = castTo is ScalarType c && IsFloatType(t.dtype) ? c : t.dtype;
            if (t.device_type == DeviceType.CPU && t.dtype == dt && t.is_contiguous()) t.WriteBytesToStream(fs, 1 << 20);
            else
            {
                using var scope = torch.NewDisposeScope();
                t.detach().to(dt).cpu().contiguous().WriteBytesToStream(fs, 1 << 20);
            }
        }
        return offset;
    }

    /// <summary>One tensor of a file written by <see cref="WriteStreaming"/>: its name, shape and stored dtype.</summary>
    public sealed record Entry(string Name, long[] Shape, ScalarType DType)
    {
        public long Bytes => Shape.Aggregate(1L, (a, b) => a * b) * SafetensorsFile.ElementSize(SafetensorsFile.DTypeName(DType));
    }

    /// <summary>
    /// A safetensors file whose header comes from <paramref name="entries"/> alone; the data of entry i is
    /// <paramref name="produce"/>(i), cast to the entry's dtype, written and freed before the next is produced.
    /// </summary>
    public static void WriteStreaming(string path, IReadOnlyList<Entry> entries, Func<int, Tensor> produce)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var e in entries)
        {
            header[e.Name] = new JsonObject
            {
                ["dtype"] = SafetensorsFile.DTypeName(e.DType),
                ["shape"] = new JsonArray(e.Shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + e.Bytes),
            };
            offset += e.Bytes;
        }
        var hb = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - hb.Length % 8) % 8;
        string tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            fs.Write(BitConverter.GetBytes((ulong)(hb.Length + pad)));
            fs.Write(hb);
            for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
            using var noGrad = torch.no_grad();
            for (int i = 0; i < entries.Count; i++)
            {
                using var scope = torch.NewDisposeScope();
                var t = produce(i).to(entries[i].DType).cpu().contiguous();
                if (!t.shape.SequenceEqual(entries[i].Shape))
                    throw new InvalidOperationException($"{entries[i].Name}: produced [{string.Join(",", t.shape)}], the header says [{string.Join(",", entries[i].Shape)}]");
                t.WriteBytesToStream(fs, 1 << 20);
            }
        }
        File.Move(tmp, path, overwrite: true); // a killed init never leaves a file that reads as complete
    }

    static bool IsFloatType(ScalarType t) => t is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;
}
