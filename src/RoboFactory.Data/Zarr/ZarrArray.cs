using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.Zarr;

/// <summary>
/// A zarr v2 array in a directory store, typed by its element type. Reads and writes address whole
/// rows along axis 0 (episode steps), which is how recording, conversion and training use the data;
/// any chunking of any dimension is handled. Chunks are (de)compressed in parallel, and every file is
/// replaced atomically so an interrupted write leaves the previous state readable.
/// </summary>
public sealed unsafe class ZarrArray<T> where T : unmanaged
{
    private readonly byte[] _fill;
    private readonly int _itemSize;

    public string DirectoryPath { get; }
    public ZarrArrayMetadata Metadata { get; private set; }

    /// <summary>Length along axis 0.</summary>
    public long Length => Metadata.Shape[0];

    public IReadOnlyList<long> Shape => Metadata.Shape;

    /// <summary>Elements in one row, i.e. the product of shape[1:].</summary>
    public long RowElements { get; }

    /// <summary>Threads used for chunk compression/decompression (chunks in parallel, or blosc's own threads for a single chunk).</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    public string MetadataPath => Path.Combine(DirectoryPath, ".zarray");

    private ZarrArray(string directory, ZarrArrayMetadata metadata)
    {
        metadata.DType.EnsureMatches<T>(Path.Combine(directory, ".zarray"));
        DirectoryPath = directory;
        Metadata = metadata;
        _itemSize = Unsafe.SizeOf<T>();
        _fill = metadata.FillBytes();
        RowElements = metadata.Shape.Skip(1).Aggregate(1L, (a, s) => a * s);
    }

    public static ZarrArray<T> Open(string directory)
    {
        string path = Path.Combine(directory, ".zarray");
        if (!File.Exists(path)) throw new FileNotFoundException($"no zarr array at {directory} (missing .zarray)", path);
        return new ZarrArray<T>(directory, ZarrArrayMetadata.Parse(File.ReadAllText(path), path));
    }

    /// <summary>Creates (or overwrites the metadata of) an array; existing chunk files are removed.</summary>
    public static ZarrArray<T> Create(string directory, long[] shape, int[] chunks, ZarrCompressor? compressor,
        T fillValue = default, char dimensionSeparator = '.', bool writeDimensionSeparator = false)
    {
        if (shape.Length != chunks.Length) throw new ArgumentException("shape and chunks differ in rank");
        var meta = new ZarrArrayMetadata
        {
            Shape = (long[])shape.Clone(), Chunks = (int[])chunks.Clone(), DType = ZarrDataType.For<T>(),
            Compressor = compressor, FillValue = ZarrArrayMetadata.EncodeFillValue(fillValue),
            DimensionSeparator = dimensionSeparator, WriteDimensionSeparator = writeDimensionSeparator,
        };
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        Directory.CreateDirectory(directory);
        var array = new ZarrArray<T>(directory, meta);
        AtomicFile.WriteAllText(array.MetadataPath, meta.ToJson());
        return array;
    }

    public T[] ReadAll() => ReadRows(0, Length);

    public T[] ReadRows(long start, long count)
    {
        var result = new T[checked(count * RowElements)];
        ReadRows(start, result);
        return result;
    }

    /// <summary>Reads rows [start, start + destination.Length / RowElements) into <paramref name="destination"/>.</summary>
    public void ReadRows(long start, Span<T> destination)
    {
        if (RowElements == 0) // a trailing extent of 0 (shape [n, 0]): rows hold nothing, there is nothing to read
        {
            if (destination.Length != 0) throw new ArgumentException($"rows of {string.Join("×", Shape.Skip(1))} hold no elements; destination must be empty");
            return;
        }
        if (destination.Length % RowElements != 0)
            throw new ArgumentException($"destination length {destination.Length} is not a multiple of the row size {RowElements}");
        long count = destination.Length / RowElements;
        if (start < 0 || start + count > Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside [0, {Length})");
        if (count == 0) return;
        var jobs = ChunksForRows(start, start + count);
        fixed (T* p = destination)
        {
            nint region = (nint)p;
            long regionBytes = (long)destination.Length * _itemSize;
            ForEachChunk(jobs, (idx, threads) => ReadChunkInto(idx, region, regionBytes, start, count, threads));
        }
    }

    /// <summary>Appends rows (a multiple of RowElements elements) along axis 0.</summary>
    public void Append(ReadOnlySpan<T> rows) => WriteRows(Length, rows);

    /// <summary>Writes rows starting at <paramref name="start"/> (≤ Length), growing the array as needed.</summary>
    public void WriteRows(long start, ReadOnlySpan<T> rows)
    {
        if (RowElements == 0) throw new ArgumentException($"rows of {string.Join("×", Shape.Skip(1))} hold no elements; nothing can be appended");
        if (rows.Length % RowElements != 0)
            throw new ArgumentException($"data length {rows.Length} is not a multiple of the row size {RowElements} (shape {string.Join("x", Shape)})");
        if (start < 0 || start > Length) throw new ArgumentOutOfRangeException(nameof(start));
        long count = rows.Length / RowElements;
        if (count == 0) return;
        long end = start + count;
        long oldLength = Length;
        var newShape = (long[])Metadata.Shape.Clone();
        newShape[0] = Math.Max(oldLength, end);
        var jobs = ChunksForRows(start, end);
        fixed (T* p = rows)
        {
            nint region = (nint)p;
            long regionBytes = (long)rows.Length * _itemSize;
            ForEachChunk(jobs, (idx, threads) => WriteChunkFrom(idx, region, regionBytes, start, count, oldLength, newShape, threads));
        }
        if (newShape[0] != oldLength) SetShape(newShape);
    }

    /// <summary>
    /// Shrinks the array to <paramref name="length"/> rows: drops chunks past the end and resets the
    /// padding of the new last chunk to fill_value, so the result is byte-identical to an array that
    /// was only ever written up to <paramref name="length"/>.
    /// </summary>
    /// <param name="metadataFirst">shrink the shape before clearing the cut rows: for a commit record (an array whose
    /// length says what exists), so that a kill in between leaves the shorter, valid record rather than a long one
    /// whose tail reads as fill values</param>
    public void Truncate(long length, bool metadataFirst = false)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        if (length == Length) return;
        long[] newShape = (long[])Metadata.Shape.Clone();
        newShape[0] = length;
        var grid = Metadata.ChunkGrid; // of the old shape: every chunk that may hold cut rows
        if (metadataFirst) SetShape(newShape);
        int c0 = Metadata.Chunks[0];
        long keepChunkRows = (length + c0 - 1) / c0;
        for (long i0 = keepChunkRows; i0 < grid[0]; i0++)
            foreach (var idx in OtherChunkIndices(i0))
            {
                string path = ChunkPath(idx);
                if (File.Exists(path)) File.Delete(path);
            }
        if (length % c0 != 0)
        {
            long rowsInChunk = length - (keepChunkRows - 1) * c0;
            foreach (var idx in OtherChunkIndices(keepChunkRows - 1))
            {
                string path = ChunkPath(idx);
                if (!File.Exists(path)) continue;
                var chunk = DecodeChunk(File.ReadAllBytes(path), Threads);
                // Rows ≥ rowsInChunk are padding now; in C order they are one contiguous tail.
                long rowBytes = ChunkBytes / Metadata.Chunks[0];
                FillPattern(chunk.AsSpan((int)(rowsInChunk * rowBytes)));
                AtomicFile.WriteAllBytes(path, EncodeChunk(chunk, Threads));
            }
        }
        if (!metadataFirst) SetShape(newShape);
    }

    private void SetShape(long[] shape)
    {
        Metadata = Metadata with { Shape = shape };
        AtomicFile.WriteAllText(MetadataPath, Metadata.ToJson());
    }

    private long ChunkBytes => Metadata.ChunkElements * _itemSize;

    private string ChunkPath(long[] idx)
    {
        string key = Metadata.ChunkKey(idx);
        return Metadata.DimensionSeparator == '/'
            ? Path.Combine([DirectoryPath, .. key.Split('/')])
            : Path.Combine(DirectoryPath, key);
    }

    private List<long[]> ChunksForRows(long start, long end)
    {
        int c0 = Metadata.Chunks[0];
        var list = new List<long[]>();
        for (long i0 = start / c0; i0 <= (end - 1) / c0; i0++) list.AddRange(OtherChunkIndices(i0));
        return list;
    }

    /// <summary>All chunk indices whose axis-0 index is <paramref name="i0"/>, in C order.</summary>
    private IEnumerable<long[]> OtherChunkIndices(long i0)
    {
        int rank = Metadata.Rank;
        var grid = Metadata.Shape.Select((s, i) => Math.Max(1, (s + Metadata.Chunks[i] - 1) / Metadata.Chunks[i])).ToArray();
        var idx = new long[rank];
        idx[0] = i0;
        while (true)
        {
            yield return (long[])idx.Clone();
            int d = rank - 1;
            while (d >= 1)
            {
                if (++idx[d] < grid[d]) break;
                idx[d] = 0;
                d--;
            }
            if (d < 1) yield break;
        }
    }

    private void ForEachChunk(List<long[]> jobs, Action<long[], int> body)
    {
        if (jobs.Count == 1 || Threads <= 1)
        {
            foreach (var j in jobs) body(j, Threads);
            return;
        }
        try
        {
            Parallel.ForEach(jobs, new ParallelOptions { MaxDegreeOfParallelism = Threads }, j => body(j, 1));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
        {
            // Surface the first chunk's error (it names the chunk file) rather than an AggregateException.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    private byte[] DecodeChunk(byte[] encoded, int threads)
    {
        var raw = new byte[ChunkBytes];
        DecodeChunk(encoded, raw, threads);
        return raw;
    }

    private void DecodeChunk(byte[] encoded, Span<byte> raw, int threads)
    {
        if (Metadata.Compressor is null)
        {
            if (encoded.Length != raw.Length)
                throw new InputFormatException($"uncompressed chunk in {DirectoryPath} holds {encoded.Length} bytes, expected {raw.Length}");
            encoded.CopyTo(raw);
        }
        else
        {
            Metadata.Compressor.Decode(encoded, raw, threads);
        }
    }

    private byte[] EncodeChunk(ReadOnlySpan<byte> raw, int threads) =>
        Metadata.Compressor is null ? raw.ToArray() : Metadata.Compressor.Encode(raw, _itemSize, threads);

    private void FillPattern(Span<byte> span)
    {
        if (_fill.All(b => b == 0)) { span.Clear(); return; }
        for (int i = 0; i + _itemSize <= span.Length; i += _itemSize) _fill.CopyTo(span[i..]);
    }

    /// <summary>True when a chunk's bytes equal a contiguous run of region rows (only axis 0 is chunked and the chunk lies inside the region).</summary>
    private bool IsContiguousInRegion(long[] idx, long regionStart, long regionCount)
    {
        for (int d = 1; d < Metadata.Rank; d++)
            if (Metadata.Chunks[d] != Metadata.Shape[d]) return false;
        long c0 = Metadata.Chunks[0];
        long first = idx[0] * c0;
        return first >= regionStart && first + c0 <= regionStart + regionCount;
    }

    private void ReadChunkInto(long[] idx, nint region, long regionBytes, long start, long count, int threads)
    {
        string path = ChunkPath(idx);
        var regionSpan = new Span<byte>((void*)region, checked((int)regionBytes));
        if (!File.Exists(path))
        {
            // Missing chunk = every element is fill_value.
            var fill = new byte[ChunkBytes];
            FillPattern(fill);
            CopyChunk(fill, idx, regionSpan, start, count, chunkToRegion: true);
            return;
        }
        byte[] encoded;
        try { encoded = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { encoded = []; }
        try
        {
            if (IsContiguousInRegion(idx, start, count))
            {
                long offset = (idx[0] * Metadata.Chunks[0] - start) * RowElements * _itemSize;
                DecodeChunk(encoded, regionSpan.Slice((int)offset, (int)ChunkBytes), threads);
                return;
            }
            var raw = DecodeChunk(encoded, threads);
            CopyChunk(raw, idx, regionSpan, start, count, chunkToRegion: true);
        }
        catch (Exception e) when (e is InvalidDataException or InputFormatException) // zlib's and ours
        {
            throw new InputFormatException($"{path}: corrupt chunk: {e.Message}", e);
        }
    }

    private void WriteChunkFrom(long[] idx, nint region, long regionBytes, long start, long count, long oldLength,
        long[] newShape, int threads)
    {
        string path = ChunkPath(idx);
        var regionSpan = new ReadOnlySpan<byte>((void*)region, checked((int)regionBytes));
        long c0 = Metadata.Chunks[0];
        long chunkFirst = idx[0] * c0;
        long chunkEnd = Math.Min(chunkFirst + c0, newShape[0]);
        // Rows of this chunk that hold data and are not being overwritten must be preserved.
        bool keepsOldRows = (chunkFirst < start && oldLength > chunkFirst) || (chunkEnd > start + count && oldLength > start + count);
        byte[] chunk;
        if (keepsOldRows && File.Exists(path))
        {
            chunk = DecodeChunk(File.ReadAllBytes(path), threads);
        }
        else
        {
            chunk = new byte[ChunkBytes];
            FillPattern(chunk);
        }
        CopyChunk(chunk, idx, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(regionSpan), regionSpan.Length),
            start, count, chunkToRegion: false);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllBytes(path, EncodeChunk(chunk, threads));
    }

    /// <summary>
    /// Copies the intersection of chunk <paramref name="idx"/> with the region (rows [start, start+count),
    /// all of the other dimensions) between the chunk buffer and the region buffer, both C-ordered.
    /// Trailing dimensions that both buffers hold completely are merged into one memcpy run.
    /// </summary>
    private void CopyChunk(Span<byte> chunk, long[] idx, Span<byte> region, long start, long count, bool chunkToRegion)
    {
        int rank = Metadata.Rank;
        var chunks = Metadata.Chunks;
        Span<long> regionShape = stackalloc long[rank];
        Span<long> lo = stackalloc long[rank];
        Span<long> ext = stackalloc long[rank];
        Span<long> origin = stackalloc long[rank];
        Span<long> cStride = stackalloc long[rank];
        Span<long> rStride = stackalloc long[rank];
        for (int d = 0; d < rank; d++)
        {
            regionShape[d] = d == 0 ? count : Metadata.Shape[d];
            long regionOrigin = d == 0 ? start : 0;
            origin[d] = idx[d] * chunks[d];
            lo[d] = Math.Max(origin[d], regionOrigin);
            long hi = Math.Min(origin[d] + chunks[d], regionOrigin + regionShape[d]);
            ext[d] = hi - lo[d];
            if (ext[d] <= 0) return;
        }
        cStride[rank - 1] = rStride[rank - 1] = _itemSize;
        for (int d = rank - 2; d >= 0; d--)
        {
            cStride[d] = cStride[d + 1] * chunks[d + 1];
            rStride[d] = rStride[d + 1] * regionShape[d + 1];
        }
        int k = rank - 1;
        while (k > 0 && ext[k] == chunks[k] && ext[k] == regionShape[k]) k--;
        long run = _itemSize;
        for (int d = k; d < rank; d++) run *= ext[d];

        // Odometer over dimensions [0, k); dimension k starts at lo[k].
        Span<long> pos = stackalloc long[Math.Max(k, 1)];
        for (int d = 0; d < k; d++) pos[d] = lo[d];
        while (true)
        {
            long cOff = (lo[k] - origin[k]) * cStride[k];
            long rOff = (lo[k] - (k == 0 ? start : 0)) * rStride[k];
            for (int d = 0; d < k; d++)
            {
                cOff += (pos[d] - origin[d]) * cStride[d];
                rOff += (pos[d] - (d == 0 ? start : 0)) * rStride[d];
            }
            if (chunkToRegion) chunk.Slice((int)cOff, (int)run).CopyTo(region.Slice((int)rOff, (int)run));
            else region.Slice((int)rOff, (int)run).CopyTo(chunk.Slice((int)cOff, (int)run));

            int dd = k - 1;
            while (dd >= 0)
            {
                if (++pos[dd] < lo[dd] + ext[dd]) break;
                pos[dd] = lo[dd];
                dd--;
            }
            if (dd < 0) return;
        }
    }
}
