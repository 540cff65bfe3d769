using System.Globalization;
using System.Text;
using System.Text.Json;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

/// <summary>The one-pass path for flat float arrays must accept exactly what JSON accepts, with the same values.</summary>
public class JsonLinesFastPathTests
{
    [Theory]
    [InlineData("[1,2,3]", true)]
    [InlineData(" [ 1 , -2.5e1 ,3 ] \r", true)]
    [InlineData("[0.000001,1E2,-0]", true)]
    [InlineData("[123456789012,2,3]", true)]
    [InlineData("[+1,2,3]", false)]
    [InlineData("[01,2,3]", false)]
    [InlineData("[1.,2,3]", false)]
    [InlineData("[.5,2,3]", false)]
    [InlineData("[1,2,3,]", false)]
    [InlineData("[1 2,3]", false)]
    [InlineData("[1,2,3] x", false)]
    [InlineData("[1,2,3]]", false)]
    [InlineData("[1,2", false)]
    [InlineData("[1e,2,3]", false)]
    [InlineData("[NaN,2,3]", false)]
    [InlineData("[1,2,\"3\"]", false)]
    public void AcceptsWhatJsonAccepts(string line, bool valid)
    {
        Assert.Equal(valid, IsValidJsonRowOf3(line));
        AssertSameAsReference(line, 3);
    }

    [Fact]
    public void AgreesWithTheReferenceOnRandomLines()
    {
        var random = new Random(8259);
        string[] pieces = ["0", "1", "-", "+", ".", "e", "E", "5", "9", "00", " ", ",", "]", "[", "\"", "7.25", "-0.5", "1e-3", "123456789"];
        for (var trial = 0; trial < 5000; trial++)
        {
            string line;
            if (random.Next(2) == 0)
            {
                var values = Enumerable.Range(0, 3).Select(_ => random.Next(3) switch
                {
                    0 => ((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-8, 9)))).ToString("R", CultureInfo.InvariantCulture),
                    1 => random.Next(-1000, 1000).ToString(CultureInfo.InvariantCulture),
                    _ => ((random.NextDouble() - 0.5) * 100).ToString("E4", CultureInfo.InvariantCulture),
                });
                line = "[" + string.Join(random.Next(2) == 0 ? "," : " , ", values) + "]";
            }
            else
            {
                line = "[" + string.Concat(Enumerable.Range(0, random.Next(1, 8)).Select(_ => pieces[random.Next(pieces.Length)])) + "]";
            }

            AssertSameAsReference(line, 3);
        }
    }

    private static void AssertSameAsReference(string line, int columns)
    {
        float[]? expected = null;
        if (IsValidJsonRowOf3(line))
        {
            using var json = JsonDocument.Parse(line);
            expected = json.RootElement.EnumerateArray().Select(e => float.Parse(e.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
        }

        using var rows = new RowSet(Signatures.SingleInput(columns));
        float[]? actual;
        try
        {
            JsonRecordDecoder.DecodeLines(Encoding.UTF8.GetBytes(line + "\n"), rows, singleRecord: false);
            actual = Assert.Single(Signatures.FloatRows(rows));
        }
        catch (RecordException)
        {
            actual = null;
        }

        Assert.True(
            expected is null ? actual is null : actual is not null && expected.Select(BitConverter.SingleToInt32Bits).SequenceEqual(actual.Select(BitConverter.SingleToInt32Bits)),
            $"'{line}': expected {Show(expected)}, got {Show(actual)}");
    }

    private static bool IsValidJsonRowOf3(string line)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            return json.RootElement.ValueKind == JsonValueKind.Array
                && json.RootElement.GetArrayLength() == 3
                && json.RootElement.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Show(float[]? values) => values is null ? "rejection" : "[" + string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]";
}
