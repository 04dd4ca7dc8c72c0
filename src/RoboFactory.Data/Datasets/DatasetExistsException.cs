namespace RoboFactory.Data.Datasets;

/// <summary>
/// A writer was asked to create a dataset where a finished one already is (and not to overwrite it). A user error,
/// not an I/O fault: the CLI reports it as one line with exit code 2.
/// </summary>
public sealed class DatasetExistsException(string directory)
    : IOException($"{directory} already exists (a finished dataset); pass --overwrite to replace it")
{
    public string Directory { get; } = directory;
}
