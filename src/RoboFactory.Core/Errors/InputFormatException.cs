namespace RoboFactory.Core.Errors;

/// <summary>
/// The one documented error for input a user can get wrong: a file (checkpoint, dataset, config, image, tokenizer) that
/// is malformed, truncated or of a kind we do not read. The message names the file and the field and says what was
/// expected. Every parser reports bad bytes with this type (or a subclass) and no other, so the CLI turns it into one
/// line with exit code 2 while programming errors keep their stack traces; the fuzz targets (fuzz/) hold every parser
/// to that. Its own base type (not IOException) so that best-effort I/O cleanup never swallows it.
/// </summary>
public class InputFormatException : Exception
{
    /// <summary>The file that is wrong, when the parser knows it.</summary>
    public string? FilePath { get; }
    /// <summary>The field, key, chunk or offset that is wrong, when there is one.</summary>
    public string? Field { get; }

    public InputFormatException(string? filePath, string? field, string problem, Exception? inner = null)
        : base(Compose(filePath, field, problem), inner)
    {
        FilePath = filePath;
        Field = field;
    }

    /// <summary>For errors whose message already names the file and field in its own form.</summary>
    public InputFormatException(string message, Exception? inner = null) : base(message, inner) { }

    static string Compose(string? filePath, string? field, string problem) =>
        (filePath, field) switch
        {
            (null, null) => problem,
            (null, _) => $"field '{field}': {problem}",
            (_, null) => $"{filePath}: {problem}",
            _ => $"{filePath}: field '{field}': {problem}",
        };
}
