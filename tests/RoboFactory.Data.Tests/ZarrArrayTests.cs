using System.Text.Json.Nodes;
using RoboFactory.Data.Blosc;
using RoboFactory.Data.Zarr;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Tests;

public class ZarrArrayTests
{
    [Fact]
    public void Zarray_json_is_formatted_like_zarr_python()
    {
        using var tmp = new TempDir();
        var g = ZarrGroup.Create(tmp["s.zarr"]);
        var a = g.CreateArray<float>("data/action", [0, 8], [100, 8], ZarrCompressor.UpstreamDefault);
        a.Append(new float[250 * 8]);
        const string expected = "{\n    \"chunks\": [\n        100,\n        8\n    ],\n    \"compressor\": {\n        \"blocksize\": 0,\n        \"clevel\": 3,\n        \"cname\": \"zstd\",\n        \"id\": \"blosc\",\n        \"shuffle\": 1\n    },\n    \"dtype\": \"<f4\",\n    \"fill_value\": 0.0,\n    \"filters\": null,\n    \"order\": \"C\",\n    \"shape\": [\n        250,\n        8\n    ],\n    \"zarr_format\": 2\n}";
        Assert.Equal(expected, File.ReadAllText(Path.Combine(tmp["s.zarr"], "data", "action", ".zarray")));
        Assert.Equal("{\n    \"zarr_format\": 2\n}", File.ReadAllText(Path.Combine(tmp["s.zarr"], "data", ".zgroup")));
        Assert.Equal(["0.0", "1.0", "2.0"], Directory.GetFiles(a.DirectoryPath).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')).Order());
    }

    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-5, "1e-05")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(123456.789, "123456.789")]
    [InlineData(-2.5e-300, "-2.5e-300")]
    [InlineData(0.10000000149011612, "0.10000000149011612")]
    [InlineData(3.0, "3.0")]
    public void Floats_are_formatted_like_python_repr(double value, string expected) =>
        Assert.Equal(expected, PythonJson.FormatFloat(value));

    [Fact]
    public void Attributes_escape_like_python_json_with_ensure_ascii()
    {
        var o = new JsonObject { ["b"] = "é\n\"x\"", ["a"] = new JsonArray(1, 2.5, true), ["c"] = new JsonObject() };
        Assert.Equal("{\n    \"a\": [\n        1,\n        2.5,\n        true\n    ],\n    \"b\": \"\\u00e9\\n\\\"x\\\"\",\n    \"c\": {}\n}",
            PythonJson.Serialize(o));
    }

    [Fact]
    public void Chunked_in_every_dimension_round_trips_including_partial_edges()
    {
        using var tmp = new TempDir();
        var data = new TestRng(5).ImageBytes(23 * 3 * 10 * 13, 13);
        var a = ZarrArray<byte>.Create(tmp["a"], [0, 3, 10, 13], [7, 2, 4, 5], new BloscCompressor("lz4", 5, BloscShuffle.BitShuffle));
        // Append in uneven pieces so that partial edge chunks get rewritten.
        int row = 3 * 10 * 13;
        foreach (var (s, n) in new[] { (0, 5), (5, 9), (14, 1), (15, 8) })
            a.Append(data.AsSpan(s * row, n * row));
        Assert.Equal(23, a.Length);
        Assert.Equal(data, a.ReadAll());
        Assert.Equal(data.AsSpan(6 * row, 11 * row).ToArray(), a.ReadRows(6, 11));
        var reopened = ZarrArray<byte>.Open(tmp["a"]);
        Assert.Equal(data, reopened.ReadAll());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Truncate_resets_padding_so_the_result_equals_a_fresh_write(bool metadataFirst)
    {
        using var tmp = new TempDir();
        var data = new TestRng(9).Floats(250 * 8);
        var a = ZarrArray<float>.Create(tmp["a"], [0, 8], [100, 8], ZarrCompressor.UpstreamDefault);
        a.Append(data);
        a.Truncate(130, metadataFirst);
        var b = ZarrArray<float>.Create(tmp["b"], [0, 8], [100, 8], ZarrCompressor.UpstreamDefault);
        b.Append(data.AsSpan(0, 130 * 8));
        Hash.AssertTreesEqual(tmp["b"], tmp["a"]);
        Assert.Equal(data.AsSpan(0, 130 * 8).ToArray(), ZarrArray<float>.Open(tmp["a"]).ReadAll());
    }

    [Fact]
    public void Missing_chunks_read_as_fill_value()
    {
        using var tmp = new TempDir();
        var a = ZarrArray<short>.Create(tmp["a"], [0, 4], [3, 2], null, fillValue: (short)-7);
        a.Append(Enumerable.Range(0, 10 * 4).Select(i => (short)i).ToArray());
        File.Delete(Path.Combine(tmp["a"], "1.1"));
        var all = a.ReadAll();
        for (int r = 3; r < 6; r++)
        {
            Assert.Equal([(short)(r * 4), (short)(r * 4 + 1), -7, -7], all.AsSpan(r * 4, 4).ToArray());
        }
    }

    [Fact]
    public void Opening_with_the_wrong_element_type_names_file_field_and_expected_dtype()
    {
        using var tmp = new TempDir();
        ZarrArray<float>.Create(tmp["a"], [0, 8], [100, 8], ZarrCompressor.UpstreamDefault);
        var e = Assert.Throws<ZarrFormatException>(() => ZarrArray<byte>.Open(tmp["a"]));
        Assert.Equal("dtype", e.Field);
        Assert.Contains(".zarray", e.FilePath);
        Assert.Contains("|u1", e.Message);
    }

    [Fact]
    public void Corrupt_chunk_error_names_the_chunk_file()
    {
        using var tmp = new TempDir();
        var a = ZarrArray<float>.Create(tmp["a"], [0, 8], [100, 8], ZarrCompressor.UpstreamDefault);
        a.Append(new TestRng(1).Floats(150 * 8));
        string chunk = Path.Combine(tmp["a"], "1.0");
        File.WriteAllBytes(chunk, File.ReadAllBytes(chunk)[..20]);
        var e = Assert.Throws<InputFormatException>(() => a.ReadAll());
        Assert.Contains("1.0", e.Message);
    }
}
