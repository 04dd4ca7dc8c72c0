using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Model;

/// <summary>Options every module constructor takes, so a 7B model can be built directly in bf16 (never fp32 first).</summary>
public sealed record ModelOptions(Device Device, ScalarType DType)
{
    public static ModelOptions Cpu32 => new(CPU, ScalarType.Float32);
}

/// <summary>
/// Base for our modules: holds swappable linear slots. A LoRA wrapper replaces a child by name
/// (<see cref="ReplaceChild"/>): the field that forward() uses and the registered submodule change together,
/// so state_dict keys follow the new module (e.g. q_proj.base_layer.weight).
/// </summary>
public abstract class VlaModule : nn.Module
{
    protected VlaModule(string name) : base(name) { }

    /// <summary>Replaces the child registered as <paramref name="name"/> (a field of the same name) with <paramref name="child"/>.</summary>
    public void ReplaceChild(string name, nn.Module<Tensor, Tensor> child)
    {
        var field = GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            ?? throw new ArgumentException($"{GetType().Name} has no child '{name}'");
        if (!field.FieldType.IsAssignableFrom(child.GetType()))
            throw new ArgumentException($"{GetType().Name}.{name} is a {field.FieldType.Name}; cannot hold a {child.GetType().Name}");
        field.SetValue(this, child);
        _internal_submodules.Remove(name);
        register_module(name, child);
    }

    /// <summary>Names of children that are swappable linear slots (q_proj, qkv, fc1, …).</summary>
    public IEnumerable<string> LinearSlotNames() =>
        GetType().GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            .Where(f => f.FieldType == typeof(nn.Module<Tensor, Tensor>) && f.GetValue(this) is not null)
            .Select(f => f.Name);

    public nn.Module<Tensor, Tensor> GetChild(string name) =>
        (nn.Module<Tensor, Tensor>)(GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)?.GetValue(this)
            ?? throw new ArgumentException($"{GetType().Name} has no child '{name}'"));
}

/// <summary>Same as <see cref="VlaModule"/> for modules with a single-tensor forward.</summary>
public abstract class VlaModule1 : nn.Module<Tensor, Tensor>
{
    protected VlaModule1(string name) : base(name) { }

    public void ReplaceChild(string name, nn.Module<Tensor, Tensor> child)
    {
        var field = GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            ?? throw new ArgumentException($"{GetType().Name} has no child '{name}'");
        if (!field.FieldType.IsAssignableFrom(child.GetType()))
            throw new ArgumentException($"{GetType().Name}.{name} is a {field.FieldType.Name}; cannot hold a {child.GetType().Name}");
        field.SetValue(this, child);
        _internal_submodules.Remove(name);
        register_module(name, child);
    }

    public IEnumerable<string> LinearSlotNames() =>
        GetType().GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            .Where(f => f.FieldType == typeof(nn.Module<Tensor, Tensor>) && f.GetValue(this) is not null)
            .Select(f => f.Name);

    public nn.Module<Tensor, Tensor> GetChild(string name) =>
        (nn.Module<Tensor, Tensor>)(GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)?.GetValue(this)
            ?? throw new ArgumentException($"{GetType().Name} has no child '{name}'"));
}
