using System.Buffers;

namespace Worker.Http;

/// <summary>
/// A growable buffer of pooled segments that reads back as one <see cref="ReadOnlySequence{T}"/>:
/// bodies and responses of any size without a large contiguous copy. Reset keeps the first
/// segment so a connection's steady state rents nothing.
/// </summary>
public sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    private const int MaxSegmentSize = 1024 * 1024;

    private readonly int _initialSegmentSize;
    private Segment? _first;
    private Segment? _last;

    public PooledBufferWriter(int initialSegmentSize = 4096)
    {
        _initialSegmentSize = initialSegmentSize;
    }

    public long Length { get; private set; }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_last is null || _last.Written + count > _last.Array.Length)
        {
            throw new InvalidOperationException("Advanced past the buffer that was handed out.");
        }

        _last.Written += count;
        Length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        var segment = EnsureSpace(Math.Max(sizeHint, 1));
        return segment.Array.AsMemory(segment.Written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        var segment = EnsureSpace(Math.Max(sizeHint, 1));
        return segment.Array.AsSpan(segment.Written);
    }

    public ReadOnlySequence<byte> AsSequence()
    {
        if (_first is null || Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var last = _last!;
        last.Seal();
        return _first == last
            ? new ReadOnlySequence<byte>(last.Array, 0, last.Written)
            : new ReadOnlySequence<byte>(_first, 0, last, last.Written);
    }

    /// <summary>Copies the content into <paramref name="destination"/>.</summary>
    public void CopyTo(IBufferWriter<byte> destination)
    {
        for (var segment = _first; segment is not null; segment = segment.NextSegment)
        {
            destination.Write(segment.Array.AsSpan(0, segment.Written));
        }
    }

    public void Reset()
    {
        if (_first is null)
        {
            return;
        }

        for (var segment = _first.NextSegment; segment is not null; segment = segment.NextSegment)
        {
            ArrayPool<byte>.Shared.Return(segment.Array);
        }

        _first.Reuse();
        _last = _first;
        Length = 0;
    }

    public void Dispose()
    {
        for (var segment = _first; segment is not null; segment = segment.NextSegment)
        {
            ArrayPool<byte>.Shared.Return(segment.Array);
        }

        _first = _last = null;
        Length = 0;
    }

    private Segment EnsureSpace(int sizeHint)
    {
        if (_last is not null && _last.Array.Length - _last.Written >= sizeHint)
        {
            return _last;
        }

        var size = _last is null ? _initialSegmentSize : Math.Min(_last.Array.Length * 2, MaxSegmentSize);
        var segment = new Segment(ArrayPool<byte>.Shared.Rent(Math.Max(size, sizeHint)));
        if (_last is null)
        {
            _first = _last = segment;
        }
        else
        {
            _last.Append(segment);
            _last = segment;
        }

        return segment;
    }

    private sealed class Segment(byte[] array) : ReadOnlySequenceSegment<byte>
    {
        public byte[] Array { get; } = array;
        public int Written { get; set; }
        public Segment? NextSegment => (Segment?)Next;

        public void Seal() => Memory = Array.AsMemory(0, Written);

        public void Append(Segment next)
        {
            Seal();
            next.RunningIndex = RunningIndex + Written;
            Next = next;
        }

        public void Reuse()
        {
            Written = 0;
            Next = null;
            Memory = default;
        }
    }
}
