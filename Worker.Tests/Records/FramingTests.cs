using System.Buffers;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

public class Crc32CTests
{
    [Fact]
    public void MatchesTheStandardVectors()
    {
        Assert.Equal(0x8a9136aau, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62a8ab43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46dd794eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        Assert.Equal(0xe3069283u, Crc32C.Compute("123456789"u8));
    }

    [Fact]
    public void ThreeWayPathsAgreeWithABitwiseReference()
    {
        // Lengths around the 3 x 256 and 3 x 8192 block boundaries, and odd tails.
        var random = new Random(11);
        foreach (var length in new[] { 0, 1, 7, 8, 767, 768, 769, 1024, 1031, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 777, 100_003 })
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.Equal(Reference(data), Crc32C.Compute(data));
        }
    }

    private static uint Reference(ReadOnlySpan<byte> data)
    {
        var crc = ~0u;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return ~crc;
    }

    [Fact]
    public void AppendingInPiecesEqualsOneGo()
    {
        var data = new byte[30_000];
        new Random(7).NextBytes(data);
        for (var cut = 0; cut <= data.Length; cut += 997)
        {
            Assert.Equal(Crc32C.Compute(data), ~Crc32C.Append(Crc32C.Append(~0u, data.AsSpan(0, cut)), data.AsSpan(cut)));
        }
    }
}

public class FramingTests
{
    private static readonly byte[][] Records =
    [
        [],
        "a"u8.ToArray(),
        "hello, framing"u8.ToArray(),
        Enumerable.Range(0, 300).Select(i => (byte)i).ToArray(),
    ];

    public static TheoryData<string> Framings() => new() { "tfrecord", "recordio" };

    [Theory]
    [MemberData(nameof(Framings))]
    public void SplitsWhatTheWriterWrote(string framing) =>
        Assert.Equal(Records, Split(framing, new ReadOnlySequence<byte>(Write(framing, Records))));

    [Theory]
    [MemberData(nameof(Framings))]
    public void EveryPrefixNeedsMoreDataAndConsumesNothing(string framing)
    {
        var one = Write(framing, [Records[3]]);
        for (var length = 0; length < one.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(one, 0, length));
            Assert.False(TryRead(framing, ref reader, out _), $"prefix {length} read as complete");
            Assert.Equal(0, reader.Consumed);
        }
    }

    [Theory]
    [MemberData(nameof(Framings))]
    public void OneByteSegmentsSplitTheSame(string framing)
    {
        var bytes = Write(framing, Records);
        Assert.Equal(Records, Split(framing, Segments.OneBytePerSegment(bytes)));
        for (var at = 1; at < bytes.Length; at += 5)
        {
            Assert.Equal(Records, Split(framing, Segments.SplitAt(bytes, at)));
        }
    }

    [Fact]
    public void RecordIOJoinsPartsCutAtTheMagic()
    {
        var magic = FrameWriters.MagicBytes();
        byte[] data = [.. "abcd"u8, .. magic, .. "efgh"u8, .. magic, .. magic, .. "ij"u8];
        var bytes = FrameWriters.RecordIO(data, "z"u8.ToArray());
        Assert.True(bytes.Length > data.Length + 16, "the writer cut the record into parts");
        Assert.Equal([data, "z"u8.ToArray()], Split("recordio", new ReadOnlySequence<byte>(bytes)));
        Assert.Equal([data, "z"u8.ToArray()], Split("recordio", Segments.OneBytePerSegment(bytes)));

        // Every prefix of a multi-part record needs more data.
        for (var length = 0; length < bytes.Length - 12; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, length));
            Assert.False(TryRead("recordio", ref reader, out _));
        }
    }

    [Fact]
    public void RandomRecordsRoundTripThroughBothFramings()
    {
        var random = new Random(42);
        var magic = FrameWriters.MagicBytes();
        for (var trial = 0; trial < 200; trial++)
        {
            var records = Enumerable.Range(0, random.Next(1, 8)).Select(_ =>
            {
                var data = new byte[random.Next(0, 64) * 4];
                random.NextBytes(data);
                if (data.Length >= 8 && random.Next(3) == 0)
                {
                    magic.CopyTo(data, random.Next(data.Length / 4) * 4); // force continuation parts
                }

                return data;
            }).ToArray();

            foreach (var framing in new[] { "tfrecord", "recordio" })
            {
                Assert.Equal(records, Split(framing, new ReadOnlySequence<byte>(Write(framing, records))));
            }
        }
    }

    [Fact]
    public void TfRecordDataCrcMismatchNamesRecordAndOffset()
    {
        var bytes = FrameWriters.TfRecord("first"u8.ToArray(), "second"u8.ToArray());
        bytes[12 + 5 + 4 + 12 + 2] ^= 0xFF; // a byte inside the second record's data
        var error = Assert.Throws<RecordException>(() => Split("tfrecord", new ReadOnlySequence<byte>(bytes)));
        Assert.Equal(1, error.Record);
        Assert.Equal(21, error.Offset);
        Assert.Contains("data CRC mismatch", error.Message);
    }

    [Fact]
    public void TfRecordLengthCrcMismatchIsCaughtBeforeTrustingTheLength()
    {
        var bytes = FrameWriters.TfRecord("first"u8.ToArray());
        bytes[0] = 0xFF;
        var error = Assert.Throws<RecordException>(() => Split("tfrecord", new ReadOnlySequence<byte>(bytes)));
        Assert.Contains("length CRC mismatch", error.Message);
        Assert.Equal(0, error.Record);
    }

    [Theory]
    [MemberData(nameof(Framings))]
    public void TruncatedLastFrameIsAnError(string framing)
    {
        var bytes = Write(framing, ["one"u8.ToArray(), "two two"u8.ToArray()]);
        var error = Assert.Throws<RecordException>(() => Split(framing, new ReadOnlySequence<byte>(bytes, 0, bytes.Length - 3)));
        Assert.Equal(1, error.Record);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void RecordIOBadMagicIsAnError()
    {
        var bytes = FrameWriters.RecordIO("one"u8.ToArray(), "two"u8.ToArray());
        bytes[8] ^= 1; // second frame's magic (the first is 8 + 4 bytes)
        bytes[12] ^= 1;
        var error = Assert.Throws<RecordException>(() => Split("recordio", new ReadOnlySequence<byte>(bytes)));
        Assert.Equal(1, error.Record);
        Assert.Equal(12, error.Offset);
        Assert.Contains("bad RecordIO magic", error.Message);
    }

    [Fact]
    public void RecordIOPartsOutOfOrderAreAnError()
    {
        var bytes = FrameWriters.RecordIO("abcd"u8.ToArray());
        bytes[7] = (byte)((bytes[7] & 0x1F) | (2 << 5)); // cflag 2 (middle) with no start
        var error = Assert.Throws<RecordException>(() => Split("recordio", new ReadOnlySequence<byte>(bytes)));
        Assert.Contains("out of order", error.Message);
    }

    private static byte[] Write(string framing, byte[][] records) =>
        framing == "tfrecord" ? FrameWriters.TfRecord(records) : FrameWriters.RecordIO(records);

    private static bool TryRead(string framing, ref SequenceReader<byte> reader, out byte[] record)
    {
        bool complete;
        if (framing == "tfrecord")
        {
            complete = TfRecordReader.TryReadRecord(ref reader, 0, out var data);
            record = complete ? data.ToArray() : [];
        }
        else
        {
            var joined = new ArrayBufferWriter<byte>();
            complete = RecordIOReader.TryReadRecord(ref reader, 0, joined, out var data, out var isJoined);
            record = !complete ? [] : isJoined ? joined.WrittenSpan.ToArray() : data.ToArray();
            if (!complete)
            {
                Assert.Equal(0, joined.WrittenCount);
            }
        }

        return complete;
    }

    private static byte[][] Split(string framing, ReadOnlySequence<byte> body)
    {
        var records = new List<byte[]>();
        if (framing == "tfrecord")
        {
            TfRecordReader.ForEach(body, ref records, Collect);
        }
        else
        {
            RecordIOReader.ForEach(body, ref records, Collect);
        }

        return [.. records];
    }

    private static void Collect(ref List<byte[]> records, ReadOnlySequence<byte> record, long index, long offset)
    {
        Assert.Equal(records.Count, index);
        records.Add(record.ToArray());
    }
}
