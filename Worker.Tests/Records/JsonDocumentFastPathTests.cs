using System.Globalization;
using System.Text;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

/// <summary>
/// The one-pass path for <c>{"instances": [[n, …], …]}</c> and <c>[[n, …], …]</c> must give exactly
/// what the Utf8JsonReader path gives: the same rows, or the same error.
/// </summary>
public class JsonDocumentFastPathTests
{
    [Theory]
    [InlineData("{\"instances\": [[1,2,3],[4,5,6]]}")]
    [InlineData(" {\n \"instances\" :\n [\n  [1, 2, 3],\n  [4, 5, 6]\n ]\n}\n")]
    [InlineData("[[1,2,3],[4,5,6]]")]
    [InlineData("\uFEFF[[1,2,3]]")]
    [InlineData("{\"instances\": []}")]
    [InlineData("[]")]
    [InlineData("{\"instances\": [[1,2,3],]}")]
    [InlineData("{\"instances\": [[1,2,3]]")]
    [InlineData("{\"instances\": [[1,2,3]]} x")]
    [InlineData("{\"instances\": [[1,2,3]], \"x\": 1}")]
    [InlineData("{\"inst\\u0061nces\": [[1,2,3]]}")]
    [InlineData("{\"instances\": [[1,2]]}")]
    [InlineData("{\"instances\": [[1,2,3,4]]}")]
    [InlineData("{\"instances\": [1,2,3]}")]
    [InlineData("{\"instances\": [[1,2,\"3\"]]}")]
    [InlineData("{\"inputs\": {\"X\": [[1,2,3]]}}")]
    [InlineData("[[1,2,3] [4,5,6]]")]
    public void AgreesWithTheReader(string body) => AssertSameAsReader(body, singleRecord: false);

    [Fact]
    public void AgreesWithTheReaderOnRandomDocuments()
    {
        var random = new Random(4417);
        string[] pieces = ["[", "]", ",", " ", "\n", "1", "-2.5", "1e3", "01", "+1", "\"", "{", "}", ":", "\"instances\"", "[1,2,3]", "[4,5,6]", "null"];
        for (var trial = 0; trial < 5000; trial++)
        {
            string body;
            if (random.Next(2) == 0)
            {
                var rows = Enumerable.Range(0, random.Next(0, 4)).Select(_ => "[" + string.Join(random.Next(2) == 0 ? "," : " , ",
                    Enumerable.Range(0, random.Next(2, 5)).Select(_ => ((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-6, 7)))).ToString("R", CultureInfo.InvariantCulture))) + "]");
                var array = "[" + string.Join(random.Next(2) == 0 ? "," : ",\n ", rows) + "]";
                body = random.Next(2) == 0 ? array : "{\"instances\":" + (random.Next(2) == 0 ? " " : "") + array + "}";
            }
            else
            {
                body = string.Concat(Enumerable.Range(0, random.Next(1, 10)).Select(_ => pieces[random.Next(pieces.Length)]));
            }

            AssertSameAsReader(body, singleRecord: false);
            AssertSameAsReader(body, singleRecord: true);
        }
    }

    private static void AssertSameAsReader(string body, bool singleRecord)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.Equal(Outcome(bytes, singleRecord, JsonRecordDecoder.DecodeDocumentWithReader), Outcome(bytes, singleRecord, JsonRecordDecoder.DecodeDocument));
    }

    private delegate void Decoder(ReadOnlySpan<byte> body, RowSet rows, bool singleRecord);

    private static string Outcome(byte[] body, bool singleRecord, Decoder decode)
    {
        using var rows = new RowSet(Signatures.SingleInput(3));
        try
        {
            decode(body, rows, singleRecord);
        }
        catch (RecordException e)
        {
            return $"error at record {e.Record}, byte {e.Offset}: {e.Message}";
        }

        return string.Join(" | ", Signatures.FloatRows(rows).Select(r => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
    }
}
