using System.Text.Json.Nodes;

namespace RoboFactory.Data.Zarr;

/// <summary>
/// Read side of an episode store (ours or upstream's): root group, meta/episode_ends (exclusive
/// cumulative step counts) and per-step arrays under data/.
/// </summary>
public sealed class ZarrEpisodeStore
{
    public ZarrGroup Root { get; }
    public string Path => Root.DirectoryPath;
    public long[] EpisodeEnds { get; }
    public int EpisodeCount => EpisodeEnds.Length;
    public long StepCount => EpisodeEnds.Length == 0 ? 0 : EpisodeEnds[^1];
    public JsonObject Attributes { get; }

    private ZarrEpisodeStore(ZarrGroup root)
    {
        Root = root;
        EpisodeEnds = root.OpenArray<long>(ZarrEpisodeWriter.EpisodeEndsName).ReadAll();
        for (int i = 0; i < EpisodeEnds.Length; i++)
            if (EpisodeEnds[i] <= (i == 0 ? 0 : EpisodeEnds[i - 1]))
                throw new ZarrFormatException(System.IO.Path.Combine(root.ChildPath(ZarrEpisodeWriter.EpisodeEndsName), ".zarray"),
                    "episode_ends", $"entry {i} ({EpisodeEnds[i]}) is not greater than the previous one");
        Attributes = root.ReadAttributes();
    }

    /// <summary>Opens a finished store. A ".partial" store (still being written, or interrupted) is refused unless <paramref name="allowPartial"/>.</summary>
    public static ZarrEpisodeStore Open(string path, bool allowPartial = false)
    {
        path = System.IO.Path.TrimEndingDirectorySeparator(path);
        if (!allowPartial && path.EndsWith(ZarrEpisodeWriter.PartialSuffix, StringComparison.Ordinal))
            throw new IOException($"{path} is an unfinished store (still being written or interrupted); resume or finish recording first");
        if (!ZarrGroup.Exists(path) && ZarrGroup.Exists(path + ZarrEpisodeWriter.PartialSuffix))
            throw new IOException($"{path} has not been completed: only {path}{ZarrEpisodeWriter.PartialSuffix} exists (resume the recording)");
        return new ZarrEpisodeStore(ZarrGroup.Open(path));
    }

    public (long Start, long End) EpisodeRange(int episode) =>
        (episode == 0 ? 0 : EpisodeEnds[episode - 1], EpisodeEnds[episode]);

    public int EpisodeLength(int episode)
    {
        var (s, e) = EpisodeRange(episode);
        return (int)(e - s);
    }

    public bool HasArray(string name) => Root.ContainsArray(name);

    public ZarrArray<T> OpenArray<T>(string name) where T : unmanaged => Root.OpenArray<T>(name);

    /// <summary>All steps of one episode of array <paramref name="name"/>, row-major (steps × row elements).</summary>
    public T[] ReadEpisode<T>(string name, int episode) where T : unmanaged
    {
        var (s, e) = EpisodeRange(episode);
        return OpenArray<T>(name).ReadRows(s, e - s);
    }
}
