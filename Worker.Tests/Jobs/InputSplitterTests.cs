using System.Buffers;
using System.Text;
using Worker.Jobs.Transform;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Jobs;

/// <summary>The transform's input splitter on whole inputs, every prefix, and one-byte segments.</summary>
public class InputSplitterTests
{
    private static readonly byte[][] FramedRecords =
    [
        "a"u8.ToArray(),
        [],
        Enumerable.Range(0, 300).Select(i => (byte)i).ToArray(),
        [.. "xy"u8, .. FrameWriters.MagicBytes(), .. "z"u8],
    ];

    /// <summary>Everything the splitter gives for <paramref name="input"/>, fed as one final block.</summary>
    private static List<(string Wire, string Bare)> SplitAll(InputSplitter splitter, ReadOnlySequence<byte> input)
    {
        var reader = new SequenceReader<byte>(input);
        var joined = new ArrayBufferWriter<byte>();
        var records = new List<(string, string)>();
        while (splitter.TryRead(ref reader, isFinalBlock: true, 0, records.Count, joined, out var wire, out var bare))
        {
            records.Add((Convert.ToHexString(wire.ToArray()), Convert.ToHexString(bare.ToArray())));
        }

        Assert.True(reader.End);
        return records;
    }

    private static string Hex(string text) => Convert.ToHexString(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void LinesKeepTheirEndOnTheWireAndLoseItBare()
    {
        var records = SplitAll(new InputSplitter(SplitType.Line, csvQuotes: false), new ReadOnlySequence<byte>("1,2\r\n3,4\n\n5,6"u8.ToArray()));
        Assert.Equal(
            [(Hex("1,2\r\n"), Hex("1,2")), (Hex("3,4\n"), Hex("3,4")), (Hex("\n"), ""), (Hex("5,6"), Hex("5,6"))],
            records);
    }

    [Fact]
    public void CsvLinesEndOnlyOutsideQuotes()
    {
        const string input = "\"a\nb\",1\n\"x\"\"\n\",2\nplain,3\n";
        var records = SplitAll(new InputSplitter(SplitType.Line, csvQuotes: true), new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(input)));
        Assert.Equal([Hex("\"a\nb\",1"), Hex("\"x\"\"\n\",2"), Hex("plain,3")], records.Select(r => r.Bare));

        // Without CSV quoting (JSON Lines) every LF ends a line.
        Assert.Equal(5, SplitAll(new InputSplitter(SplitType.Line, csvQuotes: false), new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(input))).Count);
    }

    public static TheoryData<SplitType> Framings() => new() { SplitType.TFRecord, SplitType.RecordIO };

    private static byte[] Write(SplitType type, byte[][] records) =>
        type == SplitType.TFRecord ? FrameWriters.TfRecord(records) : FrameWriters.RecordIO(records);

    [Theory]
    [MemberData(nameof(Framings))]
    public void FramesComeBackWholeOnTheWireAndBareWithoutFraming(SplitType type)
    {
        var bytes = Write(type, FramedRecords);
        var records = SplitAll(new InputSplitter(type, false), new ReadOnlySequence<byte>(bytes));
        Assert.Equal(FramedRecords.Select(Convert.ToHexString), records.Select(r => r.Bare));

        // The wire forms, concatenated, are the input byte for byte: MultiRecord payloads keep the framing.
        Assert.Equal(Convert.ToHexString(bytes), string.Concat(records.Select(r => r.Wire)));
    }

    [Theory]
    [MemberData(nameof(Framings))]
    public void OneByteSegmentsSplitTheSame(SplitType type)
    {
        var bytes = Write(type, FramedRecords);
        var whole = SplitAll(new InputSplitter(type, false), new ReadOnlySequence<byte>(bytes));
        Assert.Equal(whole, SplitAll(new InputSplitter(type, false), Segments.OneBytePerSegment(bytes)));

        var csv = "\"q\n\",1\r\n2,3\n4"u8.ToArray();
        var splitter = new InputSplitter(SplitType.Line, csvQuotes: true);
        Assert.Equal(SplitAll(splitter, new ReadOnlySequence<byte>(csv)), SplitAll(splitter, Segments.OneBytePerSegment(csv)));
    }

    [Theory]
    [InlineData(SplitType.TFRecord)]
    [InlineData(SplitType.RecordIO)]
    [InlineData(SplitType.Line)]
    [InlineData(SplitType.None)]
    public void EveryPrefixGivesOnlyWholeRecordsUntilTheEnd(SplitType type)
    {
        var bytes = type switch
        {
            SplitType.Line or SplitType.None => "\"a\nb\",1\n2,3\n"u8.ToArray(),
            _ => Write(type, FramedRecords),
        };
        var all = SplitAll(new InputSplitter(type, csvQuotes: true), new ReadOnlySequence<byte>(bytes));
        for (var length = 0; length < bytes.Length; length++)
        {
            // Not final: what comes back must be a prefix of the whole split, and what is consumed is exactly those records.
            var splitter = new InputSplitter(type, csvQuotes: true);
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, length));
            var joined = new ArrayBufferWriter<byte>();
            var got = new List<(string, string)>();
            while (splitter.TryRead(ref reader, isFinalBlock: false, 0, got.Count, joined, out var wire, out var bare))
            {
                got.Add((Convert.ToHexString(wire.ToArray()), Convert.ToHexString(bare.ToArray())));
            }

            Assert.Equal(all.Take(got.Count), got);
            Assert.Equal(got.Sum(r => r.Item1.Length / 2), reader.Consumed);
            Assert.True(got.Count < all.Count || type == SplitType.Line, $"prefix {length} gave every record");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RunsOfLinesAreTheLinesOneByOne(bool csvQuotes)
    {
        // MultiRecord packing takes whole runs of lines where it can and single lines where it cannot;
        // mixed at random (room, segments), the bytes and counts must be the one-by-one records'.
        var random = new Random(31);
        string[] pieces = ["1,2\n", "3\r\n", "\n", "\"a\nb\",1\n", "a longer line of text 0123456789\n", "x", "\"\"", ",", "\r"];
        var runs = 0;
        for (var trial = 0; trial < 500; trial++)
        {
            var bytes = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => pieces[random.Next(pieces.Length)])));
            var expected = SplitAll(new InputSplitter(SplitType.Line, csvQuotes), new ReadOnlySequence<byte>(bytes));
            var splitter = new InputSplitter(SplitType.Line, csvQuotes);
            var reader = new SequenceReader<byte>(random.Next(3) == 0 ? Segments.OneBytePerSegment(bytes) : new ReadOnlySequence<byte>(bytes));
            var joined = new ArrayBufferWriter<byte>();
            var index = 0;
            while (!reader.End)
            {
                if (splitter.TryReadLines(ref reader, random.Next(1, 80), out var lines, out var count))
                {
                    Assert.True(count > 0);
                    Assert.Equal(string.Concat(expected.Skip(index).Take(count).Select(r => r.Wire)), Convert.ToHexString(lines));
                    index += count;
                    runs++;
                    continue;
                }

                Assert.True(splitter.TryRead(ref reader, isFinalBlock: true, 0, index, joined, out var wire, out var bare));
                Assert.Equal(expected[index], (Convert.ToHexString(wire.ToArray()), Convert.ToHexString(bare.ToArray())));
                index++;
            }

            Assert.Equal(expected.Count, index);
        }

        Assert.True(runs > 500, $"only {runs} runs of lines were taken");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OneSplitterFedGrowingBuffersLikeThePipeSplitsAsTheWhole(bool csvQuotes)
    {
        // The transform's loop: consume whole records, keep the unfinished line, read more, call again.
        // The splitter remembers how far into that line it looked (and the quote state there).
        var bytes = "\"a\nb\",1\n\"\"\"x\r\n\",2\r\nlong line with no quotes\n\n\"q\"\"\n\"\"\",3\n"u8.ToArray();
        var whole = SplitAll(new InputSplitter(SplitType.Line, csvQuotes), new ReadOnlySequence<byte>(bytes));
        for (var step = 1; step <= 7; step++)
        {
            var splitter = new InputSplitter(SplitType.Line, csvQuotes);
            var joined = new ArrayBufferWriter<byte>();
            var got = new List<(string, string)>();
            var consumed = 0;
            var end = 0;
            while (true)
            {
                end = Math.Min(end + step, bytes.Length);
                var final = end == bytes.Length;
                var reader = new SequenceReader<byte>(Segments.OneBytePerSegment(bytes.AsSpan(consumed, end - consumed)));
                while (splitter.TryRead(ref reader, final, consumed, got.Count, joined, out var wire, out var bare))
                {
                    got.Add((Convert.ToHexString(wire.ToArray()), Convert.ToHexString(bare.ToArray())));
                }

                consumed += (int)reader.Consumed;
                if (final)
                {
                    break;
                }
            }

            Assert.Equal(whole, got);
        }
    }

    [Theory]
    [InlineData(SplitType.TFRecord)]
    [InlineData(SplitType.RecordIO)]
    public void ACutFrameAtTheEndOfTheFileNamesItsRecordAndFileOffset(SplitType type)
    {
        var bytes = Write(type, FramedRecords);
        var cut = bytes.AsSpan(0, bytes.Length - 3).ToArray();
        var splitter = new InputSplitter(type, false);
        var joined = new ArrayBufferWriter<byte>();
        long index = 0;
        var error = Assert.Throws<RecordException>(() =>
        {
            var r = new SequenceReader<byte>(new ReadOnlySequence<byte>(cut));
            while (splitter.TryRead(ref r, isFinalBlock: true, offsetBase: 1000, index, joined, out _, out _))
            {
                index++;
            }
        });
        Assert.Equal(3, error.Record);
        Assert.True(error.Offset > 1000, error.Message);
        Assert.Contains("truncated", error.Message);
        Assert.Contains($"byte {error.Offset}", error.Message);
    }

    [Fact]
    public void NoneIsTheWholeFileAtItsEnd()
    {
        var splitter = new InputSplitter(SplitType.None, false);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>("1,2\n3,4\n"u8.ToArray()));
        Assert.False(splitter.TryRead(ref reader, isFinalBlock: false, 0, 0, new ArrayBufferWriter<byte>(), out _, out _));
        Assert.True(splitter.TryRead(ref reader, isFinalBlock: true, 0, 0, new ArrayBufferWriter<byte>(), out var wire, out _));
        Assert.Equal("1,2\n3,4\n", Encoding.UTF8.GetString(wire.ToArray()));
    }
}
