using System.Globalization;
using System.Text;
using Worker.Inference.Ort;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

public class CsvRecordDecoderTests
{
    public static TheoryData<string, float[][]> Valid() => new()
    {
        { "1,2,3\n4,5,6\n", [[1, 2, 3], [4, 5, 6]] },
        { "1,2,3\r\n4,5,6\r\n", [[1, 2, 3], [4, 5, 6]] },
        { "1,2,3\n4,5,6", [[1, 2, 3], [4, 5, 6]] },
        { "\uFEFF1,2,3\n", [[1, 2, 3]] },
        { "\"1\",\"2\",3\n", [[1, 2, 3]] },
        { "\" 1.5 \",2e3,-3\n", [[1.5f, 2000, -3]] },
        { "1,2,3\n\n\n", [[1, 2, 3]] },
        { "1,2,3\r\n\r\n", [[1, 2, 3]] },
        { "1.25,-0,NaN\n", [[1.25f, -0f, float.NaN]] },
        { "\"1\"\r\n".Replace("\"1\"", "\"1\",\"2\",\"3\""), [[1, 2, 3]] },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void DecodesRows(string csv, float[][] expected)
    {
        using var rows = new RowSet(Signatures.SingleInput(3));
        CsvRecordDecoder.Decode(Encoding.UTF8.GetBytes(csv), default, rows, singleRecord: false);
        Assert.Equal(expected, Signatures.FloatRows(rows));
    }

    [Fact]
    public void QuotedFieldsHoldCommasQuotesAndNewlinesAsText()
    {
        // A quoted field's bytes reach the value parser unescaped; here they fail as numbers, naming the value.
        using var rows = new RowSet(Signatures.SingleInput(2));
        var error = Assert.Throws<RecordException>(() =>
            CsvRecordDecoder.Decode("1,2\n3,\"a,\"\"b\"\"\nc\"\n"u8, default, rows, false));
        Assert.Equal(1, error.Record);
        Assert.Equal(4, error.Offset); // the record starts at byte 4
        Assert.Contains("value 1 'a,\"b\"\nc' is not a float32", error.Message);
    }

    [Fact]
    public void QuotedNewlineDoesNotEndTheRecord()
    {
        using var rows = new RowSet(Signatures.SingleInput(2));
        CsvRecordDecoder.Decode("\"1\n\",2\n3,4\n"u8, default, rows, false);
        Assert.Equal(2, rows.RowCount); // "1\n" fails no parse: float.Parse allows trailing whitespace
    }

    [Fact]
    public void HeaderPresentSkipsTheFirstRow()
    {
        using var rows = new RowSet(Signatures.SingleInput(2));
        CsvRecordDecoder.Decode("a,b\n1,2\n"u8, new CsvOptions(HasHeader: true), rows, false);
        Assert.Equal([[1f, 2f]], Signatures.FloatRows(rows));
    }

    [Fact]
    public void DecodesIntoEveryElementType()
    {
        foreach (var type in new[] { TensorElementType.Double, TensorElementType.Int32, TensorElementType.Int64 })
        {
            using var rows = new RowSet(Signatures.SingleInput(2, type));
            CsvRecordDecoder.Decode("7,-8\n"u8, default, rows, false);
            var row = rows.InputRow(0, 0);
            var values = type switch
            {
                TensorElementType.Double => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(row).ToArray(),
                TensorElementType.Int32 => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(row).ToArray().Select(v => (double)v).ToArray(),
                _ => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(row).ToArray().Select(v => (double)v).ToArray(),
            };
            Assert.Equal([7.0, -8.0], values);
        }

        using var ints = new RowSet(Signatures.SingleInput(1, TensorElementType.Int64));
        Assert.Throws<RecordException>(() => CsvRecordDecoder.Decode("1.5\n"u8, default, ints, false));
    }

    [Theory]
    [InlineData("1,2,3\n4,5\n", 1, 6, "record 1: expected 3 values, got 2")]
    [InlineData("1,2,3\n4,5,6,7\n", 1, 6, "record 1: expected 3 values, got 4")]
    [InlineData("1,2,3\n\n4,5,6\n", 1, 6, "record 1 is an empty line")]
    [InlineData("1,,3\n", 0, 0, "record 0: value 1 is empty")]
    [InlineData("1,x,3\n", 0, 0, "record 0: value 1 'x' is not a float32")]
    [InlineData("1,2,\"3\n", 0, 0, "record 0: quoted field starting at byte 4 is never closed")]
    [InlineData("1,2,\"3\"x\n", 0, 0, "record 0: unexpected character after a closing quote at byte 7")]
    public void RejectsWithRecordAndOffset(string csv, long record, long offset, string message)
    {
        using var rows = new RowSet(Signatures.SingleInput(3));
        var error = Assert.Throws<RecordException>(() => CsvRecordDecoder.Decode(Encoding.UTF8.GetBytes(csv), default, rows, false));
        Assert.Equal(message, error.Message);
        Assert.Equal(record, error.Record);
        Assert.Equal(offset, error.Offset);
    }

    [Fact]
    public void SingleRecordRefusesASecondRecord()
    {
        using var rows = new RowSet(Signatures.SingleInput(3));
        var error = Assert.Throws<RecordException>(() => CsvRecordDecoder.Decode("1,2,3\n4,5,6\n"u8, default, rows, singleRecord: true));
        Assert.Contains("SINGLE_RECORD", error.Message);
        using var one = new RowSet(Signatures.SingleInput(3));
        CsvRecordDecoder.Decode("1,2,3\n"u8, default, one, singleRecord: true);
        Assert.Equal(1, one.RowCount);
    }

    [Fact]
    public void SeveralInputsTakeARowsValuesInInputOrder()
    {
        using var rows = new RowSet(Signatures.TwoInputs());
        CsvRecordDecoder.Decode("0.5,1,2,3\n-1,\"4\",5,-6\n"u8, default, rows, false);
        Assert.Equal([[0.5f, 1], [-1, 4]], Signatures.FloatRows(rows, 0));
        Assert.Equal([2L, 3, 5, -6], Enumerable.Range(0, 2).SelectMany(r => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(rows.InputRow(1, r)).ToArray()));

        using var wrongType = new RowSet(Signatures.TwoInputs());
        var error = Assert.Throws<RecordException>(() => CsvRecordDecoder.Decode("0.5,1,2,3.5\n"u8, default, wrongType, false));
        Assert.Contains("value 3 '3.5' is not a int64 (input b)", error.Message);
    }

    [Fact]
    public void AHeaderMapsColumnsToOneValueInputsByName()
    {
        using var rows = new RowSet(Signatures.DataFrame());
        CsvRecordDecoder.Decode("flag,count,x\nTrue,3,0.25\nfalse,-1,2\n"u8, new CsvOptions(HasHeader: true), rows, false);
        Assert.Equal(2, rows.RowCount);
        Assert.Equal([[0.25f], [2f]], Signatures.FloatRows(rows, 0));
        Assert.Equal([3L, -1], Enumerable.Range(0, 2).Select(r => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(rows.InputRow(1, r))[0]));
        Assert.Equal([(byte)1, (byte)0], Enumerable.Range(0, 2).Select(r => rows.InputRow(2, r)[0]));
    }

    [Fact]
    public void EveryPrefixAndEveryDamageOfAHeaderedBodyDecodesOrFailsCleanly()
    {
        var body = Encoding.UTF8.GetBytes("\"flag\",count,x\r\nTrue,3,0.25\nfalse,\"-1\",2\r\n1,7,1e3\n");
        for (var length = 0; length <= body.Length; length++)
        {
            using var rows = new RowSet(Signatures.DataFrame());
            try
            {
                CsvRecordDecoder.Decode(body.AsSpan(0, length), new CsvOptions(HasHeader: true), rows, false);
                Assert.InRange(rows.RowCount, 0, 3);
            }
            catch (RecordException e)
            {
                Assert.InRange(e.Offset, 0, length);
            }
        }

        var random = new Random(11);
        for (var trial = 0; trial < 2_000; trial++)
        {
            var damaged = (byte[])body.Clone();
            damaged[random.Next(damaged.Length)] = (byte)"a,\"\n\r1x"[random.Next(7)];
            using var rows = new RowSet(Signatures.DataFrame());
            try
            {
                CsvRecordDecoder.Decode(damaged, new CsvOptions(HasHeader: true), rows, false);
                Assert.InRange(rows.RowCount, 0, 3);
            }
            catch (RecordException e)
            {
                Assert.InRange(e.Offset, 0, damaged.Length);
            }
        }
    }

    [Fact]
    public void EveryPrefixOfATrickyBodyDecodesOrFailsCleanly()
    {
        var body = Encoding.UTF8.GetBytes("\uFEFF1,\"2\",3\r\n\"4\"\"\",5,6\n7,\"8\n\",9\r\n10,11,12");
        for (var length = 0; length <= body.Length; length++)
        {
            using var rows = new RowSet(Signatures.SingleInput(3));
            try
            {
                CsvRecordDecoder.Decode(body.AsSpan(0, length), default, rows, false);
            }
            catch (RecordException e)
            {
                Assert.InRange(e.Record, 0, 3);
                Assert.InRange(e.Offset, 0, length);
            }
        }
    }

    [Fact]
    public void TheMaskedRowPathEqualsTheWordRowPathAndTheBclOnEveryRowItTakes()
    {
        // Rows of random fields (short decimals, pandas' 17 digits, numpy's exponents, some not plain
        // numbers), with a long tail so the block loads fit: a row the masked path takes must give
        // each field's BCL value, bit for bit, and the line's end; where the word path takes it too,
        // the same end and values.
        var random = new Random(4181);
        string[] odd = ["+1", "1e3", "\"2\"", "", " 1", "1.", ".5", "0000012.5", "123456789", "-", "1\r2", "nan", "1.2.3", "1e", "--1", "1.5E+05", "2e-05", "1.e-05", ".e-05", "e-05", "-e-05", "1.5e-0:", "1.5f-05", "1.5e*05", "1.2.3e-05", "1.5e-5", "6e+10", "1e-45"];
        var taken = 0;
        var takenLong = 0;
        for (var trial = 0; trial < 20_000; trial++)
        {
            var columns = random.Next(1, 40);
            var style = random.Next(3);
            var fields = Enumerable.Range(0, columns).Select(_ => random.Next(60) == 0
                ? odd[random.Next(odd.Length)]
                : style switch
                {
                    0 => MathF.Round((random.NextSingle() - 0.5f) * MathF.Pow(10, random.Next(0, 6)), random.Next(0, 6)).ToString("R", CultureInfo.InvariantCulture),
                    1 => ((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 6))).ToString("R", CultureInfo.InvariantCulture),
                    _ => ((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-9, 9)))).ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal),
                }).ToArray();
            var lineEnd = random.Next(5) switch { 0 or 1 => "\r\n", 2 or 3 => "\n", _ => random.Next(2) == 0 ? "\r" : "," };
            var line = string.Join(",", fields) + lineEnd;
            var body = Encoding.UTF8.GetBytes(line + new string('9', DelimiterBlocks.Margin));
            var masked = new float[random.Next(4) != 0 ? columns : random.Next(1, 40)];
            var word = new float[masked.Length];
            var maskedEnd = CsvRecordDecoder.TryReadPlainFloatRowMasked(body, 0, masked);
            if (maskedEnd < 0)
            {
                continue;
            }

            taken++;
            takenLong += style == 0 ? 0 : 1;
            Assert.Equal(line.Length, maskedEnd);
            Assert.Equal(fields.Length, masked.Length);
            Assert.Equal(fields.Select(f => BitConverter.SingleToInt32Bits(float.Parse(f, NumberStyles.Float, CultureInfo.InvariantCulture))), masked.Select(BitConverter.SingleToInt32Bits));
            var wordEnd = CsvRecordDecoder.TryReadPlainFloatRow(body, 0, word);
            if (wordEnd > 0)
            {
                Assert.Equal(maskedEnd, wordEnd);
                Assert.Equal(word.Select(BitConverter.SingleToInt32Bits), masked.Select(BitConverter.SingleToInt32Bits));
            }
        }

        Assert.True(taken > 2_000, $"the masked path took only {taken} rows");
        Assert.True(takenLong > 1_000, $"the masked path took only {takenLong} rows of long numbers");
    }

    [Fact]
    public void EveryPrefixOfALongBodyDecodesAsItsRowsOrFailsCleanly()
    {
        // Long enough that whole rows take the masked path, cut at every byte so each way a row meets
        // the body's end (mid-number, mid-row, at the line end) is seen once.
        var random = new Random(7);
        var lines = Enumerable.Range(0, 12).Select(r => string.Join(",", Enumerable.Range(0, 9).Select(c => r == 5 && c == 4 ? "\"3.5\"" : (MathF.Round((random.NextSingle() - 0.5f) * 2000, 3)).ToString("R", CultureInfo.InvariantCulture)))).ToArray();
        var text = string.Join("\r\n", lines) + "\r\n";
        var body = Encoding.UTF8.GetBytes(text);
        for (var length = 0; length <= body.Length; length++)
        {
            // What the prefix must give, read field by field with the BCL: its rows, or an error at the first row that is short or not numbers.
            var prefix = text[..length];
            var prefixLines = prefix.TrimEnd('\r').Split("\r\n").Where((line, i) => i < prefix.Split("\r\n").Length - 1 || line.Length > 0).ToArray();
            var expected = new List<float[]>();
            long? failing = null;
            foreach (var line in prefixLines)
            {
                var fields = line.Split(',').Select(f => f.Length >= 2 && f[0] == '"' && f[^1] == '"' ? f[1..^1] : f).ToArray();
                if (fields.Length != 9 || fields.Any(f => !float.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out _) || f.Contains('"')))
                {
                    failing = expected.Count;
                    break;
                }

                expected.Add(fields.Select(f => float.Parse(f, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray());
            }

            using var rows = new RowSet(Signatures.SingleInput(9));
            try
            {
                CsvRecordDecoder.Decode(body.AsSpan(0, length), default, rows, false);
                Assert.Null(failing);
                Assert.Equal(expected, Signatures.FloatRows(rows));
            }
            catch (RecordException e)
            {
                Assert.Equal(failing, e.Record);
            }
        }
    }

    [Fact]
    public void DamagedBodiesDecodeOrFailWithARecordError()
    {
        // Valid CSV and JSON Lines bodies of many rows with a few bytes overwritten and a random end:
        // the fast paths read the rows before the damage, meet it, and must answer with rows or a
        // RecordException, never another exception (an index past the end would crash the request).
        var random = new Random(99);
        byte[] damage = "0123456789-+.eE,,\n\r\" []\t"u8.ToArray();
        for (var trial = 0; trial < 1500; trial++)
        {
            var columns = random.Next(1, 20);
            var json = random.Next(2) == 0;
            var lines = Enumerable.Range(0, random.Next(1, 60)).Select(_ =>
            {
                var values = Enumerable.Range(0, columns).Select(_ => MathF.Round((random.NextSingle() - 0.5f) * 2000, random.Next(0, 5)).ToString("R", CultureInfo.InvariantCulture));
                return json ? "[" + string.Join(", ", values) + "]" : string.Join(",", values);
            });
            var body = Encoding.UTF8.GetBytes(string.Join(random.Next(2) == 0 ? "\n" : "\r\n", lines) + "\n");
            for (var hits = random.Next(0, 4); hits > 0; hits--)
            {
                body[random.Next(body.Length)] = damage[random.Next(damage.Length)];
            }

            body = body[..random.Next(body.Length / 2, body.Length + 1)];
            var lineCount = body.Count((byte)'\n') + 1;
            using var rows = new RowSet(Signatures.SingleInput(columns));
            try
            {
                if (json)
                {
                    JsonRecordDecoder.DecodeLines(body, rows, false);
                }
                else
                {
                    CsvRecordDecoder.Decode(body, default, rows, false);
                }

                Assert.InRange(rows.RowCount, 0, lineCount);
            }
            catch (RecordException e)
            {
                // The error names a record and a byte of the body that exist.
                Assert.InRange(e.Record, 0, lineCount - 1);
                Assert.InRange(e.Offset, 0, body.Length);
            }
        }
    }

    [Fact]
    public void RowsGrowPastTheInitialCapacity()
    {
        var csv = new StringBuilder();
        for (var i = 0; i < 10_000; i++)
        {
            csv.Append(i).Append(',').Append(-i).Append(",0.5\n");
        }

        using var rows = new RowSet(Signatures.SingleInput(3), expectedRows: 2);
        CsvRecordDecoder.Decode(Encoding.UTF8.GetBytes(csv.ToString()), default, rows, false);
        Assert.Equal(10_000, rows.RowCount);
        Assert.Equal([9999f, -9999f, 0.5f], Signatures.FloatRows(rows)[9999]);
    }
}
