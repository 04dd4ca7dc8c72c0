using System.Text;
using System.Text.Json.Nodes;
using RoboFactory.Data.TfRecord;

namespace RoboFactory.Data.Tests;

public class TfRecordTests
{
    [Fact]
    public void Crc32c_matches_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));

    private static List<TfExample> SampleExamples()
    {
        var rng = new TestRng(21);
        var list = new List<TfExample>();
        for (int i = 0; i < 4; i++)
        {
            list.Add(new TfExample()
                .Set("steps/action", new TfFloatList(rng.Floats(8 * (i + 1))))
                .Set("steps/is_first", new TfInt64List(Enumerable.Range(0, i + 1).Select(k => k == 0 ? 1L : 0L).ToArray()))
                .Set("ids", new TfInt64List([-1, 0, long.MaxValue, long.MinValue, 300]))
                .Set("steps/language_instruction", TfBytesList.Of("lift the barrier", "é ✓"))
                .Set("steps/observation/image", new TfBytesList([rng.ImageBytes(1000 + i, 10), []]))
                .Set("empty_floats", new TfFloatList([])));
        }
        return list;
    }

    private static JsonObject ToJson(TfExample ex)
    {
        var o = new JsonObject();
        foreach (var (k, f) in ex.Features)
        {
            (string kind, JsonArray values) = f switch
            {
                TfBytesList b => ("bytes_list", new JsonArray(b.Values.Select(v => (JsonNode)Convert.ToBase64String(v)).ToArray())),
                TfFloatList fl => ("float_list", new JsonArray(fl.Values.Select(v => (JsonNode)JsonValue.Create((double)v)).ToArray())),
                TfInt64List il => ("int64_list", new JsonArray(il.Values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray())),
                _ => throw new InvalidOperationException(),
            };
            o[k] = new JsonObject { ["kind"] = kind, ["values"] = values };
        }
        return o;
    }

    private static void AssertSameFeatures(JsonObject expected, JsonObject actual)
    {
        Assert.Equal(expected.Select(kv => kv.Key).Order(), actual.Select(kv => kv.Key).Order());
        foreach (var (k, v) in expected)
        {
            var a = actual[k]!;
            // An empty list has no oneof payload on the wire only if the list message is absent; ours is present.
            Assert.Equal((string)v!["kind"]!, (string)a["kind"]!);
            var ev = v["values"]!.AsArray().Select(n => n!.ToJsonString()).ToArray();
            var av = a["values"]!.AsArray().Select(n => n!.ToJsonString()).ToArray();
            if ((string)v["kind"]! == "float_list")
                Assert.Equal(ev.Select(double.Parse), av.Select(double.Parse));
            else
                Assert.Equal(ev, av);
        }
    }

    [Fact]
    public void Python_protobuf_parses_what_we_write()
    {
        using var tmp = new TempDir();
        var examples = SampleExamples();
        var offsets = new List<long>();
        using (var w = new TfRecordWriter(tmp["x.tfrecord"]))
            foreach (var e in examples) offsets.Add(w.Write(e.ToByteArray()));
        var records = JsonNode.Parse(Python.Run("tfrecord_interop.py", "read", tmp["x.tfrecord"]))!.AsArray();
        Assert.Equal(examples.Count, records.Count);
        for (int i = 0; i < examples.Count; i++)
        {
            Assert.Equal(offsets[i], (long)records[i]!["offset"]!);
            AssertSameFeatures(ToJson(examples[i]), records[i]!["features"]!.AsObject());
        }
    }

    [Fact]
    public void We_parse_what_python_protobuf_writes()
    {
        using var tmp = new TempDir();
        var examples = SampleExamples();
        var spec = new JsonArray(examples.Select(e => (JsonNode)ToJson(e)).ToArray());
        Python.RunWithInput(spec.ToJsonString(), "tfrecord_interop.py", "write", tmp["py.tfrecord"]);
        using var r = new TfRecordReader(tmp["py.tfrecord"]);
        var parsed = r.ReadAll().Select(p => TfExample.Parse(p.Payload)).ToList();
        Assert.Equal(examples.Count, parsed.Count);
        for (int i = 0; i < examples.Count; i++)
        {
            AssertSameFeatures(ToJson(examples[i]), ToJson(parsed[i]));
            Assert.Equal(examples[i].Get<TfFloatList>("steps/action").Values, parsed[i].Get<TfFloatList>("steps/action").Values);
            Assert.Equal("é ✓", parsed[i].Get<TfBytesList>("steps/language_instruction").GetString(1));
        }
    }

    private static (string path, List<long> offsets) WriteFile(TempDir tmp)
    {
        var offsets = new List<long>();
        using var w = new TfRecordWriter(tmp["f.tfrecord"]);
        foreach (var e in SampleExamples()) offsets.Add(w.Write(e.ToByteArray()));
        return (tmp["f.tfrecord"], offsets);
    }

    [Fact]
    public void Corrupted_payload_names_file_and_record_offset()
    {
        using var tmp = new TempDir();
        var (path, offsets) = WriteFile(tmp);
        var bytes = File.ReadAllBytes(path);
        bytes[offsets[2] + 40] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        using var r = new TfRecordReader(path);
        var e = Assert.Throws<TfRecordCorruptException>(() => r.ReadAll().ToList());
        Assert.Equal(offsets[2], e.Offset);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("payload CRC", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Corrupted_length_is_caught_by_the_length_crc()
    {
        using var tmp = new TempDir();
        var (path, offsets) = WriteFile(tmp);
        var bytes = File.ReadAllBytes(path);
        bytes[offsets[1] + 1] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        using var r = new TfRecordReader(path);
        var e = Assert.Throws<TfRecordCorruptException>(() => r.Index());
        Assert.Equal(offsets[1], e.Offset);
        Assert.Contains("length CRC", e.Message);
    }

    [Theory]
    [InlineData(5)]      // inside the next header
    [InlineData(100)]    // inside the payload
    [InlineData(-2)]     // inside the trailing CRC
    public void Truncated_file_names_the_last_record(int cut)
    {
        using var tmp = new TempDir();
        var (path, offsets) = WriteFile(tmp);
        var bytes = File.ReadAllBytes(path);
        long keep = cut > 0 ? offsets[3] + cut : bytes.Length + cut;
        File.WriteAllBytes(path, bytes[..(int)keep]);
        using var r = new TfRecordReader(path);
        var e = Assert.Throws<TfRecordCorruptException>(() => r.ReadAll().ToList());
        Assert.Equal(offsets[3], e.Offset);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Index_then_random_access_reads_each_record()
    {
        using var tmp = new TempDir();
        var (path, offsets) = WriteFile(tmp);
        using var r = new TfRecordReader(path);
        var index = r.Index();
        Assert.Equal(offsets, index.Select(i => i.Offset));
        var third = TfExample.Parse(r.ReadAt(index[2].Offset, out _)!);
        Assert.Equal(3 * 8, third.Get<TfFloatList>("steps/action").Count);
        Assert.Equal(Encoding.UTF8.GetBytes("lift the barrier"), third.Get<TfBytesList>("steps/language_instruction").Values[0]);
    }
}
