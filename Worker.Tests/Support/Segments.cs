using System.Buffers;

namespace Worker.Tests.Support;

/// <summary>Builds multi-segment sequences so parsers are tested on every way the bytes can arrive.</summary>
public static class Segments
{
    public static ReadOnlySequence<byte> OneBytePerSegment(ReadOnlySpan<byte> data) => Split(data, 1);

    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> data, int segmentSize)
    {
        if (data.IsEmpty)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        Segment? first = null;
        Segment? last = null;
        for (var i = 0; i < data.Length; i += segmentSize)
        {
            var chunk = data.Slice(i, Math.Min(segmentSize, data.Length - i)).ToArray();
            var segment = new Segment(chunk, last);
            first ??= segment;
            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    /// <summary>Two segments split at <paramref name="at"/>.</summary>
    public static ReadOnlySequence<byte> SplitAt(ReadOnlySpan<byte> data, int at)
    {
        if (at <= 0 || at >= data.Length)
        {
            return new ReadOnlySequence<byte>(data.ToArray());
        }

        var first = new Segment(data[..at].ToArray(), null);
        var second = new Segment(data[at..].ToArray(), first);
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, Segment? previous)
        {
            Memory = data;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
