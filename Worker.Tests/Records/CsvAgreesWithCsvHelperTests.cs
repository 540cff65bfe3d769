using System.Globalization;
using System.Text;
using CsvHelper;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

/// <summary>The worker's CSV decoder against CsvHelper, the general-case RFC 4180 reader, on the same bytes.</summary>
public class CsvAgreesWithCsvHelperTests
{
    public static TheoryData<string> Corpus() => new()
    {
        "1,2,3\n4,5,6\n",
        "1,2,3\r\n4,5,6\r\n",
        "1,2,3\n4,5,6",
        "\uFEFF1,2,3\n",
        "\"1\",\"2\",\"3\"\n",
        "\"1\",2,\"3\"\r\n\"4\",\"5\",6\r\n",
        "\" 1.5\",2e3,-3\n",
        "1,2,3\n\n",
        "-0,1e-7,3.4028235E+38\n",
        "\"1\r\n\",2,3\n",
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void AgreesOnTheCorpus(string csv) => AssertAgree(Encoding.UTF8.GetBytes(csv), 3);

    [Fact]
    public void AgreesOnRandomBodies()
    {
        var random = new Random(4180);
        for (var trial = 0; trial < 300; trial++)
        {
            var columns = random.Next(1, 6);
            var body = RandomBody(random, columns, rows: random.Next(1, 12), quoteOneIn: 3, field: value => random.Next(3) switch
            {
                0 => ((float)(value * Math.Pow(10, random.Next(-5, 8)))).ToString("R", CultureInfo.InvariantCulture),
                1 => ((float)(value * Math.Pow(10, random.Next(-5, 8)))).ToString("E3", CultureInfo.InvariantCulture),
                _ => ((int)(value * Math.Pow(10, random.Next(-5, 8)))).ToString(CultureInfo.InvariantCulture),
            });
            AssertAgree(body, columns);
        }
    }

    [Fact]
    public void AgreesOnLongRandomBodies()
    {
        // Bodies of hundreds of rows, so most rows take the vector row path (it needs a block of bytes
        // after the row) and the rest meet the body's end or a quoted or unusual field on the way.
        var random = new Random(4182);
        for (var trial = 0; trial < 40; trial++)
        {
            var columns = random.Next(1, 30);
            var body = RandomBody(random, columns, rows: random.Next(50, 400), quoteOneIn: 30, field: value =>
            {
                value *= Math.Pow(10, random.Next(-3, 6));
                return random.Next(40) switch
                {
                    0 => ((float)value).ToString("E3", CultureInfo.InvariantCulture),
                    1 => "+" + ((int)Math.Abs(value)).ToString(CultureInfo.InvariantCulture),
                    2 => "000" + ((int)Math.Abs(value)).ToString(CultureInfo.InvariantCulture) + ".",
                    _ => Math.Round(value, random.Next(0, 7)).ToString(CultureInfo.InvariantCulture),
                };
            });
            AssertAgree(body, columns);
        }
    }

    /// <summary>Rows of fields made by <paramref name="field"/> from a value in [-0.5, 0.5), some quoted, LF or CRLF, maybe a BOM, maybe a last line end.</summary>
    private static byte[] RandomBody(Random random, int columns, int rows, int quoteOneIn, Func<double, string> field)
    {
        var crlf = random.Next(2) == 0;
        var text = new StringBuilder(random.Next(4) == 0 ? "\uFEFF" : "");
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                var value = field(random.NextDouble() - 0.5);
                text.Append(c > 0 ? "," : "").Append(random.Next(quoteOneIn) == 0 ? $"\"{value}\"" : value);
            }

            if (r < rows - 1 || random.Next(2) == 0)
            {
                text.Append(crlf ? "\r\n" : "\n");
            }
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static void AssertAgree(byte[] body, int columns)
    {
        using var rows = new RowSet(Signatures.SingleInput(columns));
        CsvRecordDecoder.Decode(body, default, rows, singleRecord: false);
        Assert.Equal(ReadWithCsvHelper(body), Signatures.FloatRows(rows));
    }

    private static float[][] ReadWithCsvHelper(byte[] body)
    {
        // CsvHelper 34's reader over the same UTF-8 bytes, in strict RFC 4180 mode.
        var options = new CsvReaderOptions { HasHeader = false, Mode = CsvMode.Rfc4180, Separator = ',', SkipEmptyLines = true };
        var text = Encoding.UTF8.GetString(body).TrimStart('\uFEFF');
        using var csv = CsvReader.FromText(text, options);
        var rows = new List<float[]>();
        while (csv.Read())
        {
            var row = new float[csv.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = float.Parse(csv.GetString(i), NumberStyles.Float, CultureInfo.InvariantCulture);
            }

            rows.Add(row);
        }

        return [.. rows];
    }
}
