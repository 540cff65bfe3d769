using System.Buffers;
using Worker.Http;

namespace Worker.Tests.Http;

public class PooledBufferWriterTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(100_000)]
    [InlineData(3_000_000)]
    public void ReadsBackWhatWasWrittenAcrossSegments(int size)
    {
        var data = new byte[size];
        new Random(size).NextBytes(data);
        using var writer = new PooledBufferWriter(initialSegmentSize: 1024);
        for (var offset = 0; offset < size;)
        {
            // Odd-sized writes so segment boundaries fall mid-write.
            var take = Math.Min(777, size - offset);
            writer.Write(data.AsSpan(offset, take));
            offset += take;
        }

        Assert.Equal(size, writer.Length);
        Assert.Equal(data, writer.AsSequence().ToArray());

        var copy = new ArrayBufferWriter<byte>();
        writer.CopyTo(copy);
        Assert.Equal(data, copy.WrittenSpan.ToArray());
    }

    [Fact]
    public void ResetEmptiesAndCanBeReused()
    {
        using var writer = new PooledBufferWriter(16);
        writer.Write(new byte[100]);
        writer.Reset();
        Assert.Equal(0, writer.Length);
        Assert.True(writer.AsSequence().IsEmpty);
        writer.Write<byte>([1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, writer.AsSequence().ToArray());
    }
}
