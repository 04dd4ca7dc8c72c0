using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace RoboFactory.Vla.Model;

/// <summary>
/// Activation (gradient) checkpointing, as torch.utils.checkpoint with use_reentrant=True, on TorchSharp's custom
/// autograd functions: the forward of a block runs without recording its graph and keeps only the block's input; the
/// backward runs the block again with the graph on (replaying the random state, so dropout draws the same masks) and
/// differentiates that. Memory per block falls from all its activations to its input, for one more forward pass.
/// </summary>
public static class ActivationCheckpoint
{
    /// <summary>
    /// <paramref name="block"/>(<paramref name="x"/>) with checkpointing when the graph is being recorded (training),
    /// else a plain call. <paramref name="parameters"/>: the block's trainable parameters, which receive gradients.
    /// </summary>
    public static Tensor Apply(Func<Tensor, Tensor> block, Tensor x, IReadOnlyList<Tensor> parameters, SharedInputs? shared = null)
    {
        if (!torch.is_grad_enabled() || !(x.requires_grad || parameters.Count > 0))
        {
            var y = block(x);
            shared?.Release(); // this block never runs backward
            return y;
        }
        var args = new object[2 + parameters.Count];
        args[0] = new Saved(block, parameters.ToArray(), shared);
        args[1] = x;
        for (int i = 0; i < parameters.Count; i++) args[2 + i] = parameters[i];
        return CheckpointFunction.apply(args);
    }

    /// <summary>The trainable parameters of a module (those that require a gradient).</summary>
    public static IReadOnlyList<Tensor> TrainableOf(nn.Module module) =>
        module.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToList();

    /// <summary>What the backward needs besides the input (a holder, so the context does not take it for a tensor).</summary>
    /// <summary>
    /// Tensors that several checkpointed blocks read again in their backward (the rotary tables, the mask): they must
    /// outlive the forward's scope, and are freed when the last of the <paramref name="users"/> blocks has run backward.
    /// </summary>
    public sealed class SharedInputs(int users, params Tensor?[] tensors)
    {
        int left = users;
        public Tensor?[] Tensors { get; } = tensors.Select(t => t?.DetachFromDisposeScope()).ToArray();

        internal void Release()
        {
            if (Interlocked.Decrement(ref left) != 0) return;
            foreach (var t in Tensors) t?.Dispose();
        }
    }

    private sealed class Saved(Func<Tensor, Tensor> block, Tensor[] parameters, SharedInputs? shared)
    {
        public Func<Tensor, Tensor> Block { get; } = block;
        public Tensor[] Parameters { get; } = parameters;
        public SharedInputs? Shared { get; } = shared;
        public Tensor? Rng { get; set; }
    }

    internal sealed class CheckpointFunction : SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => "RoboFactoryActivationCheckpoint";

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var saved = (Saved)vars[0];
            var x = (Tensor)vars[1];
            saved.Rng = torch.random.get_rng_state().DetachFromDisposeScope(); // the dropout masks of this call, replayed in backward
            ctx.save_data("saved", saved);
            ctx.save_for_backward([x]);
            // the graph is off here (apply runs forward without autograd): the block's activations are not kept
            return saved.Block(x);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            var saved = (Saved)ctx.get_data("saved");
            // The engine calls this on the training step's thread, inside its dispose scope: without a scope of its own,
            // every block's recomputed activations would live until the step ends, as if nothing were checkpointed.
            using var scope = torch.NewDisposeScope();
            var x = ctx.get_saved_variables()[0];
            var current = torch.random.get_rng_state();
            torch.random.set_rng_state(saved.Rng!);
            saved.Rng!.Dispose();
            saved.Rng = null;
            Tensor output, xd;
            using (torch.enable_grad())
            {
                xd = x.detach().requires_grad_(x.requires_grad);
                output = saved.Block(xd);
            }
            torch.random.set_rng_state(current);
            var inputs = new List<Tensor>();
            if (x.requires_grad) inputs.Add(xd);
            inputs.AddRange(saved.Parameters);
            var grads = torch.autograd.grad([output], inputs, [gradOutput], allow_unused: true);
            // one gradient per forward argument: none for the holder, the input's (if it needs one), the parameters'
            var result = new List<Tensor> { null! };
            int k = 0;
            result.Add(x.requires_grad ? grads[k++].MoveToOuterDisposeScope() : null!);
            for (int i = 0; i < saved.Parameters.Length; i++) result.Add(grads[k++]?.MoveToOuterDisposeScope()!);
            saved.Shared?.Release();
            return result;
        }
    }
}
