using RoboFactory.Core.Imaging;
using RoboFactory.Data.Datasets;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Policies.OpenVlaOft;

/// <summary>The OpenVLA backbone plus OFT's action head and proprio projector, as one module tree (train/eval modes).</summary>
public sealed class OpenVlaOftModel : nn.Module
{
    internal OpenVlaForActionPrediction vla;
    internal L1RegressionActionHead action_head;
    internal ProprioProjector? proprio_projector;

    public OpenVlaOftModel(OpenVlaForActionPrediction vla, int actionDim, int? stateDim) : base("OpenVlaOftModel")
    {
        this.vla = vla;
        long hidden = vla.Config.Text.HiddenSize;
        var dev = vla.Device;
        action_head = new L1RegressionActionHead(hidden, actionDim, dev);
        if (stateDim is int p) proprio_projector = new ProprioProjector(hidden, p, dev);
        RegisterComponents();
    }

    public OpenVlaForActionPrediction Vla => vla;
    public L1RegressionActionHead ActionHead => action_head;
    public ProprioProjector? Proprio => proprio_projector;

    /// <summary>
    /// One forward pass: placeholders zeroed at <paramref name="placeholders"/> [B,L], the proprio token after the
    /// patches, and the head on the hidden states one position before each placeholder (the causal-LM alignment OFT
    /// trains with: text position j predicts token j + 1). <paramref name="placeholderIndex"/> [B, K·D] holds, per row,
    /// the text positions of the placeholders in order. Returns the normalised actions [B, K, D].
    /// </summary>
    public Tensor PredictActions(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask, Tensor placeholders, Tensor placeholderIndex, Tensor? state, bool causal)
    {
        using var scope = NewDisposeScope();
        var extra = proprio_projector is not null
            ? proprio_projector.forward(state ?? throw new ArgumentException("this policy was trained with --proprio: the joint state is needed")).to(vla.DType)
            : null;
        var (hidden, prefix) = vla.ForwardParallel(pixelValues, inputIds, attentionMask, placeholders, extra, causal);
        using Scalar shift = (long)(prefix - 1);
        var pos = placeholderIndex.to(ScalarType.Int64).to(hidden.device).add(shift);
        var picked = hidden.gather(1, pos.unsqueeze(-1).expand(-1, -1, hidden.shape[2]));
        return action_head.forward(picked).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// OpenVLA-OFT (Kim, Finn, Liang 2025; moojink/openvla-oft): parallel decoding of an action chunk in one forward pass
/// — K·D placeholder positions with zeroed input embeddings after the prompt, then the stop token, under bidirectional
/// attention (or `--attention causal`) — and continuous actions from an L1-regression MLP-ResNet head on the
/// placeholders' hidden states; the joint state enters as one projected token after the image patches (`--proprio`).
/// </summary>
public sealed class OpenVlaOftPolicy : ITrainablePolicy
{
    public const string PolicyName = "openvla-oft";
    public const string HeadFile = "action_head.safetensors";
    public const string ProprioFile = "proprio_projector.safetensors";

    readonly TrainOptions o;
    readonly string statsPath;

    public string Name => PolicyName;
    public OpenVlaOftModel Model { get; }
    public nn.Module Module => Model;
    public LoraConfig? Lora { get; }
    public IReadOnlyList<(string Name, Parameter P)> Trainable { get; }
    public long TotalParameters { get; }
    public VlaTrainingData Train { get; }
    public VlaTrainingData? Validation { get; }
    public IPolicyData TrainData => Train;
    public IPolicyData? ValidationData => Validation;
    public string DatasetName { get; }
    bool Causal => o.Attention == "causal";

    public string Description => FormattableString.Invariant(
        $"{PolicyName} ({(Lora is null ? "full fine-tune" : $"LoRA r={Lora.R} alpha={Lora.Alpha:0.##}")} + L1 head{(Model.Proprio is null ? "" : " + proprio projector")}, {o.Attention} attention, chunk {o.EffectiveActionChunk}): {Trainable.Sum(p => p.P.NumberOfElements):N0} trainable of {TotalParameters:N0} parameters");

    OpenVlaOftPolicy(TrainOptions o, OpenVlaOftModel model, LoraConfig? lora, List<(string, Parameter)> trainable, VlaTrainingData train, VlaTrainingData? val, string datasetName, string statsPath)
    {
        this.o = o; Model = model; Lora = lora; Trainable = trainable; Train = train; Validation = val; DatasetName = datasetName; this.statsPath = statsPath;
        TotalParameters = model.parameters().Sum(p => p.NumberOfElements);
    }

    /// <summary>Head (and projector) parameters, named as OFT's checkpoints name them.</summary>
    static IEnumerable<(string, Parameter)> HeadParameters(OpenVlaOftModel m) =>
        m.ActionHead.named_parameters().Select(p => ("action_head." + p.name, p.parameter))
            .Concat(m.Proprio?.named_parameters().Select(p => ("proprio_projector." + p.name, p.parameter)) ?? []);

    public static ITrainablePolicy Create(PolicyTrainingSetup s)
    {
        var o = s.Options;
        var b = OpenVlaBase.Build(o, s.ResumeFrom, s.Log);
        var ds = s.Dataset;
        var norm = ds.Statistics!;
        var stats = VlaTrainingData.ToActionStatistics(norm);
        var proprio = o.Proprio ? OpenVlaBase.ProprioStatisticsOf(ds, s.StatisticsPath) : null;
        // the head is seeded apart from the backbone, so adding it does not change the tiny model's init
        torch.manual_seed(o.Seed + 2);
        var model = new OpenVlaOftModel(b.Model, stats.Dimension, proprio?.Dimension);
        if (s.ResumeFrom is not null) LoadHeads(model, s.ResumeFrom);
        var trainable = b.Trainable.Concat(HeadParameters(model)).ToList();
        foreach (var (_, p) in trainable) p.requires_grad = true;
        int threads = o.DecodeThreads ?? Math.Max(1, Environment.ProcessorCount);
        int k = o.EffectiveActionChunk;
        var train = new VlaTrainingData(ds, s.TrainEpisodes, stats, b.Model.Config, b.Prompts, o.Views, o.ImageAug, shuffle: true, (ulong)o.Seed, o.ShuffleWindow)
            { DecodeThreads = threads, ProprioVector = proprio, ActionChunk = k };
        var val = s.ValidationEpisodes.Length > 0
            ? new VlaTrainingData(ds, s.ValidationEpisodes, stats, b.Model.Config, b.Prompts, o.Views, augment: false, shuffle: false, (ulong)o.Seed, o.ShuffleWindow)
                { DecodeThreads = threads, ProprioVector = proprio, ActionChunk = k }
            : null;
        return new OpenVlaOftPolicy(o, model, b.Lora, trainable, train, val, ds.Spec.Name, s.StatisticsPath);
    }

    /// <summary>L1 between the head's actions and the normalised chunk (the placeholders are the action-label positions).</summary>
    public PolicyOutput Forward(IPolicyBatch policyBatch)
    {
        var batch = (VlaBatch)policyBatch;
        var tok = Train.Actions;
        using Scalar first = (long)tok.FirstTokenId, last = (long)tok.LastTokenId;
        var placeholders = batch.Labels.ge(first).logical_and(batch.Labels.le(last));
        var pred = Model.PredictActions(batch.PixelValues, batch.InputIds, batch.AttentionMask, placeholders, batch.PlaceholderIndex, batch.State, Causal);
        var target = batch.Targets.to(pred.device).view(pred.shape);
        var err = pred.sub(target).abs();
        var loss = err.mean();
        using var noGrad = torch.no_grad();
        var count = torch.tensor((double)err.NumberOfElements, ScalarType.Float64, err.device);
        return new PolicyOutput(loss, new PolicyMetrics(null, null, err.detach().sum(), count));
    }

    public void Save(string stepDirectory, long step)
    {
        OpenVlaBase.SaveWeights(Model.Vla, Lora, o, Train, DatasetName, statsPath, stepDirectory);
        SafetensorsWriter.Write(Path.Combine(stepDirectory, HeadFile), Model.ActionHead.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), new Dictionary<string, string> { ["format"] = "pt" });
        if (Model.Proprio is not null)
            SafetensorsWriter.Write(Path.Combine(stepDirectory, ProprioFile), Model.Proprio.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), new Dictionary<string, string> { ["format"] = "pt" });
        OpenVlaBase.PolicyInfo(PolicyName, o, Lora, Train, Train.ProprioVector, DatasetName, step, o.Attention).Write(Path.Combine(stepDirectory, VlaTrainer.PolicyFile));
    }

    public void Dispose() => Model.Dispose();

    /// <summary>Loads the head (and projector) of a step folder into <paramref name="m"/>, checking names and shapes.</summary>
    internal static void LoadHeads(OpenVlaOftModel m, string dir)
    {
        void Into(nn.Module module, string file)
        {
            string path = Path.Combine(dir, file);
            if (!File.Exists(path)) throw new FileNotFoundException($"{dir}: an openvla-oft checkpoint needs {file}", path);
            using var f = SafetensorsFile.Open(path);
            var names = module.named_parameters().Select(p => p.name).ToHashSet();
            var missing = names.Where(n => !f.Entries.ContainsKey(n)).ToList();
            var unexpected = f.Entries.Keys.Where(n => !names.Contains(n)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new CheckpointMismatchException([.. missing.Select(n => $"{path}: missing {n}"), .. unexpected.Select(n => $"{path}: unexpected {n}")]);
            using var noGrad = torch.no_grad();
            foreach (var (name, p) in module.named_parameters()) f.ReadInto(name, p);
        }
        Into(m.ActionHead, HeadFile);
        if (m.Proprio is not null) Into(m.Proprio, ProprioFile);
    }

    /// <summary>
    /// Eval: LoRA agents on the same base share one frozen backbone (their adapters named agent0, agent1, … and
    /// activated per call, as the token policy does), each with its own head and proprio projector; a full fine-tune
    /// loads its own. Two 7B agents thus need one 15 GB bf16 base, not two.
    /// </summary>
    public static LoadedAgents LoadAgents(IReadOnlyList<string> checkpointDirs, PolicyLoadOptions options)
    {
        var device = Pretrained.ParseDevice(options.Device);
        var agents = new List<OftAgent>();
        var bases = new Dictionary<string, VlaSharedBase>();
        void DisposeAll()
        {
            foreach (var a in agents) a.Dispose();
            foreach (var b in bases.Values) b.Dispose();
        }
        try
        {
            for (int i = 0; i < checkpointDirs.Count; i++)
            {
                var ckpt = VlaPolicyCheckpoint.Load(checkpointDirs[i]);
                if (!ckpt.IsLora) { agents.Add(OftAgent.Load(checkpointDirs[i], device)); continue; }
                if (!bases.TryGetValue(ckpt.BaseKey, out var b)) bases[ckpt.BaseKey] = b = VlaSharedBase.Create(ckpt, device);
                agents.Add(OftAgent.OnSharedBase(ckpt, b, $"agent{i}"));
            }
        }
        catch
        {
            DisposeAll();
            throw;
        }
        return new LoadedAgents(agents, DisposeAll);
    }
}

/// <summary>One trained openvla-oft agent: observation → the normalised chunk from one forward pass → un-normalised actions.</summary>
public sealed class OftAgent : IPolicyActor, IDisposable
{
    readonly OpenVlaOftModel model;
    readonly VlaImagePipeline images;
    readonly PromptEncoder prompts;
    readonly bool causal;
    readonly int padId;
    // set when the backbone is shared with other agents: this agent's adapter is activated before each call
    readonly VlaSharedBase? shared;
    readonly string? adapter;

    public VlaPolicyCheckpoint Checkpoint { get; }
    public int ActionChunk => Checkpoint.Info.ActionChunk;
    public int Views => Checkpoint.Info.Views;
    public int ActionDim => Checkpoint.Statistics.Dimension;
    public bool UsesState => Checkpoint.Info.Proprio is not null;
    public string Source => Checkpoint.Directory;
    /// <summary>The OpenVLA backbone this agent runs on (one object for agents that share a base).</summary>
    public OpenVlaForActionPrediction Backbone => model.Vla;

    OftAgent(VlaPolicyCheckpoint ckpt, OpenVlaOftModel model, LlamaTextTokenizer? tokenizer, VlaSharedBase? shared = null, string? adapter = null)
    {
        Checkpoint = ckpt; this.model = model; this.shared = shared; this.adapter = adapter;
        images = new VlaImagePipeline(model.Vla.Config, ckpt.Info.CenterCrop);
        prompts = new PromptEncoder(model.Vla.Config, tokenizer, ckpt.Info.PromptStandIn);
        causal = ckpt.Info.Attention == "causal";
        padId = model.Vla.Config.Text.PadTokenId;
    }

    static void CheckPolicy(VlaPolicyCheckpoint ckpt)
    {
        if (ckpt.Info.Policy != OpenVlaOftPolicy.PolicyName)
            throw new ArgumentException($"{ckpt.Directory} holds a {ckpt.Info.Policy} checkpoint, not {OpenVlaOftPolicy.PolicyName}");
    }

    /// <summary>An agent whose LoRA adapter is attached to <paramref name="shared"/> under <paramref name="name"/>.</summary>
    public static OftAgent OnSharedBase(VlaPolicyCheckpoint ckpt, VlaSharedBase shared, string name)
    {
        CheckPolicy(ckpt);
        shared.Attach(ckpt, name);
        var m = new OpenVlaOftModel(shared.Model, ckpt.Statistics.Dimension, ckpt.Info.Proprio?.Dimension);
        try
        {
            OpenVlaOftPolicy.LoadHeads(m, ckpt.Directory);
            m.eval();
            foreach (var (_, p) in m.named_parameters()) p.requires_grad = false;
            return new OftAgent(ckpt, m, ckpt.LoadTokenizer(), shared, name);
        }
        catch
        {
            m.ActionHead.Dispose(); m.Proprio?.Dispose();
            throw;
        }
    }

    public static OftAgent Load(string checkpointDir, Device? device = null)
    {
        var ckpt = VlaPolicyCheckpoint.Load(checkpointDir);
        CheckPolicy(ckpt);
        var vla = ckpt.CreateModel(device);
        OpenVlaOftModel? m = null;
        try
        {
            if (ckpt.IsLora) LoraModel.Load(vla, ckpt.Directory).Dispose();
            m = new OpenVlaOftModel(vla, ckpt.Statistics.Dimension, ckpt.Info.Proprio?.Dimension);
            OpenVlaOftPolicy.LoadHeads(m, ckpt.Directory);
            foreach (var (_, p) in m.named_parameters()) p.requires_grad = false;
            m.eval();
            return new OftAgent(ckpt, m, ckpt.LoadTokenizer());
        }
        catch
        {
            if (m is not null) m.Dispose(); else vla.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model's inputs for one observation: prompt, K·D placeholders, stop token; the placeholder mask and their
    /// text positions (the same layout training builds from the action labels).
    /// </summary>
    public (long[] Ids, bool[] Placeholders, long[] PlaceholderIndex) Inputs(string instruction)
    {
        var prompt = prompts.Prompt(instruction);
        int n = ActionChunk * ActionDim;
        var ids = new long[prompt.Length + n + 1];
        prompt.CopyTo(ids, 0);
        for (int i = 0; i < n; i++) ids[prompt.Length + i] = padId; // any id: its embedding is zeroed
        ids[^1] = prompts.EosId;
        var mask = new bool[ids.Length];
        var index = new long[n];
        for (int i = 0; i < n; i++) { mask[prompt.Length + i] = true; index[i] = prompt.Length + i; }
        return (ids, mask, index);
    }

    public IReadOnlyList<double[]> Act(PolicyObservation observation)
    {
        if (observation.Views.Count < Views) throw new ArgumentException($"{Source}: trained on {Views} view(s), got {observation.Views.Count}");
        var proprio = Checkpoint.Info.Proprio;
        if (proprio is not null && observation.State is null) throw new ArgumentException($"{Source} was trained with --proprio: pass the joint state");
        shared?.Activate(adapter);
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var px = images.EvalViews(observation.Views.Take(Views).ToList());
        var (ids, mask, index) = Inputs(observation.Instruction);
        var state = proprio is null ? null : torch.tensor(proprio.Normalize(observation.State!), new long[] { 1, proprio.Dimension });
        var pred = model.PredictActions(px, torch.tensor(ids).unsqueeze(0), null, torch.tensor(mask).unsqueeze(0),
            torch.tensor(index).unsqueeze(0), state, causal);
        var norm = pred.to(ScalarType.Float64).cpu().data<double>().ToArray();
        int d = ActionDim;
        return Enumerable.Range(0, ActionChunk).Select(k => ActionNormalizer.Unnormalize(norm.AsSpan(k * d, d), Checkpoint.Statistics)).ToArray();
    }

    public void Dispose()
    {
        if (shared is null) { model.Dispose(); return; }
        // the backbone belongs to the shared base (disposed with it); the head and projector are this agent's
        model.ActionHead.Dispose();
        model.Proprio?.Dispose();
    }
}
