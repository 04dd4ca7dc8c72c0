using RoboFactory.Core.Rng;

namespace RoboFactory.Data.Datasets;

/// <summary>Episode-level train/validation split: whole episodes go to one side, never single frames.</summary>
public static class EpisodeSplit
{
    /// <summary>
    /// Shuffles episode indices with <paramref name="seed"/> and puts the first round(count × fraction)
    /// (at least one when fraction &gt; 0 and count &gt; 1) into validation. Both lists come back sorted.
    /// </summary>
    public static (int[] Train, int[] Validation) Compute(int episodeCount, double validationFraction, ulong seed)
    {
        if (validationFraction is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(validationFraction));
        var order = Enumerable.Range(0, episodeCount).ToArray();
        new SplitMix64(seed).Shuffle(order);
        int nVal = (int)Math.Round(episodeCount * validationFraction, MidpointRounding.AwayFromZero);
        if (validationFraction > 0 && episodeCount > 1) nVal = Math.Clamp(nVal, 1, episodeCount - 1);
        var val = order.Take(nVal).Order().ToArray();
        var train = order.Skip(nVal).Order().ToArray();
        return (train, val);
    }
}
