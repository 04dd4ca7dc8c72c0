namespace RoboFactory.Data.Zarr;

/// <summary>One per-step array of an episode store: name ("data/action"), dtype and the shape of one step.</summary>
public sealed record EpisodeArraySpec(string Name, ZarrDataType DType, int[] RowShape, int ChunkRows = 100)
{
    public static EpisodeArraySpec Of<T>(string name, int[] rowShape, int chunkRows = 100) where T : unmanaged =>
        new(name, ZarrDataType.For<T>(), rowShape, chunkRows);

    public long RowElements => RowShape.Aggregate(1L, (a, s) => a * s);
}

/// <summary>The per-step data of one episode, keyed by array name; each value is a T[] of Length × RowElements.</summary>
public sealed class EpisodeColumns
{
    private readonly Dictionary<string, Array> _columns = new(StringComparer.Ordinal);

    public EpisodeColumns Add<T>(string name, T[] data) where T : unmanaged
    {
        _columns.Add(name, data);
        return this;
    }

    public IReadOnlyDictionary<string, Array> Columns => _columns;
}
