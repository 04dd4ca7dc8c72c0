using System.Runtime.CompilerServices;

namespace RoboFactory.Data.Zarr;

/// <summary>
/// A numpy dtype string as stored in .zarray ("|u1", "&lt;f4", "&lt;i8", ...). Only little-endian and
/// byte-order-free simple types are supported; they map 1:1 to unmanaged CLR types.
/// </summary>
public sealed record ZarrDataType
{
    /// <summary>numpy kind character: 'u' unsigned, 'i' signed, 'f' float, 'b' bool.</summary>
    public char Kind { get; }
    public int ItemSize { get; }
    public Type ClrType { get; }

    /// <summary>The canonical dtype string numpy/zarr-python write ("|u1", "&lt;f4", ...).</summary>
    public string Name => ItemSize == 1 ? $"|{Kind}1" : $"<{Kind}{ItemSize}";

    private ZarrDataType(char kind, int itemSize, Type clr)
    {
        Kind = kind;
        ItemSize = itemSize;
        ClrType = clr;
    }

    private static readonly ZarrDataType[] s_all =
    [
        new('u', 1, typeof(byte)), new('i', 1, typeof(sbyte)), new('b', 1, typeof(bool)),
        new('u', 2, typeof(ushort)), new('i', 2, typeof(short)),
        new('u', 4, typeof(uint)), new('i', 4, typeof(int)),
        new('u', 8, typeof(ulong)), new('i', 8, typeof(long)),
        new('f', 4, typeof(float)), new('f', 8, typeof(double)),
    ];

    public static ZarrDataType For<T>() where T : unmanaged => For(typeof(T));

    public static ZarrDataType For(Type clr) =>
        s_all.FirstOrDefault(d => d.ClrType == clr)
        ?? throw new NotSupportedException($"no zarr dtype for CLR type {clr.Name}");

    /// <summary>Parses a dtype string; <paramref name="filePath"/> is used in the error message.</summary>
    public static ZarrDataType Parse(string? text, string filePath)
    {
        const string expected = "one of |u1 |i1 |b1 <u2 <i2 <u4 <i4 <u8 <i8 <f4 <f8";
        if (string.IsNullOrEmpty(text) || text.Length < 3)
            throw new ZarrFormatException(filePath, "dtype", $"'{text}' is not a simple numpy dtype; expected {expected}");
        char order = text[0];
        if (order == '>')
            throw new ZarrFormatException(filePath, "dtype", $"big-endian dtype '{text}' is not supported; expected {expected}");
        if (order != '<' && order != '|' && order != '=')
            throw new ZarrFormatException(filePath, "dtype", $"'{text}' (structured or object dtypes are not supported); expected {expected}");
        char kind = text[1];
        if (!int.TryParse(text.AsSpan(2), out int size))
            throw new ZarrFormatException(filePath, "dtype", $"'{text}' is not supported; expected {expected}");
        var dt = s_all.FirstOrDefault(d => d.Kind == kind && d.ItemSize == size);
        if (dt is null)
            throw new ZarrFormatException(filePath, "dtype", $"'{text}' is not supported; expected {expected}");
        return dt;
    }

    internal void EnsureMatches<T>(string filePath) where T : unmanaged
    {
        if (ClrType != typeof(T))
            throw new ZarrFormatException(filePath, "dtype",
                $"array holds '{Name}' ({ClrType.Name}) but was opened as {typeof(T).Name}; expected '{For<T>().Name}'");
        _ = Unsafe.SizeOf<T>();
    }

    public override string ToString() => Name;
}
