using System.Text.Json;
using RoboFactory.Data.Datasets;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Policies.OpenVla;

/// <summary>
/// OpenVLA with discretised actions (the upstream recipe): each action dimension is one of 256 bin tokens, the loss is
/// the cross-entropy on the action tokens and EOS, inference decodes action_dim (× chunk) tokens autoregressively.
/// LoRA (PEFT layout) on a pretrained base, or a full fine-tune of the from-scratch tiny model.
/// </summary>
public sealed class OpenVlaTokenPolicy : ITrainablePolicy
{
    public const string PolicyName = "openvla";

    readonly TrainOptions o;
    readonly string statsPath;
    readonly Tensor centers;
    readonly Scalar firstToken, lastToken, baseMinusOne;

    public string Name => PolicyName;
    public OpenVlaForActionPrediction Model { get; }
    public nn.Module Module => Model;
    public LoraConfig? Lora { get; }
    public IReadOnlyList<(string Name, Parameter P)> Trainable { get; }
    public long TotalParameters { get; }
    public VlaTrainingData Train { get; }
    public VlaTrainingData? Validation { get; }
    public IPolicyData TrainData => Train;
    public IPolicyData? ValidationData => Validation;
    public string DatasetName { get; }

    public string Description => FormattableString.Invariant(
        $"{PolicyName} ({(Lora is null ? "full fine-tune" : $"LoRA r={Lora.R} alpha={Lora.Alpha:0.##}")}): {Trainable.Sum(p => p.P.NumberOfElements):N0} trainable of {TotalParameters:N0} parameters ({100.0 * Trainable.Sum(p => p.P.NumberOfElements) / TotalParameters:0.###} %)");

    OpenVlaTokenPolicy(TrainOptions o, OpenVlaForActionPrediction model, LoraConfig? lora, List<(string, Parameter)> trainable,
        VlaTrainingData train, VlaTrainingData? val, string datasetName, string statsPath)
    {
        this.o = o; Model = model; Lora = lora; Trainable = trainable; Train = train; Validation = val;
        DatasetName = datasetName; this.statsPath = statsPath;
        TotalParameters = model.parameters().Sum(p => p.NumberOfElements);
        var tok = train.Actions;
        centers = torch.tensor(tok.Centers, device: model.parameters().First().device);
        firstToken = (long)tok.FirstTokenId; lastToken = (long)tok.LastTokenId; baseMinusOne = (long)(tok.BaseVocabSize - 1);
    }

    /// <summary>Builds the model (tiny from scratch, or a pretrained folder with a LoRA adapter), restoring a checkpoint on resume.</summary>
    public static ITrainablePolicy Create(PolicyTrainingSetup s)
    {
        var o = s.Options;
        var log = s.Log;
        var (model, prompts, lora, trainable) = OpenVlaBase.Build(o, s.ResumeFrom, log);
        var ds = s.Dataset;
        var norm = ds.Statistics!;
        var stats = VlaTrainingData.ToActionStatistics(norm);
        int threads = o.DecodeThreads ?? Math.Max(1, Environment.ProcessorCount);
        var proprio = o.Proprio ? OpenVlaBase.ProprioStatisticsOf(ds, s.StatisticsPath) : null;
        var train = new VlaTrainingData(ds, s.TrainEpisodes, stats, model.Config, prompts, o.Views, o.ImageAug, shuffle: true, (ulong)o.Seed, o.ShuffleWindow)
            { DecodeThreads = threads, Proprio = proprio, ActionChunk = o.EffectiveActionChunk };
        var val = s.ValidationEpisodes.Length > 0
            ? new VlaTrainingData(ds, s.ValidationEpisodes, stats, model.Config, prompts, o.Views, augment: false, shuffle: false, (ulong)o.Seed, o.ShuffleWindow)
                { DecodeThreads = threads, Proprio = proprio, ActionChunk = o.EffectiveActionChunk }
            : null;
        log.WriteLine($"prompts: {prompts.Kind}{(o.Proprio ? " + joint-state tokens" : "")}; actions per sample: {o.EffectiveActionChunk}");
        return new OpenVlaTokenPolicy(o, model, lora, trainable, train, val, ds.Spec.Name, s.StatisticsPath);
    }

    /// <summary>
    /// Loss on the action tokens and EOS, plus (on the device) action-token accuracy and the L1 of the decoded bin centres
    /// against the true normalised actions.
    /// </summary>
    public PolicyOutput Forward(IPolicyBatch policyBatch)
    {
        var batch = (VlaBatch)policyBatch;
        var output = Model.Forward(batch.PixelValues, batch.InputIds, batch.AttentionMask, batch.Labels, labelLogitsOnly: true);
        PolicyMetrics metrics;
        using (torch.no_grad())
        {
            int nImg = output.NumImageTokens;
            long len = batch.InputIds.shape[1];
            // text position j (label j + 1) sits at sequence position nImg + j; the logits may start later (labels only)
            long j0 = Math.Max(0, output.LogitsOffset - nImg);
            var pred = output.Logits[.., (int)(nImg + j0 - output.LogitsOffset)..(int)(nImg + len - 1 - output.LogitsOffset)].argmax(-1);
            var gt = batch.Labels[.., (int)(j0 + 1)..];
            var isAction = gt.ge(firstToken).logical_and(gt.le(lastToken));
            var correct = pred.eq(gt).logical_and(isAction).sum();
            var total = isAction.sum();
            // decode: centre index clip(base − id − 1, 0, bins − 2)
            using Scalar zero = 0L, maxIdx = centers.shape[0] - 1;
            var idx = pred.neg().add_(baseMinusOne, 1L).clamp(zero, maxIdx).to(centers.device);
            var decoded = centers.index_select(0, idx.flatten()).view(idx.shape);
            var err = decoded.sub(batch.ActionTargets[.., (int)(j0 + 1)..].to(centers.device)).abs().mul(isAction.to(ScalarType.Float64).to(centers.device));
            metrics = new PolicyMetrics(correct, total, err.sum(), total);
        }
        output.Logits.Dispose();
        return new PolicyOutput(output.Loss!, metrics);
    }

    public void Save(string stepDirectory, long step)
    {
        string tmp = stepDirectory;
        OpenVlaBase.SaveWeights(Model, Lora, o, Train, DatasetName, statsPath, tmp);
        OpenVlaBase.PolicyInfo(PolicyName, o, Lora, Train, Train.Proprio, DatasetName, step).Write(Path.Combine(tmp, VlaTrainer.PolicyFile));
    }

    /// <summary>Eval: one actor per agent checkpoint; LoRA checkpoints on one base share it.</summary>
    public static LoadedAgents LoadAgents(IReadOnlyList<string> checkpointDirs, PolicyLoadOptions options)
    {
        var agents = VlaAgentPolicy.LoadAgents(checkpointDirs, Pretrained.ParseDevice(options.Device));
        foreach (var a in agents) a.Decoding = options.Decoding;
        return new LoadedAgents(agents, () => VlaAgentPolicy.DisposeAll(agents));
    }

    public void Dispose()
    {
        centers.Dispose(); firstToken.Dispose(); lastToken.Dispose(); baseMinusOne.Dispose();
        Model.Dispose();
    }
}
