using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Model;

/// <summary>
/// Tensor sums with a long-lived alpha. TorchSharp's <c>a + b</c> creates a temporary <see cref="Scalar"/> for alpha;
/// nothing references it during the native call, so a garbage collection can finalise (free) it while libtorch still
/// reads it, which surfaced as an intermittent "Expected false to be true" from c10::Scalar::toFloat in long evaluations.
/// </summary>
public static class TensorMath
{
    private static readonly Scalar One = 1.0;

    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);
}
