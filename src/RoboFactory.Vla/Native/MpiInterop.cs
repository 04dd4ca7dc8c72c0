using System.Runtime.InteropServices;

namespace RoboFactory.Vla.Native;

/// <summary>
/// The handful of MPI functions data-parallel training needs, called from Open MPI's libmpi.so.40 directly (Debian's
/// openmpi 4.1). MPI.NET 1.4.0, the current NuGet package, binds only to msmpi.dll (Microsoft MPI on Windows) with
/// MPICH-style integer handles, so it cannot load Open MPI, whose handles are pointers to exported globals:
/// MPI_COMM_WORLD is &amp;ompi_mpi_comm_world, MPI_DOUBLE &amp;ompi_mpi_double, MPI_SUM &amp;ompi_mpi_op_sum.
/// The library is loaded only when a process was started by an MPI launcher (see <see cref="Training.Communicator"/>).
/// </summary>
internal static unsafe class MpiInterop
{
    public const string Library = "libmpi.so.40";
    public const int Success = 0;
    /// <summary>MPI_THREAD_FUNNELED: only the thread that initialised MPI calls it (the training loop).</summary>
    public const int ThreadFunneled = 1;

    static nint lib;
    static delegate* unmanaged<int*, byte***, int, int*, int> init;
    static delegate* unmanaged<int*, int> initialized;
    static delegate* unmanaged<int> finalize;
    static delegate* unmanaged<nint, int*, int> commRank, commSize;
    static delegate* unmanaged<void*, void*, int, nint, nint, nint, int> allreduce;
    static delegate* unmanaged<void*, int, nint, int, nint, int> bcast;
    static delegate* unmanaged<nint, int> barrier;
    static delegate* unmanaged<nint, int, int> abort;

    public static nint CommWorld { get; private set; }
    public static nint Double { get; private set; }
    public static nint Byte { get; private set; }
    public static nint OpSum { get; private set; }

    /// <summary>Loads libmpi and resolves the symbols; a clear error when Open MPI is not installed.</summary>
    public static void Load()
    {
        if (lib != 0) return;
        if (!NativeLibrary.TryLoad(Library, out lib))
            throw new DllNotFoundException($"this process was started by an MPI launcher, but {Library} (Open MPI 4) cannot be loaded; install it with `apt-get install openmpi-bin libopenmpi-dev` (scripts/setup.sh does)");
        nint F(string name) => NativeLibrary.GetExport(lib, name);
        init = (delegate* unmanaged<int*, byte***, int, int*, int>)F("MPI_Init_thread");
        initialized = (delegate* unmanaged<int*, int>)F("MPI_Initialized");
        finalize = (delegate* unmanaged<int>)F("MPI_Finalize");
        commRank = (delegate* unmanaged<nint, int*, int>)F("MPI_Comm_rank");
        commSize = (delegate* unmanaged<nint, int*, int>)F("MPI_Comm_size");
        allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)F("MPI_Allreduce");
        bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)F("MPI_Bcast");
        barrier = (delegate* unmanaged<nint, int>)F("MPI_Barrier");
        abort = (delegate* unmanaged<nint, int, int>)F("MPI_Abort");
        CommWorld = F("ompi_mpi_comm_world");
        Double = F("ompi_mpi_double");
        Byte = F("ompi_mpi_byte");
        OpSum = F("ompi_mpi_op_sum");
    }

    static void Check(int rc, string what)
    {
        if (rc != Success) throw new InvalidOperationException($"{what} failed with MPI error code {rc}");
    }

    public static bool Initialized() { int flag; Check(initialized(&flag), "MPI_Initialized"); return flag != 0; }

    public static void Init()
    {
        int provided;
        Check(init(null, null, ThreadFunneled, &provided), "MPI_Init_thread");
    }

    public static void Shutdown() => Check(finalize(), "MPI_Finalize");
    public static int Rank() { int r; Check(commRank(CommWorld, &r), "MPI_Comm_rank"); return r; }
    public static int Size() { int s; Check(commSize(CommWorld, &s), "MPI_Comm_size"); return s; }
    public static void Barrier() => Check(barrier(CommWorld), "MPI_Barrier");

    /// <summary>In-place element-wise sum over all ranks (MPI_IN_PLACE is (void*)1 in Open MPI).</summary>
    public static void AllReduceSum(Span<double> values)
    {
        fixed (double* p = values) Check(allreduce((void*)1, p, values.Length, Double, OpSum, CommWorld), "MPI_Allreduce");
    }

    public static void Broadcast(Span<byte> data, int root)
    {
        fixed (byte* p = data) Check(bcast(p, data.Length, Byte, root, CommWorld), "MPI_Bcast");
    }

    /// <summary>Ends every rank of the job (mpirun then exits with <paramref name="code"/>).</summary>
    public static void Abort(int code) => abort(CommWorld, code);
}
