using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tokenization;

/// <summary>How the action_dim action tokens are read from the logits at inference.</summary>
public enum ActionDecoding
{
    /// <summary>Argmax over the whole vocabulary, as upstream predict_action (a non-action id decodes to an extreme bin).</summary>
    Greedy,
    /// <summary>Argmax over the n_action_bins action tokens only: every decoded value is a real bin.</summary>
    ActionGreedy,
    /// <summary>
    /// Probability-weighted mean of the bin centres (softmax over the action tokens); the argmax action token is fed
    /// back. A weakly trained model spreads mass over neighbouring bins, so the mean is steadier than the argmax.
    /// </summary>
    Expected,
}

/// <summary>Chooses each action token and its normalised value under one <see cref="ActionDecoding"/>.</summary>
public sealed class ActionDecoder
{
    readonly ActionTokenizer actions;
    readonly double[] binValues; // normalised value of action token FirstTokenId + i
    readonly List<double> values = [];

    public ActionDecoding Mode { get; }

    public ActionDecoder(ActionTokenizer actions, ActionDecoding mode)
    {
        this.actions = actions; Mode = mode;
        binValues = Enumerable.Range(0, actions.NumBins).Select(i => actions.Decode(actions.FirstTokenId + i)).ToArray();
    }

    public static ActionDecoding Parse(string name) => name.ToLowerInvariant() switch
    {
        "greedy" => ActionDecoding.Greedy,
        "action-greedy" => ActionDecoding.ActionGreedy,
        "expected" => ActionDecoding.Expected,
        _ => throw new ArgumentException($"unknown decoding '{name}' (expected greedy, action-greedy or expected)"),
    };

    public static string Name(ActionDecoding d) => d switch
    {
        ActionDecoding.Greedy => "greedy",
        ActionDecoding.ActionGreedy => "action-greedy",
        _ => "expected",
    };

    /// <summary>Starts a new action (clears the values recorded by <see cref="Choose"/>).</summary>
    public void Reset() => values.Clear();

    /// <summary>The normalised values of the tokens chosen since <see cref="Reset"/>.</summary>
    public double[] Values => values.ToArray();

    /// <summary>Next-token logits [V] → the id to feed back; records that position's normalised value.</summary>
    public long Choose(Tensor logits)
    {
        if (Mode == ActionDecoding.Greedy)
        {
            long id = logits.argmax().item<long>();
            values.Add(actions.Decode(id));
            return id;
        }
        using var scope = NewDisposeScope();
        var slice = logits[actions.FirstTokenId..(actions.LastTokenId + 1)].to(ScalarType.Float32);
        long best = actions.FirstTokenId + slice.argmax().item<long>();
        if (Mode == ActionDecoding.ActionGreedy) { values.Add(actions.Decode(best)); return best; }
        var p = slice.softmax(0).cpu().data<float>().ToArray();
        double mean = 0;
        for (int i = 0; i < p.Length; i++) mean += p[i] * binValues[i];
        values.Add(mean);
        return best;
    }
}
