using System.Buffers;
using System.Runtime.InteropServices;

namespace Worker.Records;

/// <summary>
/// Where a string tensor value lives: a row holds one slot per value (offset and length into its
/// row set's arena of UTF-8 bytes), so rows stay fixed-width and a string costs no object.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct StringSlot(int Offset, int Length)
{
    public const int Size = 8;
}

/// <summary>UTF-8 bytes of many strings in one pooled buffer that grows by doubling; slots point into it.</summary>
public sealed class StringArena : IDisposable
{
    private byte[] _bytes = [];

    public int Length { get; private set; }

    public StringSlot Append(ReadOnlySpan<byte> utf8)
    {
        if (_bytes.Length - Length < utf8.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(1024, (Length + utf8.Length) * 2));
            _bytes.AsSpan(0, Length).CopyTo(bigger);
            if (_bytes.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_bytes);
            }

            _bytes = bigger;
        }

        utf8.CopyTo(_bytes.AsSpan(Length));
        var slot = new StringSlot(Length, utf8.Length);
        Length += utf8.Length;
        return slot;
    }

    public ReadOnlySpan<byte> this[StringSlot slot] => _bytes.AsSpan(slot.Offset, slot.Length);

    /// <summary>Forgets every string (the buffer is kept for the next batch).</summary>
    public void Clear() => Length = 0;

    public void Dispose()
    {
        if (_bytes.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = [];
        }

        Length = 0;
    }
}
