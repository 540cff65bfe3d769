using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Worker.Records;

/// <summary>
/// CRC-32C (Castagnoli) through the hardware instruction (<see cref="BitOperations.Crc32C(uint, ulong)"/>),
/// and TFRecord's mask. The instruction's latency is three times its throughput, so long inputs are
/// cut into three blocks whose CRCs run interleaved, then combined: CRC(A‖B) = shift(CRC(A), |B|) ⊕ CRC(B),
/// where shifting a CRC past n zero bytes is linear and so a four-table lookup for a fixed n.
/// </summary>
public static class Crc32C
{
    private const int LongBlock = 8192;
    private const int ShortBlock = 256;

    private static readonly uint[] LongShift = ShiftTable(LongBlock);
    private static readonly uint[] ShortShift = ShiftTable(ShortBlock);

    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(~0u, data);

    /// <summary>Continues a raw (not inverted) CRC state over more bytes.</summary>
    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        ref var p = ref MemoryMarshal.GetReference(data);
        var length = data.Length;

        while (length >= 3 * LongBlock)
        {
            state = ThreeWay(state, ref p, LongBlock, LongShift);
            p = ref Unsafe.Add(ref p, 3 * LongBlock);
            length -= 3 * LongBlock;
        }

        while (length >= 3 * ShortBlock)
        {
            state = ThreeWay(state, ref p, ShortBlock, ShortShift);
            p = ref Unsafe.Add(ref p, 3 * ShortBlock);
            length -= 3 * ShortBlock;
        }

        while (length >= 8)
        {
            state = BitOperations.Crc32C(state, Unsafe.ReadUnaligned<ulong>(ref p));
            p = ref Unsafe.Add(ref p, 8);
            length -= 8;
        }

        while (length > 0)
        {
            state = BitOperations.Crc32C(state, p);
            p = ref Unsafe.Add(ref p, 1);
            length--;
        }

        return state;
    }

    /// <summary>TFRecord stores CRCs masked, so a CRC over data that holds CRCs stays well distributed.</summary>
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ThreeWay(uint state, ref byte p, int block, uint[] shift)
    {
        uint a = state, b = 0, c = 0;
        ref var second = ref Unsafe.Add(ref p, block);
        ref var third = ref Unsafe.Add(ref p, 2 * block);
        for (var i = 0; i < block; i += 8)
        {
            a = BitOperations.Crc32C(a, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i)));
            b = BitOperations.Crc32C(b, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref second, i)));
            c = BitOperations.Crc32C(c, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref third, i)));
        }

        return Shift(shift, Shift(shift, a) ^ b) ^ c;
    }

    private static uint Shift(uint[] table, uint crc) =>
        table[crc & 0xFF] ^ table[256 + ((crc >> 8) & 0xFF)] ^ table[512 + ((crc >> 16) & 0xFF)] ^ table[768 + (crc >> 24)];

    /// <summary>
    /// The operator "run the CRC register over <paramref name="zeroBytes"/> zero bytes", which is linear
    /// over GF(2): found on the 32 basis states with the instruction itself, then tabulated per byte of the state.
    /// </summary>
    private static uint[] ShiftTable(int zeroBytes)
    {
        Span<uint> basis = stackalloc uint[32];
        for (var bit = 0; bit < 32; bit++)
        {
            var state = 1u << bit;
            for (var i = 0; i < zeroBytes; i += 8)
            {
                state = BitOperations.Crc32C(state, 0UL);
            }

            basis[bit] = state;
        }

        var table = new uint[4 * 256];
        for (var octet = 0; octet < 4; octet++)
        {
            for (var value = 0; value < 256; value++)
            {
                uint result = 0;
                for (var bit = 0; bit < 8; bit++)
                {
                    if ((value & (1 << bit)) != 0)
                    {
                        result ^= basis[(octet * 8) + bit];
                    }
                }

                table[(octet * 256) + value] = result;
            }
        }

        return table;
    }
}
