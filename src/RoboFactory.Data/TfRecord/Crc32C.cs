using System.Buffers.Binary;
using System.Numerics;

namespace RoboFactory.Data.TfRecord;

/// <summary>
/// CRC-32C (Castagnoli), as TFRecord uses it. BitOperations.Crc32C is the SSE4.2/ARM CRC
/// instruction (with a software fallback) and does no pre/post inversion, so it is done here.
/// </summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(~0u, data);

    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }

    /// <summary>TFRecord's masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs stay robust.</summary>
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    public static uint MaskedCompute(ReadOnlySpan<byte> data) => Mask(Compute(data));
}
