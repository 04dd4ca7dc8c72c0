using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Zarr;

/// <summary>
/// A store uses something this implementation does not read or write (codec, filter, order, dtype),
/// or its metadata is malformed. The message names the file, the field and what was expected.
/// </summary>
public sealed class ZarrFormatException(string filePath, string field, string message, Exception? inner = null)
    : InputFormatException(filePath, field, message, inner);
