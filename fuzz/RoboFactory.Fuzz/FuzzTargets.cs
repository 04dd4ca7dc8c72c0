using System.Text;
using RoboFactory.Core.Errors;
using RoboFactory.Core.Imaging;
using RoboFactory.Data.Blosc;
using RoboFactory.Data.LeRobot;
using RoboFactory.Data.Rlds;
using RoboFactory.Data.Stats;
using RoboFactory.Data.TfRecord;
using RoboFactory.Data.Zarr;
using RoboFactory.Sim.Config;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Policies;
using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;

namespace RoboFactory.Fuzz;

/// <summary>How one input ended: parsed into a value, or rejected with the documented <see cref="InputFormatException"/>.
/// Any other exception is a contract break and escapes (afl records it as a crash).</summary>
public enum FuzzOutcome { Parsed, Rejected }

/// <summary>One parser under test: <see cref="Run"/> feeds it the bytes of a file exactly as a user's file would reach it.</summary>
/// <param name="Native">drives native code (libblosc): run out of process, so that a native crash is recorded as a
/// crash instead of killing afl's fork server</param>
public sealed record FuzzTarget(string Name, string Parser, Action<byte[], FuzzScratch> Body, bool Native = false)
{
    public FuzzOutcome Run(byte[] input, FuzzScratch scratch)
    {
        try { Body(input, scratch); return FuzzOutcome.Parsed; }
        catch (InputFormatException) { return FuzzOutcome.Rejected; }
    }
}

/// <summary>
/// A private folder for the path-based readers (they open files by name, as the CLI does). One per process: the
/// persistent fuzz loop rewrites the same files for every input.
/// </summary>
public sealed class FuzzScratch : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("robofactory-fuzz-").FullName;

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="relativePath"/> under the scratch folder and returns the full path.</summary>
    public string Write(string relativePath, ReadOnlySpan<byte> bytes)
    {
        string path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var f = new FileStream(path, FileMode.Create, FileAccess.Write)) f.Write(bytes);
        return path;
    }

    /// <summary>A fresh, empty sub-folder (removes what an earlier input left there).</summary>
    public string Folder(string name)
    {
        string dir = Path.Combine(Root, name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public void Dispose() { try { Directory.Delete(Root, recursive: true); } catch (IOException) { } }
}

/// <summary>
/// Every parser that reads a file a user hands us, one fuzz target each. The contract each target checks: an input
/// ends either in a parsed value or in <see cref="InputFormatException"/> (which names the file and field); never in
/// another exception, a hang, a native crash, or an allocation sized by an unchecked length (the harness runs under a
/// GC heap limit, so such an allocation fails as OutOfMemoryException, a crash).
/// </summary>
public static class FuzzTargets
{
    /// <summary>Largest output a fuzzed Blosc/zarr chunk may decode to: far above the seeds, far below the heap limit.</summary>
    public const int MaxDecodedBytes = 16 << 20;

    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("safetensors", "SafetensorsFile.Open: the u64 header length, the JSON header, dtypes, shapes and data offsets",
            (b, s) => { using var f = SafetensorsFile.Open(s.Write("model.safetensors", b)); _ = f.Entries.Count; }),
        new("zarr-array", "ZarrArrayMetadata (.zarray) and opening the array it describes (no chunks: fill values)", ZarrArrayTarget),
        new("zarr-group", "ZarrGroup.Open (.zgroup)",
            (b, s) => { string d = s.Folder("group"); File.WriteAllBytes(Path.Combine(d, ".zgroup"), b); ZarrGroup.Open(d); }),
        new("zarr-attrs", "ZarrGroup.ReadAttributes (.zattrs) and the episode store's attributes", ZarrAttrsTarget),
        new("zarr-chunk", "a chunk of a float32 array under each compressor (first byte picks blosc, zlib, gzip or none)", ZarrChunkTarget, Native: true),
        new("blosc", "BloscCodec.ReadHeader and Decompress (the frame header is checked before libblosc sees it)",
            (b, _) => BloscCodec.Decompress(b, maxBytes: MaxDecodedBytes), Native: true),
        new("tfrecord", "TfRecordReader: u64 length, masked CRC32C of length and payload, truncation",
            (b, s) => { using var r = new TfRecordReader(s.Write("data.tfrecord", b)); foreach (var _ in r.ReadAll()) { } }),
        new("tf-example", "TfExample.Parse (tf.train.Example protobuf) and the RLDS episode built from it", TfExampleTarget),
        new("png", "Png.Decode: chunks, CRCs, IHDR, zlib stream, filters", (b, _) => Png.Decode(b)),
        new("task-yaml", "TaskConfigLoader (configs/table/*.yaml)",
            (b, _) => TaskConfigLoader.Parse(Utf8(b), "task.yaml")),
        new("config-json", "ConfigJson.Read (an OpenVLA config.json)",
            (b, s) => ConfigJson.Read(s.Write("config.json", b))),
        new("dataset-statistics", "DatasetStatistics.Read and NormStatsJson.Load (dataset_statistics.json)",
            (b, s) => { string p = s.Write("dataset_statistics.json", b); DatasetStatistics.Read(p); NormStatsJson.Load(p); }),
        new("policy-json", "VlaPolicyInfo.Read and PolicyRegistry.NameOf (a checkpoint's policy.json)",
            (b, s) =>
            {
                string d = s.Folder("step");
                File.WriteAllBytes(Path.Combine(d, VlaTrainer.PolicyFile), b);
                PolicyRegistry.NameOf(d);
                VlaPolicyInfo.Read(Path.Combine(d, VlaTrainer.PolicyFile));
            }),
        new("adapter-config", "LoraConfig.Read (PEFT's adapter_config.json)",
            (b, s) => LoraConfig.Read(s.Write("adapter_config.json", b))),
        new("tokenizer-model", "SentencePieceBpe (a SentencePiece tokenizer.model protobuf), then one encode whose ids must name pieces",
            (b, _) =>
            {
                var t = new SentencePieceBpe(b);
                foreach (int id in t.Encode("What action should the robot take to lift the barrier?", addBos: true))
                    if (id < 0 || id >= t.Pieces.Count) throw new InvalidOperationException($"encode gave id {id}; the model has {t.Pieces.Count} pieces");
            }),
        new("lerobot-info", "LeRobotInfo.Parse (meta/info.json of a LeRobot v3 dataset)",
            (b, s) => LeRobotInfo.Parse(Utf8(b), "meta/info.json")),
    ];

    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown fuzz target '{name}'; targets: {string.Join(", ", All.Select(t => t.Name))}");

    // Strict UTF-8, as File.ReadAllText would read it (invalid bytes become U+FFFD there too).
    static string Utf8(byte[] b) => Encoding.UTF8.GetString(b);

    static void ZarrArrayTarget(byte[] b, FuzzScratch s)
    {
        string d = s.Folder("array");
        string path = Path.Combine(d, ".zarray");
        File.WriteAllBytes(path, b);
        var meta = ZarrArrayMetadata.Parse(File.ReadAllText(path), path);
        switch (meta.DType.ClrType.Name)
        {
            case nameof(Single): ReadSome(ZarrArray<float>.Open(d)); break;
            case nameof(Double): ReadSome(ZarrArray<double>.Open(d)); break;
            case nameof(Int64): ReadSome(ZarrArray<long>.Open(d)); break;
            case nameof(Byte): ReadSome(ZarrArray<byte>.Open(d)); break;
            default: ZarrArray<int>.Open(d); break; // other dtypes: opening must name the mismatch
        }
    }

    // Reading every row of a valid but huge array is not a parser's job; a few rows exercise the fill-value path.
    static void ReadSome<T>(ZarrArray<T> a) where T : unmanaged
    {
        long rows = Math.Min(a.Length, 4);
        if (rows > 0 && a.RowElements * rows * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() <= MaxDecodedBytes)
            a.ReadRows(0, rows);
    }

    static void ZarrAttrsTarget(byte[] b, FuzzScratch s)
    {
        string d = s.Folder("attrs");
        ZarrGroup.Create(d);
        File.WriteAllBytes(Path.Combine(d, ".zattrs"), b);
        ZarrGroup.Open(d).ReadAttributes();
    }

    // Lazy: instrumented code must not run before SharpFuzz's Fuzzer.Run has set up the coverage map (a static
    // initializer of this class runs when `run` looks the target up).
    static readonly Lazy<ZarrCompressor?[]> ChunkCompressors = new(() =>
        [new BloscCompressor("lz4", 5, BloscShuffle.ByteShuffle), new ZlibCompressor(1), new GzipCompressor(1), null]);

    static void ZarrChunkTarget(byte[] b, FuzzScratch s)
    {
        if (b.Length == 0) return;
        string d = s.Folder("chunk");
        var a = ZarrArray<float>.Create(d, [4, 3], [2, 3], ChunkCompressors.Value[b[0] % ChunkCompressors.Value.Length]);
        File.WriteAllBytes(Path.Combine(d, "0.0"), b.AsSpan(1).ToArray());
        a.ReadAll();
    }

    static readonly Lazy<RldsDatasetSpec> ExampleSpec = new(() => new() { Name = "fuzz", Height = 8, Width = 8, StateDim = 8, ActionDim = 8 });

    static void TfExampleTarget(byte[] b, FuzzScratch _)
    {
        var ex = TfExample.Parse(b);
        RldsEpisodeRecord.FromExample(ex, 0, ExampleSpec.Value, "fuzz.tfrecord");
    }
}
