using System.Buffers.Binary;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.TfRecord;

/// <summary>A damaged TFRecord file; names the file and the byte offset of the bad record.</summary>
public sealed class TfRecordCorruptException(string filePath, long offset, string problem)
    : InputFormatException($"{filePath}: record at byte offset {offset}: {problem}")
{
    public new string FilePath { get; } = filePath;
    public long Offset { get; } = offset;
}

/// <summary>
/// Writes TFRecord framing: u64 little-endian length, masked CRC32C of the length bytes, payload,
/// masked CRC32C of the payload (uncompressed; the same as tf.io.TFRecordWriter with no options).
/// </summary>
public sealed class TfRecordWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _ownsStream;

    public TfRecordWriter(string path) : this(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 20), true) { }

    public TfRecordWriter(Stream stream, bool ownsStream = false)
    {
        _stream = stream;
        _ownsStream = ownsStream;
    }

    public long Position { get; private set; }
    public long RecordCount { get; private set; }

    /// <summary>Bytes a record of <paramref name="payloadLength"/> takes on disk.</summary>
    public static long FramedLength(long payloadLength) => payloadLength + 16;

    /// <summary>Writes one record and returns its byte offset.</summary>
    public long Write(ReadOnlySpan<byte> payload)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.MaskedCompute(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.MaskedCompute(payload));
        long offset = Position;
        _stream.Write(header);
        _stream.Write(payload);
        _stream.Write(footer);
        Position += FramedLength(payload.Length);
        RecordCount++;
        return offset;
    }

    public void Flush() => _stream.Flush();

    public void Dispose()
    {
        _stream.Flush();
        if (_ownsStream) _stream.Dispose();
    }
}

/// <summary>Position of one record in a TFRecord file.</summary>
public readonly record struct TfRecordLocation(string FilePath, long Offset, long Length);

/// <summary>
/// Reads TFRecord files, verifying both CRCs of every record. Damage (bad CRC, truncation, absurd
/// length) raises <see cref="TfRecordCorruptException"/> naming the file and the record's offset.
/// </summary>
public sealed class TfRecordReader : IDisposable
{
    private readonly FileStream _stream;
    private readonly bool _verify;

    public string FilePath { get; }
    public long Length { get; }

    public TfRecordReader(string path, bool verifyCrc = true)
    {
        FilePath = path;
        _verify = verifyCrc;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        Length = _stream.Length;
    }

    /// <summary>Reads the record starting at <paramref name="offset"/>; returns null at end of file.</summary>
    public byte[]? ReadAt(long offset, out long nextOffset)
    {
        nextOffset = offset;
        if (offset == Length) return null;
        long payloadLength = ReadHeader(offset);
        var buffer = new byte[payloadLength + 4];
        _stream.Position = offset + 12;
        ReadFully(buffer, offset, "payload");
        var payload = buffer.AsSpan(0, (int)payloadLength);
        if (_verify)
        {
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan((int)payloadLength));
            uint actual = Crc32C.MaskedCompute(payload);
            if (stored != actual)
                throw new TfRecordCorruptException(FilePath, offset, $"payload CRC mismatch (stored 0x{stored:x8}, computed 0x{actual:x8})");
        }
        nextOffset = offset + TfRecordWriter.FramedLength(payloadLength);
        Array.Resize(ref buffer, (int)payloadLength);
        return buffer;
    }

    /// <summary>All records in file order with their offsets.</summary>
    public IEnumerable<(long Offset, byte[] Payload)> ReadAll()
    {
        long offset = 0;
        while (true)
        {
            var rec = ReadAt(offset, out long next);
            if (rec is null) yield break;
            yield return (offset, rec);
            offset = next;
        }
    }

    /// <summary>Record locations from the headers only (length CRCs checked, payloads skipped).</summary>
    public List<TfRecordLocation> Index()
    {
        var list = new List<TfRecordLocation>();
        long offset = 0;
        while (offset < Length)
        {
            long len = ReadHeader(offset);
            long next = offset + TfRecordWriter.FramedLength(len);
            if (next > Length)
                throw new TfRecordCorruptException(FilePath, offset, $"truncated: record needs {TfRecordWriter.FramedLength(len)} bytes, file has {Length - offset} left");
            list.Add(new TfRecordLocation(FilePath, offset, len));
            offset = next;
        }
        return list;
    }

    private long ReadHeader(long offset)
    {
        Span<byte> header = stackalloc byte[12];
        _stream.Position = offset;
        int got = _stream.ReadAtLeast(header, 12, throwOnEndOfStream: false);
        if (got < 12)
            throw new TfRecordCorruptException(FilePath, offset, $"truncated: {got} header bytes, expected 12");
        ulong len = BinaryPrimitives.ReadUInt64LittleEndian(header);
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        uint actual = Crc32C.MaskedCompute(header[..8]);
        if (stored != actual)
            throw new TfRecordCorruptException(FilePath, offset, $"length CRC mismatch (stored 0x{stored:x8}, computed 0x{actual:x8})");
        if (len > (ulong)(Length - offset - 12))
            throw new TfRecordCorruptException(FilePath, offset, $"truncated: length field says {len} bytes, file has {Length - offset - 12} left");
        if (len > int.MaxValue - 64)
            throw new TfRecordCorruptException(FilePath, offset, $"record of {len} bytes is larger than supported");
        return (long)len;
    }

    private void ReadFully(byte[] buffer, long offset, string what)
    {
        int got = _stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got < buffer.Length)
            throw new TfRecordCorruptException(FilePath, offset, $"truncated {what}: {got} of {buffer.Length} bytes present");
    }

    public void Dispose() => _stream.Dispose();
}
