using RoboFactory.Vla.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Training;

/// <summary>
/// The ranks of a data-parallel training job. <see cref="Single"/> is one process without MPI (nothing is loaded);
/// <see cref="World"/> joins the MPI job when the process was started by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE)
/// or srun (PMIX_RANK / PMI_RANK), else it is <see cref="Single"/>.
/// </summary>
public sealed class Communicator
{
    /// <summary>Environment variables whose presence means an MPI launcher started this process.</summary>
    public static readonly string[] LauncherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"];

    public int Rank { get; }
    public int Size { get; }
    public bool IsRoot => Rank == 0;
    public bool UsesMpi { get; }

    Communicator(int rank, int size, bool mpi) => (Rank, Size, UsesMpi) = (rank, size, mpi);

    public static Communicator Single { get; } = new(0, 1, false);

    static Communicator? world;
    static readonly Lock gate = new();

    /// <summary>This process's job: initialises MPI once when launched by an MPI launcher.</summary>
    public static Communicator World
    {
        get
        {
            lock (gate)
            {
                if (world is not null) return world;
                if (!LauncherVariables.Any(v => Environment.GetEnvironmentVariable(v) is not null)) return world = Single;
                MpiInterop.Load();
                if (!MpiInterop.Initialized()) MpiInterop.Init();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { MpiInterop.Shutdown(); } catch (InvalidOperationException) { } };
                return world = new Communicator(MpiInterop.Rank(), MpiInterop.Size(), true);
            }
        }
    }

    public void Barrier() { if (UsesMpi) MpiInterop.Barrier(); }

    /// <summary>Element-wise sum over the ranks, in place.</summary>
    public void AllReduceSum(Span<double> values) { if (UsesMpi && Size > 1) MpiInterop.AllReduceSum(values); }

    /// <summary>
    /// Replaces every gradient by its mean over the ranks (one all-reduce per bucket of about 4 M values, summed in
    /// float64 so the order of the ranks' additions does not matter at float32 precision).
    /// </summary>
    public void AverageGradients(IReadOnlyList<Tensor> parameters)
    {
        if (!UsesMpi || Size == 1) return;
        const long bucket = 4 << 20;
        using var noGrad = torch.no_grad();
        // each p.grad is a new wrapper: the outer scope keeps them referenced until the last native call (see ClipGradNorm)
        using var outer = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        using Scalar inv = 1.0 / Size;
        for (int start = 0; start < grads.Count;)
        {
            int end = start;
            long n = 0;
            while (end < grads.Count && (n == 0 || n + grads[end].numel() <= bucket)) n += grads[end++].numel();
            using var scope = NewDisposeScope();
            var flat = torch.cat(grads.Skip(start).Take(end - start).Select(g => g.detach().flatten().to(ScalarType.Float64).cpu()).ToArray());
            var values = flat.data<double>().ToArray();
            MpiInterop.AllReduceSum(values);
            var mean = torch.tensor(values).mul_(inv);
            long offset = 0;
            for (int i = start; i < end; i++)
            {
                long k = grads[i].numel();
                grads[i].copy_(mean.narrow(0, offset, k).view(grads[i].shape).to(grads[i].dtype, grads[i].device));
                offset += k;
            }
            start = end;
        }
    }

    /// <summary>Copies rank 0's values of <paramref name="parameters"/> to every rank (the same start everywhere).</summary>
    public void BroadcastFromRoot(IReadOnlyList<Tensor> parameters)
    {
        if (!UsesMpi || Size == 1) return;
        using var noGrad = torch.no_grad();
        foreach (var p in parameters)
        {
            using var scope = NewDisposeScope();
            var cpu = p.detach().to(ScalarType.Float64).cpu().contiguous();
            var values = cpu.data<double>().ToArray();
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());
            MpiInterop.Broadcast(bytes, root: 0);
            p.copy_(torch.tensor(values).view(p.shape).to(p.dtype, p.device));
        }
    }

    /// <summary>Ends the whole job: a rank that fails must not leave the others waiting in an all-reduce.</summary>
    public void Abort(int code) { if (UsesMpi) MpiInterop.Abort(code); }
}
