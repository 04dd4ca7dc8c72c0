using RoboFactory.Data.Datasets;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Interop;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;

namespace RoboFactory.Cli.Commands;

/// <summary>Turns the errors a user can cause (bad config, bad argument, missing file) into one clear line and exit code 2.</summary>
public static class CliErrors
{
    public static int Run(Action action)
    {
        try { action(); return 0; }
        catch (Exception e) when (e is ConfigException or ArgumentException or FileNotFoundException or DirectoryNotFoundException
                                   or MuJoCoException or KeyNotFoundException or InvalidDataException or DatasetExistsException
                                   or VlaConfigException or SafetensorsException or CheckpointMismatchException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
