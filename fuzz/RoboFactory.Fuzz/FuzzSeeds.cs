using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RoboFactory.Core.Imaging;
using RoboFactory.Data.Blosc;
using RoboFactory.Data.LeRobot;
using RoboFactory.Data.Rlds;
using RoboFactory.Data.Stats;
using RoboFactory.Data.TfRecord;
using RoboFactory.Data.Zarr;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Policies.OpenVla;

namespace RoboFactory.Fuzz;

/// <summary>
/// The seed corpus: small valid files made by the project's own writers (so the fuzzer starts inside each format),
/// committed under fuzz/corpus/TARGET. Regenerate with `dotnet run --project fuzz/RoboFactory.Fuzz -- seeds fuzz/corpus`.
/// </summary>
public static class FuzzSeeds
{
    public static IReadOnlyList<(string Target, int Files)> Write(string root)
    {
        var counts = new List<(string, int)>();
        using var scratch = new FuzzScratch();
        foreach (var (target, seeds) in Make(scratch))
        {
            string dir = Path.Combine(root, target);
            Directory.CreateDirectory(dir);
            foreach (var (name, bytes) in seeds) File.WriteAllBytes(Path.Combine(dir, name), bytes);
            counts.Add((target, seeds.Count));
        }
        return counts;
    }

    static IEnumerable<(string Target, List<(string Name, byte[] Bytes)> Seeds)> Make(FuzzScratch s)
    {
        yield return ("safetensors", [("two-tensors", Safetensors(("a", "F32", [2, 2]), ("b", "BF16", [3]))),
                                      ("with-metadata", Safetensors(("w", "I64", [1]))), ("empty", Safetensors())]);

        var arrays = new List<(string, byte[])>();
        ZarrCompressor?[] compressors = [new BloscCompressor("zstd", 3, BloscShuffle.ByteShuffle), new ZlibCompressor(1), null];
        for (int i = 0; i < compressors.Length; i++)
        {
            string d = s.Folder($"a{i}");
            ZarrArray<float>.Create(d, [6, 2], [4, 2], compressors[i], fillValue: 0.5f);
            arrays.Add(($"f4-{i}", File.ReadAllBytes(Path.Combine(d, ".zarray"))));
        }
        string u8 = s.Folder("u8");
        ZarrArray<byte>.Create(u8, [2, 3, 4, 3], [1, 3, 4, 3], compressors[0], dimensionSeparator: '/', writeDimensionSeparator: true);
        arrays.Add(("u1-nested", File.ReadAllBytes(Path.Combine(u8, ".zarray"))));
        yield return ("zarr-array", arrays);

        string g = s.Folder("g");
        var group = ZarrGroup.Create(g);
        yield return ("zarr-group", [("zgroup", File.ReadAllBytes(Path.Combine(g, ".zgroup")))]);
        group.WriteAttributes(new JsonObject
        {
            ["task"] = "LiftBarrier", ["agent_id"] = 0, ["seeds"] = new JsonArray(0, 1, 2), ["lengths"] = new JsonArray(110, 98, 120),
            ["instruction"] = "lift the barrier together", ["nested"] = new JsonObject { ["x"] = 1.5, ["nan"] = double.NaN },
        });
        yield return ("zarr-attrs", [("episode-store", File.ReadAllBytes(group.AttributesPath))]);

        var chunks = new List<(string, byte[])>();
        float[] rows = [1, 2, 3, 4, 5, 6];
        string[] chunkNames = ["blosc", "zlib", "gzip", "raw"];
        ZarrCompressor?[] chunkCompressors = [new BloscCompressor("lz4", 5, BloscShuffle.ByteShuffle), new ZlibCompressor(1), new GzipCompressor(1), null];
        for (int i = 0; i < chunkCompressors.Length; i++)
        {
            string d = s.Folder($"c{i}");
            var a = ZarrArray<float>.Create(d, [4, 3], [2, 3], chunkCompressors[i]);
            a.WriteRows(0, rows);
            chunks.Add((chunkNames[i], [(byte)i, .. File.ReadAllBytes(Path.Combine(d, "0.0"))]));
        }
        yield return ("zarr-chunk", chunks);

        var data = Enumerable.Range(0, 256).Select(i => (byte)(i * 7 % 13)).ToArray();
        yield return ("blosc", [
            ("lz4-shuffle", BloscCodec.Compress(data, 4, "lz4", 5, BloscShuffle.ByteShuffle)),
            ("zstd-bitshuffle", BloscCodec.Compress(data, 4, "zstd", 3, BloscShuffle.BitShuffle)),
            ("blosclz-noshuffle", BloscCodec.Compress(data, 1, "blosclz", 9, BloscShuffle.NoShuffle)),
            ("memcpy", BloscCodec.Compress(data.AsSpan(0, 16), 1, "lz4", 0, BloscShuffle.NoShuffle)),
        ]);

        var spec = new RldsDatasetSpec { Name = "fuzz", Height = 8, Width = 8, StateDim = 8, ActionDim = 8 };
        byte[] example = RldsDatasetWriter.Encode(TinyEpisode(spec), spec);
        string tf = Path.Combine(s.Root, "seed.tfrecord");
        using (var w = new TfRecordWriter(tf)) { w.Write("first"u8); w.Write(Encoding.UTF8.GetBytes(new string('x', 40))); }
        yield return ("tfrecord", [("two-records", File.ReadAllBytes(tf))]);
        yield return ("tf-example", [("rlds-episode", example)]);

        var rgb = Enumerable.Range(0, 4 * 3 * 3).Select(i => (byte)(i * 19)).ToArray();
        yield return ("png", [("rgb-4x3", Png.Encode(rgb, 4, 3, 3)), ("gray-4x3", Png.Encode(rgb.AsSpan(0, 12), 4, 3, 1)),
                              ("rgba-3x3", Png.Encode(rgb.AsSpan(0, 36), 3, 3, 4))]);

        var yaml = new List<(string, byte[])>();
        if (FindConfigs() is { } configs)
            foreach (var f in new[] { "lift_barrier.yaml", "place_food.yaml" }.Select(n => Path.Combine(configs, n)).Where(File.Exists))
                yaml.Add((Path.GetFileNameWithoutExtension(f), File.ReadAllBytes(f)));
        yield return ("task-yaml", yaml);

        string cfg = Path.Combine(s.Root, "config.json");
        ConfigJson.Write(OpenVlaConfig.Tiny, cfg);
        yield return ("config-json", [("tiny", File.ReadAllBytes(cfg))]);

        string stats = Path.Combine(s.Root, "dataset_statistics.json");
        var act = Enumerable.Range(0, 5 * 8).Select(i => (float)Math.Sin(i)).ToArray();
        DatasetStatistics.Write(stats, "lift_barrier_agent0", DatasetStatistics.ComputeNormStats(act, 8, act, 8, 1));
        yield return ("dataset-statistics", [("one-dataset", File.ReadAllBytes(stats))]);

        string pol = Path.Combine(s.Root, "policy.json");
        new VlaPolicyInfo { UnnormKey = "lift_barrier_agent0", ActionChunk = 8, ProprioQ01 = [0, 0], ProprioQ99 = [1, 1], Attention = "bidirectional", Policy = "openvla-oft" }.Write(pol);
        yield return ("policy-json", [("oft", File.ReadAllBytes(pol)), ("token", Encoding.UTF8.GetBytes("{\"policy\": \"openvla\", \"views\": 3}"))]);

        yield return ("adapter-config", [("r32", Encoding.UTF8.GetBytes(new LoraConfig { ModulesToSave = ["projector"] }.ToPeftJson().ToJsonString()))]);

        var tokenizer = new List<(string, byte[])>();
        if (TrainTokenizer(s.Root) is { } model) tokenizer.Add(("bpe-300", model));
        yield return ("tokenizer-model", tokenizer);

        var info = new LeRobotInfo
        {
            TotalEpisodes = 2, TotalFrames = 20, TotalTasks = 1, Fps = 20,
            Features = [.. LeRobotInfo.DefaultFeatures(), new LeRobotFeature("action", "float32", [8], ["j0", "j1", "j2", "j3", "j4", "j5", "j6", "g"]),
                        new LeRobotFeature("observation.images.head", "video", [240, 320, 3], ["height", "width", "channels"],
                                           new LeRobotVideoInfo(240, 320, 20, "av1", "yuv420p", 2, 30))],
        };
        yield return ("lerobot-info", [("two-episodes", Encoding.UTF8.GetBytes(info.ToJson()))]);
    }

    static RldsEpisode TinyEpisode(RldsDatasetSpec spec)
    {
        const int t = 2;
        var img = new RldsImageSeries(spec.Height, spec.Width, Enumerable.Range(0, t * spec.Height * spec.Width * 3).Select(i => (byte)i).ToArray());
        return new RldsEpisode
        {
            LanguageInstruction = "lift the barrier", Length = t, Image = img, GlobalImage = img, WristImage = img,
            State = new float[t * spec.StateDim], Action = Enumerable.Range(0, t * spec.ActionDim).Select(i => i / 10f).ToArray(),
        };
    }

    /// <summary>The safetensors layout written by hand (a u64 header length, the JSON header, the data section), so that
    /// seeding needs no libtorch.</summary>
    static byte[] Safetensors(params (string Name, string DType, long[] Shape)[] tensors)
    {
        var header = new JsonObject();
        long offset = 0;
        foreach (var (name, dtype, shape) in tensors)
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * RoboFactory.Vla.Checkpoint.SafetensorsFile.ElementSize(dtype);
            header[name] = new JsonObject { ["dtype"] = dtype, ["shape"] = new JsonArray([.. shape.Select(x => (JsonNode)x)]), ["data_offsets"] = new JsonArray(offset, offset + bytes) };
            offset += bytes;
        }
        if (tensors.Length == 1) header["__metadata__"] = new JsonObject { ["format"] = "pt" };
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var file = new byte[8 + json.Length + offset];
        BitConverter.TryWriteBytes(file.AsSpan(0, 8), (ulong)json.Length);
        json.CopyTo(file, 8);
        for (long i = 0; i < offset; i++) file[8 + json.Length + i] = (byte)(i * 31);
        return file;
    }

    static string? FindConfigs()
    {
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "configs", "table"))) return Path.Combine(d.FullName, "configs", "table");
        return null;
    }

    /// <summary>A 300-piece Llama-style BPE model from Debian's spm_train (package sentencepiece), as the tokenizer tests train.</summary>
    static byte[]? TrainTokenizer(string dir)
    {
        string corpus = Path.Combine(dir, "corpus.txt");
        var rng = new Random(3);
        string[] words = ["pick", "up", "the", "red", "cube", "lift", "barrier", "place", "food", "pot", "robot", "arm", "take", "photo"];
        File.WriteAllLines(corpus, Enumerable.Range(0, 400).Select(_ => string.Join(' ', Enumerable.Range(0, rng.Next(3, 9)).Select(_ => words[rng.Next(words.Length)]))));
        try
        {
            using var p = Process.Start(new ProcessStartInfo("spm_train",
            [
                $"--input={corpus}", $"--model_prefix={Path.Combine(dir, "tok")}", "--vocab_size=300", "--model_type=bpe",
                "--byte_fallback=true", "--normalization_rule_name=identity", "--remove_extra_whitespaces=false",
                "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1", "--hard_vocab_limit=false", "--minloglevel=2",
            ]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? File.ReadAllBytes(Path.Combine(dir, "tok.model")) : null;
        }
        catch (System.ComponentModel.Win32Exception) { Console.Error.WriteLine("spm_train not found: no tokenizer-model seed (apt install sentencepiece)"); return null; }
    }
}
