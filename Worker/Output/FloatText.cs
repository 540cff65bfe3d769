using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Worker.Output;

/// <summary>
/// Shortest round-trip text of a float32, byte for byte what <c>float.TryFormat(..., default,
/// InvariantCulture)</c> writes, at a fraction of its cost (answers are mostly float text).
/// The digits come from Giulietti's Schubfach method ("The Schubfach way to render doubles", 2020,
/// its float variant): the rounding interval of the value is scaled by a 63-bit approximation of a
/// power of ten, and the shortest decimal inside it, nearest the value, is picked with a few integer
/// comparisons. The layout then follows the BCL's "R" rule for float: scientific when the decimal
/// exponent is at least 9 or below -4, with a sign and at least two exponent digits.
/// </summary>
public static class FloatText
{
    /// <summary>The most bytes <see cref="Format"/> writes: "-0.000123456789".</summary>
    public const int MaxBytes = 16;

    private const int Precision = 24;
    private const int MinExponent = -149; // q of the subnormals
    private const int MinNormalSignificand = 1 << (Precision - 1);

    // g(k) for k in [MinK, MaxK]: floor(10^-k · 2^(125 - floor(-k·log2 10))) / 2^63, plus one.
    private const int MinK = -46;
    private const int MaxK = 32;
    private static readonly ulong[] PowersOfTen = BuildPowersOfTen();

    // "00".."99", for the exponent.
    private static ReadOnlySpan<byte> DigitPairs => "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"u8;

    /// <summary>
    /// Writes <paramref name="value"/> into <paramref name="destination"/> (at least <see cref="MaxBytes"/>
    /// long) and returns the length of the text. Up to 17 bytes of the destination may be overwritten
    /// (the vector layout stores 16 after a sign), so bytes past the text are scratch.
    /// </summary>
    public static int Format(float value, Span<byte> destination)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        var biasedExponent = (int)(bits >> 23) & 0xFF;
        var length = 0;
        if ((int)bits < 0)
        {
            destination[length++] = (byte)'-';
        }

        if (biasedExponent is 0 or 0xFF)
        {
            if ((bits & 0x7FFFFFFF) == 0)
            {
                destination[length] = (byte)'0';
                return length + 1;
            }

            // NaN, the infinities and the subnormals: rare in answers, so the BCL writes them. (For
            // the smallest subnormals Schubfach's one-digit-shorter step does not reach the shortest
            // text the BCL finds: 3E-44, not 2.9E-44.)
            value.TryFormat(destination, out var written, default, CultureInfo.InvariantCulture);
            return written;
        }

        var q = biasedExponent - 150;
        var c = MinNormalSignificand | (int)(bits & 0x7FFFFF);
        ulong digits;
        int exponent;
        if (q < 0 && q > -Precision && (c & ((1 << -q) - 1)) == 0)
        {
            // An integer below 2^24: its own digits are the shortest.
            digits = (ulong)(c >> -q);
            exponent = 0;
        }
        else
        {
            (digits, exponent) = ToDecimal(q, c);
        }

        return length + Layout(digits, exponent, destination[length..]);
    }

    /// <summary>The shortest decimal digits × 10^exponent that round to c · 2^q, nearest to it.</summary>
    private static (ulong Digits, int Exponent) ToDecimal(int q, int c)
    {
        var odd = c & 1;
        var cb = (long)c << 2;
        var cbr = cb + 2;
        long cbl;
        int k;
        if (c != MinNormalSignificand || q == MinExponent)
        {
            cbl = cb - 2;
            k = FloorLog10Pow2(q);
        }
        else
        {
            // At a power of two the interval below is half as wide.
            cbl = cb - 1;
            k = FloorLog10ThreeQuartersPow2(q);
        }

        var h = q + FloorLog2Pow10(-k) + 33;
        var g = PowersOfTen[k - MinK];
        var vb = RoundToOdd(g, cb << h);
        var vbl = RoundToOdd(g, cbl << h);
        var vbr = RoundToOdd(g, cbr << h);
        var s = vb >> 2;
        if (s >= 100)
        {
            // One digit fewer, when exactly one of its two neighbours lies in the interval.
            var sp10 = 10 * (s / 10);
            var tp10 = sp10 + 10;
            var upin = vbl + odd <= sp10 << 2;
            var wpin = (tp10 << 2) + odd <= vbr;
            if (upin != wpin)
            {
                return ((ulong)(upin ? sp10 : tp10), k);
            }
        }

        var t = s + 1;
        var uin = vbl + odd <= s << 2;
        var win = (t << 2) + odd <= vbr;
        if (uin != win)
        {
            return ((ulong)(uin ? s : t), k);
        }

        // Both in: the nearer one, ties to even.
        var cmp = vb - ((s + t) << 1);
        return ((ulong)(cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t), k);
    }

    /// <summary>The top bits of g · cp, with the bits shifted out folded into the lowest (round to odd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long RoundToOdd(ulong g, long cp)
    {
        var high = Math.BigMul(g, (ulong)cp, out _);
        return (long)((high >> 31) | (((high & 0xFFFFFFFF) + 0xFFFFFFFF) >> 32));
    }

    private static int FloorLog10Pow2(int e) => (int)((e * 661_971_961_083L) >> 41);

    private static int FloorLog10ThreeQuartersPow2(int e) => (int)(((e * 661_971_961_083L) - 274_743_187_321L) >> 41);

    private static int FloorLog2Pow10(int e) => (int)((e * 913_124_641_741L) >> 38);

    private static ulong[] BuildPowersOfTen()
    {
        var table = new ulong[MaxK - MinK + 1];
        for (var k = MinK; k <= MaxK; k++)
        {
            var binaryExponent = 125 - FloorLog2Pow10(-k);
            var numerator = BigInteger.Pow(10, Math.Max(-k, 0)) << Math.Max(binaryExponent, 0);
            var denominator = BigInteger.Pow(10, Math.Max(k, 0)) << Math.Max(-binaryExponent, 0);
            var beta = (numerator / denominator) + 1;
            table[k - MinK] = (ulong)(beta >> 63) + 1;
        }

        return table;
    }

    /// <summary>Writes digits × 10^exponent as the BCL's "R" format lays out a float.</summary>
    private static int Layout(ulong value, int exponent, Span<byte> destination) =>
        Ssse3.IsSupported && destination.Length >= 16
            ? LayoutVector((uint)value, exponent, destination)
            : LayoutScalar(value, exponent, destination);

    /// <summary>
    /// <see cref="Layout"/> with no loop and no branch per digit: the digits, scaled to nine with
    /// trailing zeros, become ASCII eight at a time (SWAR: split into fours, pairs, ones by multiplying
    /// with reciprocals), sit in one 16-byte vector, and one shuffle puts the point (or the leading
    /// "0.00") where the layout wants it; one 16-byte store writes the lot. The per-digit loop it
    /// replaces mispredicted its exit and its point on every value whose length differed from the last.
    /// Needs 16 bytes of room.
    /// </summary>
    private static int LayoutVector(uint digits, int exponent, Span<byte> destination)
    {
        var digitCount = CountDigits(digits);
        var scale = exponent + digitCount; // the decimal point sits after `scale` digits
        var nine = digits * PowersOfTenExact[9 - digitCount]; // 10^8 <= nine < 10^9: the digits, then zeros
        var first = nine / 100_000_000;
        var rest = EightDigitsAscii(nine - (first * 100_000_000));

        // Significant digits: nine less the trailing '0's (the top byte of `rest` is the last digit).
        var count = 9 - (BitOperations.LeadingZeroCount(rest ^ 0x3030303030303030UL) >> 3);
        var text = Vector128.Create(('0' + first) | (rest << 8), (rest >> 56) | 0x3030303030303000UL).AsByte();
        var positions = Vector128.Create((byte)0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        ref var start = ref MemoryMarshal.GetReference(destination);
        int length;
        if (scale > 9 || scale < -3)
        {
            // d.dddE+XX (a float's decimal exponent has two digits: -38..38 outside the subnormals, which the BCL writes)
            InsertPoint(text, positions, 1).StoreUnsafe(ref start);
            length = count == 1 ? 1 : count + 1;
            var power = scale - 1;
            var pair = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref MemoryMarshal.GetReference(DigitPairs), Math.Abs(power) * 2));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref start, length), (uint)'E' | ((uint)(power < 0 ? '-' : '+') << 8) | ((uint)pair << 16));
            return length + 4;
        }

        Vector128<byte> laidOut;
        if (scale <= 0)
        {
            // 0.000ddd: the digits move right by 2 - scale; the bytes before them are '0', the second '.'.
            var shift = 2 - scale;
            var source = positions - Vector128.Create((byte)shift); // below the digits: high bit set, so the shuffle writes 0
            laidOut = Ssse3.Shuffle(text, source) | (Vector128.LessThan(source.AsSByte(), Vector128<sbyte>.Zero).AsByte() & Vector128.Create((byte)'0'));
            laidOut = Vector128.ConditionalSelect(Vector128.Equals(positions, Vector128.Create((byte)1)), Vector128.Create((byte)'.'), laidOut);
            length = shift + count;
        }
        else if (scale >= count)
        {
            // ddd000: the scaled digits already end in the zeros.
            laidOut = text;
            length = scale;
        }
        else
        {
            // dd.ddd
            laidOut = InsertPoint(text, positions, scale);
            length = count + 1;
        }

        laidOut.StoreUnsafe(ref start);
        return length;
    }

    /// <summary>The text with a '.' inserted before byte <paramref name="point"/>, the bytes from there on moved right by one.</summary>
    private static Vector128<byte> InsertPoint(Vector128<byte> text, Vector128<byte> positions, int point)
    {
        var at = Vector128.Create((byte)point);
        var source = positions + Vector128.GreaterThan(positions, at); // all-ones (-1) past the point
        return Vector128.ConditionalSelect(Vector128.Equals(positions, at), Vector128.Create((byte)'.'), Ssse3.Shuffle(text, source));
    }

    /// <summary>The eight decimal digits of <paramref name="value"/> (below 10^8), zero-padded, as ASCII, the first in the lowest byte.</summary>
    private static ulong EightDigitsAscii(uint value)
    {
        // Lanes of 32 bits: the first four digits and the last four.
        var fours = (value / 10_000) | ((ulong)(value % 10_000) << 32);
        // x / 100 = x * 10486 >> 20 for x < 43,699; no lane's product reaches the next lane.
        var hundreds = ((fours * 10_486) >> 20) & 0x0000007F_0000007FUL;
        var pairs = hundreds | ((fours - (hundreds * 100)) << 16); // lanes of 16 bits: four two-digit numbers
        // x / 10 = x * 103 >> 10 for x < 179.
        var tens = ((pairs * 103) >> 10) & 0x000F_000F_000F_000FUL;
        return (tens | ((pairs - (tens * 10)) << 8)) | 0x3030303030303030UL;
    }

    /// <summary><see cref="Layout"/> a digit at a time, for machines without SSSE3 and for short destinations.</summary>
    private static int LayoutScalar(ulong value, int exponent, Span<byte> destination)
    {
        var digits = (uint)value; // Schubfach's float results stay below 2^32
        while (digits % 10 == 0)
        {
            digits /= 10;
            exponent++;
        }

        var count = CountDigits(digits);
        var scale = exponent + count; // the decimal point sits after `scale` digits
        _ = destination[MaxBytes - 2]; // one bounds check for the unchecked writes below (15 bytes at most)
        ref var start = ref MemoryMarshal.GetReference(destination);
        if (scale > 9 || scale < -3)
        {
            // d.dddE+XX: digits right to left, the point after the first.
            var length = count == 1 ? 1 : count + 1;
            WriteDigits(ref start, digits, count, count == 1 ? -1 : 1);
            Unsafe.Add(ref start, length++) = (byte)'E';
            var power = scale - 1;
            Unsafe.Add(ref start, length++) = power < 0 ? (byte)'-' : (byte)'+';
            power = Math.Abs(power);
            if (power >= 100)
            {
                Unsafe.Add(ref start, length++) = (byte)('0' + (power / 100));
                power %= 100;
            }

            Unsafe.WriteUnaligned(ref Unsafe.Add(ref start, length), Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref MemoryMarshal.GetReference(DigitPairs), power * 2)));
            return length + 2;
        }

        if (scale <= 0)
        {
            // 0.000ddd
            var zeros = 2 - scale;
            for (var i = 0; i < zeros; i++)
            {
                Unsafe.Add(ref start, i) = (byte)'0';
            }

            Unsafe.Add(ref start, 1) = (byte)'.';
            WriteDigits(ref Unsafe.Add(ref start, zeros), digits, count, -1);
            return zeros + count;
        }

        if (scale >= count)
        {
            // ddd000
            WriteDigits(ref start, digits, count, -1);
            for (var i = count; i < scale; i++)
            {
                Unsafe.Add(ref start, i) = (byte)'0';
            }

            return scale;
        }

        // dd.ddd
        WriteDigits(ref start, digits, count, scale);
        return count + 1;
    }

    /// <summary>
    /// Writes the <paramref name="count"/> digits of <paramref name="value"/> from <paramref name="text"/> on,
    /// with a decimal point after the first <paramref name="point"/> digits when it is in 1..count-1.
    /// </summary>
    private static void WriteDigits(ref byte text, uint value, int count, int point)
    {
        var position = count + (point > 0 && point < count ? 1 : 0);
        for (var written = 0; written < count; written++)
        {
            if (written == count - point && point > 0)
            {
                Unsafe.Add(ref text, --position) = (byte)'.';
            }

            var quotient = value / 10;
            Unsafe.Add(ref text, --position) = (byte)('0' + (value - (quotient * 10)));
            value = quotient;
        }
    }

    /// <summary>Decimal digits in a nonzero value: log2 → log10 estimate, one compare.</summary>
    private static int CountDigits(uint value)
    {
        var estimate = ((BitOperations.Log2(value) + 1) * 1233) >> 12;
        return estimate + (value >= PowersOfTenExact[estimate] ? 1 : 0);
    }

    // An array, not a ReadOnlySpan<uint> property: that form allocated a new array per call in this build.
    private static readonly uint[] PowersOfTenExact = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
}
