using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Model;

/// <summary>Options every module constructor takes, so a 7B model can be built directly in bf16 (never fp32 first).</summary>
public sealed record ModelOptions(Device Device, ScalarType DType)
{
    public static ModelOptions Cpu32 => new(CPU, ScalarType.Float32);
}

/// <summary>
/// The swappable linear children of one module (q_proj, qkv, fc1, …), declared explicitly by the module with a getter
/// and a setter for the field that forward() uses. A LoRA wrapper replaces a child by name: the field and the
/// registered submodule change together, so state_dict keys follow the new module (e.g. q_proj.base_layer.weight).
/// </summary>
public sealed class LinearSlotTable(string owner, Action<string, nn.Module<Tensor, Tensor>> reRegister)
{
    private readonly List<(string Name, Func<nn.Module<Tensor, Tensor>?> Get, Action<nn.Module<Tensor, Tensor>> Set)> slots = [];

    public void Add(string name, Func<nn.Module<Tensor, Tensor>?> get, Action<nn.Module<Tensor, Tensor>> set) => slots.Add((name, get, set));

    /// <summary>Names of the slots that hold a module, in declaration order.</summary>
    public IEnumerable<string> Names => slots.Where(s => s.Get() is not null).Select(s => s.Name);

    public nn.Module<Tensor, Tensor> Get(string name) =>
        Find(name).Get() ?? throw new ArgumentException($"{owner} has no child '{name}'");

    public void Replace(string name, nn.Module<Tensor, Tensor> child)
    {
        Find(name).Set(child);
        reRegister(name, child);
    }

    private (string Name, Func<nn.Module<Tensor, Tensor>?> Get, Action<nn.Module<Tensor, Tensor>> Set) Find(string name)
    {
        foreach (var s in slots) if (s.Name == name) return s;
        throw new ArgumentException($"{owner} has no child '{name}'");
    }
}

/// <summary>Base for our modules with a multi-input forward: owns the module's <see cref="LinearSlotTable"/>.</summary>
public abstract class VlaModule : nn.Module
{
    protected VlaModule(string name) : base(name) =>
        Slots = new LinearSlotTable(GetType().Name, (n, child) => { _internal_submodules.Remove(n); register_module(n, child); });

    protected LinearSlotTable Slots { get; }
    public void ReplaceChild(string name, nn.Module<Tensor, Tensor> child) => Slots.Replace(name, child);
    public IEnumerable<string> LinearSlotNames() => Slots.Names;
    public nn.Module<Tensor, Tensor> GetChild(string name) => Slots.Get(name);
}

/// <summary>Same as <see cref="VlaModule"/> for modules with a single-tensor forward.</summary>
public abstract class VlaModule1 : nn.Module<Tensor, Tensor>
{
    protected VlaModule1(string name) : base(name) =>
        Slots = new LinearSlotTable(GetType().Name, (n, child) => { _internal_submodules.Remove(n); register_module(n, child); });

    protected LinearSlotTable Slots { get; }
    public void ReplaceChild(string name, nn.Module<Tensor, Tensor> child) => Slots.Replace(name, child);
    public IEnumerable<string> LinearSlotNames() => Slots.Names;
    public nn.Module<Tensor, Tensor> GetChild(string name) => Slots.Get(name);
}
