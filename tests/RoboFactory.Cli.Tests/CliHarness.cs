using RoboFactory.Cli.Commands;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Cli.Tests;

/// <summary>Runs the command tree in process with its console captured, and makes the small inputs commands need.</summary>
internal static class CliHarness
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var o = new StringWriter();
        var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try { return (Root.Run(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    /// <summary>A finished two-episode store data/zarr/LiftBarrier_Agent0_2.zarr under <paramref name="dataDir"/>.</summary>
    public static void MakeStore(string dataDir)
    {
        var shape = new AgentStoreShape(Height: 24, Width: 32, ChunkRows: 10);
        string path = RoboFactoryZarrLayout.StorePath(Path.Combine(dataDir, "zarr"), "LiftBarrier", 0, 2);
        var w = RoboFactoryZarrLayout.OpenWriter(path, shape, new ZarrEpisodeWriterOptions());
        int frame = 3 * 24 * 32;
        for (int e = 0; e < 2; e++)
            w.AppendEpisode(new AgentEpisode
            {
                Seed = e, Length = 3, HeadCamera = new byte[3 * frame], WristCamera = new byte[3 * frame], GlobalCamera = new byte[3 * frame],
                Action = new float[24], State = new float[24], TcpPose = new float[21],
            }, shape);
        w.Complete();
    }
}
