using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Worker.Records;

/// <summary>
/// Decimal text → float32/float64, faster than the BCL and identical to it always. Clinger's fast
/// path: when the decimal mantissa and the power of ten are both exact in the target type, one
/// correctly rounded multiply or divide gives the correctly rounded result. Other plain float32
/// numbers of up to 19 significant digits (pandas' 17 digits, numpy's exponents) are converted from
/// the mantissa and exponent already read by <see cref="DecimalToSingle"/> (by way of a double, Lemire's algorithm next to a float32 midpoint);
/// longer ones, subnormals and float64 beyond Clinger go to csFastFloat once the text is checked to
/// be a plain number; only what is not one (whitespace, NaN, Infinity) reaches the BCL, so what is
/// accepted is always exactly what the BCL accepts.
/// </summary>
public static class NumberText
{
    internal static readonly float[] SinglePowers = [1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f];

    private static readonly double[] DoublePowers =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    public static bool TryParseSingle(ReadOnlySpan<byte> text, out float value)
    {
        if (TryDecompose(text, out var mantissa, out var exponent, out var negative) && DecimalToSingle.TryConvert(mantissa, exponent, negative, out value))
        {
            return true;
        }

        return TryParseSingleLong(text, out value) || float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    public static bool TryParseDouble(ReadOnlySpan<byte> text, out double value)
    {
        if (TryDecompose(text, out var mantissa, out var exponent, out var negative) && mantissa <= (1UL << 53) && exponent is >= -22 and <= 22)
        {
            var d = (double)mantissa;
            d = exponent < 0 ? d / DoublePowers[-exponent] : d * DoublePowers[exponent];
            value = negative ? -d : d;
            return true;
        }

        return (StartsLikeANumber(text) && csFastFloat.FastDoubleParser.TryParseDouble(text, out var consumed, out value) && consumed == text.Length)
            || double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>
    /// A sign, then a digit or a point: csFastFloat's own "inf" and "nan" spellings (which the BCL
    /// refuses) and whitespace (which the BCL skips) never start so. With the whole text consumed,
    /// csFastFloat and the BCL have read the same plain number, to the same correctly rounded value.
    /// </summary>
    private static bool StartsLikeANumber(ReadOnlySpan<byte> text)
    {
        var i = text.Length > 0 && text[0] is (byte)'-' or (byte)'+' ? 1 : 0;
        return i < text.Length && ((uint)(text[i] - '0') <= 9 || text[i] == (byte)'.');
    }

    /// <summary>A plain number the Clinger path declined (17 digits, an exponent), by csFastFloat; false for anything else.</summary>
    private static bool TryParseSingleLong(ReadOnlySpan<byte> text, out float value)
    {
        value = 0;
        return StartsLikeANumber(text) && csFastFloat.FastFloatParser.TryParseFloat(text, out var consumed, out value) && consumed == text.Length;
    }

    /// <summary>
    /// The whole text is a plain decimal number: <c>[+-]?digits[.digits][(e|E)[+-]?digits]</c>, with
    /// digits on at least one side of the point (<c>.5</c> and <c>5.</c> as the BCL takes them); JSON's
    /// grammar when <paramref name="strictJson"/> (no '+', no leading zero, digits on both sides).
    /// What csFastFloat and the BCL both read, and read to the same value.
    /// </summary>
    internal static bool IsPlainNumber(ReadOnlySpan<byte> text, bool strictJson)
    {
        var i = 0;
        if (i < text.Length && (text[i] == (byte)'-' || (text[i] == (byte)'+' && !strictJson)))
        {
            i++;
        }

        var integerStart = i;
        while (i < text.Length && (uint)(text[i] - '0') <= 9)
        {
            i++;
        }

        var integerDigits = i - integerStart;
        if (strictJson && (integerDigits == 0 || (integerDigits > 1 && text[integerStart] == (byte)'0')))
        {
            return false;
        }

        var fractionDigits = 0;
        if (i < text.Length && text[i] == (byte)'.')
        {
            var fractionStart = ++i;
            while (i < text.Length && (uint)(text[i] - '0') <= 9)
            {
                i++;
            }

            fractionDigits = i - fractionStart;
            if (strictJson && fractionDigits == 0)
            {
                return false;
            }
        }

        if (integerDigits + fractionDigits == 0)
        {
            return false;
        }

        if (i < text.Length && (text[i] | 0x20) == (byte)'e')
        {
            i++;
            if (i < text.Length && text[i] is (byte)'+' or (byte)'-')
            {
                i++;
            }

            var exponentStart = i;
            while (i < text.Length && (uint)(text[i] - '0') <= 9)
            {
                i++;
            }

            if (i == exponentStart)
            {
                return false;
            }
        }

        return i == text.Length;
    }

    /// <summary>
    /// A field <c>text[start..end)</c> that <see cref="TryParseSingleField"/> declined (more digits than
    /// float32 holds exactly, an exponent, a '+', <c>.5</c>): its digits are read as words and its
    /// mantissa and exponent converted by <see cref="DecimalToSingle"/> (a double, or Lemire's algorithm) with no
    /// second parse; what that declines (20+ digits, a subnormal, an overflow) goes to csFastFloat when
    /// it is a plain number. The row stays on the one-pass path; false sends it to the general path.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static bool TryParseSingleLongField(ReadOnlySpan<byte> text, int start, int end, bool strictJson, out float value)
    {
        if (end <= text.Length - sizeof(ulong)
            && TryDecomposeField(text, start, end, strictJson, out var mantissa, out var exponent, out var negative)
            && DecimalToSingle.TryConvert(mantissa, exponent, negative, out value))
        {
            return true;
        }

        var field = text[start..end];
        if (!strictJson)
        {
            return TryParseSingleLong(field, out value);
        }

        if (IsPlainNumber(field, strictJson: true))
        {
            return csFastFloat.FastFloatParser.TryParseFloat(field, out value);
        }

        value = 0;
        return false;
    }

    /// <summary>
    /// The field <c>text[start..end)</c> as <c>[+-]?digits[.digits][(e|E)[+-]?digits]</c> (JSON's
    /// grammar when <paramref name="strictJson"/>) with at most 19 significant digits and an exponent
    /// of at most 4 digits → mantissa × 10^exponent, exact. Digits are read eight at a time as words;
    /// <c>text[end]</c> is the delimiter that ended the field (never a digit, a point or an 'e'), and
    /// the caller keeps 8 bytes past it in bounds. False for anything else: the caller's full parser
    /// decides those.
    /// </summary>
    internal static bool TryDecomposeField(ReadOnlySpan<byte> text, int start, int end, bool strictJson, out ulong mantissa, out int exponent, out bool negative)
    {
        mantissa = 0;
        exponent = 0;
        var i = start;
        negative = text[i] == (byte)'-';
        if (negative || (!strictJson && text[i] == (byte)'+'))
        {
            i++;
        }

        var significant = 0;
        var integerStart = i;
        int digits;
        do
        {
            var word = BinaryPrimitives.ReadUInt64LittleEndian(text[i..]);
            digits = LeadingDigits(word);
            Accumulate(ref mantissa, ref significant, word, digits);
            i += digits;
        }
        while (digits == 8);

        var integerDigits = i - integerStart;
        if (strictJson && (integerDigits == 0 || (integerDigits > 1 && text[integerStart] == (byte)'0')))
        {
            return false;
        }

        var fractionDigits = 0;
        if (text[i] == (byte)'.')
        {
            var fractionStart = ++i;
            do
            {
                var word = BinaryPrimitives.ReadUInt64LittleEndian(text[i..]);
                digits = LeadingDigits(word);
                Accumulate(ref mantissa, ref significant, word, digits);
                i += digits;
            }
            while (digits == 8);

            fractionDigits = i - fractionStart;
            if (strictJson && fractionDigits == 0)
            {
                return false;
            }
        }

        if (integerDigits + fractionDigits == 0 || significant > 19)
        {
            return false;
        }

        exponent = -fractionDigits;
        if (i < end && (text[i] | 0x20) == (byte)'e')
        {
            i++;
            var exponentNegative = false;
            if (i < end && text[i] is (byte)'-' or (byte)'+')
            {
                exponentNegative = text[i] == (byte)'-';
                i++;
            }

            var exponentStart = i;
            var written = 0;
            for (; i < end && (uint)(text[i] - '0') <= 9 && i - exponentStart < 4; i++)
            {
                written = (written * 10) + (text[i] - '0');
            }

            if (i == exponentStart)
            {
                return false;
            }

            exponent += exponentNegative ? -written : written;
        }

        return i == end;
    }

    /// <summary>
    /// The field <c>text[start..end)</c> as <c>[+-]?digits[.digits][(e|E)[+-]?d{1,4}]</c> of at most 32
    /// bytes and 19 significant digits: every shape pandas, numpy and Spark write. One 32-byte load
    /// gives the digit, point, exponent and nonzero-digit masks, so the shape is checked with bit
    /// operations, not a loop per byte; the mantissa's digits are squeezed past the point and
    /// converted in one 32-byte vector (<see cref="ThirtyTwoDigits"/>, AVX-512 VBMI) or two 16-byte
    /// ones (<see cref="MantissaBySixteens"/>), and the result comes
    /// from <see cref="DecimalToSingle"/> (a double, or Lemire's algorithm). False for anything else (the caller's
    /// other paths decide those). Reads 48 bytes from <paramref name="start"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static bool TryParseSingleFieldWide(ReadOnlySpan<byte> text, int start, int end, bool strictJson, out float value)
    {
        value = 0;
        if (!Avx2.IsSupported || !Bmi2.IsSupported || start > text.Length - 48)
        {
            return false;
        }

        var lead = text[start];
        var negative = lead == (byte)'-';
        var first = start + (negative | (!strictJson & lead == (byte)'+') ? 1 : 0);
        var length = end - first;
        if ((uint)(length - 1) >= 32)
        {
            return false;
        }

        var bytes = Vector256.Create(text.Slice(first, 32));
        var digits = bytes - Vector256.Create((byte)'0');
        var digitMask = Vector256.LessThanOrEqual(digits, Vector256.Create((byte)9)).ExtractMostSignificantBits();
        var nonZeroMask = Vector256.LessThanOrEqual(digits - Vector256<byte>.One, Vector256.Create((byte)8)).ExtractMostSignificantBits();
        var exponentMask = Vector256.Equals(bytes | Vector256.Create((byte)0x20), Vector256.Create((byte)'e')).ExtractMostSignificantBits();
        var inField = Bmi2.ZeroHighBits(uint.MaxValue, (uint)length);

        // The mantissa ends at the first 'e' (or the field's end); in it, every byte is a digit but at most one point.
        var exponentAt = exponentMask & inField;
        var mantissaLength = exponentAt != 0 ? BitOperations.TrailingZeroCount(exponentAt) : length;
        var inMantissa = Bmi2.ZeroHighBits(uint.MaxValue, (uint)mantissaLength);
        var nonDigits = ~digitMask & inMantissa;
        var hasPoint = nonDigits != 0;
        var point = hasPoint ? BitOperations.TrailingZeroCount(nonDigits) : mantissaLength;
        var digitCount = mantissaLength - (hasPoint ? 1 : 0);
        var fractionDigits = mantissaLength - point - (hasPoint ? 1 : 0);

        // Significant digits run from the first nonzero one to the mantissa's end, less the point if between.
        var nonZero = nonZeroMask & inMantissa;
        var firstNonZero = BitOperations.TrailingZeroCount(nonZero | (1u << 31));
        var significant = nonZero == 0 ? 0 : mantissaLength - firstNonZero - (hasPoint & point > firstNonZero ? 1 : 0);

        if ((nonDigits & (nonDigits - 1)) != 0
            || (hasPoint && text[first + point] != (byte)'.')
            || digitCount == 0
            || significant > 19
            || (strictJson && (point == 0 || (hasPoint && fractionDigits == 0) || (point > 1 && text[first] == (byte)'0'))))
        {
            return false;
        }

        var mantissa = Avx512Vbmi.VL.IsSupported
            ? ThirtyTwoDigits(digits, digitCount, point)
            : MantissaBySixteens(text, first, mantissaLength, digitCount, hasPoint, point);
        return FinishFromParts(text, first + mantissaLength, end, mantissa, -fractionDigits, negative, out value);
    }

    private static readonly ulong[] TenPowers = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000, 100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000, 10_000_000_000_000_000];

    /// <summary>
    /// <see cref="ThirtyTwoDigits"/> without VBMI: up to 16 mantissa bytes in one vector, longer ones
    /// (up to 32) as the last 16 and what precedes them.
    /// </summary>
    internal static ulong MantissaBySixteens(ReadOnlySpan<byte> text, int first, int mantissaLength, int digitCount, bool hasPoint, int point)
    {
        if (mantissaLength <= 16)
        {
            return SixteenDigits(Vector128.Create(text.Slice(first, 16)) - Vector128.Create((byte)'0'), digitCount, point);
        }

        var headLength = mantissaLength - 16;
        var tailPoint = point - headLength;
        var tailHasPoint = hasPoint & tailPoint >= 0;
        var tailDigits = tailHasPoint ? 15 : 16;
        var headHasPoint = hasPoint & point < headLength;
        var head = SixteenDigits(Vector128.Create(text.Slice(first, 16)) - Vector128.Create((byte)'0'), headLength - (headHasPoint ? 1 : 0), headHasPoint ? point : 16);
        var tail = SixteenDigits(Vector128.Create(text.Slice(first + headLength, 16)) - Vector128.Create((byte)'0'), tailDigits, tailHasPoint ? tailPoint : 16);
        return (head * TenPowers[tailDigits]) + tail; // wraps only where significant > 19, which callers refuse
    }

    /// <summary>
    /// <see cref="SixteenDigits"/> over 32 bytes: one byte permutation across the whole vector (VBMI's
    /// vpermb) right-aligns the digits past the point, then multiply-adds combine pairs, fours and
    /// eights, and the four eights are joined modulo 2^64, exact wherever the value is below 2^64
    /// (the caller has refused more than 19 significant digits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ThirtyTwoDigits(Vector256<byte> digits, int digitCount, int point)
    {
        var digitIndex = Vector256.Create((sbyte)0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)
            - Vector256.Create((sbyte)(32 - digitCount));
        var source = digitIndex - Vector256.GreaterThan(digitIndex, Vector256.Create((sbyte)(point - 1)));
        var leading = Vector256.GreaterThanOrEqual(digitIndex, Vector256<sbyte>.Zero).AsByte();
        var aligned = Avx512Vbmi.VL.PermuteVar32x8(digits, source.AsByte()) & leading;
        var pairs = Avx2.MultiplyAddAdjacent(aligned, Vector256.Create((sbyte)10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
        var fours = Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)100, 1, 100, 1, 100, 1, 100, 1, 100, 1, 100, 1, 100, 1, 100, 1));
        var fourShorts = Avx2.PackUnsignedSaturate(fours, fours).AsInt16(); // per 128-bit lane: its four fours, twice
        var eights = Avx2.MultiplyAddAdjacent(fourShorts, Vector256.Create((short)10000, 1, 10000, 1, 10000, 1, 10000, 1, 10000, 1, 10000, 1, 10000, 1, 10000, 1));
        var high = ((ulong)(uint)eights.GetElement(0) * 100_000_000) + (uint)eights.GetElement(1);
        var low = ((ulong)(uint)eights.GetElement(4) * 100_000_000) + (uint)eights.GetElement(5);
        return (high * 10_000_000_000_000_000) + low;
    }

    /// <summary>
    /// The value of the digits in <paramref name="digits"/> (bytes minus '0'): the first
    /// <paramref name="digitCount"/> of them, skipping the byte at <paramref name="point"/> when it
    /// lies among them (16 for none). One shuffle right-aligns the digits past the point, then
    /// multiply-adds combine pairs, fours and eights. The caller has checked that those bytes are digits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SixteenDigits(Vector128<byte> digits, int digitCount, int point)
    {
        // Output byte k takes digit j = k - (16 - digitCount), found at j, or j + 1 past the point;
        // j < 0 has its high bit set, which the shuffle turns into a leading zero.
        var digitIndex = Vector128.Create((sbyte)0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) - Vector128.Create((sbyte)(16 - digitCount));
        var source = digitIndex - Vector128.GreaterThan(digitIndex, Vector128.Create((sbyte)(point - 1)));
        return SixteenDigitsBy(digits, source.AsByte());
    }

    /// <summary>Appends a word's first <paramref name="digits"/> (0..8) digits; zeros before the first other digit are not significant.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(ref ulong mantissa, ref int significant, ulong word, int digits)
    {
        if (digits == 0)
        {
            return;
        }

        var leadingZeros = mantissa == 0 ? Math.Min(BitOperations.TrailingZeroCount(word ^ 0x3030303030303030UL) >> 3, digits) : 0;
        significant += digits - leadingZeros;
        mantissa = (mantissa * TenPowers[digits]) + EightDigits(word, digits);
    }

    /// <summary>
    /// Parses one float32 starting at <paramref name="position"/> and stopping at the first byte that
    /// cannot continue a number, in one pass: no separate search for the field's end. Only the fast
    /// domain is taken (sign, digits, point, exponent; result exact by Clinger); false means "use the
    /// general path", never "invalid". <paramref name="strictJson"/> applies JSON's number grammar
    /// (no '+', no leading zeros, digits on both sides of the point).
    /// </summary>
    public static bool TryParseSingleInline(ReadOnlySpan<byte> text, ref int position, bool strictJson, out float value) =>
        (position <= text.Length - WordPathBytes && TryParseSingleWords(text, ref position, strictJson, out value))
        || TryParseSingleBytes(text, ref position, strictJson, out value);

    /// <summary>Bytes the word path may read from the number's first byte: sign, 8 digits, point, 8 digits, and the byte after.</summary>
    internal const int WordPathBytes = 19;

    /// <summary>
    /// The common field <c>[-]d{1,8}[.d{1,8}]</c> with no branch per digit: eight bytes at a time are
    /// classified (how many leading digits) and converted (three multiplies, simdjson's
    /// eight-digit method) as words. False for anything else, to the byte path, whose result it
    /// always equals (tested); the byte loop's exits are the mispredicted branches this avoids.
    /// </summary>
    internal static bool TryParseSingleWords(ReadOnlySpan<byte> text, ref int position, bool strictJson, out float value)
    {
        value = 0;
        var i = position;
        var negative = text[i] == (byte)'-';
        i += negative ? 1 : 0;
        var integerWord = BinaryPrimitives.ReadUInt64LittleEndian(text[i..]);
        var integerDigits = LeadingDigits(integerWord);
        if (integerDigits == 0 || integerDigits == 8 || (strictJson && integerDigits > 1 && text[i] == (byte)'0'))
        {
            return false; // no integer part, a ninth digit may follow, or a leading zero JSON forbids
        }

        ulong mantissa = EightDigits(integerWord, integerDigits);
        i += integerDigits;
        var fractionDigits = 0;
        if (text[i] == (byte)'.')
        {
            var fractionWord = BinaryPrimitives.ReadUInt64LittleEndian(text[(i + 1)..]);
            fractionDigits = LeadingDigits(fractionWord);
            if (fractionDigits is 0 or 8)
            {
                return false;
            }

            mantissa = (mantissa * TenPowers[fractionDigits]) + EightDigits(fractionWord, fractionDigits);
            i += 1 + fractionDigits;
        }

        if ((text[i] | 0x20) == (byte)'e' || mantissa > (1UL << 24))
        {
            return false;
        }

        value = WithSign((float)mantissa / SinglePowers[fractionDigits], negative);
        position = i;
        return true;
    }

    /// <summary>
    /// A float32 field <c>text[start..end)</c> whose end the caller found (a delimiter's bit): each path
    /// in turn, the cheapest for its shape first: short decimals and numpy's text in one 16-byte vector
    /// (<see cref="TryParseSingleField"/>), pandas' 17 digits in 32 bytes (<see cref="TryParseSingleFieldWide"/>),
    /// anything else plain by words or csFastFloat (<see cref="TryParseSingleLongField"/>). False: not
    /// a plain number; the caller's general path decides (and reports) it. The caller keeps
    /// <see cref="DelimiterBlocks.Margin"/> bytes from the field's block in bounds.
    /// </summary>
    internal static bool TryParseSingleDelimited(ReadOnlySpan<byte> text, int start, int end, bool strictJson, out float value) =>
        TryParseSingleField(text, start, end, strictJson, out value)
        || TryParseSingleFieldWide(text, start, end, strictJson, out value)
        || TryParseSingleLongField(text, start, end, strictJson, out value);

    /// <summary>
    /// The field <c>text[start..end)</c>, whose end is already known (a delimiter found by the caller),
    /// as a plain <c>[-]digits[.digits]</c> exact in float32 (Clinger): the byte path's value; false
    /// for anything else, which the caller's general path takes. <paramref name="strictJson"/> applies
    /// JSON's grammar too (no leading zeros, digits on both sides of the point). Reads up to <see cref="WordPathBytes"/>
    /// bytes from <paramref name="start"/>; the caller keeps them in bounds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryParseSingleField(ReadOnlySpan<byte> text, int start, int end, bool strictJson, out float value) =>
        Ssse3.IsSupported && Sse41.IsSupported
            ? TryParseSingleFieldVector(text, start, end, strictJson, out value)
            : TryParseSingleFieldScalar(text, start, end, strictJson, out value);

    /// <summary>Whether the 16-byte vector field paths run here (x64 with SSSE3 and SSE4.1).</summary>
    internal static bool Vectorized => Ssse3.IsSupported && Sse41.IsSupported;

    /// <summary><see cref="TryParseSingleField"/> a word at a time, for machines without SSSE3/SSE4.1 (ARM64 takes this too).</summary>
    internal static bool TryParseSingleFieldScalar(ReadOnlySpan<byte> text, int start, int end, bool strictJson, out float value)
    {
        value = 0;
        var negative = text[start] == (byte)'-';
        var i = start + (negative ? 1 : 0);
        var integerWord = BinaryPrimitives.ReadUInt64LittleEndian(text[i..]);
        var integerDigits = LeadingDigits(integerWord);
        if (integerDigits == 0 || integerDigits == 8 || (strictJson && integerDigits > 1 && text[i] == (byte)'0'))
        {
            return false;
        }

        ulong mantissa = EightDigits(integerWord, integerDigits);
        i += integerDigits;
        var fractionDigits = end - i - 1;
        if (fractionDigits >= 0)
        {
            if (text[i] != (byte)'.' || fractionDigits is 0 or > 7)
            {
                return false;
            }

            var fractionWord = BinaryPrimitives.ReadUInt64LittleEndian(text[(i + 1)..]);
            if (LeadingDigits(fractionWord) < fractionDigits)
            {
                return false;
            }

            mantissa = (mantissa * TenPowers[fractionDigits]) + EightDigits(fractionWord, fractionDigits);
        }
        else if (i != end)
        {
            return false;
        }
        else
        {
            fractionDigits = 0;
        }

        if (mantissa > (1UL << 24))
        {
            return false;
        }

        value = WithSign((float)mantissa / SinglePowers[fractionDigits], negative);
        return true;
    }

    /// <summary>
    /// <see cref="TryParseSingleField"/> with the field's 16 bytes in one vector: which bytes are
    /// digits and where the point is come from one compare each; the point is squeezed out and the
    /// digits right-aligned by one shuffle, then combined by multiply-adds (pairs, fours, eights).
    /// <c>[-]digits[.digits]</c> up to 16 bytes after the sign whose mantissa and scale are exact in
    /// float32 is Clinger's one division (the byte path's domain, so its value is the byte path's);
    /// more digits (numpy's 9) go to <see cref="FinishFromParts"/>, and a field with an exponent to
    /// <see cref="TryParseSingleFieldVectorWithExponent"/>. Kept apart so the common short decimal
    /// runs none of the exponent's instructions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryParseSingleFieldVector(ReadOnlySpan<byte> text, int start, int end, bool strictJson, out float value)
    {
        value = 0;
        var negativeBit = text[start] == (byte)'-' ? 1 : 0;
        var first = start + negativeBit;
        var length = end - first;
        if ((uint)(length - 1) >= 16)
        {
            return false;
        }

        var digits = Vector128.Create(text.Slice(first, 16)) - Vector128.Create((byte)'0');
        var isDigit = Vector128.Equals(Vector128.Min(digits, Vector128.Create((byte)9)), digits).ExtractMostSignificantBits();
        var others = ~isDigit & ((1u << length) - 1);
        var digitCount = length;
        var point = 16;
        if (others != 0)
        {
            point = BitOperations.TrailingZeroCount(others);
            if ((others & (others - 1)) != 0 || text[first + point] != (byte)'.' || length == 1)
            {
                return TryParseSingleFieldVectorWithExponent(text, first, end, digits, isDigit, negativeBit != 0, strictJson, out value);
            }

            digitCount--;
        }

        var fractionDigits = point == 16 ? 0 : digitCount - point;
        if (strictJson && BreaksJsonMantissa(text, first, point, digitCount, fractionDigits))
        {
            return false; // JSON wants digits on both sides of a point and no leading zero
        }

        // Up to 7 digits are exact in float32 and so is their scale (at most 10^7): Clinger. More (numpy
        // writes 8 or 9) go to a double (Lemire beside a midpoint), whatever their value, so that the choice follows the field's
        // shape, which repeats from row to row, and not its value, which is random.
        var mantissa = SixteenDigits(digits, digitCount, point);
        if (digitCount > 7)
        {
            return FinishFromParts(text, end, end, mantissa, -fractionDigits, negativeBit != 0, out value);
        }

        value = WithSign((float)(int)mantissa / SinglePowers[fractionDigits], negativeBit != 0);
        return true;
    }

    /// <summary>
    /// The CSV row loop's field path (<c>CsvRecordDecoder.TryReadLeanFields</c>): <c>[-]digits[.digits]</c>
    /// up to 16 bytes after the sign, by Clinger or by way of a double, and numpy's and Spark's
    /// exponent (<see cref="TryParseLeanExponent"/>), with no call on any path and no bounds check, so
    /// that the loop keeps its state in registers. False for anything else (longer fields, other
    /// exponents, a float32 midpoint, a subnormal), which the caller hands to
    /// <see cref="TryParseSingleDelimited"/>. Not for JSON (no strict grammar). The caller keeps
    /// <see cref="WordPathBytes"/> bytes from <paramref name="start"/> in bounds, and
    /// <paramref name="end"/> (a delimiter) after <paramref name="start"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryParseSingleFieldLean(ref byte text, int start, int end, out float value)
    {
        value = 0;
        var negativeBit = Unsafe.Add(ref text, start) == (byte)'-' ? 1 : 0;
        var first = start + negativeBit;
        var length = end - first;
        if ((uint)(length - 1) >= 16)
        {
            return false;
        }

        var digits = Vector128.LoadUnsafe(ref text, (nuint)first) - Vector128.Create((byte)'0');
        var isDigit = Vector128.Equals(Vector128.Min(digits, Vector128.Create((byte)9)), digits).ExtractMostSignificantBits();
        var others = ~isDigit & ((1u << length) - 1);
        if ((others & (others - 1)) != 0)
        {
            return TryParseLeanExponent(ref text, first, length, digits, others, negativeBit != 0, out value);
        }

        var digitCount = length;
        var point = 16;
        if (others != 0)
        {
            point = BitOperations.TrailingZeroCount(others);
            if (Unsafe.Add(ref text, first + point) != (byte)'.' || length == 1)
            {
                return false;
            }

            digitCount--;
        }

        var fractionDigits = point == 16 ? 0 : digitCount - point;
        var source = Vector128.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(DigitShuffles), (nuint)(((digitCount * 17) + point) * 16));
        var mantissa = SixteenDigitsBy(digits, source);
        if (digitCount > 7)
        {
            // fractionDigits is 0..16, within the table: no range check.
            return DecimalToSingle.TryRoundProduct((double)mantissa * DecimalToSingle.PowerOfTenUnchecked(-fractionDigits), negativeBit != 0, out value);
        }

        value = WithSign((float)(int)mantissa / Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(SinglePowers), fractionDigits), negativeBit != 0);
        return true;
    }

    /// <summary>
    /// <see cref="TryParseSingleFieldLean"/> for a field with more than one non-digit: numpy's and
    /// Spark's <c>[-]digits[.digits](e|E)[+-]dd</c>, whose exponent is the field's last four bytes,
    /// read as one word; false for any other shape. Inlined, so the lean loop stays free of calls.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryParseLeanExponent(ref byte text, int first, int length, Vector128<byte> digits, uint others, bool negative, out float value)
    {
        value = 0;
        var mantissaLength = length - 4;
        if (mantissaLength < 1)
        {
            return false;
        }

        var tail = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref text, first + mantissaLength)) | 0x20;
        var tailDigits = (tail >> 16) - 0x3030;
        if (((tail & 0xFF) != 'e') | (((tail >> 8) & 0xFF) is not ('-' or '+')) | ((((tailDigits + 0x7676) | tailDigits) & 0xFFFF8080) != 0))
        {
            return false;
        }

        var exponentValue = (int)(((tailDigits * 2561) >> 8) & 0xFF); // 10 × first digit + second
        others &= (1u << mantissaLength) - 1;
        var digitCount = mantissaLength;
        var point = 16;
        if (others != 0)
        {
            point = BitOperations.TrailingZeroCount(others);
            if ((others & (others - 1)) != 0 || Unsafe.Add(ref text, first + point) != (byte)'.' || mantissaLength == 1)
            {
                return false;
            }

            digitCount--;
        }

        var fractionDigits = point == 16 ? 0 : digitCount - point;
        var source = Vector128.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(DigitShuffles), (nuint)(((digitCount * 17) + point) * 16));
        var exponent = ((tail >> 8) & 0xFF) == '-' ? -exponentValue : exponentValue;
        return DecimalToSingle.TryConvertByDouble(SixteenDigitsBy(digits, source), exponent - fractionDigits, negative, out value);
    }


    /// <summary>
    /// <see cref="SixteenDigits"/>'s shuffle control for each digit count (0..16) and point (0..15, or
    /// 16 for none), made once: output byte k takes digit j = k - (16 - digitCount), at j or, past the
    /// point, j + 1; a j below 0 has its high bit set, which the shuffle makes a leading zero.
    /// </summary>
    private static readonly byte[] DigitShuffles = BuildDigitShuffles();

    private static byte[] BuildDigitShuffles()
    {
        var table = new byte[17 * 17 * 16];
        for (var digitCount = 0; digitCount <= 16; digitCount++)
        {
            for (var point = 0; point <= 16; point++)
            {
                for (var k = 0; k < 16; k++)
                {
                    var j = k - (16 - digitCount);
                    table[(((digitCount * 17) + point) * 16) + k] = j < 0 ? (byte)0x80 : (byte)(j > point - 1 ? j + 1 : j);
                }
            }
        }

        return table;
    }

    /// <summary><see cref="SixteenDigits"/> with its shuffle control given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SixteenDigitsBy(Vector128<byte> digits, Vector128<byte> source)
    {
        var aligned = Ssse3.Shuffle(digits, source);
        var pairs = Ssse3.MultiplyAddAdjacent(aligned, Vector128.Create((sbyte)10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
        var fours = Sse2.MultiplyAddAdjacent(pairs, Vector128.Create((short)100, 1, 100, 1, 100, 1, 100, 1));
        var fourShorts = Sse41.PackUnsignedSaturate(fours, fours).AsInt16();
        var eights = Sse2.MultiplyAddAdjacent(fourShorts, Vector128.Create((short)10000, 1, 10000, 1, 10000, 1, 10000, 1));
        return ((ulong)(uint)eights.GetElement(0) * 100_000_000) + (uint)eights.GetElement(1);
    }

    /// <summary>
    /// <see cref="TryParseSingleFieldVector"/> for a field with other bytes than digits and a point:
    /// <c>[-]digits[.digits](e|E)[+-]?d{1,4}</c> up to 16 bytes after the sign (numpy's
    /// <c>-4.713632e-05</c>), by <see cref="FinishFromParts"/>; false for anything else. The caller
    /// hands over the bytes and digit mask it has already made. (Tried: one branch-free path for
    /// every field with the exponent always read, as a word or as the field's last four bytes: numpy
    /// text 20% slower and short decimals 40% slower, the JIT spilling the extra live values.)
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryParseSingleFieldVectorWithExponent(ReadOnlySpan<byte> text, int first, int end, Vector128<byte> digits, uint isDigit, bool negative, bool strictJson, out float value)
    {
        value = 0;
        var length = end - first;

        // numpy's and Spark's shape, a signed two-digit exponent ("e-05"), is the field's last four
        // bytes: read as one word. Other exponents are found by a compare and read digit by digit.
        var tail = length >= 5 ? BinaryPrimitives.ReadUInt32LittleEndian(text[(end - 4)..]) : 0u;
        var tailDigits = (tail >> 16) - 0x3030;
        int mantissaLength;
        int exponentEnd;
        var exponent = 0;
        if (((tail & 0xFF) | 0x20) == 'e'
            && ((tail >> 8) & 0xFF) is '-' or '+'
            && (tailDigits & 0xFF) <= 9 && (tailDigits >> 8) <= 9)
        {
            mantissaLength = length - 4;
            exponentEnd = first + mantissaLength;
            var exponentValue = (int)(((tailDigits & 0xFF) * 10) + (tailDigits >> 8));
            exponent = ((tail >> 8) & 0xFF) == '-' ? -exponentValue : exponentValue;
        }
        else
        {
            var exponentAt = Vector128.Equals(digits | Vector128.Create((byte)0x20), Vector128.Create((byte)('e' - '0'))).ExtractMostSignificantBits() & ((1u << length) - 1);
            if (exponentAt == 0)
            {
                return false;
            }

            mantissaLength = BitOperations.TrailingZeroCount(exponentAt);
            exponentEnd = end;
        }

        var others = ~isDigit & ((1u << mantissaLength) - 1);
        var digitCount = mantissaLength;
        var point = 16;
        if (others != 0)
        {
            point = BitOperations.TrailingZeroCount(others);
            if ((others & (others - 1)) != 0 || text[first + point] != (byte)'.')
            {
                return false;
            }

            digitCount--;
        }

        var fractionDigits = point == 16 ? 0 : digitCount - point;
        if (digitCount == 0
            || (strictJson && BreaksJsonMantissa(text, first, point, digitCount, fractionDigits)))
        {
            return false; // no digits; or JSON, which wants digits on both sides of a point and no leading zero
        }

        return FinishFromParts(text, first + mantissaLength, exponentEnd, SixteenDigits(digits, digitCount, point), exponent - fractionDigits, negative, out value);
    }

    /// <summary>
    /// A mantissa the 16-byte paths read (<paramref name="point"/> 16: none) that JSON's grammar
    /// refuses: no digit before the point, none after it, or a leading zero before more digits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool BreaksJsonMantissa(ReadOnlySpan<byte> text, int first, int point, int digitCount, int fractionDigits) =>
        point == 0 || (point != 16 && fractionDigits == 0) || (text[first] == (byte)'0' && Math.Min(point, digitCount) > 1);

    /// <summary>
    /// A field's mantissa (exact, at most 19 digits) read, and <c>text[position..end)</c> either empty
    /// or its exponent, <c>(e|E)[+-]?d{1,4}</c>: the value by <see cref="DecimalToSingle"/>, by way of a
    /// double and, next to a float32 midpoint, by Lemire's algorithm; false when the exponent is not
    /// one or the value is subnormal or infinite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool FinishFromParts(ReadOnlySpan<byte> text, int position, int end, ulong mantissa, int exponent, bool negative, out float value)
    {
        value = 0;
        if (position != end)
        {
            // The caller found an 'e' or 'E' at position.
            var i = position + 1;
            var exponentNegative = i < end && text[i] == (byte)'-';
            i += i < end && (exponentNegative || text[i] == (byte)'+') ? 1 : 0;
            var digits = end - i;
            if ((uint)(digits - 1) >= 4)
            {
                return false;
            }

            var written = 0;
            for (; i < end; i++)
            {
                var digit = (uint)(text[i] - '0');
                if (digit > 9)
                {
                    return false;
                }

                written = (written * 10) + (int)digit;
            }

            exponent += exponentNegative ? -written : written;
        }

        return DecimalToSingle.TryConvertByDouble(mantissa, exponent, negative, out value)
            || ConvertByLemire(mantissa, exponent, negative, out value);
    }

    /// <summary>Out of line: taken only next to a float32 midpoint (exact ties like 6e10 among them) or outside float32's normal range (<see cref="DecimalToSingle.TryConvertByDouble"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool ConvertByLemire(ulong mantissa, int exponent, bool negative, out float value) =>
        DecimalToSingle.TryConvertLemire(mantissa, exponent, negative, out value);

    /// <summary>
    /// <paramref name="magnitude"/> (not negative, zero included) with the sign set as a bit, not by a
    /// branch: signs in data are random, and a branch on them mispredicts every other number (in the
    /// vector field path it cost 5 of 18 ms per 10 MiB of CSV).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float WithSign(float magnitude, bool negative) =>
        BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(magnitude) | ((negative ? 1 : 0) << 31));


    /// <summary>How many of the word's bytes, first byte first, are ASCII digits before the first that is not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LeadingDigits(ulong word)
    {
        // Per byte: high bit set unless the byte is '0'..'9'. No carry crosses bytes: (b & 0x7F) + 0x76 <= 0xF5.
        var offset = word ^ 0x3030303030303030UL;
        var notDigit = (((offset & 0x7F7F7F7F7F7F7F7FUL) + 0x7676767676767676UL) | offset) & 0x8080808080808080UL;
        return BitOperations.TrailingZeroCount(notDigit) >> 3; // 64 >> 3 = 8 when all are digits
    }

    /// <summary>The value of the word's first <paramref name="digits"/> bytes (1..8 ASCII digits; at 8 both shifts are by 0 and the word is kept whole).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint EightDigits(ulong word, int digits)
    {
        // Keep the digits, move them to the top, fill the bottom with '0': eight digits, zero-padded.
        var padded = (word << (8 * (8 - digits))) | (0x3030303030303030UL >> (8 * digits));
        var value = padded & 0x0F0F0F0F0F0F0F0FUL;
        value = (value * 2561) >> 8;
        value = ((value & 0x00FF00FF00FF00FFUL) * 6553601) >> 16;
        return (uint)(((value & 0x0000FFFF0000FFFFUL) * 42949672960001) >> 32);
    }

    internal static bool TryParseSingleBytes(ReadOnlySpan<byte> text, ref int position, bool strictJson, out float value)
    {
        value = 0;
        var i = position;
        var negative = false;
        if (i < text.Length && (text[i] == (byte)'-' || (!strictJson && text[i] == (byte)'+')))
        {
            negative = text[i] == (byte)'-';
            i++;
        }

        ulong mantissa = 0;
        var significant = 0;
        var exponent = 0;
        var integerStart = i;
        for (; i < text.Length && (uint)(text[i] - '0') <= 9; i++)
        {
            if (significant > 0 || text[i] != (byte)'0')
            {
                significant++;
                mantissa = (mantissa * 10) + (uint)(text[i] - '0');
            }
        }

        var integerDigits = i - integerStart;
        if (strictJson && (integerDigits == 0 || (integerDigits > 1 && text[integerStart] == (byte)'0')))
        {
            return false;
        }

        var fractionDigits = 0;
        if (i < text.Length && text[i] == (byte)'.')
        {
            i++;
            var fractionStart = i;
            for (; i < text.Length && (uint)(text[i] - '0') <= 9; i++)
            {
                exponent--;
                if (significant > 0 || text[i] != (byte)'0')
                {
                    significant++;
                    mantissa = (mantissa * 10) + (uint)(text[i] - '0');
                }
            }

            fractionDigits = i - fractionStart;
            if (strictJson && fractionDigits == 0)
            {
                return false;
            }
        }

        if (integerDigits + fractionDigits == 0 || significant > 19)
        {
            return false;
        }

        if (i < text.Length && (text[i] | 0x20) == (byte)'e')
        {
            i++;
            var exponentNegative = false;
            if (i < text.Length && text[i] is (byte)'-' or (byte)'+')
            {
                exponentNegative = text[i] == (byte)'-';
                i++;
            }

            var exponentStart = i;
            var written = 0;
            for (; i < text.Length && (uint)(text[i] - '0') <= 9 && i - exponentStart < 6; i++)
            {
                written = (written * 10) + (text[i] - '0');
            }

            if (i == exponentStart || (i < text.Length && (uint)(text[i] - '0') <= 9))
            {
                return false;
            }

            exponent += exponentNegative ? -written : written;
        }

        if (mantissa == 0)
        {
            exponent = 0;
        }

        if (mantissa > (1UL << 24) || exponent is < -10 or > 10)
        {
            return false;
        }

        var f = (float)mantissa;
        f = exponent < 0 ? f / SinglePowers[-exponent] : f * SinglePowers[exponent];
        value = WithSign(f, negative);
        position = i;
        return true;
    }

    /// <summary>
    /// <c>[+-]digits[.digits][(e|E)[+-]digits]</c> (digits on at least one side of the point) with at
    /// most 19 significant digits → mantissa × 10^exponent. False sends the text to the BCL.
    /// </summary>
    private static bool TryDecompose(ReadOnlySpan<byte> text, out ulong mantissa, out int exponent, out bool negative)
    {
        mantissa = 0;
        exponent = 0;
        negative = false;
        var i = 0;
        if (i < text.Length && text[i] is (byte)'-' or (byte)'+')
        {
            negative = text[i] == (byte)'-';
            i++;
        }

        var digits = 0;
        var significant = 0;
        for (; i < text.Length && (uint)(text[i] - '0') <= 9; i++, digits++)
        {
            if (significant > 0 || text[i] != (byte)'0')
            {
                if (++significant > 19)
                {
                    return false;
                }

                mantissa = (mantissa * 10) + (uint)(text[i] - '0');
            }
        }

        if (i < text.Length && text[i] == (byte)'.')
        {
            i++;
            for (; i < text.Length && (uint)(text[i] - '0') <= 9; i++, digits++)
            {
                exponent--;
                if (significant > 0 || text[i] != (byte)'0')
                {
                    if (++significant > 19)
                    {
                        return false;
                    }

                    mantissa = (mantissa * 10) + (uint)(text[i] - '0');
                }
            }
        }

        if (digits == 0)
        {
            return false;
        }

        if (i < text.Length && text[i] is (byte)'e' or (byte)'E')
        {
            i++;
            var exponentNegative = false;
            if (i < text.Length && text[i] is (byte)'-' or (byte)'+')
            {
                exponentNegative = text[i] == (byte)'-';
                i++;
            }

            var exponentDigits = 0;
            var written = 0;
            for (; i < text.Length && (uint)(text[i] - '0') <= 9; i++, exponentDigits++)
            {
                if (exponentDigits < 6)
                {
                    written = (written * 10) + (text[i] - '0');
                }
                else
                {
                    return false;
                }
            }

            if (exponentDigits == 0)
            {
                return false;
            }

            exponent += exponentNegative ? -written : written;
        }

        if (mantissa == 0)
        {
            exponent = 0; // any zero is exact
        }

        return i == text.Length;
    }
}
