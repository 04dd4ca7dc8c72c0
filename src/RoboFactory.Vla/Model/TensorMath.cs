using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Model;

/// <summary>
/// Tensor arithmetic whose <see cref="Scalar"/> arguments stay alive for the whole native call. TorchSharp turns a
/// double argument (<c>a + b</c>'s alpha, <c>t * 0.5</c>, <c>add_(x, alpha: …)</c>) into a temporary Scalar that nothing
/// references during the call, so a garbage collection can finalise (free) it while libtorch still reads it. That
/// surfaced as an intermittent "Expected false to be true" from c10::Scalar::toFloat, in long evaluations (ViT sums)
/// and in long training runs (AdamW's add_). Hot paths therefore pass Scalars held by a <c>using</c> or a field, and
/// never call the convenience overloads that make one internally (one-argument <c>add</c>/<c>add_</c> create alpha = 1;
/// <c>square()</c> is <c>pow</c> with a temporary exponent 2: write <c>x * x</c>).
/// Tensors have the same hazard: a wrapper nothing references (each <c>p.grad</c> access, a chained temporary) can be
/// finalised and its native handle freed mid-call, unless a DisposeScope holds it — so such code runs inside one.
/// tests/RoboFactory.Vla.Tests/NativeLifetimeTests.cs runs these paths while another thread forces collections.
/// </summary>
public static class TensorMath
{
    private static readonly Scalar One = 1.0;

    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);

    /// <summary>t ← t + other (in place; an accumulator).</summary>
    public static Tensor AddInPlace(Tensor t, Tensor other) => t.add_(other, One);

    /// <summary>t ← t + value. TorchSharp's one-argument add_(Scalar) makes a temporary alpha Scalar of its own.</summary>
    public static Tensor AddInPlace(Tensor t, Scalar value) => t.add_(value, One);

    /// <summary>t · value (a new tensor).</summary>
    public static Tensor Mul(Tensor t, double value)
    {
        using Scalar s = value;
        return t.mul(s);
    }

    /// <summary>t ← t · value.</summary>
    public static Tensor MulInPlace(Tensor t, double value)
    {
        using Scalar s = value;
        return t.mul_(s);
    }
}
