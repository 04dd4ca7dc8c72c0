using TorchSharp;

namespace RoboFactory.Vla.Training;

/// <summary>
/// libtorch's intra-op thread count. OpenMP keeps it per OS thread (a new thread starts from OMP_NUM_THREADS or the
/// core count), so code that runs models on several threads at once sets it on each of them: two trainers or two
/// evaluation workers with the default count each would start 2 × cores threads and slow down many-fold.
/// </summary>
public static class TorchThreads
{
    public static int Get() => torch.get_num_threads();

    /// <summary>Sets the count for the calling thread (and libtorch's global BLAS setting).</summary>
    public static void Set(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least one thread");
        torch.set_num_threads(threads);
    }

    /// <summary>Threads each of <paramref name="parallel"/> concurrent model users gets on this machine.</summary>
    public static int PerWorker(int parallel) => Math.Max(1, Environment.ProcessorCount / Math.Max(1, parallel));
}
