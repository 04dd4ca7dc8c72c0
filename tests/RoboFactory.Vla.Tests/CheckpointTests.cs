using System.Text;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("vla-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}

public class CheckpointTests
{
    static bool SameState(nn.Module a, nn.Module b, ScalarType? viaDtype = null)
    {
        var sb = CheckpointIO.StateOf(b);
        foreach (var (k, t) in CheckpointIO.StateOf(a))
        {
            var expected = viaDtype is ScalarType d ? t.to(d).to(t.dtype) : t;
            if (!expected.shape.SequenceEqual(sb[k].shape) || !expected.equal(sb[k]).all().item<bool>()) return false;
        }
        return true;
    }

    [Fact]
    public void TinyModel_SaveLoad_RoundTrip_SingleFile_And_Sharded_Bf16()
    {
        using var dir = new TempDir();
        using var m = Pretrained.Create(OpenVlaConfig.Tiny, seed: 1);
        // single file, fp32
        var files = Pretrained.Save(m, dir.File("a"));
        Assert.Equal(new[] { "model.safetensors" }, files.Select(Path.GetFileName));
        using var back = Pretrained.Load(dir.File("a"));
        Assert.True(SameState(m, back));
        Assert.True(m.Config.Text == back.Config.Text);

        // sharded bf16 (small shard limit forces several shards + index)
        var shardFiles = Pretrained.Save(m, dir.File("b"), dtype: ScalarType.BFloat16, maxShardBytes: 3_000_000);
        Assert.Contains(CheckpointIO.IndexFile, shardFiles.Select(Path.GetFileName));
        Assert.True(shardFiles.Count >= 4);
        Assert.Matches(@"^model-00001-of-000\d\d\.safetensors$", Path.GetFileName(shardFiles[0]));
        using var back32 = Pretrained.Load(dir.File("b"));                        // bf16 file → fp32 params
        Assert.True(SameState(m, back32, ScalarType.BFloat16));
        using var back16 = Pretrained.Load(dir.File("b"), dtype: ScalarType.BFloat16); // bf16 file → bf16 params (direct read)
        Assert.Equal(ScalarType.BFloat16, back16.named_parameters().First().parameter.dtype);
        Assert.True(SameState(back32, back16, ScalarType.BFloat16));
    }

    [Fact]
    public void Mismatch_ListsAllProblems_InOneError()
    {
        using var dir = new TempDir();
        using var m = Pretrained.Create(OpenVlaConfig.Tiny, seed: 2);
        var state = CheckpointIO.StateOf(m);
        var tensors = state.Where(kv => kv.Key != "projector.fc1.bias" && kv.Key != "language_model.model.norm.weight")
            .Select(kv => kv.Key == "projector.fc3.weight" ? (kv.Key, torch.zeros(3, 3)) : (kv.Key, kv.Value))
            .Append(("extra.weight", torch.zeros(2)))
            .Append(("language_model.model.layers.0.input_layernorm.weight", torch.zeros(256, dtype: ScalarType.Int32)))
            .Where(x => !(x.Item1 == "language_model.model.layers.0.input_layernorm.weight" && x.Item2.dtype != ScalarType.Int32))
            .ToList();
        SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
        using var target = Pretrained.Create(OpenVlaConfig.Tiny, seed: null);
        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointIO.Load(target, dir.Path));
        Assert.Equal(5, e.Problems.Count);
        Assert.Contains(e.Problems, p => p.StartsWith("missing key projector.fc1.bias"));
        Assert.Contains(e.Problems, p => p.StartsWith("missing key language_model.model.norm.weight"));
        Assert.Contains(e.Problems, p => p.StartsWith("unexpected key extra.weight"));
        Assert.Contains(e.Problems, p => p.Contains("wrong shape for projector.fc3.weight"));
        Assert.Contains(e.Problems, p => p.Contains("wrong dtype for language_model.model.layers.0.input_layernorm.weight"));
        // non-strict tolerates missing/unexpected but not wrong shapes
        var e2 = Assert.Throws<CheckpointMismatchException>(() => CheckpointIO.Load(target, dir.Path, strict: false));
        Assert.Equal(2, e2.Problems.Count);
    }

    [Fact]
    public void Index_MissingShard_And_KeyNotInShard_AreReported()
    {
        using var dir = new TempDir();
        using var m = Pretrained.Create(OpenVlaConfig.Tiny, seed: 3);
        Pretrained.Save(m, dir.Path, maxShardBytes: 8_000_000);
        var shards = Directory.GetFiles(dir.Path, "model-*.safetensors").Order().ToArray();
        File.Delete(shards[^1]);
        var index = File.ReadAllText(dir.File(CheckpointIO.IndexFile)).Replace("\"projector.fc1.bias\": \"model-00001", "\"projector.fc1.bias\": \"model-00002");
        File.WriteAllText(dir.File(CheckpointIO.IndexFile), index);
        using var target = Pretrained.Create(OpenVlaConfig.Tiny, seed: null);
        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointIO.Load(target, dir.Path));
        Assert.Contains(e.Problems, p => p.Contains("does not exist"));
    }

    static byte[] Header(string json, int? lengthOverride = null)
    {
        var hb = Encoding.UTF8.GetBytes(json);
        return BitConverter.GetBytes((ulong)(lengthOverride ?? hb.Length)).Concat(hb).ToArray();
    }

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "short", new byte[] { 1, 2, 3 }, "shorter than the 8-byte" },
        { "huge header length", Header("{}", int.MaxValue), "bad header length" },
        { "zero header length", Header("", 0).Concat(new byte[8]).ToArray(), "bad header length" },
        { "not json", Header("{not json").Concat(new byte[4]).ToArray(), "not valid JSON" },
        { "offset past end", Header("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""").Concat(new byte[4]).ToArray(), "out of range" },
        { "negative offset", Header("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}""").Concat(new byte[4]).ToArray(), "out of range" },
        { "dtype mismatch", Header("""{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,8]}}""").Concat(new byte[8]).ToArray(), "dtype/shape mismatch" },
        { "unknown dtype", Header("""{"a":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,2]}}""").Concat(new byte[2]).ToArray(), "unsupported dtype" },
        { "overlap", Header("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""").Concat(new byte[8]).ToArray(), "overlaps" },
        { "hole", Header("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""").Concat(new byte[8]).ToArray(), "hole" },
        { "negative dim", Header("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""").Concat(new byte[4]).ToArray(), "invalid shape" },
        { "overflow shape", Header("""{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}""").Concat(new byte[4]).ToArray(), "overflows" },
        { "no offsets", Header("""{"a":{"dtype":"F32","shape":[1]}}""").Concat(new byte[4]).ToArray(), "data_offsets" },
        { "bad metadata", Header("""{"__metadata__":{"x":1}}"""), "must be a string" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFiles_AreRejected_WithClearErrors(string what, byte[] bytes, string fragment)
    {
        using var dir = new TempDir();
        var p = dir.File(what.Replace(' ', '_') + ".safetensors");
        File.WriteAllBytes(p, bytes);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(p).Dispose());
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void Writer_Reader_RoundTrip_AllDtypes_And_Alignment()
    {
        using var dir = new TempDir();
        var p = dir.File("t.safetensors");
        var tensors = new (string, Tensor)[]
        {
            ("f32", torch.arange(6, dtype: ScalarType.Float32).reshape(2, 3)),
            ("bf16", torch.tensor(new float[] { 1.5f, -2.25f, 3.0f }).to(ScalarType.BFloat16)),
            ("i64", torch.tensor(new long[] { 1, -2, 1L << 40 })),
            ("u8", torch.tensor(new byte[] { 0, 255 })),
            ("scalar", torch.tensor(3.5f)),
            ("empty", torch.zeros(0, 4)),
        };
        SafetensorsWriter.Write(p, tensors, new Dictionary<string, string> { ["note"] = "x" });
        using var f = SafetensorsFile.Open(p);
        Assert.Equal(0, f.DataStart % 8);
        Assert.Equal("x", f.Metadata["note"]);
        Assert.Equal("pt", f.Metadata["format"]);
        foreach (var (name, t) in tensors)
        {
            using var r = f.ReadTensor(name);
            Assert.Equal(t.dtype, r.dtype);
            Assert.True(t.shape.SequenceEqual(r.shape) && t.equal(r).all().item<bool>(), name);
        }
        Assert.Throws<SafetensorsException>(() => f.ReadTensor("nope"));
        using var wrongShape = torch.zeros(3, 2);
        Assert.Throws<SafetensorsException>(() => f.ReadInto("f32", wrongShape));
        using var intTarget = torch.zeros(2, 3, dtype: ScalarType.Int32);
        Assert.Throws<SafetensorsException>(() => f.ReadInto("f32", intTarget));
    }
}

/// <summary>An openvla-7b folder with bad weights is refused from its headers, before 7.5 B parameters are allocated.</summary>
public class CheckpointHeaderTests
{
    [Fact]
    public void SevenBConfig_WithATruncatedOrForeignCheckpoint_IsRefusedBeforeAllocating()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("7b"));
        ConfigJson.Write(OpenVlaConfig.OpenVla7B, Path.Combine(dir.File("7b"), "config.json"));

        // a 1,000-byte model.safetensors: the header length field points past the end of the file
        var bytes = new byte[1000];
        BitConverter.GetBytes(5000UL).CopyTo(bytes, 0);
        File.WriteAllBytes(Path.Combine(dir.File("7b"), "model.safetensors"), bytes);
        var truncated = Assert.Throws<SafetensorsException>(() => Pretrained.Load(dir.File("7b")));
        Assert.Contains("model.safetensors", truncated.Message);

        // a valid tiny checkpoint under the 7B config: every shape problem named, nothing allocated
        using (var tiny = Pretrained.Create(OpenVlaConfig.Tiny, seed: 1)) Pretrained.Save(tiny, dir.File("tiny"));
        File.Copy(Path.Combine(dir.File("tiny"), "model.safetensors"), Path.Combine(dir.File("7b"), "model.safetensors"), overwrite: true);
        var peak = System.Diagnostics.Process.GetCurrentProcess();
        var foreign = Assert.Throws<CheckpointMismatchException>(() => Pretrained.Load(dir.File("7b")));
        Assert.Contains(foreign.Problems, p => p.StartsWith("wrong shape for language_model.model.embed_tokens.weight"));
        peak.Refresh();
        Assert.True(peak.WorkingSet64 < 8L << 30, $"working set {peak.WorkingSet64 >> 20} MiB: the 7B weights were allocated");
    }
}

/// <summary>`model init`: the streamed random-init folder loads as the model Pretrained.Create builds.</summary>
public class ModelInitTests
{
    [Fact]
    public void StreamedInit_EqualsCreate_AndShardsLikeSave()
    {
        using var dir = new TempDir();
        var files = Pretrained.InitCheckpoint(OpenVlaConfig.Tiny, dir.File("one"), ScalarType.Float32, seed: 3);
        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.File("one")).Select(Path.GetFileName).Order());
        using var created = Pretrained.Create(OpenVlaConfig.Tiny, seed: 3);
        using var loaded = Pretrained.Load(dir.File("one"));
        foreach (var (k, t) in CheckpointIO.StateOf(created))
            Assert.True(t.equal(CheckpointIO.StateOf(loaded)[k]).all().item<bool>(), $"{k} differs from Pretrained.Create");

        // sharded and bf16: the index names every key, and the shards load
        var sharded = Pretrained.InitCheckpoint(OpenVlaConfig.Tiny, dir.File("shards"), ScalarType.BFloat16, seed: 3, maxShardBytes: 2_000_000);
        Assert.Contains(sharded, f => f.EndsWith(CheckpointIO.IndexFile));
        Assert.True(sharded.Count(f => f.EndsWith(".safetensors")) > 2);
        using var bf16 = Pretrained.Load(dir.File("shards"), dtype: ScalarType.BFloat16);
        var w = CheckpointIO.StateOf(bf16)["language_model.model.layers.0.mlp.up_proj.weight"];
        Assert.Equal(ScalarType.BFloat16, w.dtype);
        Assert.True(w.to(ScalarType.Float32).equal(CheckpointIO.StateOf(created)["language_model.model.layers.0.mlp.up_proj.weight"].to(ScalarType.BFloat16).to(ScalarType.Float32)).all().item<bool>());
    }
}
