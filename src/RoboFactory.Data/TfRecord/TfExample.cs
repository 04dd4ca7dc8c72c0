using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.TfRecord;

/// <summary>One value of a tf.train.Feature: exactly one of BytesList (1), FloatList (2), Int64List (3).</summary>
public abstract record TfFeature
{
    public abstract int Count { get; }
}

public sealed record TfBytesList(IReadOnlyList<byte[]> Values) : TfFeature
{
    public override int Count => Values.Count;
    public static TfBytesList Of(params string[] utf8) => new(utf8.Select(Encoding.UTF8.GetBytes).ToArray());
    public string GetString(int i) => Encoding.UTF8.GetString(Values[i]);
}

public sealed record TfFloatList(float[] Values) : TfFeature
{
    public override int Count => Values.Length;
}

public sealed record TfInt64List(long[] Values) : TfFeature
{
    public override int Count => Values.Length;
}

/// <summary>
/// tf.train.Example {Features features = 1}, Features {map&lt;string, Feature&gt; feature = 1}, encoded with
/// Google.Protobuf's CodedOutputStream. Keys are written in ordinal order (protobuf's deterministic
/// map serialisation), floats and int64s packed, as TensorFlow writes them. The parser accepts packed
/// and unpacked repeated fields and skips unknown fields, as any protobuf parser must.
/// </summary>
public sealed class TfExample
{
    public SortedDictionary<string, TfFeature> Features { get; } = new(StringComparer.Ordinal);

    public TfExample Set(string key, TfFeature value)
    {
        Features[key] = value;
        return this;
    }

    public T Get<T>(string key) where T : TfFeature =>
        Features.TryGetValue(key, out var f)
            ? f as T ?? throw new InputFormatException($"feature '{key}' is a {f.GetType().Name}, expected {typeof(T).Name}")
            : throw new InputFormatException(null, key, "tf.train.Example has no such feature");

    // ---- encoding ----

    private static int FeatureSize(TfFeature f) => f switch
    {
        TfBytesList b => b.Values.Sum(v => CodedOutputStream.ComputeTagSize(1) + CodedOutputStream.ComputeLengthSize(v.Length) + v.Length),
        TfFloatList fl => fl.Values.Length == 0 ? 0 : CodedOutputStream.ComputeTagSize(1) + CodedOutputStream.ComputeLengthSize(fl.Values.Length * 4) + fl.Values.Length * 4,
        TfInt64List il => il.Values.Length == 0 ? 0 : CodedOutputStream.ComputeTagSize(1) + CodedOutputStream.ComputeLengthSize(PackedInt64Size(il.Values)) + PackedInt64Size(il.Values),
        _ => throw new NotSupportedException(),
    };

    private static int PackedInt64Size(long[] values) => values.Sum(CodedOutputStream.ComputeInt64Size);

    private static int FeatureFieldNumber(TfFeature f) => f switch { TfBytesList => 1, TfFloatList => 2, TfInt64List => 3, _ => 0 };

    /// <summary>Size of the Feature message (oneof wrapper around the list).</summary>
    private static int FeatureMessageSize(TfFeature f)
    {
        int inner = FeatureSize(f);
        return CodedOutputStream.ComputeTagSize(FeatureFieldNumber(f)) + CodedOutputStream.ComputeLengthSize(inner) + inner;
    }

    private static int EntrySize(string key, TfFeature f)
    {
        int fm = FeatureMessageSize(f);
        return CodedOutputStream.ComputeTagSize(1) + CodedOutputStream.ComputeStringSize(key)
             + CodedOutputStream.ComputeTagSize(2) + CodedOutputStream.ComputeLengthSize(fm) + fm;
    }

    public byte[] ToByteArray()
    {
        int featuresSize = 0;
        foreach (var (k, f) in Features)
        {
            int e = EntrySize(k, f);
            featuresSize += CodedOutputStream.ComputeTagSize(1) + CodedOutputStream.ComputeLengthSize(e) + e;
        }
        int total = CodedOutputStream.ComputeTagSize(1) + CodedOutputStream.ComputeLengthSize(featuresSize) + featuresSize;
        var buffer = new byte[total];
        var o = new CodedOutputStream(buffer);
        o.WriteTag(1, WireFormat.WireType.LengthDelimited);
        o.WriteLength(featuresSize);
        foreach (var (k, f) in Features)
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteLength(EntrySize(k, f));
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString(k);
            o.WriteTag(2, WireFormat.WireType.LengthDelimited);
            o.WriteLength(FeatureMessageSize(f));
            o.WriteTag(FeatureFieldNumber(f), WireFormat.WireType.LengthDelimited);
            o.WriteLength(FeatureSize(f));
            switch (f)
            {
                case TfBytesList b:
                    foreach (var v in b.Values)
                    {
                        o.WriteTag(1, WireFormat.WireType.LengthDelimited);
                        o.WriteBytes(UnsafeByteOperations.UnsafeWrap(v)); // length + bytes, no copy
                    }
                    break;
                case TfFloatList fl when fl.Values.Length > 0:
                    o.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    o.WriteLength(fl.Values.Length * 4);
                    foreach (var v in fl.Values) o.WriteFloat(v);
                    break;
                case TfInt64List il when il.Values.Length > 0:
                    o.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    o.WriteLength(PackedInt64Size(il.Values));
                    foreach (var v in il.Values) o.WriteInt64(v);
                    break;
            }
        }
        o.Flush();
        o.CheckNoSpaceLeft();
        return buffer;
    }

    // ---- decoding ----

    public static TfExample Parse(ReadOnlySpan<byte> data)
    {
        var ex = new TfExample();
        var r = new ProtoReader(data);
        while (!r.End)
        {
            var (field, wire) = r.ReadTag();
            if (field == 1 && wire == 2) ParseFeatures(r.ReadLengthDelimited(), ex);
            else r.Skip(wire);
        }
        return ex;
    }

    private static void ParseFeatures(ReadOnlySpan<byte> data, TfExample ex)
    {
        var r = new ProtoReader(data);
        while (!r.End)
        {
            var (field, wire) = r.ReadTag();
            if (field != 1 || wire != 2) { r.Skip(wire); continue; }
            var entry = new ProtoReader(r.ReadLengthDelimited());
            string key = "";
            TfFeature value = new TfBytesList([]); // protobuf default for an absent message value
            while (!entry.End)
            {
                var (ef, ew) = entry.ReadTag();
                if (ef == 1 && ew == 2) key = Encoding.UTF8.GetString(entry.ReadLengthDelimited());
                else if (ef == 2 && ew == 2) value = ParseFeature(entry.ReadLengthDelimited());
                else entry.Skip(ew);
            }
            ex.Features[key] = value;
        }
    }

    private static TfFeature ParseFeature(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        TfFeature result = new TfBytesList([]);
        while (!r.End)
        {
            var (field, wire) = r.ReadTag();
            if (wire != 2) { r.Skip(wire); continue; }
            var list = r.ReadLengthDelimited();
            result = field switch
            {
                1 => ParseBytesList(list),
                2 => ParseFloatList(list),
                3 => ParseInt64List(list),
                _ => result,
            };
        }
        return result;
    }

    private static TfBytesList ParseBytesList(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        var values = new List<byte[]>();
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            if (f == 1 && w == 2) values.Add(r.ReadLengthDelimited().ToArray());
            else r.Skip(w);
        }
        return new TfBytesList(values);
    }

    private static TfFloatList ParseFloatList(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        var values = new List<float>();
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            if (f == 1 && w == 2)
            {
                var packed = r.ReadLengthDelimited();
                if (packed.Length % 4 != 0) throw new InputFormatException("packed FloatList length is not a multiple of 4");
                for (int i = 0; i < packed.Length; i += 4) values.Add(BinaryPrimitives.ReadSingleLittleEndian(packed[i..]));
            }
            else if (f == 1 && w == 5) values.Add(BitConverter.Int32BitsToSingle((int)r.ReadFixed32()));
            else r.Skip(w);
        }
        return new TfFloatList([.. values]);
    }

    private static TfInt64List ParseInt64List(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        var values = new List<long>();
        while (!r.End)
        {
            var (f, w) = r.ReadTag();
            if (f == 1 && w == 2)
            {
                var packed = new ProtoReader(r.ReadLengthDelimited());
                while (!packed.End) values.Add((long)packed.ReadVarint());
            }
            else if (f == 1 && w == 0) values.Add((long)r.ReadVarint());
            else r.Skip(w);
        }
        return new TfInt64List([.. values]);
    }

    /// <summary>Minimal protobuf wire reader over a span (nested messages are sub-spans, no copies).</summary>
    private ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public readonly bool End => _pos >= _data.Length;

        public ulong ReadVarint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= _data.Length) throw new InputFormatException("truncated protobuf varint");
                byte b = _data[_pos++];
                result |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return result;
            }
            throw new InputFormatException("malformed protobuf varint");
        }

        public (int Field, int Wire) ReadTag()
        {
            ulong tag = ReadVarint();
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ReadOnlySpan<byte> ReadLengthDelimited()
        {
            ulong len = ReadVarint();
            if (len > (ulong)(_data.Length - _pos)) throw new InputFormatException("protobuf length runs past the end of the message");
            var s = _data.Slice(_pos, (int)len);
            _pos += (int)len;
            return s;
        }

        public uint ReadFixed32()
        {
            if (_pos + 4 > _data.Length) throw new InputFormatException("truncated protobuf fixed32");
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(_data[_pos..]);
            _pos += 4;
            return v;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: ReadVarint(); break;
                case 1: _pos += 8; break;
                case 2: ReadLengthDelimited(); break;
                case 5: _pos += 4; break;
                default: throw new InputFormatException($"unsupported protobuf wire type {wire}");
            }
            if (_pos > _data.Length) throw new InputFormatException("truncated protobuf field");
        }
    }
}
