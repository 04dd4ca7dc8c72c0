using RoboFactory.Core.Rng;
using RoboFactory.Data.Datasets;
using RoboFactory.Data.Imaging;
using System.Collections;
using RoboFactory.Core.Imaging;

namespace RoboFactory.Data.Rlds;

public enum RldsSplit { Train, Validation, All }

public sealed record RldsLoaderOptions
{
    public RldsSplit Split { get; init; } = RldsSplit.Train;
    public double ValidationFraction { get; init; } = 0.1;
    /// <summary>Drives the split, the per-epoch episode order and the shuffle buffer.</summary>
    public ulong Seed { get; init; }
    /// <summary>Steps held in the shuffle buffer; 0 or 1 streams in order (episode order is then not shuffled either).</summary>
    public int ShuffleBuffer { get; init; } = 1000;
    /// <summary>Loop over the split forever (training) instead of once.</summary>
    public bool Repeat { get; init; }
    public int DecodeThreads { get; init; } = Environment.ProcessorCount;
    /// <summary>Resize decoded images to a square of this size (bilinear), e.g. 224; null keeps 240×320.</summary>
    public int? ResizeTo { get; init; }
    public bool DecodeGlobalImage { get; init; } = true;
    public bool DecodeWristImage { get; init; } = true;
}

/// <summary>One training step, images decoded (HWC RGB).</summary>
public sealed record RldsSample(int Episode, int Step, string LanguageInstruction, float[] Action, float[] State,
    Image8 Image, Image8? GlobalImage, Image8? WristImage, bool IsFirst, bool IsLast);

/// <summary>
/// Training input pipeline over an <see cref="RldsDataset"/>: episode-level split → per-epoch episode
/// order → steps → seeded shuffle buffer → parallel PNG decode (order-preserving, so the stream is a
/// pure function of the seed) → optional repeat. CRC errors surface as TfRecordCorruptException
/// naming the shard and record offset.
/// </summary>
public sealed class RldsLoader(RldsDataset dataset, RldsLoaderOptions? options = null) : IEnumerable<RldsSample>
{
    private readonly RldsLoaderOptions _o = options ?? new RldsLoaderOptions();

    public RldsDataset Dataset => dataset;

    public IReadOnlyList<int> Episodes
    {
        get
        {
            if (_o.Split == RldsSplit.All) return Enumerable.Range(0, dataset.EpisodeCount).ToArray();
            var (train, val) = EpisodeSplit.Compute(dataset.EpisodeCount, _o.ValidationFraction, _o.Seed);
            return _o.Split == RldsSplit.Train ? train : val;
        }
    }

    private readonly record struct StepRef(RldsEpisodeRecord Episode, int Step);

    private IEnumerable<StepRef> Steps()
    {
        var episodes = Episodes.ToArray();
        if (episodes.Length == 0) yield break;
        for (int epoch = 0; ; epoch++)
        {
            var order = (int[])episodes.Clone();
            if (_o.ShuffleBuffer > 1) new SplitMix64(_o.Seed ^ (0xA5A5A5A5UL * (ulong)(epoch + 1))).Shuffle(order);
            foreach (var ep in dataset.ReadEpisodes(order))
                for (int t = 0; t < ep.Length; t++) yield return new StepRef(ep, t);
            if (!_o.Repeat) yield break;
        }
    }

    private IEnumerable<StepRef> Shuffled()
    {
        if (_o.ShuffleBuffer <= 1)
        {
            foreach (var s in Steps()) yield return s;
            yield break;
        }
        var rng = new SplitMix64(_o.Seed + 0x51ED);
        var buffer = new List<StepRef>(_o.ShuffleBuffer);
        foreach (var s in Steps())
        {
            if (buffer.Count < _o.ShuffleBuffer) { buffer.Add(s); continue; }
            int j = rng.NextInt(buffer.Count);
            yield return buffer[j];
            buffer[j] = s;
        }
        while (buffer.Count > 0)
        {
            int j = rng.NextInt(buffer.Count);
            yield return buffer[j];
            buffer[j] = buffer[^1];
            buffer.RemoveAt(buffer.Count - 1);
        }
    }

    private RldsSample Decode(StepRef s)
    {
        var e = s.Episode;
        int t = s.Step;
        Image8 Img(byte[] png)
        {
            var im = Png.Decode(png).ToRgb();
            return _o.ResizeTo is int n ? ImageOps.ResizeBilinear(im, n, n) : im;
        }
        int sd = dataset.Spec.StateDim, ad = dataset.Spec.ActionDim;
        return new RldsSample(e.Index, t, e.LanguageInstruction,
            e.Action.AsSpan(t * ad, ad).ToArray(), e.State.AsSpan(t * sd, sd).ToArray(),
            Img(e.ImagePng[t]),
            _o.DecodeGlobalImage && e.GlobalImagePng is { } g ? Img(g[t]) : null,
            _o.DecodeWristImage && e.WristImagePng is { } w ? Img(w[t]) : null,
            e.IsFirst[t] != 0, e.IsLast[t] != 0);
    }

    public IEnumerator<RldsSample> GetEnumerator()
    {
        int threads = Math.Max(1, _o.DecodeThreads);
        int batch = threads * 4;
        var pending = new List<StepRef>(batch);
        var decoded = new RldsSample[batch];
        foreach (var s in Shuffled())
        {
            pending.Add(s);
            if (pending.Count < batch) continue;
            Parallel.For(0, pending.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => decoded[i] = Decode(pending[i]));
            for (int i = 0; i < pending.Count; i++) yield return decoded[i];
            pending.Clear();
        }
        for (int i = 0; i < pending.Count; i++) yield return Decode(pending[i]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
