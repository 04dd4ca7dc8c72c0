using Parquet;
using Parquet.Schema;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.LeRobot;

/// <summary>
/// The few Parquet.Net calls the LeRobot writer and reader need, in the physical types LeRobot expects: fixed-width
/// float32 vectors as LIST&lt;FLOAT&gt;, int64 and float32/float64 scalars, UTF-8 strings, LIST&lt;UTF8&gt;.
/// Parquet.Net is async-only; the LeRobot types are synchronous, so calls run on the thread pool and are awaited
/// there (no caller's synchronisation context can deadlock them).
/// </summary>
internal static class ParquetColumns
{
    public static void Run(Func<Task> work) => Task.Run(work).GetAwaiter().GetResult();
    public static T Run<T>(Func<Task<T>> work) => Task.Run(work).GetAwaiter().GetResult();

    public static ListField FloatList(string name) => new(name, new DataField<float>("element"));
    public static ListField StringList(string name) => new(name, new DataField<string>("element"));

    /// <summary>Rows of <paramref name="width"/> floats each (row-major <paramref name="values"/>) as one LIST column.</summary>
    public static async Task WriteFloatRows(ParquetRowGroupWriter rg, ListField field, float[] values, int width)
    {
        var item = (DataField)field.Item;
        var def = new int[values.Length];
        var rep = new int[values.Length];
        Array.Fill(def, item.MaxDefinitionLevel); // every element present, no null or empty lists
        for (int i = 0; i < rep.Length; i++) rep[i] = i % width == 0 ? 0 : 1;
        await rg.WriteAllPartsAsync<float>(item, values, def, rep, default);
    }

    /// <summary>One list of strings per row.</summary>
    public static Task WriteStringLists(ParquetRowGroupWriter rg, ListField field, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var flat = rows.SelectMany(r => r).ToArray();
        var rep = rows.SelectMany(r => r.Select((_, i) => i == 0 ? 0 : 1)).ToArray();
        if (rows.Any(r => r.Count == 0)) throw new ArgumentException($"{field.Name}: empty lists are not written");
        return rg.WriteAsync((DataField)field.Item, flat, rep);
    }

    public static Task Write<T>(ParquetRowGroupWriter rg, DataField<T> field, T[] values) where T : struct =>
        rg.WriteAsync<T>(field, values, null, null, default);

    public static Task Write(ParquetRowGroupWriter rg, DataField<string> field, string[] values) => rg.WriteAsync(field, values, null);
}

/// <summary>
/// Reads columns of one parquet file by top-level name, checking types, nulls and list widths; every error names the
/// file and the column. Accepts the variants other writers use (pyarrow marks columns optional; int32 is widened).
/// </summary>
internal sealed class ParquetTable : IDisposable
{
    private readonly FileStream _stream;
    private readonly ParquetReader _reader;

    public string Path { get; }
    public int RowGroupCount => _reader.RowGroupCount;
    public IReadOnlyDictionary<string, string> CustomMetadata => _reader.CustomMetadata;
    public IEnumerable<string> ColumnNames => _reader.Schema.Fields.Select(f => f.Name);

    private ParquetTable(string path, FileStream stream, ParquetReader reader)
    {
        Path = path;
        _stream = stream;
        _reader = reader;
    }

    public static ParquetTable Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: parquet file is missing", path);
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            var reader = ParquetColumns.Run(() => ParquetReader.CreateAsync(fs, leaveStreamOpen: true));
            return new ParquetTable(path, fs, reader);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            fs.Dispose();
            throw new InputFormatException($"{path}: not a readable parquet file ({e.Message})", e);
        }
    }

    public bool HasColumn(string name) => _reader.Schema.Fields.Any(f => f.Name == name);

    public long RowCount(int rowGroup) => _reader.RowGroups[rowGroup].RowCount;

    private Field Top(string name) => _reader.Schema.Fields.FirstOrDefault(f => f.Name == name)
        ?? throw new InputFormatException($"{Path}: no column '{name}' (columns: {string.Join(", ", ColumnNames)})");

    private DataField Scalar(string name)
    {
        var f = Top(name);
        return f as DataField is { IsArray: false } d && f.MaxRepetitionLevel == 0 ? d
            : throw new InputFormatException($"{Path}: column '{name}' is {f.SchemaType}, expected a scalar column");
    }

    /// <summary>Values and definition levels of a column chunk; fails on nulls (LeRobot columns never hold any).</summary>
    private async Task<(T[] Values, int[]? Rep)> Raw<T>(int rowGroup, DataField f, string column) where T : struct
    {
        var rg = _reader.RowGroups[rowGroup];
        long n = rg.GetMetadata(f)?.MetaData?.NumValues ?? 0;
        var values = new T[n];
        // Parquet.Net wants level buffers even for columns that have no levels.
        var def = new int[n];
        var rep = f.MaxRepetitionLevel > 0 ? new int[n] : null;
        await rg.ReadRawAsync<T>(f, values, def, rep ?? new int[n]);
        if (f.MaxDefinitionLevel > 0 && def.Any(d => d != f.MaxDefinitionLevel))
            throw new InputFormatException($"{Path}: column '{column}' (row group {rowGroup}) holds nulls or empty lists");
        return (values, rep);
    }

    public long[] Int64(int rowGroup, string name)
    {
        var f = Scalar(name);
        if (f.ClrType == typeof(long)) return ParquetColumns.Run(() => Raw<long>(rowGroup, f, name)).Values;
        if (f.ClrType == typeof(int)) return [.. ParquetColumns.Run(() => Raw<int>(rowGroup, f, name)).Values.Select(v => (long)v)];
        throw new InputFormatException($"{Path}: column '{name}' has type {f.ClrType.Name}, expected int64");
    }

    public double[] Real(int rowGroup, string name)
    {
        var f = Scalar(name);
        if (f.ClrType == typeof(double)) return ParquetColumns.Run(() => Raw<double>(rowGroup, f, name)).Values;
        if (f.ClrType == typeof(float)) return [.. ParquetColumns.Run(() => Raw<float>(rowGroup, f, name)).Values.Select(v => (double)v)];
        throw new InputFormatException($"{Path}: column '{name}' has type {f.ClrType.Name}, expected float32 or float64");
    }

    public string[] Strings(int rowGroup, string name)
    {
        var f = Scalar(name);
        if (f.ClrType != typeof(string) && f.ClrType != typeof(ReadOnlyMemory<char>))
            throw new InputFormatException($"{Path}: column '{name}' has type {f.ClrType.Name}, expected a UTF-8 string");
        var values = new string?[RowCount(rowGroup)];
        ParquetColumns.Run(async () => await _reader.RowGroups[rowGroup].ReadAsync(f, values.AsMemory(), null));
        return [.. values.Select((v, i) => v ?? throw new InputFormatException($"{Path}: column '{name}' row {i} is null"))];
    }

    /// <summary>A LIST&lt;FLOAT&gt; column whose every row holds exactly <paramref name="width"/> values, row-major.</summary>
    public float[] FloatRows(int rowGroup, string name, int width)
    {
        var top = Top(name);
        var item = top is ListField { Item: DataField d } ? d : top as DataField is { IsArray: true } a ? a : null;
        if (item is null || item.MaxRepetitionLevel != 1)
            throw new InputFormatException($"{Path}: column '{name}' is {top.SchemaType}, expected a list of {width} float32");
        if (item.ClrType != typeof(float))
            throw new InputFormatException($"{Path}: column '{name}' holds {item.ClrType.Name}, expected float32 (info.json dtype)");
        var (values, rep) = ParquetColumns.Run(() => Raw<float>(rowGroup, item, name));
        long rows = RowCount(rowGroup);
        if (values.LongLength != rows * width || rep is null)
            throw new InputFormatException($"{Path}: column '{name}' holds {values.LongLength} values in {rows} rows, expected {width} per row");
        for (long i = 0; i < rep.LongLength; i++)
            if ((rep[i] == 0) != (i % width == 0))
                throw new InputFormatException($"{Path}: column '{name}' row {i / width} does not hold exactly {width} values");
        return values;
    }

    public void Dispose()
    {
        ParquetColumns.Run(async () => await _reader.DisposeAsync());
        _stream.Dispose();
    }
}
