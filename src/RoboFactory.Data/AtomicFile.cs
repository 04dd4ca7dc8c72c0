namespace RoboFactory.Data;

/// <summary>
/// Whole-file writes that a crash can never leave half-done: the bytes go to a hidden sibling
/// (".name.partial") which is then renamed over the target (rename is atomic on one file system).
/// A reader sees either the old file or the new one.
/// </summary>
public static class AtomicFile
{
    public const string TempSuffix = ".partial";

    public static string TempPathFor(string path) =>
        Path.Combine(Path.GetDirectoryName(path) ?? ".", "." + Path.GetFileName(path) + TempSuffix);

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        string tmp = TempPathFor(path);
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            fs.Write(bytes);
        File.Move(tmp, path, overwrite: true);
    }

    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, new System.Text.UTF8Encoding(false).GetBytes(text));

    /// <summary>Removes ".*.partial" leftovers of interrupted atomic writes below <paramref name="directory"/>.</summary>
    public static int DeleteLeftovers(string directory)
    {
        int n = 0;
        if (!Directory.Exists(directory)) return 0;
        foreach (var f in Directory.EnumerateFiles(directory, "." + "*" + TempSuffix, SearchOption.AllDirectories))
        {
            File.Delete(f);
            n++;
        }
        return n;
    }
}
