using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Worker.Formats.TensorFlow;
using Worker.Inference.Ort;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

/// <summary>
/// The decoder paths model reach added (dynamic axes in JSON and CSV, strings from TFRecord
/// bytes_list, every element type from text), on every prefix, on one-byte segments and on damaged
/// bytes: rows or a RecordException, never another exception.
/// </summary>
public class ModelReachDecoderTests
{
    private static ModelSignature Tokens() =>
        new(
            [
                new TensorInfo("ids", TensorElementType.Int64, [-1, -1]) { DimNames = ["batch", "sequence"] },
                new TensorInfo("mask", TensorElementType.Int64, [-1, -1]) { DimNames = ["batch", "sequence"] },
            ],
            [new TensorInfo("sum", TensorElementType.Int64, [-1])]);

    private static ModelSignature Sequence() =>
        new([new TensorInfo("x", TensorElementType.Float, [-1, -1, 2]) { DimNames = ["batch", "sequence", ""] }], [new TensorInfo("mean", TensorElementType.Float, [-1, 2])]);

    private static ModelSignature Texts() =>
        new([new TensorInfo("text", TensorElementType.String, [-1, 2]), new TensorInfo("n", TensorElementType.UInt8, [-1, 1])], [new TensorInfo("y", TensorElementType.Float, [-1, 1])]);

    [Fact]
    public void TokenRecordsKeepTheirOwnLengths()
    {
        using var rows = new RowSet(Tokens());
        JsonRecordDecoder.DecodeLines("{\"ids\": [1, 2, 3], \"mask\": [1, 1, 0]}\n{\"mask\": [1], \"ids\": [9]}\n"u8, rows, false);
        Assert.Equal(2, rows.RowCount);
        Assert.Equal([3L], rows.DynamicDims(0, 0).ToArray());
        Assert.Equal([1L], rows.DynamicDims(1, 1).ToArray());
        Assert.Equal([1L, 2, 3], MemoryMarshal.Cast<byte, long>(rows.DynamicValues(0, 0)).ToArray());
        Assert.Equal([9L], MemoryMarshal.Cast<byte, long>(rows.DynamicValues(0, 1)).ToArray());
        Assert.False(RowSet.SameShape(rows, 0, rows, 1));
    }

    [Fact]
    public void NestedAndFlatRowsOfOneDynamicAxisAgree()
    {
        using var nested = new RowSet(Sequence());
        JsonRecordDecoder.DecodeLines("[[1, 2], [3, 4], [5, 6]]\n"u8, nested, false);
        using var flat = new RowSet(Sequence());
        CsvRecordDecoder.Decode("1,2,3,4,5,6\n"u8, default, flat, false);
        Assert.Equal([3L, 2], nested.DynamicDims(0, 0).ToArray());
        Assert.Equal([3L, 2], flat.DynamicDims(0, 0).ToArray());
        Assert.Equal(nested.DynamicValues(0, 0).ToArray(), flat.DynamicValues(0, 0).ToArray());
        Assert.True(RowSet.SameShape(nested, 0, flat, 0));
    }

    public static TheoryData<string, string> Bodies() => new()
    {
        { "tokens-jsonl", "{\"ids\": [1, 2, 3], \"mask\": [1, 1, 0]}\n{\"mask\": [1], \"ids\": [9]}\n{\"ids\": [4, 5], \"mask\": [1, 1]}\n" },
        { "sequence-jsonl", "[[1, 2], [3, 4]]\n[5, 6]\n[[7.5, -8], [9, 1e3], [0, 0]]\n" },
        { "sequence-csv", "1,2,3,4\n5,6\r\n\"7.5\",-8,9,1e3,0,0\n" },
        { "texts-csv", "\"a, b\",\"say \"\"hi\"\"\",7\nplain,,255\n" },
        { "texts-jsonl", "{\"text\": [\"a\\u0020b\", \"c\"], \"n\": 7}\n{\"n\": 255, \"text\": [\"\", \"☕\"]}\n" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void EveryPrefixAndEveryDamageDecodesOrFailsCleanly(string name, string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        for (var length = 0; length <= body.Length; length++)
        {
            Decode(name, body.AsSpan(0, length));
        }

        var random = new Random(name.Length);
        for (var trial = 0; trial < 3_000; trial++)
        {
            var damaged = (byte[])body.Clone();
            for (var hits = random.Next(1, 3); hits > 0; hits--)
            {
                damaged[random.Next(damaged.Length)] = (byte)Damage[random.Next(Damage.Length)];
            }

            Decode(name, damaged);
        }
    }

    private const string Damage = "[]{},\":1a\n\\ ";

    private static void Decode(string name, ReadOnlySpan<byte> body)
    {
        var signature = name.StartsWith("tokens", StringComparison.Ordinal) ? Tokens() : name.StartsWith("sequence", StringComparison.Ordinal) ? Sequence() : Texts();
        using var rows = new RowSet(signature);
        try
        {
            if (name.EndsWith("csv", StringComparison.Ordinal))
            {
                CsvRecordDecoder.Decode(body, default, rows, false);
            }
            else
            {
                JsonRecordDecoder.DecodeLines(body, rows, false);
            }

            for (var row = 0; row < rows.RowCount; row++)
            {
                for (var input = 0; input < signature.Inputs.Count; input++)
                {
                    if (signature.Inputs[input].HasDynamicAxes)
                    {
                        // A decoded row's values fill exactly the sizes it records.
                        var dims = rows.DynamicDims(input, row).ToArray();
                        Assert.All(dims, d => Assert.True(d > 0));
                        Assert.Equal(dims.Aggregate(1L, (a, b) => a * b) * signature.Inputs[input].ElementSize, rows.DynamicValues(input, row).Length);
                    }
                }
            }
        }
        catch (RecordException e)
        {
            Assert.InRange(e.Offset, 0, body.Length);
        }
    }

    [Fact]
    public void TfRecordBytesListFeedsStringsOnOneByteSegmentsAndEveryPrefix()
    {
        var example = new Example { Features = new() };
        example.Features.Feature["text"] = new() { BytesList = new() { Value = { ByteString.CopyFromUtf8("naïve"), ByteString.CopyFromUtf8("") } } };
        example.Features.Feature["n"] = new() { Int64List = new() { Value = { 200 } } };
        var body = FrameWriters.TfRecord(example.ToByteArray(), example.ToByteArray());
        var decoder = new ProtoRecordDecoder(Texts());

        using (var rows = new RowSet(Texts()))
        {
            FramedRecords.Decode(Segments.OneBytePerSegment(body), RecordFormat.TfRecord, decoder, rows, false);
            Assert.Equal(2, rows.RowCount);
            var slots = MemoryMarshal.Cast<byte, StringSlot>(rows.InputRow(0, 1));
            Assert.Equal("naïve", Encoding.UTF8.GetString(rows.InputString(slots[0])));
            Assert.Equal("", Encoding.UTF8.GetString(rows.InputString(slots[1])));
            Assert.Equal(200, rows.InputRow(1, 1)[0]);
        }

        for (var length = 0; length <= body.Length; length++)
        {
            using var rows = new RowSet(Texts());
            try
            {
                FramedRecords.Decode(Segments.OneBytePerSegment(body.AsSpan(0, length)), RecordFormat.TfRecord, decoder, rows, false);
            }
            catch (RecordException e)
            {
                Assert.InRange(e.Offset, 0, length);
            }
        }
    }
}
