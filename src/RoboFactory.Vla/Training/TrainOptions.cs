using RoboFactory.Core.Naming;
using RoboFactory.Data.Datasets;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Training;

/// <summary>Everything a `train` run is configured by (saved in trainer_state.json; a resumed run reuses it).</summary>
public sealed record TrainOptions
{
    /// <summary>The policy to train, by its registry name (Policies.PolicyRegistry).</summary>
    public string Policy { get; init; } = Policies.PolicyRegistry.DefaultName;
    /// <summary>Task name, with or without the "-rf" suffix (LiftBarrier, LiftBarrier-rf).</summary>
    public string Task { get; init; } = "LiftBarrier";
    public int AgentId { get; init; }
    /// <summary>Dataset folder in any format <see cref="EpisodeDatasets.Open"/> reads (RLDS …/1.0.0 or a LeRobot v3.0 folder); default data/rlds/{task_snake}_agent{id}/1.0.0.</summary>
    public string? DataPath { get; init; }
    /// <summary>"tiny" (built from scratch with <see cref="Seed"/>) or a Hugging Face OpenVLA folder (the frozen base).</summary>
    public string Model { get; init; } = "tiny";
    public string? Tokenizer { get; init; }
    /// <summary>Prompt encoding without a tokenizer (the from-scratch tiny model); runs saved before it existed used bytes.</summary>
    public PromptStandIn PromptStandIn { get; init; } = PromptStandIn.Bytes;
    /// <summary>Input size of both vision towers of the from-scratch tiny model (default 112; a multiple of 14).</summary>
    public int? ImageSize { get; init; }
    public long Seed { get; init; } = 42;
    public int BatchSize { get; init; } = 8;
    public int GradAccum { get; init; } = 1;
    public double Lr { get; init; } = 5e-4;
    public double MinLr { get; init; }
    public int MaxSteps { get; init; } = 1000;
    /// <summary>Default: 3 % of max steps.</summary>
    public int? WarmupSteps { get; init; }
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Decay every parameter (torch's default); by default only parameters with ≥ 2 dimensions decay (nanoGPT).</summary>
    public bool DecayAllParameters { get; init; }
    /// <summary>Recompute activations block by block in backward instead of keeping them (less memory, one more forward).</summary>
    public bool GradientCheckpointing { get; init; }
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Train every parameter instead of LoRA. Default: true for the from-scratch tiny model, false for a pretrained folder.</summary>
    public bool? FullFinetune { get; init; }
    public bool TrainProjector { get; init; }
    public int LoraRank { get; init; } = 32;
    public double LoraAlpha { get; init; } = 16;
    public double LoraDropout { get; init; }
    public IReadOnlyList<string>? LoraTargets { get; init; }
    public string LoraInit { get; init; } = "gaussian";
    /// <summary>Random-resized-crop (90 % area) + colour jitter; inference then takes the centre crop.</summary>
    public bool ImageAug { get; init; } = true;
    /// <summary>Put the measured joint state into the prompt as state tokens (<see cref="Tokenization.ProprioStatistics"/>).</summary>
    public bool Proprio { get; init; }
    /// <summary>Predict this many consecutive actions per sample (action chunking; eval executes them in order). Default: the policy's (openvla 1, openvla-oft 8).</summary>
    public int? ActionChunk { get; init; }
    [JsonIgnore] public int EffectiveActionChunk => ActionChunk ?? Policies.PolicyRegistry.Get(Policy).DefaultActionChunk;
    /// <summary>OpenVLA-OFT: "bidirectional" attention over the whole sequence (OFT's parallel decoding) or "causal".</summary>
    public string Attention { get; init; } = "bidirectional";
    public const int MaxActionChunk = 16;
    /// <summary>How many views of <see cref="DatasetViews.Order"/> to feed (3 = all; 1 = the agent's head camera).</summary>
    public int Views { get; init; } = DatasetViews.Count;
    public string DType { get; init; } = "fp32";
    public string Device { get; init; } = "cpu";
    /// <summary>Read loss and metrics from the device, print and log them every N steps (averaged over the N steps).</summary>
    public int LogEvery { get; init; } = 10;
    public int ValEvery { get; init; } = 100;
    public int ValBatches { get; init; } = 4;
    public double ValFraction { get; init; } = 0.1;
    public int SaveEvery { get; init; } = 500;
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Run folder; default {ResolvedCheckpointRoot}/{Task}_Agent{id}.</summary>
    public string? OutDir { get; init; }
    /// <summary>Folder of the per-agent run folders; default checkpoints/{Policy}.</summary>
    public string? CheckpointRoot { get; init; }
    [JsonIgnore] public string ResolvedCheckpointRoot => CheckpointRoot ?? RunNames.CheckpointRoot(Policy);
    /// <summary>tensorboard (metrics.jsonl + event files), jsonl, or none.</summary>
    public string Logger { get; init; } = "tensorboard";
    public bool Resume { get; init; }
    /// <summary>Replace an existing run in the output folder.</summary>
    public bool Overwrite { get; init; }
    /// <summary>Episodes read together and shuffled step-wise (the shuffle buffer, in episodes).</summary>
    public int ShuffleWindow { get; init; } = 16;
    public int? DecodeThreads { get; init; }
    /// <summary>Write PNG plots at the end (needs a plotter; the CLI provides one).</summary>
    public bool Plots { get; init; } = true;

    [JsonIgnore] public string TaskStem => TaskNames.Stem(Task);
    [JsonIgnore] public bool IsTinyFromScratch => Model.Equals("tiny", StringComparison.OrdinalIgnoreCase);
    /// <summary>The tiny config this run builds (from-scratch runs only).</summary>
    [JsonIgnore] public Config.OpenVlaConfig TinyConfig => ImageSize is int px ? Config.OpenVlaConfig.TinyAt(px) : Config.OpenVlaConfig.Tiny;
    [JsonIgnore] public bool UsesFullFinetune => FullFinetune ?? IsTinyFromScratch;
    [JsonIgnore] public int EffectiveWarmup => WarmupSteps ?? (int)Math.Round(0.03 * MaxSteps);
    [JsonIgnore] public int SamplesPerStep => BatchSize * GradAccum;

    [JsonIgnore] public string ResolvedDataPath => DataPath ?? DefaultDataPath(Task, AgentId);
    [JsonIgnore] public string ResolvedOutDir => OutDir ?? RunDirectory(ResolvedCheckpointRoot, Task, AgentId);

    /// <summary>data/rlds/{task_snake}_agent{id}/1.0.0.</summary>
    public static string DefaultDataPath(string task, int agentId, string root = DataNames.DefaultRldsRoot) =>
        Path.Combine(root, DataNames.RldsDataset(task, agentId), DataNames.RldsVersion);

    /// <summary>{root}/{Task}_Agent{id} (task without "-rf"), the per-agent run folder eval looks in.</summary>
    public static string RunDirectory(string root, string task, int agentId) => Path.Combine(root, RunNames.AgentRun(task, agentId));

    public void Validate()
    {
        if (BatchSize <= 0) throw new ArgumentException("--batch-size must be positive");
        if (GradAccum <= 0) throw new ArgumentException("--grad-accum must be positive");
        if (MaxSteps <= 0) throw new ArgumentException("--max-steps must be positive");
        if (Lr <= 0) throw new ArgumentException("--lr must be positive");
        if (Views is < 1 or > DatasetViews.Count) throw new ArgumentException($"--views must be 1..{DatasetViews.Count}");
        if (ValFraction is < 0 or >= 1) throw new ArgumentException("--val-fraction must be in [0, 1)");
        if (Logger is not ("tensorboard" or "jsonl" or "none")) throw new ArgumentException("--logger must be tensorboard, jsonl or none");
        if (EffectiveWarmup < 0 || EffectiveWarmup > MaxSteps) throw new ArgumentException("--warmup-steps must be in [0, max-steps]");
        if (TrainProjector && UsesFullFinetune) throw new ArgumentException("--train-projector is for LoRA runs (a full fine-tune trains the projector anyway)");
        if (ImageSize is int px && (!IsTinyFromScratch || px < 28 || px > 448 || px % 14 != 0))
            throw new ArgumentException(IsTinyFromScratch
                ? $"--image-size {px}: expected a multiple of the 14 px patch in [28, 448]"
                : "--image-size only applies to --model tiny (a pretrained model's image size is fixed by its config.json)");
        if (ActionChunk is < 1 or > MaxActionChunk) throw new ArgumentException($"--action-chunk must be 1..{MaxActionChunk}");
        if (Attention is not ("bidirectional" or "causal")) throw new ArgumentException($"--attention must be bidirectional or causal, got '{Attention}'");
        _ = Policies.PolicyRegistry.Get(Policy); // an unknown --policy names the known ones
        if (Resume && Overwrite) throw new ArgumentException("--resume and --overwrite exclude each other");
        if (LogEvery <= 0) throw new ArgumentException("--log-every must be positive");
    }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    public JsonNode ToJson() => JsonSerializer.SerializeToNode(this, Json)!;
    public static TrainOptions FromJson(JsonNode node) => node.Deserialize<TrainOptions>(Json) ?? throw new InputFormatException("empty train options");
}
