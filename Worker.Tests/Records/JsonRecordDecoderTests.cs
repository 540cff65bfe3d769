using System.Runtime.InteropServices;
using System.Text;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

public class JsonRecordDecoderTests
{
    [Fact]
    public void LinesTakeArraysNumbersAndObjects()
    {
        using var rows = new RowSet(Signatures.SingleInput(2));
        JsonRecordDecoder.DecodeLines("[1,2]\n{\"X\": [3, 4]}\r\n{\"features\": [5, 6]}\n\n"u8, rows, false);
        Assert.Equal([[1f, 2f], [3f, 4f], [5f, 6f]], Signatures.FloatRows(rows));

        using var scalars = new RowSet(Signatures.SingleInput(1));
        JsonRecordDecoder.DecodeLines("7\n8.5\n"u8, scalars, false);
        Assert.Equal([[7f], [8.5f]], Signatures.FloatRows(scalars));
    }

    [Fact]
    public void NestedArraysFlattenRowMajorWhenTheyMatchTheShape()
    {
        using var rows = new RowSet(Signatures.Shaped(-1, 2, 3));
        JsonRecordDecoder.DecodeLines("[[1,2,3],[4,5,6]]\n[1,2,3,4,5,6]\n"u8, rows, false);
        Assert.Equal([[1f, 2f, 3f, 4f, 5f, 6f], [1f, 2f, 3f, 4f, 5f, 6f]], Signatures.FloatRows(rows));

        using var wrong = new RowSet(Signatures.Shaped(-1, 2, 3));
        var error = Assert.Throws<RecordException>(() => JsonRecordDecoder.DecodeLines("[[1,2],[3,4],[5,6]]\n"u8, wrong, false));
        Assert.Contains("do not match its shape", error.Message);
    }

    [Fact]
    public void ObjectsFeedEachInputByName()
    {
        using var rows = new RowSet(Signatures.TwoInputs());
        JsonRecordDecoder.DecodeLines("{\"b\": [1, 2], \"a\": [0.5, 1.5]}\n"u8, rows, false);
        Assert.Equal([0.5f, 1.5f], MemoryMarshal.Cast<byte, float>(rows.InputRow(0, 0)).ToArray());
        Assert.Equal([1L, 2L], MemoryMarshal.Cast<byte, long>(rows.InputRow(1, 0)).ToArray());
    }

    [Theory]
    [InlineData("[1,2]\n[1,2,3]\n", 1, "record 1: expected 2 values for input X, got 3")]
    [InlineData("[1,2]\n{oops\n", 1, "record 1: invalid JSON")]
    [InlineData("[1,2]\n\n[3,4]\n", 1, "record 1 is an empty line")]
    [InlineData("[1,\"a\"]\n", 0, "record 0: input X expects numbers")]
    [InlineData("[1,2] [3,4]\n", 0, "record 0: invalid JSON")]
    public void LineErrorsNameTheRecord(string body, long record, string message)
    {
        using var rows = new RowSet(Signatures.SingleInput(2));
        var error = Assert.Throws<RecordException>(() => JsonRecordDecoder.DecodeLines(Encoding.UTF8.GetBytes(body), rows, false));
        Assert.StartsWith(message, error.Message);
        Assert.Equal(record, error.Record);
    }

    [Fact]
    public void MissingInputIsNamed()
    {
        using var rows = new RowSet(Signatures.TwoInputs());
        var error = Assert.Throws<RecordException>(() => JsonRecordDecoder.DecodeLines("{\"a\": [1, 2]}\n"u8, rows, false));
        Assert.Contains("input 'b' is missing", error.Message);
    }

    [Theory]
    [InlineData("{\"instances\": [[1,2],[3,4]]}")]
    [InlineData("[[1,2],[3,4]]")]
    [InlineData("{\"instances\": [{\"X\": [1,2]}, {\"X\": [3,4]}]}")]
    [InlineData("{\"inputs\": {\"X\": [[1,2],[3,4]]}}")]
    public void DocumentsTakeEveryEnvelope(string body)
    {
        using var rows = new RowSet(Signatures.SingleInput(2));
        JsonRecordDecoder.DecodeDocument(Encoding.UTF8.GetBytes(body), rows, false);
        Assert.Equal([[1f, 2f], [3f, 4f]], Signatures.FloatRows(rows));
    }

    [Fact]
    public void ColumnarInputsMustAgreeOnRows()
    {
        using var rows = new RowSet(Signatures.TwoInputs());
        JsonRecordDecoder.DecodeDocument("{\"inputs\": {\"a\": [[1,2],[3,4]], \"b\": [[5,6],[7,8]]}}"u8, rows, false);
        Assert.Equal(2, rows.RowCount);
        Assert.Equal([7L, 8L], MemoryMarshal.Cast<byte, long>(rows.InputRow(1, 1)).ToArray());

        using var ragged = new RowSet(Signatures.TwoInputs());
        Assert.Throws<RecordException>(() => JsonRecordDecoder.DecodeDocument("{\"inputs\": {\"a\": [[1,2],[3,4]], \"b\": [[5,6]]}}"u8, ragged, false));
    }

    [Theory]
    [InlineData("{\"predict\": [[1,2]]}")]
    [InlineData("\"text\"")]
    [InlineData("{\"instances\": [[1,2]]} x")]
    [InlineData("{\"instances\": [[1,2]")]
    public void BadDocumentsAreRecordErrors(string body)
    {
        using var rows = new RowSet(Signatures.SingleInput(2));
        Assert.Throws<RecordException>(() => JsonRecordDecoder.DecodeDocument(Encoding.UTF8.GetBytes(body), rows, false));
    }

    [Fact]
    public void SingleRecordTakesTheBodyAsOneRecord()
    {
        using var rows = new RowSet(Signatures.SingleInput(2));
        JsonRecordDecoder.DecodeDocument("[1,2]"u8, rows, singleRecord: true);
        Assert.Equal([[1f, 2f]], Signatures.FloatRows(rows));

        using var two = new RowSet(Signatures.TwoInputs());
        JsonRecordDecoder.DecodeDocument("{\"a\": [1,2], \"b\": [3,4]}"u8, two, singleRecord: true);
        Assert.Equal(1, two.RowCount);

        using var many = new RowSet(Signatures.SingleInput(2));
        Assert.Throws<RecordException>(() => JsonRecordDecoder.DecodeDocument("{\"instances\": [[1,2],[3,4]]}"u8, many, singleRecord: true));
    }

    [Fact]
    public void EveryPrefixOfALinesBodyDecodesOrFailsCleanly()
    {
        var body = Encoding.UTF8.GetBytes("[1,2]\n{\"X\": [3, 4]}\r\n[5,6]");
        for (var length = 0; length <= body.Length; length++)
        {
            using var rows = new RowSet(Signatures.SingleInput(2));
            try
            {
                JsonRecordDecoder.DecodeLines(body.AsSpan(0, length), rows, false);
            }
            catch (RecordException e)
            {
                Assert.InRange(e.Record, 0, 2);
            }
        }
    }
}
