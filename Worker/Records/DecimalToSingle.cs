using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Worker.Records;

/// <summary>
/// A decimal <c>w × 10^q</c> (w of at most 19 digits, exact) → the correctly rounded float32, by
/// Lemire's algorithm (Eisel–Lemire, as fast_float and csFastFloat run it): one 64×64→128-bit multiply
/// by a truncated power of five, whose high bits are the float's. A number whose parts are already in
/// hand (the field parser has them) is converted without the second parse csFastFloat would make.
/// Only normal, finite results are taken; subnormals, overflow and zero's odd spellings go back to
/// the caller's csFastFloat/BCL path. The field paths first try <see cref="TryConvertByDouble"/>,
/// about a third of the instructions, which declines only next to a float32 midpoint. The BCL is the
/// oracle in the tests, bit for bit.
/// </summary>
internal static class DecimalToSingle
{
    /// <summary>Below this power of ten, any 19-digit w gives zero or a subnormal; above the other, infinity.</summary>
    private const int SmallestPowerOfTen = -64;
    private const int LargestPowerOfTen = 38;

    private const int MantissaExplicitBits = 23;
    private const int MinimumExponent = -127;

    /// <summary>Ties can only be exact within these powers (fast_float's bounds for float32).</summary>
    private const int MinExponentRoundToEven = -17;
    private const int MaxExponentRoundToEven = 10;

    /// <summary>5^q for q in [-64, 38], normalised to 128 bits (top bit set): high word, then low word.</summary>
    private static readonly ulong[] PowersOfFive = BuildPowersOfFive();

    /// <summary>
    /// <paramref name="w"/> × 10^<paramref name="q"/>, signed; false where the result would be
    /// subnormal or infinite (the caller's full parser takes those). Clinger where both are exact in
    /// float32, then by way of a double (<see cref="TryConvertByDouble"/>), then Lemire.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryConvert(ulong w, int q, bool negative, out float value)
    {
        if (w <= (1UL << 24) && (uint)(q + 10) <= 20)
        {
            // Clinger: both exact in float32, so one correctly rounded operation.
            var f = (float)w;
            f = q < 0 ? f / NumberText.SinglePowers[-q] : f * NumberText.SinglePowers[q];
            value = NumberText.WithSign(f, negative);
            return true;
        }

        if (w == 0)
        {
            value = NumberText.WithSign(0f, negative);
            return true;
        }

        return TryConvertByDouble(w, q, negative, out value) || TryConvertLemire(w, q, negative, out value);
    }

    /// <summary>10^q as the nearest double, for q in [<see cref="SmallestPowerOfTen"/>, <see cref="LargestPowerOfTen"/>].</summary>
    private static readonly double[] DoublePowersOfTen = BuildDoublePowersOfTen();

    /// <summary>
    /// <see cref="TryConvert"/> by two double roundings and a check, about a third of Lemire's instructions (~20 against ~65 in the JIT's code):
    /// <c>(double)w × 10^q</c> (both rounded to nearest, then the product) is within 3 of its own ulps
    /// of the exact value, and a float32's rounding of it differs from the exact value's only when a
    /// float32 midpoint (the low 29 bits of the double at 2^28) lies within those ulps; then, and for
    /// results outside float32's normal range (zero included), false: the caller goes on to
    /// <see cref="TryConvertLemire"/>. About 1 in 30 million numbers of random digits falls back;
    /// round numbers that are exact ties (6e10) always do.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryConvertByDouble(ulong w, int q, bool negative, out float value)
    {
        value = 0;
        var index = q - SmallestPowerOfTen;
        var powers = DoublePowersOfTen;
        if ((uint)index >= (uint)powers.Length)
        {
            return false;
        }

        return TryRoundProduct((double)w * powers[index], negative, out value);
    }

    /// <summary>
    /// <see cref="TryConvertByDouble"/>'s last step: <paramref name="product"/>, <c>(double)w</c> times
    /// the table's power of ten, rounded to float32 with the sign; false next to a float32 midpoint or
    /// outside float32's normal range.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRoundProduct(double product, bool negative, out float value)
    {
        value = 0;
        var bits = BitConverter.DoubleToUInt64Bits(product);
        const ulong midpointMargin = 8; // in ulps of the double: more than the 3 the roundings can err by
        if ((bits >> 52) - 897 > 1149 - 897 // 2^-126 <= product < 2^127: a normal float32, no overflow on rounding
            || (bits & 0x1FFF_FFFF) - (0x1000_0000 - midpointMargin) <= 2 * midpointMargin)
        {
            return false;
        }

        value = NumberText.WithSign((float)product, negative);
        return true;
    }

    /// <summary>10^<paramref name="q"/> from the table with no range check: the caller keeps q within [-64, 38].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double PowerOfTenUnchecked(int q) =>
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(DoublePowersOfTen), q - SmallestPowerOfTen);

    private static double[] BuildDoublePowersOfTen()
    {
        var table = new double[LargestPowerOfTen - SmallestPowerOfTen + 1];
        for (var q = SmallestPowerOfTen; q <= LargestPowerOfTen; q++)
        {
            // The BCL's parse is correctly rounded (Math.Pow is not promised to be).
            table[q - SmallestPowerOfTen] = double.Parse($"1e{q}", System.Globalization.CultureInfo.InvariantCulture);
        }

        return table;
    }

    /// <summary>
    /// <see cref="TryConvert"/> by Lemire's algorithm alone, zero included (as 1 × 10^q, whose bits are
    /// then dropped): no branch on which method or which case a number needs, for callers whose
    /// numbers mix them at random.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryConvertLemire(ulong w, int q, bool negative, out float value)
    {
        value = 0;
        var isZero = w == 0;
        w |= isZero ? 1UL : 0;
        if (q < SmallestPowerOfTen || q > LargestPowerOfTen)
        {
            return false;
        }

        var leadingZeros = BitOperations.LeadingZeroCount(w);
        w <<= leadingZeros;
        var index = 2 * (q - SmallestPowerOfTen);
        var power = PowersOfFive[index];
        var high = MultiplyHigh(w, power);
        var low = w * power;

        // The float needs 26 bits of the product; when the bits below them are all ones, a carry from
        // the power's low word could still reach them, so that word's product is added.
        const ulong precisionMask = ulong.MaxValue >> (MantissaExplicitBits + 3);
        if ((high & precisionMask) == precisionMask)
        {
            var secondHigh = MultiplyHigh(w, PowersOfFive[index + 1]);
            low += secondHigh;
            if (secondHigh > low)
            {
                high++;
            }
        }

        var upperBit = (int)(high >> 63);
        var shift = upperBit + 64 - MantissaExplicitBits - 3;
        var mantissa = high >> shift;
        var power2 = PowerOfTwo(q) + upperBit - leadingZeros - MinimumExponent;
        if (power2 <= 0)
        {
            return false; // subnormal
        }

        // Round half up, except an exact tie, which goes to even.
        if (low <= 1 && q >= MinExponentRoundToEven && q <= MaxExponentRoundToEven && (mantissa & 3) == 1 && (mantissa << shift) == high)
        {
            mantissa &= ~1UL;
        }

        mantissa += mantissa & 1;
        mantissa >>= 1;
        if (mantissa >= (2UL << MantissaExplicitBits))
        {
            mantissa = 1UL << MantissaExplicitBits;
            power2++;
        }

        if (power2 >= 0xFF)
        {
            return false; // infinity
        }

        var bits = (uint)(mantissa & ~(1UL << MantissaExplicitBits)) | ((uint)power2 << MantissaExplicitBits);
        bits = (isZero ? 0 : bits) | ((negative ? 1u : 0u) << 31);
        value = BitConverter.UInt32BitsToSingle(bits);
        return true;
    }

    /// <summary>
    /// The high word of a 64×64-bit product; mulx's register form where BMI2 is there (the low word
    /// is a plain multiply), since <see cref="Math.BigMul(ulong, ulong, out ulong)"/> passes its low
    /// word through memory, on the conversion's critical path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MultiplyHigh(ulong left, ulong right) =>
        Bmi2.X64.IsSupported ? Bmi2.X64.MultiplyNoFlags(left, right) : Math.BigMul(left, right, out _);

    /// <summary>floor(log2(10^q)) + 63, for |q| ≤ 350 (152170 + 65536 = 2^16 × log2(10), rounded).</summary>
    private static int PowerOfTwo(int q) => (((152170 + 65536) * q) >> 16) + 63;

    /// <summary>
    /// fast_float's table, for float32's range: 5^q with its top bit at bit 127, truncated; for q &lt; 0,
    /// 2^b / 5^-q + 1 (b chosen so the top bit lands at bit 127), so the approximation never falls
    /// below the true value.
    /// </summary>
    private static ulong[] BuildPowersOfFive()
    {
        var table = new ulong[2 * (LargestPowerOfTen - SmallestPowerOfTen + 1)];
        var two128 = BigInteger.One << 128;
        var two127 = BigInteger.One << 127;
        for (var q = SmallestPowerOfTen; q <= LargestPowerOfTen; q++)
        {
            BigInteger value;
            if (q >= 0)
            {
                value = BigInteger.Pow(5, q);
                while (value < two127)
                {
                    value <<= 1;
                }

                while (value >= two128)
                {
                    value >>= 1;
                }
            }
            else
            {
                var power5 = BigInteger.Pow(5, -q);
                var z = (int)power5.GetBitLength();
                if (BigInteger.One << (z - 1) == power5)
                {
                    z--; // 5^n is never a power of two, but keep z the least with 2^z >= 5^-q
                }

                var b = q >= -27 ? z + 127 : (2 * z) + 128;
                value = (BigInteger.One << b) / power5 + 1;
                while (value >= two128)
                {
                    value >>= 1;
                }
            }

            var index = 2 * (q - SmallestPowerOfTen);
            table[index] = (ulong)(value >> 64);
            table[index + 1] = (ulong)(value & ulong.MaxValue);
        }

        return table;
    }
}
