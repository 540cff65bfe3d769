using System.Buffers;
using System.Text;
using Worker.Http;
using Worker.Tests.Support;

namespace Worker.Tests.Http;

public class ChunkedBodyDecoderTests
{
    public static TheoryData<string, string> Bodies() => new()
    {
        { "0\r\n\r\n", "" },
        { "3\r\nabc\r\n0\r\n\r\n", "abc" },
        { "A\r\n0123456789\r\n1;ext=v\r\nX\r\n0\r\n\r\n", "0123456789X" },
        { "4 ; name\r\nwiki\r\n5\r\npedia\r\n0\r\nTrailer: yes\r\n\r\n", "wikipedia" },
        { "00000002\r\n\r\n\r\n0\r\n\r\n", "\r\n" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void DecodesWholeBody(string wire, string body) =>
        Assert.Equal(body, DecodeAll(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(wire)), out _));

    [Theory]
    [MemberData(nameof(Bodies))]
    public void EveryPrefixIsIncompleteAndOneByteSegmentsDecodeTheSame(string wire, string body)
    {
        var bytes = Encoding.ASCII.GetBytes(wire);
        for (var length = 0; length < bytes.Length; length++)
        {
            var decoder = new ChunkedBodyDecoder();
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, length));
            Assert.False(decoder.TryDecode(ref reader, new ArrayBufferWriter<byte>(), long.MaxValue), $"prefix {length} complete");
        }

        Assert.Equal(body, DecodeAll(Segments.OneBytePerSegment(bytes), out var consumed));
        Assert.Equal(bytes.Length, consumed);
    }

    [Theory]
    [MemberData(nameof(Bodies))]
    public void ByteAtATimeWithConsumptionLikeTheConnection(string wire, string body)
    {
        // The connection advances past whatever the decoder consumed, then calls again with more bytes.
        var bytes = Encoding.ASCII.GetBytes(wire);
        var decoder = new ChunkedBodyDecoder();
        var output = new ArrayBufferWriter<byte>();
        var pending = new List<byte>();
        var complete = false;
        foreach (var b in bytes)
        {
            Assert.False(complete);
            pending.Add(b);
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(pending.ToArray()));
            complete = decoder.TryDecode(ref reader, output, long.MaxValue);
            pending.RemoveRange(0, (int)reader.Consumed);
        }

        Assert.True(complete);
        Assert.Empty(pending);
        Assert.Equal(body, Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Fact]
    public void StopsAtTheEndOfTheBodyLeavingTheNextRequest()
    {
        var bytes = Encoding.ASCII.GetBytes("1\r\nA\r\n0\r\n\r\nGET /ping HTTP/1.1\r\n");
        var decoder = new ChunkedBodyDecoder();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(decoder.TryDecode(ref reader, new ArrayBufferWriter<byte>(), long.MaxValue));
        Assert.Equal("GET /ping HTTP/1.1\r\n", Encoding.ASCII.GetString(bytes[(int)reader.Consumed..]));
    }

    [Theory]
    [InlineData("3\nabc\r\n0\r\n\r\n", RequestRejectionReason.BareLineFeed)]
    [InlineData("3\r\nabc\r\n0\n\r\n", RequestRejectionReason.BareLineFeed)]
    [InlineData("3;x\ny\r\nabc\r\n0\r\n\r\n", RequestRejectionReason.BareLineFeed)]
    [InlineData("g\r\nabc\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize)]
    [InlineData("\r\nabc\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize)]
    [InlineData("-3\r\nabc\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize)]
    [InlineData("3x\r\nabc\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize)]
    [InlineData("1000000000000000\r\n", RequestRejectionReason.InvalidChunkSize)]
    [InlineData("3\r\nabcX\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkLine)]
    [InlineData("3\r\nabc\rX0\r\n\r\n", RequestRejectionReason.InvalidChunkLine)]
    public void RejectsBadFraming(string wire, RequestRejectionReason reason)
    {
        var bytes = Encoding.ASCII.GetBytes(wire);
        foreach (var sequence in new[] { new ReadOnlySequence<byte>(bytes), Segments.OneBytePerSegment(bytes) })
        {
            var error = Assert.Throws<HttpRejectException>(() => DecodeAll(sequence, out _));
            Assert.Equal(reason, error.Reason);
            Assert.Equal(400, error.StatusCode);
        }
    }

    [Fact]
    public void RejectsAnEndlessChunkLine()
    {
        var bytes = Encoding.ASCII.GetBytes("3;" + new string('x', ChunkedBodyDecoder.MaxChunkLineLength));
        var error = Assert.Throws<HttpRejectException>(() => DecodeAll(new ReadOnlySequence<byte>(bytes), out _));
        Assert.Equal(RequestRejectionReason.ChunkLineTooLong, error.Reason);
    }

    [Fact]
    public void RejectsABodyOverTheLimitAsSoonAsAChunkSizePassesIt()
    {
        // Only the size line has arrived: the decoder refuses without waiting for the data.
        var bytes = Encoding.ASCII.GetBytes("8\r\n12345678\r\n8\r\n");
        var decoder = new ChunkedBodyDecoder();
        var error = Assert.Throws<HttpRejectException>(() =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
            decoder.TryDecode(ref reader, new ArrayBufferWriter<byte>(), maxBodyBytes: 10);
        });
        Assert.Equal(RequestRejectionReason.BodyTooLarge, error.Reason);
        Assert.Equal(413, error.StatusCode);
    }

    private static string DecodeAll(ReadOnlySequence<byte> sequence, out long consumed)
    {
        var decoder = new ChunkedBodyDecoder();
        var output = new ArrayBufferWriter<byte>();
        var reader = new SequenceReader<byte>(sequence);
        Assert.True(decoder.TryDecode(ref reader, output, long.MaxValue));
        consumed = reader.Consumed;
        Assert.Equal(output.WrittenCount, decoder.BodyLength);
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }
}
