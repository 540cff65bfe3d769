using System.Numerics;
using System.Runtime.Intrinsics;

namespace Worker.Records;

/// <summary>Which bytes end a value: one set of vector compares (a struct type argument, so each set's compares are compiled in).</summary>
internal interface IDelimiterSet
{
    static abstract Vector256<byte> Matches(Vector256<byte> bytes);
}

/// <summary>CSV: comma, CR, LF, and the quote that sends a row to the general reader.</summary>
internal readonly struct CsvDelimiters : IDelimiterSet
{
    public static Vector256<byte> Matches(Vector256<byte> bytes) =>
        Vector256.Equals(bytes, Vector256.Create((byte)','))
        | Vector256.Equals(bytes, Vector256.Create((byte)'\n'))
        | Vector256.Equals(bytes, Vector256.Create((byte)'\r'))
        | Vector256.Equals(bytes, Vector256.Create((byte)'"'));
}

/// <summary>A flat JSON array of numbers: comma, closing bracket, JSON's four whitespace bytes.</summary>
internal readonly struct JsonArrayDelimiters : IDelimiterSet
{
    public static Vector256<byte> Matches(Vector256<byte> bytes) =>
        Vector256.Equals(bytes, Vector256.Create((byte)','))
        | Vector256.Equals(bytes, Vector256.Create((byte)']'))
        | Vector256.Equals(bytes, Vector256.Create((byte)' '))
        | Vector256.Equals(bytes, Vector256.Create((byte)'\t'))
        | Vector256.Equals(bytes, Vector256.Create((byte)'\r'))
        | Vector256.Equals(bytes, Vector256.Create((byte)'\n'));
}

/// <summary>
/// The delimiters of a text found 64 bytes at a time as a bit mask (bit i: byte blockStart + i), so a
/// reader finds each value's end with a bit scan and no value waits on the previous one's parse.
/// Blocks stop <see cref="Margin"/> bytes before the text's end, which leaves room for every load of
/// the block and of a value starting inside it; readers hand what is left to their byte-at-a-time path.
/// </summary>
internal static class DelimiterBlocks
{
    /// <summary>Bytes past a block's start that must exist: the block itself and a number's vector load.</summary>
    public const int Margin = 64 + NumberText.WordPathBytes;

    /// <summary>The mask of the 64 bytes from <paramref name="start"/> (the caller keeps them in bounds).</summary>
    public static ulong Mask<TSet>(ReadOnlySpan<byte> text, int start)
        where TSet : struct, IDelimiterSet =>
        TSet.Matches(Vector256.Create(text.Slice(start, 32))).ExtractMostSignificantBits()
        | ((ulong)TSet.Matches(Vector256.Create(text.Slice(start + 32, 32))).ExtractMostSignificantBits() << 32);

    /// <summary>The first delimiter the mask holds, refilling it from the next blocks while it is empty; false past the margin.</summary>
    public static bool TryNext<TSet>(ReadOnlySpan<byte> text, ref int blockStart, ref ulong mask, out int end)
        where TSet : struct, IDelimiterSet
    {
        while (mask == 0)
        {
            blockStart += 64;
            if (blockStart > text.Length - Margin)
            {
                end = -1;
                return false;
            }

            mask = Mask<TSet>(text, blockStart);
        }

        end = blockStart + BitOperations.TrailingZeroCount(mask);
        return true;
    }

    /// <summary>Drops the mask's bits before <paramref name="position"/>, moving to a new block when it lies past this one; false past the margin.</summary>
    public static bool SkipTo<TSet>(ReadOnlySpan<byte> text, int position, ref int blockStart, ref ulong mask)
        where TSet : struct, IDelimiterSet
    {
        if (position - blockStart < 64)
        {
            mask &= ~0UL << (position - blockStart);
            return true;
        }

        blockStart = position;
        if (blockStart > text.Length - Margin)
        {
            return false;
        }

        mask = Mask<TSet>(text, blockStart);
        return true;
    }
}
