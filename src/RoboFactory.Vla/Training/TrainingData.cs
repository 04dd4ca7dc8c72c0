using RoboFactory.Data.Datasets;
using RoboFactory.Core.Rng;
using RoboFactory.Data.Stats;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Tokenization;
using TorchSharp;
using static TorchSharp.torch;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Training;

/// <summary>One collated batch. Dispose to free the tensors.</summary>
public sealed class VlaBatch : Policies.IPolicyBatch
{
    /// <summary>[B, 6·K, S, S] fp32.</summary>
    public required Tensor PixelValues { get; init; }
    /// <summary>[B, L] right-padded with the pad id.</summary>
    public required Tensor InputIds { get; init; }
    public required Tensor AttentionMask { get; init; }
    /// <summary>[B, L]: −100 except action tokens and EOS.</summary>
    public required Tensor Labels { get; init; }
    /// <summary>Per sample, the normalised (q01/q99, gripper raw) action (or action chunk, concatenated) the tokens encode.</summary>
    public required float[][] NormalizedActions { get; init; }
    /// <summary>[B, L] float64: at each action-token label position the normalised value that token encodes, 0 elsewhere
    /// (so the L1 of decoded predictions is computed on the device).</summary>
    public required Tensor ActionTargets { get; init; }
    public required (int Episode, int Step)[] Origins { get; init; }
    /// <summary>[B, K·D] fp32: the normalised action chunk of each sample (OpenVLA-OFT's regression target).</summary>
    public required Tensor Targets { get; init; }
    /// <summary>[B, K·D] int64: per sample the text positions of its action labels in order (OFT's placeholders).</summary>
    public required Tensor PlaceholderIndex { get; init; }
    /// <summary>[B, state_dim] fp32: the normalised joint state, when the data serves it as a vector (OFT's proprio projector).</summary>
    public Tensor? State { get; init; }
    public int Size => NormalizedActions.Length;
    public void Dispose() { PixelValues.Dispose(); InputIds.Dispose(); AttentionMask.Dispose(); Labels.Dispose(); ActionTargets.Dispose(); Targets.Dispose(); PlaceholderIndex.Dispose(); State?.Dispose(); }
}

/// <summary>
/// The training (or validation) stream of one agent's dataset (any <see cref="IEpisodeDataset"/> format) as a pure function of (seed, sample index), so a
/// resumed run sees exactly the samples an uninterrupted run would have seen without replaying the stream.
/// Order: per epoch the split's episodes are shuffled (seed, epoch); consecutive groups of <c>window</c> episodes are
/// read together and their steps shuffled (seed, epoch, group) — a shuffle buffer of whole episodes. Validation reads
/// its episodes in order without shuffling. Augmentation draws from a generator seeded by (seed, sample index).
/// Images: views in <see cref="DatasetViews.Order"/>, decoded by the dataset and preprocessed by <see cref="VlaImagePipeline"/>.
/// Actions: normalised with the dataset's q01/q99 (gripper raw per mask) and tokenised with OpenVLA's action tokenizer.
/// </summary>
public sealed class VlaTrainingData : Policies.IPolicyData
{
    readonly IEpisodeDataset ds;
    readonly int[] episodes;
    readonly int[] lengths;
    readonly string[] instructions;
    readonly float[][] actions;
    readonly float[][] states;
    readonly ulong seed;
    readonly int window;
    readonly bool shuffle;
    readonly Dictionary<int, EpisodeData> cache = new();
    readonly Queue<int> cacheOrder = new();
    (long Epoch, int[] Order, long[] GroupStarts)? epochCache;

    public IEpisodeDataset Dataset => ds;
    public IReadOnlyList<int> Episodes => episodes;
    public long StepsPerEpoch { get; }
    public ActionStatistics Statistics { get; }
    public VlaImagePipeline Images { get; }
    public PromptEncoder Prompts { get; }
    public ActionTokenizer Actions { get; }
    public int Views { get; }
    public int PadId { get; }
    public bool Augment { get; }
    public int DecodeThreads { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>With statistics, each prompt carries the step's measured joint state as state tokens (--proprio).</summary>
    public ProprioStatistics? Proprio { get; init; }
    /// <summary>With statistics, each batch carries the normalised joint state as a vector (<see cref="VlaBatch.State"/>) instead of tokens.</summary>
    public ProprioStatistics? ProprioVector { get; init; }
    /// <summary>Actions per sample: the step's action and the next ones (the last action repeats past the episode end).</summary>
    public int ActionChunk { get; init; } = 1;

    public VlaTrainingData(IEpisodeDataset dataset, IReadOnlyList<int> episodeIndices, ActionStatistics stats, OpenVlaConfig config,
        PromptEncoder prompts, int views, bool augment, bool shuffle, ulong seed, int window = 16)
    {
        if (views is < 1 or > DatasetViews.Count) throw new ArgumentException($"views must be 1..{DatasetViews.Count}");
        for (int v = 0; v < views; v++)
            if (!dataset.Spec.HasView[v])
                throw new InputFormatException($"{dataset.Directory}: no {DatasetViews.Order[v]}, but view {v} ({DatasetViews.Descriptions[v]}) is needed");
        if (stats.Dimension != dataset.Spec.ActionDim)
            throw new InputFormatException($"statistics have {stats.Dimension} action dims, the dataset {dataset.Spec.ActionDim}");
        ds = dataset;
        episodes = episodeIndices.ToArray();
        Statistics = stats;
        Images = new VlaImagePipeline(config, augment);
        Prompts = prompts;
        Actions = ActionTokenizer.For(config);
        Views = views;
        PadId = config.Text.PadTokenId;
        Augment = augment;
        this.shuffle = shuffle;
        this.seed = seed;
        this.window = Math.Max(1, window);
        // One pass for lengths, instructions and actions (images stay on disk).
        lengths = new int[episodes.Length];
        instructions = new string[episodes.Length];
        actions = new float[episodes.Length][];
        states = new float[episodes.Length][];
        int k = 0;
        foreach (var e in ds.Episodes(episodes))
        {
            if (string.IsNullOrWhiteSpace(e.LanguageInstruction))
                throw new InputFormatException($"{ds.Directory}: episode {e.Index} has no language instruction");
            lengths[k] = e.Length; instructions[k] = e.LanguageInstruction; actions[k] = e.Action; states[k] = e.State; k++;
        }
        StepsPerEpoch = lengths.Sum(l => (long)l);
    }

    /// <summary>Converts the dataset's statistics (dataset_statistics.json) to the model's action statistics.</summary>
    public static ActionStatistics ToActionStatistics(NormStats s) => new()
    {
        Q01 = s.Action.Q01, Q99 = s.Action.Q99, Mask = s.Action.Mask ?? DatasetStatistics.GripperLastMask(s.Action.Q01.Length),
        Mean = s.Action.Mean, Std = s.Action.Std, Min = s.Action.Min, Max = s.Action.Max,
    };

    static ulong Mix(ulong a, ulong b) => SplitMix64.Mix(a, b);

    (int[] Order, long[] GroupStarts) Epoch(long epoch)
    {
        if (epochCache is { } c && c.Epoch == epoch) return (c.Order, c.GroupStarts);
        var order = Enumerable.Range(0, episodes.Length).ToArray();
        if (shuffle) new SplitMix64(Mix(seed, (ulong)epoch + 1)).Shuffle(order);
        int groups = (order.Length + window - 1) / window;
        var starts = new long[groups + 1];
        for (int g = 0; g < groups; g++)
            starts[g + 1] = starts[g] + order.Skip(g * window).Take(window).Sum(i => (long)lengths[i]);
        epochCache = (epoch, order, starts);
        return (order, starts);
    }

    /// <summary>Sample <paramref name="k"/> of the infinite stream → (position in <see cref="Episodes"/>, step).</summary>
    public (int EpisodeSlot, int Step) Locate(long k)
    {
        if (StepsPerEpoch == 0) throw new InputFormatException($"{ds.Directory}: the split has no steps");
        long epoch = k / StepsPerEpoch, offset = k % StepsPerEpoch;
        var (order, starts) = Epoch(epoch);
        int g = 0;
        while (starts[g + 1] <= offset) g++;
        long inGroup = offset - starts[g];
        long groupLen = starts[g + 1] - starts[g];
        long idx = inGroup;
        if (shuffle)
        {
            // A seeded permutation of the group's steps (Fisher–Yates), cached per group.
            idx = GroupPermutation(epoch, g, (int)groupLen)[inGroup];
        }
        foreach (int slot in order.Skip(g * window).Take(window))
        {
            if (idx < lengths[slot]) return (slot, (int)idx);
            idx -= lengths[slot];
        }
        throw new InvalidOperationException("sample index out of range");
    }

    (long, int, int[])? permCache;
    int[] GroupPermutation(long epoch, int group, int len)
    {
        if (permCache is { } p && p.Item1 == epoch && p.Item2 == group) return p.Item3;
        var perm = Enumerable.Range(0, len).ToArray();
        new SplitMix64(Mix(Mix(seed, (ulong)epoch + 1), (ulong)group + 0x1234)).Shuffle(perm);
        permCache = (epoch, group, perm);
        return perm;
    }

    EpisodeData Episode(int slot)
    {
        int idx = episodes[slot];
        if (cache.TryGetValue(idx, out var e)) return e;
        e = ds.Episode(idx);
        cache[idx] = e; cacheOrder.Enqueue(idx);
        while (cacheOrder.Count > window + 2) cache.Remove(cacheOrder.Dequeue());
        return e;
    }

    /// <summary>Normalised action of (slot, step).</summary>
    public float[] NormalizedAction(int slot, int step)
    {
        int d = ds.Spec.ActionDim;
        var raw = new double[d];
        for (int i = 0; i < d; i++) raw[i] = actions[slot][step * d + i];
        return ActionNormalizer.Normalize(raw, Statistics);
    }

    /// <summary>
    /// Normalised action chunk of (slot, step): <see cref="ActionChunk"/> consecutive actions, concatenated; steps past
    /// the episode end repeat its last action (the arm holds its final pose).
    /// </summary>
    public float[] NormalizedChunk(int slot, int step)
    {
        if (ActionChunk == 1) return NormalizedAction(slot, step);
        int d = ds.Spec.ActionDim;
        var chunk = new float[ActionChunk * d];
        for (int k = 0; k < ActionChunk; k++)
            NormalizedAction(slot, Math.Min(step + k, lengths[slot] - 1)).CopyTo(chunk, k * d);
        return chunk;
    }

    /// <summary>Normalised joint state of (slot, step) for <see cref="ProprioVector"/>.</summary>
    public float[] NormalizedState(int slot, int step)
    {
        int d = ds.Spec.StateDim;
        return (ProprioVector ?? throw new InvalidOperationException("no proprio statistics")).Normalize(states[slot].AsSpan(step * d, d));
    }

    /// <summary>State tokens of (slot, step), or null without <see cref="Proprio"/>.</summary>
    public int[]? StateTokens(int slot, int step)
    {
        if (Proprio is null) return null;
        int d = ds.Spec.StateDim;
        return Proprio.Encode(states[slot].AsSpan(step * d, d), Actions);
    }

    Policies.IPolicyBatch Policies.IPolicyData.Batch(long first, int size) => Batch(first, size);
    Policies.IPolicyBatch Policies.IPolicyData.FlatBatch(IReadOnlyList<long> flatIndices) => FlatBatch(flatIndices);

    /// <summary>The batch of stream samples [first, first + size).</summary>
    public VlaBatch Batch(long first, int size)
    {
        var locs = Enumerable.Range(0, size).Select(i => Locate(first + i)).ToArray();
        return Collate(locs, locs.Select((_, i) => first + i).ToArray());
    }

    /// <summary>A batch of samples by index into the split flattened in episode order (no shuffling; validation).</summary>
    public VlaBatch FlatBatch(IReadOnlyList<long> flatIndices)
    {
        var locs = new (int, int)[flatIndices.Count];
        for (int i = 0; i < locs.Length; i++)
        {
            long k = flatIndices[i] % StepsPerEpoch;
            int slot = 0;
            while (k >= lengths[slot]) { k -= lengths[slot]; slot++; }
            locs[i] = (slot, (int)k);
        }
        return Collate(locs, flatIndices.ToArray());
    }

    VlaBatch Collate((int Slot, int Step)[] locs, long[] sampleIds)
    {
        int b = locs.Length, s = Images.Size, viewFloats = 6 * s * s;
        var eps = locs.Select(l => Episode(l.Slot)).ToArray();
        var px = new float[(long)b * Views * viewFloats];
        Parallel.For(0, b * Views, new ParallelOptions { MaxDegreeOfParallelism = DecodeThreads }, j =>
        {
            int i = j / Views, v = j % Views;
            var img = eps[i].Frame(v, locs[i].Step);
            var rng = new SplitMix64(Mix(Mix(seed ^ 0xA11CE, (ulong)sampleIds[i]), (ulong)v));
            Images.Train(img, rng, Augment).CopyTo(px, ((long)i * Views + v) * viewFloats);
        });
        var norm = new float[b][];
        var ids = new long[b][];
        var labels = new long[b][];
        for (int i = 0; i < b; i++)
        {
            norm[i] = NormalizedChunk(locs[i].Slot, locs[i].Step);
            (ids[i], labels[i]) = Prompts.TrainingExample(instructions[locs[i].Slot], Actions.Encode(norm[i]), StateTokens(locs[i].Slot, locs[i].Step));
        }
        int len = ids.Max(x => x.Length);
        var flatIds = new long[b * len];
        var flatLabels = new long[b * len];
        var mask = new bool[b * len];
        var targets = new double[b * len];
        int nAct = norm[0].Length;
        var placeholderIndex = new long[b * nAct];
        Array.Fill(flatIds, PadId);
        Array.Fill(flatLabels, -100L);
        for (int i = 0; i < b; i++)
        {
            ids[i].CopyTo(flatIds, i * len);
            labels[i].CopyTo(flatLabels, i * len);
            for (int t = 0; t < ids[i].Length; t++) mask[i * len + t] = true;
            // the d-th action label of sample i encodes norm[i][d]
            for (int t = 0, d = 0; t < labels[i].Length && d < norm[i].Length; t++)
                if (Actions.IsActionToken(labels[i][t])) { placeholderIndex[i * nAct + d] = t; targets[i * len + t] = norm[i][d++]; }
        }
        return new VlaBatch
        {
            PixelValues = torch.tensor(px, new long[] { b, 6 * Views, s, s }),
            InputIds = torch.tensor(flatIds, new long[] { b, len }),
            AttentionMask = torch.tensor(mask, new long[] { b, len }),
            Labels = torch.tensor(flatLabels, new long[] { b, len }),
            ActionTargets = torch.tensor(targets, new long[] { b, len }),
            Targets = torch.tensor(norm.SelectMany(x => x).ToArray(), new long[] { b, nAct }),
            PlaceholderIndex = torch.tensor(placeholderIndex, new long[] { b, nAct }),
            State = ProprioVector is null ? null
                : torch.tensor(locs.SelectMany(l => NormalizedState(l.Slot, l.Step)).ToArray(), new long[] { b, ds.Spec.StateDim }),
            NormalizedActions = norm,
            Origins = locs.Select(l => (episodes[l.Slot], l.Step)).ToArray(),
        };
    }
}
