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

    [Fact]
    public void LongRowsAgreeWithTheReference()
    {
        // Rows of up to 40 values as writers print them ("," or ", " between values), some with a token
        // JSON refuses or the vector path does not take; each line is also decoded with a long line after
        // it, so the vector path (it loads past a line's end) reads it too.
        var random = new Random(8260);
        string[] odd = ["01", "1.", ".5", "+1", "1e5", "-", "1E-2", "\"1\"", "[1]", "0.5 0.5", "1\t", "-0", "00.5", "123456789012345678", "1.5\r"];
        for (var trial = 0; trial < 3000; trial++)
        {
            var columns = random.Next(1, 40);
            var values = Enumerable.Range(0, columns).Select(_ => random.Next(50) == 0
                ? odd[random.Next(odd.Length)]
                : Math.Round((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(0, 7)), random.Next(0, 8)).ToString(CultureInfo.InvariantCulture));
            var line = "[" + string.Join(random.Next(3) switch { 0 => ",", 1 => ", ", _ => " , " }, values) + "]";
            AssertSameAsReference(line, columns);
        }
    }

    [Fact]
    public void TheMaskedArrayPathEqualsTheBclAndTheWordPathOnEveryArrayItTakes()
    {
        var random = new Random(8261);
        var taken = 0;
        for (var trial = 0; trial < 20_000; trial++)
        {
            var columns = random.Next(1, 40);
            var values = Enumerable.Range(0, columns).Select(_ => random.Next(80) == 0
                ? new[] { "01", "1.", ".5", "+1", "1e5", "-", "", "\"1\"", "\n1", "1\r" }[random.Next(10)]
                : MathF.Round((random.NextSingle() - 0.5f) * MathF.Pow(10, random.Next(0, 6)), random.Next(0, 6)).ToString("R", CultureInfo.InvariantCulture)).ToArray();
            var text = Encoding.UTF8.GetBytes("[" + string.Join(random.Next(2) == 0 ? "," : ", ", values) + (random.Next(10) == 0 ? "" : "]") + new string('9', DelimiterBlocks.Margin));
            var masked = new float[random.Next(4) != 0 ? columns : random.Next(1, 40)];
            var words = new float[masked.Length];
            var maskedEnd = JsonRecordDecoder.TryReadFlatFloatArrayMasked(text, 1, masked);
            if (maskedEnd < 0)
            {
                continue;
            }

            // Every value it takes is the BCL's, bit for bit (exponents and long mantissas through
            // csFastFloat); where the word path takes the array too, the same end and values.
            taken++;
            Assert.Equal(values.Length, masked.Length);
            Assert.Equal(values.Select(v => BitConverter.SingleToInt32Bits(float.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture))), masked.Select(BitConverter.SingleToInt32Bits));
            var wordEnd = 0;
            if (JsonRecordDecoder.TryReadFlatFloatArrayWords(text, ref wordEnd, words))
            {
                Assert.Equal(wordEnd, maskedEnd);
                Assert.Equal(words.Select(BitConverter.SingleToInt32Bits), masked.Select(BitConverter.SingleToInt32Bits));
            }
        }

        Assert.True(taken > 2_000, $"the masked path took only {taken} arrays");
    }

    private static void AssertSameAsReference(string line, int columns)
    {
        float[]? expected = null;
        if (IsValidJsonRow(line, columns))
        {
            using var json = JsonDocument.Parse(line);
            expected = json.RootElement.EnumerateArray().Select(e => float.Parse(e.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
        }

        // Alone, and followed by a long valid line: the vector path reads past a line's end, so only the
        // second body lets it take the line (and must not let it run into the next one).
        var next = "[" + string.Join(", ", Enumerable.Repeat("1.5", columns)) + "]" + new string(' ', 100);
        foreach (var body in new[] { line + "\n", line + "\n" + next + "\n" })
        {
            using var rows = new RowSet(Signatures.SingleInput(columns));
            float[]? actual;
            try
            {
                JsonRecordDecoder.DecodeLines(Encoding.UTF8.GetBytes(body), rows, singleRecord: false);
                var decoded = Signatures.FloatRows(rows);
                Assert.Equal(body == line + "\n" ? 1 : 2, decoded.Length);
                actual = decoded[0];
            }
            catch (RecordException e)
            {
                Assert.Equal(0, e.Record);
                actual = null;
            }

            Assert.True(
                expected is null ? actual is null : actual is not null && expected.Select(BitConverter.SingleToInt32Bits).SequenceEqual(actual.Select(BitConverter.SingleToInt32Bits)),
                $"'{line}': expected {Show(expected)}, got {Show(actual)}");
        }
    }

    private static bool IsValidJsonRowOf3(string line) => IsValidJsonRow(line, 3);

    private static bool IsValidJsonRow(string line, int columns)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            return json.RootElement.ValueKind == JsonValueKind.Array
                && json.RootElement.GetArrayLength() == columns
                && json.RootElement.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Show(float[]? values) => values is null ? "rejection" : "[" + string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]";
}
