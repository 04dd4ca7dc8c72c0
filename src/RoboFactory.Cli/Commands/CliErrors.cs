using RoboFactory.Core.Errors;
using RoboFactory.Data.Datasets;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Interop;
using RoboFactory.Vla.Checkpoint;

namespace RoboFactory.Cli.Commands;

/// <summary>Turns the errors a user can cause (bad config, bad argument, missing file) into one clear line and exit code 2.</summary>
public static class CliErrors
{
    public static int Run(Action action)
    {
        try { action(); return 0; }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    /// <summary>The documented user-error types: a bad argument, a missing or malformed file (every parser's
    /// InputFormatException, an InvalidDataException), a dataset that already exists, a model that does not match its
    /// checkpoint, and an output the system refuses (permission, read-only or full file system). Anything else is a
    /// programming error and keeps its stack trace.</summary>
    public static bool IsUserError(Exception e) =>
        e is ConfigException or ArgumentException or FileNotFoundException or DirectoryNotFoundException
            or MuJoCoException or KeyNotFoundException or InputFormatException or InvalidDataException or DatasetExistsException
            or CheckpointMismatchException or UnauthorizedAccessException
        || (e is IOException io && IsFileSystemRefusal(io));

    // errno values .NET puts in IOException.HResult on Linux: ENOSPC 28, EROFS 30, EDQUOT 122, EFBIG 27
    static bool IsFileSystemRefusal(IOException e) => e.HResult is 28 or 30 or 122 or 27;
}
