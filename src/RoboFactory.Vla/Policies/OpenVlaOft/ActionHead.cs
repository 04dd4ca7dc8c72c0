using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Policies.OpenVlaOft;

/// <summary>OFT's MLPResNetBlock: x + ReLU(Linear(LayerNorm(x))), as <c>ffn = Sequential(LayerNorm, Linear, ReLU)</c>.</summary>
public sealed class MlpResNetBlock : nn.Module<Tensor, Tensor>
{
    internal Sequential ffn;

    public MlpResNetBlock(long dim, Device? device = null) : base("MLPResNetBlock")
    {
        ffn = nn.Sequential(("0", nn.LayerNorm(dim, device: device)), ("1", nn.Linear(dim, dim, device: device)), ("2", nn.ReLU()));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Model.TensorMath.Add(x, ffn.forward(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>OFT's MLPResNet: LayerNorm → Linear(in → hidden) → ReLU → N residual blocks → LayerNorm → Linear(hidden → out).</summary>
public sealed class MlpResNet : nn.Module<Tensor, Tensor>
{
    internal LayerNorm layer_norm1;
    internal Linear fc1;
    internal ReLU relu;
    internal ModuleList<MlpResNetBlock> mlp_resnet_blocks;
    internal LayerNorm layer_norm2;
    internal Linear fc2;

    public MlpResNet(int numBlocks, long inputDim, long hiddenDim, long outputDim, Device? device = null) : base("MLPResNet")
    {
        layer_norm1 = nn.LayerNorm(inputDim, device: device);
        fc1 = nn.Linear(inputDim, hiddenDim, device: device);
        relu = nn.ReLU();
        mlp_resnet_blocks = new ModuleList<MlpResNetBlock>(Enumerable.Range(0, numBlocks).Select(_ => new MlpResNetBlock(hiddenDim, device)).ToArray());
        layer_norm2 = nn.LayerNorm(hiddenDim, device: device);
        fc2 = nn.Linear(hiddenDim, outputDim, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = relu.forward(fc1.forward(layer_norm1.forward(x)));
        foreach (var block in mlp_resnet_blocks) h = block.forward(h);
        return fc2.forward(layer_norm2.forward(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// OFT's L1RegressionActionHead: the K·D action hidden states [B, K·D, hidden] regrouped per action [B, K, D·hidden],
/// then an <see cref="MlpResNet"/> with two blocks to the D normalised action values [B, K, D]. Always fp32 (the
/// head is a trainable master); the hidden states are cast to it.
/// </summary>
public sealed class L1RegressionActionHead : nn.Module<Tensor, Tensor>
{
    internal MlpResNet model;

    public int ActionDim { get; }
    public long Hidden { get; }

    public L1RegressionActionHead(long hidden, int actionDim, Device? device = null) : base("L1RegressionActionHead")
    {
        ActionDim = actionDim; Hidden = hidden;
        model = new MlpResNet(2, actionDim * hidden, hidden, actionDim, device);
        RegisterComponents();
    }

    /// <summary>Parameters of the head for <paramref name="hidden"/> and <paramref name="actionDim"/> (no allocation).</summary>
    public static long ParameterCount(long hidden, int actionDim)
    {
        long input = actionDim * hidden;
        long ln(long d) => 2 * d;
        long lin(long i, long o) => i * o + o;
        return ln(input) + lin(input, hidden) + 2 * (ln(hidden) + lin(hidden, hidden)) + ln(hidden) + lin(hidden, actionDim);
    }

    public override Tensor forward(Tensor actionHidden)
    {
        using var scope = NewDisposeScope();
        long b = actionHidden.shape[0];
        var x = actionHidden.to(ScalarType.Float32).reshape(b, -1, ActionDim * Hidden);
        return model.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>OFT's ProprioProjector: Linear(state_dim → hidden) → GELU → Linear(hidden → hidden): one extra input token.</summary>
public sealed class ProprioProjector : nn.Module<Tensor, Tensor>
{
    internal Linear fc1;
    internal Linear fc2;
    internal GELU act_fn1;

    public int StateDim { get; }

    public ProprioProjector(long hidden, int stateDim, Device? device = null) : base("ProprioProjector")
    {
        StateDim = stateDim;
        fc1 = nn.Linear(stateDim, hidden, device: device);
        fc2 = nn.Linear(hidden, hidden, device: device);
        act_fn1 = nn.GELU();
        RegisterComponents();
    }

    /// <summary>Parameters of the projector (no allocation).</summary>
    public static long ParameterCount(long hidden, int stateDim) => stateDim * hidden + hidden + hidden * hidden + hidden;

    /// <summary>[B, state_dim] normalised state → [B, 1, hidden].</summary>
    public override Tensor forward(Tensor state)
    {
        using var scope = NewDisposeScope();
        return fc2.forward(act_fn1.forward(fc1.forward(state.to(ScalarType.Float32)))).unsqueeze(1).MoveToOuterDisposeScope();
    }
}
