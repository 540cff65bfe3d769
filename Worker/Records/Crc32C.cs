using System.Buffers.Binary;
using System.Numerics;

namespace Worker.Records;

/// <summary>CRC-32C (Castagnoli) with the hardware instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/>, and TFRecord's mask.</summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(~0u, data);

    /// <summary>Continues a raw (not inverted) CRC state over more bytes.</summary>
    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 32)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data[8..]));
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data[16..]));
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data[24..]));
            data = data[32..];
        }

        while (data.Length >= 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }

        return state;
    }

    /// <summary>TFRecord stores CRCs masked, so a CRC over data that holds CRCs stays well distributed.</summary>
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
