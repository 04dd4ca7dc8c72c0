namespace RoboFactory.Vla.Tokenization;

/// <summary>
/// `--proprio`: the measured joint state (7 arm joints + gripper opening) as state tokens placed after the prompt and
/// before the action tokens. Each dimension is normalised to [−1, 1] over the dataset's proprio q01/q99 (the gripper
/// included: its width is continuous) and binned by the action tokenizer, so the model reads its own arm pose at 1/256
/// of each joint's range. The state is input only: its positions carry no labels.
/// </summary>
public sealed record ProprioStatistics(double[] Q01, double[] Q99)
{
    public int Dimension => Q01.Length;

    /// <summary>State → normalised values in [−1, 1] (a dimension with q01 = q99 maps to 0).</summary>
    public float[] Normalize(ReadOnlySpan<float> state)
    {
        if (state.Length != Dimension)
            throw new ArgumentException($"state has {state.Length} dimensions; the proprio statistics have {Dimension}");
        var n = new float[state.Length];
        for (int i = 0; i < n.Length; i++)
        {
            double span = Q99[i] - Q01[i];
            n[i] = span <= 0 ? 0f : (float)Math.Clamp(2 * (state[i] - Q01[i]) / span - 1, -1, 1);
        }
        return n;
    }

    /// <summary>State → one action-bin token per dimension.</summary>
    public int[] Encode(ReadOnlySpan<float> state, ActionTokenizer tokenizer) => tokenizer.Encode(Normalize(state));
}
