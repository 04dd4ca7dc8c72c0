using RoboFactory.Core.Imaging;
using RoboFactory.Data.Datasets;
using RoboFactory.Vla.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Policies;

/// <summary>What one agent's policy sees at one control step (no simulator types: eval builds it from its observation).</summary>
/// <param name="Views">camera images in <see cref="DatasetViews.Order"/> (head, global, wrist), any size</param>
/// <param name="State">measured joint state (7 joints + gripper width), as the datasets store it</param>
public sealed record PolicyObservation(IReadOnlyList<Image8> Views, string Instruction, float[]? State);

/// <summary>A trained policy acting for one agent: observation → a chunk of absolute 8-D actions (consecutive steps).</summary>
public interface IPolicyActor
{
    /// <summary>Actions returned per call.</summary>
    int ActionChunk { get; }
    /// <summary>Views the policy was trained on (it takes the first that many of <see cref="DatasetViews.Order"/>).</summary>
    int Views { get; }
    int ActionDim { get; }
    /// <summary>Whether <see cref="Act"/> needs <see cref="PolicyObservation.State"/>.</summary>
    bool UsesState { get; }
    /// <summary>The checkpoint folder it was loaded from (for messages).</summary>
    string Source { get; }
    IReadOnlyList<double[]> Act(PolicyObservation observation);
}

/// <summary>A collated training batch of some policy; the trainer only needs its size and to free it.</summary>
public interface IPolicyBatch : IDisposable
{
    int Size { get; }
}

/// <summary>A policy's stream of training (or validation) samples, a pure function of the sample index.</summary>
public interface IPolicyData
{
    IEpisodeDataset Dataset { get; }
    IReadOnlyList<int> Episodes { get; }
    long StepsPerEpoch { get; }
    /// <summary>Samples [first, first + size) of the (shuffled, repeating) stream.</summary>
    IPolicyBatch Batch(long first, int size);
    /// <summary>Samples by index into the split in episode order (validation).</summary>
    IPolicyBatch FlatBatch(IReadOnlyList<long> flatIndices);
}

/// <summary>
/// Metric sums of one forward pass as device tensors (numerator, denominator), so the trainer adds them up over a
/// log interval and reads the device once. Null where a policy has no such metric.
/// </summary>
public sealed record PolicyMetrics(Tensor? AccuracyCorrect, Tensor? AccuracyTotal, Tensor? L1Sum, Tensor? L1Count);

/// <summary>The loss (a scalar with its graph in training) and the metric sums of one forward pass.</summary>
public sealed record PolicyOutput(Tensor Loss, PolicyMetrics Metrics);

/// <summary>
/// A policy the generic trainer (<see cref="VlaTrainer"/>) fine-tunes: it owns its model, its data pipeline and its
/// checkpoint format; the trainer owns the loop, the schedule, clipping, AdamW, checkpoint folders, resume and metrics.
/// </summary>
public interface ITrainablePolicy : IDisposable
{
    /// <summary>The registry name (<see cref="PolicyRegistry"/>), recorded in policy.json.</summary>
    string Name { get; }
    nn.Module Module { get; }
    /// <summary>Parameters the optimizer updates, with their checkpoint names.</summary>
    IReadOnlyList<(string Name, Parameter P)> Trainable { get; }
    long TotalParameters { get; }
    IPolicyData TrainData { get; }
    IPolicyData? ValidationData { get; }
    /// <summary>One line for the log: what is trained and how.</summary>
    string Description { get; }
    PolicyOutput Forward(IPolicyBatch batch);
    /// <summary>Writes the weights (adapter or full), config.json, dataset_statistics.json and policy.json into a step folder.</summary>
    void Save(string stepDirectory, long step);
}

/// <summary>What a policy needs to build itself for training.</summary>
/// <param name="ResumeFrom">the step folder to restore weights from, or null for a new run</param>
/// <param name="StatisticsPath">the dataset's dataset_statistics.json (copied into checkpoints)</param>
public sealed record PolicyTrainingSetup(TrainOptions Options, IEpisodeDataset Dataset, int[] TrainEpisodes, int[] ValidationEpisodes,
    string? ResumeFrom, string StatisticsPath, TextWriter Log);

/// <summary>The agents' actors as a policy loaded them, and what disposes them (a shared base model once).</summary>
public sealed class LoadedAgents(IReadOnlyList<IPolicyActor> actors, Action dispose) : IDisposable
{
    public IReadOnlyList<IPolicyActor> Actors => actors;
    public void Dispose() => dispose();
}

/// <summary>How eval loads the agents' policies.</summary>
/// <param name="Decoding">openvla: how action tokens are decoded</param>
/// <param name="ExecuteSteps">actions executed from each predicted chunk before the policy is asked again (null: the whole chunk)</param>
public sealed record PolicyLoadOptions(string Device = "cpu", Tokenization.ActionDecoding Decoding = Tokenization.ActionDecoding.Greedy, int? ExecuteSteps = null);
