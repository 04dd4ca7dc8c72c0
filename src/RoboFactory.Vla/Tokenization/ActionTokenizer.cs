using RoboFactory.Vla.Config;

namespace RoboFactory.Vla.Tokenization;

/// <summary>
/// OpenVLA's action tokenizer: 256 uniform bin edges on [−1, 1] (255 centres). Encode: clip, np.digitize
/// (count of edges ≤ a, in [1, 256]), token = base − d, where base is the base vocabulary size (32000 for Llama-2),
/// so ids are base−256..base−1 = 31744..31999 and never collide with PAD (= base). Decode: idx = clip(base − id − 1, 0, 254),
/// value = centre[idx]; ids 31744 and 31745 decode to the same centre, exactly as upstream.
/// </summary>
public sealed class ActionTokenizer
{
    public int NumBins { get; }
    public int BaseVocabSize { get; }
    /// <summary>Bin edges: linspace(−1, 1, NumBins), float64.</summary>
    public double[] Edges { get; }
    /// <summary>NumBins − 1 centres.</summary>
    public double[] Centers { get; }
    /// <summary>Lowest action token id (31744 for openvla-7b).</summary>
    public int FirstTokenId => BaseVocabSize - NumBins;
    public int LastTokenId => BaseVocabSize - 1;

    public ActionTokenizer(int baseVocabSize = 32000, int numBins = 256)
    {
        if (numBins < 2 || baseVocabSize <= numBins) throw new ArgumentException("need 2 ≤ bins < base vocabulary");
        NumBins = numBins; BaseVocabSize = baseVocabSize;
        // numpy linspace: start + i·step, with the last edge exactly `stop`.
        Edges = new double[numBins];
        double step = 2.0 / (numBins - 1);
        for (int i = 0; i < numBins; i++) Edges[i] = -1.0 + i * step;
        Edges[^1] = 1.0;
        Centers = new double[numBins - 1];
        for (int i = 0; i < numBins - 1; i++) Centers[i] = (Edges[i] + Edges[i + 1]) / 2;
    }

    public static ActionTokenizer For(OpenVlaConfig c) => new(c.BaseVocabSize, c.NActionBins);

    public bool IsActionToken(long id) => id >= FirstTokenId && id <= LastTokenId;

    /// <summary>Normalised action (float32, as training data) → token id.</summary>
    public int Encode(float normalized)
    {
        double a = Math.Clamp((double)normalized, -1.0, 1.0);
        if (double.IsNaN(a)) throw new ArgumentException("action value is NaN");
        // np.digitize(a, edges), right=False: number of edges ≤ a.
        int lo = 0, hi = Edges.Length;
        while (lo < hi) { int mid = (lo + hi) >> 1; if (Edges[mid] <= a) lo = mid + 1; else hi = mid; }
        return BaseVocabSize - lo;
    }

    public int[] Encode(ReadOnlySpan<float> normalized)
    {
        var r = new int[normalized.Length];
        for (int i = 0; i < r.Length; i++) r[i] = Encode(normalized[i]);
        return r;
    }

    /// <summary>Token id → normalised bin centre (any id: non-action ids clip to the extreme bins, as upstream).</summary>
    public double Decode(long tokenId)
    {
        long idx = Math.Clamp(BaseVocabSize - tokenId - 1, 0, Centers.Length - 1);
        return Centers[idx];
    }

    public double[] Decode(IReadOnlyList<long> ids) => ids.Select(Decode).ToArray();
}

/// <summary>BOUNDS_Q99 normalisation with the gripper mask (spec §7).</summary>
public static class ActionNormalizer
{
    /// <summary>x' = clip(2(x − q01)/(q99 − q01 + 1e−8) − 1, −1, 1) where mask; raw elsewhere; dims with q01 == q99 give 0.</summary>
    public static float[] Normalize(ReadOnlySpan<double> action, ActionStatistics s)
    {
        Check(action.Length, s);
        var r = new float[action.Length];
        for (int i = 0; i < r.Length; i++)
        {
            bool m = s.Mask?[i] ?? true;
            if (!m) { r[i] = (float)action[i]; continue; }
            // TF computes this in float32.
            float q01 = (float)s.Q01[i], q99 = (float)s.Q99[i], x = (float)action[i];
            float v = Math.Clamp(2f * (x - q01) / (q99 - q01 + 1e-8f) - 1f, -1f, 1f);
            if (s.Min is not null && s.Max is not null && s.Min[i] == s.Max[i]) v = 0f;
            r[i] = v;
        }
        return r;
    }

    /// <summary>a = 0.5(n + 1)(q99 − q01) + q01 where mask; the raw bin centre elsewhere (float64, as upstream numpy).</summary>
    public static double[] Unnormalize(ReadOnlySpan<double> normalized, ActionStatistics s)
    {
        Check(normalized.Length, s);
        var r = new double[normalized.Length];
        for (int i = 0; i < r.Length; i++)
        {
            bool m = s.Mask?[i] ?? true;
            r[i] = m ? 0.5 * (normalized[i] + 1) * (s.Q99[i] - s.Q01[i]) + s.Q01[i] : normalized[i];
        }
        return r;
    }

    static void Check(int n, ActionStatistics s)
    {
        if (n != s.Dimension) throw new ArgumentException($"action has {n} dims, statistics have {s.Dimension}");
    }
}
