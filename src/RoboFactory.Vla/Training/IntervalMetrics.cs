using RoboFactory.Vla.Model;
using RoboFactory.Vla.Policies;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Training;

/// <summary>
/// Sums of loss, metric numerators/denominators and gradient norms over a log interval, kept as float64 tensors on
/// the training device so a step never waits for the device; <see cref="Read"/> copies them to the host once.
/// </summary>
public sealed class IntervalMetrics(Device device) : IDisposable
{
    // loss, loss terms, correct, total, l1 sum, l1 count, grad-norm sum, grad-norm terms
    readonly Tensor sums = torch.zeros(8, ScalarType.Float64, device);
    int steps;

    static void Into(Tensor sums, int slot, Tensor? value)
    {
        if (value is null) return;
        using var v = value.to(ScalarType.Float64).to(sums.device);
        using var cell = sums[slot];
        TensorMath.AddInPlace(cell, v);
    }

    /// <summary>Adds one forward pass (its loss counts as one loss term).</summary>
    public void Add(Tensor loss, PolicyMetrics m)
    {
        Into(sums, 0, loss);
        using (var one = torch.ones(1, ScalarType.Float64, sums.device)) Into(sums, 1, one[0]);
        Into(sums, 2, m.AccuracyCorrect); Into(sums, 3, m.AccuracyTotal);
        Into(sums, 4, m.L1Sum); Into(sums, 5, m.L1Count);
    }

    /// <summary>Adds one optimizer step's gradient norm (ends a step of the interval).</summary>
    public void AddGradNorm(Tensor norm)
    {
        Into(sums, 6, norm);
        using (var one = torch.ones(1, ScalarType.Float64, sums.device)) Into(sums, 7, one[0]);
        steps++;
    }

    /// <summary>Means over the interval (one device read), then starts a new interval.</summary>
    public (double Loss, double Accuracy, double L1, double GradNorm, int Steps) Read(Communicator? ranks = null)
    {
        double[] h;
        using (var cpu = sums.cpu()) h = cpu.data<double>().ToArray();
        if (ranks is { Size: > 1 })
        {
            // counts add up over the ranks; the loss (a mean per rank) and the grad norm (the same on every rank) are averaged
            ranks.AllReduceSum(h);
            foreach (int i in new[] { 0, 1, 6, 7 }) h[i] /= ranks.Size;
        }
        static double Div(double a, double b) => b > 0 ? a / b : 0;
        // the loss terms of one step are 1/accum each and add up to that step's mean loss
        double lossPerStep = steps > 0 ? h[0] / steps : Div(h[0], h[1]);
        // no action tokens counted (openvla-oft): no accuracy, rather than a misleading 0 %
        var r = (lossPerStep, h[3] > 0 ? h[2] / h[3] : double.NaN, Div(h[4], h[5]), Div(h[6], h[7]), steps);
        sums.zero_();
        steps = 0;
        return r;
    }

    public void Dispose() => sums.Dispose();
}
