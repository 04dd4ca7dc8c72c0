namespace RoboFactory.Data.Zarr;

/// <summary>
/// A store uses something this implementation does not read or write (codec, filter, order, dtype),
/// or its metadata is malformed. The message names the file, the field and what was expected.
/// </summary>
public sealed class ZarrFormatException : Exception
{
    public string FilePath { get; }
    public string Field { get; }

    public ZarrFormatException(string filePath, string field, string message)
        : base($"{filePath}: field '{field}': {message}")
    {
        FilePath = filePath;
        Field = field;
    }
}
