using RoboFactory.Vla.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RoboFactory.Vla.Lora;

#pragma warning disable IDE1006 // field names are checkpoint keys

/// <summary>Named adapter sub-layers (PEFT's ModuleDict): registered as &lt;adapter&gt;, so keys read lora_A.&lt;adapter&gt;.weight.</summary>
public sealed class LoraAdapterDict : nn.Module
{
    readonly Dictionary<string, Linear> items = new();

    public LoraAdapterDict() : base("ModuleDict") { }

    public void Add(string name, Linear layer)
    {
        if (items.ContainsKey(name)) throw new ArgumentException($"adapter '{name}' already exists");
        items[name] = layer;
        register_module(name, layer);
    }

    public void Remove(string name)
    {
        if (!items.Remove(name, out var l)) return;
        _internal_submodules.Remove(name);
        l.Dispose();
    }

    public Linear this[string name] => items[name];
    public bool Contains(string name) => items.ContainsKey(name);
    public IEnumerable<string> Names => items.Keys;
}

/// <summary>
/// PEFT's lora.Linear: y = base_layer(x) + scaling · B(A(dropout(x))), with one (A, B) pair per named adapter and one
/// active adapter (or none). A and B are kept in fp32 (master weights) and cast to the activation dtype in the forward,
/// so a bf16 base computes in bf16 while the optimiser updates fp32 tensors. The base layer is never modified (until
/// <see cref="MergeActive"/>). Parameter names: base_layer.weight, lora_A.&lt;adapter&gt;.weight, lora_B.&lt;adapter&gt;.weight.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    internal nn.Module<Tensor, Tensor> base_layer;
    internal LoraAdapterDict lora_A;
    internal LoraAdapterDict lora_B;
    readonly Dictionary<string, (double Scaling, double Dropout)> settings = new();

    public long InFeatures { get; }
    public long OutFeatures { get; }
    /// <summary>The adapter applied in the forward; null runs the base layer alone.</summary>
    public string? ActiveAdapter { get; set; }

    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer) : base("LoraLinear")
    {
        if (baseLayer is not Linear lin) throw new ArgumentException($"LoRA wraps nn.Linear layers only (got {baseLayer.GetType().Name})");
        base_layer = baseLayer;
        OutFeatures = lin.weight!.shape[0];
        InFeatures = lin.weight!.shape[1];
        lora_A = new LoraAdapterDict();
        lora_B = new LoraAdapterDict();
        RegisterComponents();
    }

    public Linear Base => (Linear)base_layer;
    public IEnumerable<string> Adapters => settings.Keys;
    public bool HasAdapter(string name) => settings.ContainsKey(name);
    public Parameter A(string adapter) => lora_A[adapter].weight!;
    public Parameter B(string adapter) => lora_B[adapter].weight!;
    public double Scaling(string adapter) => settings[adapter].Scaling;

    /// <summary>Adds an adapter with B = 0 (so the layer's output is unchanged) and A initialised from <paramref name="gen"/>.</summary>
    public void AddAdapter(string name, LoraConfig c, Generator? gen)
    {
        var dev = Base.weight!.device;
        var a = nn.Linear(InFeatures, c.R, hasBias: false, device: dev, dtype: ScalarType.Float32);
        var b = nn.Linear(c.R, OutFeatures, hasBias: false, device: dev, dtype: ScalarType.Float32);
        using (torch.no_grad())
        {
            if (c.InitLoraWeights == "gaussian") a.weight!.normal_(0, 1.0 / c.R, generator: gen);
            else
            {
                // kaiming_uniform_(a=√5): bound = gain·√(3/fan_in) with gain = √(2/(1+5)) → 1/√fan_in.
                double bound = 1.0 / Math.Sqrt(InFeatures);
                a.weight!.uniform_(-bound, bound, generator: gen);
            }
            b.weight!.zero_();
        }
        lora_A.Add(name, a);
        lora_B.Add(name, b);
        settings[name] = (c.Scaling, c.Dropout);
        ActiveAdapter ??= name;
    }

    public void RemoveAdapter(string name)
    {
        lora_A.Remove(name); lora_B.Remove(name); settings.Remove(name);
        if (ActiveAdapter == name) ActiveAdapter = null;
    }

    public override Tensor forward(Tensor x)
    {
        if (ActiveAdapter is not string name) return CpuLinear.Forward(base_layer, x);
        using var scope = NewDisposeScope();
        var y = CpuLinear.Forward(base_layer, x);
        var (s, p) = settings[name];
        var h = p > 0 && training ? F.dropout(x, p, true) : x;
        var d = F.linear(F.linear(h, A(name).to(x.dtype)), B(name).to(x.dtype));
        return Model.TensorMath.Add(y, Model.TensorMath.Mul(d, s)).MoveToOuterDisposeScope();
    }

    /// <summary>ΔW = scaling · B·A (fp32, [out, in]).</summary>
    public Tensor Delta(string adapter)
    {
        using var noGrad = torch.no_grad();
        return Model.TensorMath.MulInPlace(torch.matmul(B(adapter), A(adapter)), Scaling(adapter));
    }

    /// <summary>Adds the active adapter's ΔW into the base weight (in the base dtype, as PEFT's merge) and returns the base layer.</summary>
    public Linear MergeActive()
    {
        if (ActiveAdapter is string name)
            using (torch.no_grad())
            using (NewDisposeScope()) // holds ΔW and the casts until the copy is done (see Model.TensorMath)
            {
                var w = Base.weight!;
                w.copy_(Model.TensorMath.Add(w.to(ScalarType.Float32), Delta(name).to(w.device)).to(w.dtype));
            }
        return Base;
    }
}
