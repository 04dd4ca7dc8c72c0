using System.Text.Json.Nodes;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Zarr;

/// <summary>
/// A zarr v2 group in a directory store (".zgroup" + optional ".zattrs"). Child names may be paths
/// ("data/action").
/// </summary>
public sealed class ZarrGroup
{
    private const string GroupJson = "{\n    \"zarr_format\": 2\n}";

    public string DirectoryPath { get; }

    private ZarrGroup(string directory) => DirectoryPath = directory;

    /// <summary>Creates the group (and its directory) if needed; an existing group is reused.</summary>
    public static ZarrGroup Create(string directory)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, ".zgroup");
        if (!File.Exists(path)) AtomicFile.WriteAllText(path, GroupJson);
        return new ZarrGroup(directory);
    }

    public static ZarrGroup Open(string directory)
    {
        string path = Path.Combine(directory, ".zgroup");
        if (!File.Exists(path))
            throw new FileNotFoundException($"no zarr group at {directory} (missing .zgroup)", path);
        var node = JsonInput.Object(PythonJson.Parse(File.ReadAllText(path), path), path, "(root)");
        int format = JsonInput.Value<int>(JsonInput.Member(node, "zarr_format", path, ""), path, "zarr_format");
        if (format != 2) throw new ZarrFormatException(path, "zarr_format", $"{format}; expected 2");
        return new ZarrGroup(directory);
    }

    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, ".zgroup"));

    public string ChildPath(string name) => Path.Combine([DirectoryPath, .. name.Split('/', StringSplitOptions.RemoveEmptyEntries)]);

    /// <summary>Creates the child group and every intermediate group.</summary>
    public ZarrGroup CreateGroup(string name)
    {
        var g = this;
        foreach (var part in name.Split('/', StringSplitOptions.RemoveEmptyEntries))
            g = Create(Path.Combine(g.DirectoryPath, part));
        return g;
    }

    public ZarrGroup OpenGroup(string name) => Open(ChildPath(name));

    public bool ContainsArray(string name) => File.Exists(Path.Combine(ChildPath(name), ".zarray"));
    public bool ContainsGroup(string name) => File.Exists(Path.Combine(ChildPath(name), ".zgroup"));

    /// <summary>Creates an array, creating missing parent groups as zarr-python's require_group would.</summary>
    public ZarrArray<T> CreateArray<T>(string name, long[] shape, int[] chunks, ZarrCompressor? compressor,
        T fillValue = default) where T : unmanaged
    {
        int slash = name.LastIndexOf('/');
        if (slash > 0) CreateGroup(name[..slash]);
        return ZarrArray<T>.Create(ChildPath(name), shape, chunks, compressor, fillValue);
    }

    public ZarrArray<T> OpenArray<T>(string name) where T : unmanaged => ZarrArray<T>.Open(ChildPath(name));

    public ZarrArrayMetadata ReadArrayMetadata(string name)
    {
        string path = Path.Combine(ChildPath(name), ".zarray");
        if (!File.Exists(path)) throw new FileNotFoundException($"no zarr array '{name}' in {DirectoryPath}", path);
        return ZarrArrayMetadata.Parse(File.ReadAllText(path), path);
    }

    /// <summary>Names of the direct children that are arrays / groups, sorted ordinally.</summary>
    public IReadOnlyList<string> ArrayNames => Children(".zarray");
    public IReadOnlyList<string> GroupNames => Children(".zgroup");

    private List<string> Children(string marker) =>
        Directory.EnumerateDirectories(DirectoryPath)
            .Where(d => File.Exists(Path.Combine(d, marker)))
            .Select(d => Path.GetFileName(d)!)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();

    public string AttributesPath => Path.Combine(DirectoryPath, ".zattrs");

    /// <summary>The group's .zattrs (empty when the file does not exist, as in zarr-python).</summary>
    public JsonObject ReadAttributes()
    {
        if (!File.Exists(AttributesPath)) return new JsonObject();
        return PythonJson.Parse(File.ReadAllText(AttributesPath), AttributesPath) as JsonObject
               ?? throw new ZarrFormatException(AttributesPath, "(root)", "is not a JSON object");
    }

    /// <summary>Replaces .zattrs atomically, formatted as zarr-python writes it (indent 4, sorted keys, ASCII).</summary>
    public void WriteAttributes(JsonObject attributes) =>
        AtomicFile.WriteAllText(AttributesPath, PythonJson.Serialize(attributes));
}
