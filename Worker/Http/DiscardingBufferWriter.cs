using System.Buffers;

namespace Worker.Http;

/// <summary>Takes bytes and keeps none: the rest of a streamed body whose handler has stopped reading.</summary>
internal sealed class DiscardingBufferWriter : IBufferWriter<byte>
{
    private byte[] _scratch = new byte[16 * 1024];

    public void Advance(int count)
    {
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (sizeHint > _scratch.Length)
        {
            _scratch = new byte[sizeHint];
        }

        return _scratch;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
}
