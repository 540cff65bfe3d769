using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Worker.Http;
using Worker.Inference.Ort;
using Worker.Output;
using Worker.Records;

namespace Worker.Tests.Output;

public class AnswerWriterTests
{
    private static readonly ModelSignature Widest = new(
        [new TensorInfo("X", TensorElementType.Float, [-1, 1])],
        [
            new TensorInfo("f", TensorElementType.Float, [-1, 3, 1]),
            new TensorInfo("d", TensorElementType.Double, [-1, 2]),
            new TensorInfo("l", TensorElementType.Int64, [-1]),
            new TensorInfo("b", TensorElementType.Bool, [-1, 2]),
            new TensorInfo("name \"quoted\"", TensorElementType.Int32, [-1, 1]),
        ]);

    private static readonly float[] Floats = [-1.17549435E-38f, -3.4028235E+38f, float.NaN];
    private static readonly double[] Doubles = [-2.2250738585072014E-308, double.MinValue];

    [Fact]
    public void WidestValuesFitAndReadBackInEveryFormat()
    {
        using var rows = Filled(200);
        var writer = new AnswerWriter(Widest);

        var csv = Write(writer, AnswerFormat.Csv, rows).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(200, csv.Length);
        Assert.Equal("-1.1754944E-38,-3.4028235E+38,NaN,-2.2250738585072014E-308,-1.7976931348623157E+308,-9223372036854775808,true,false,-2147483648", csv[0]);

        var lines = Write(writer, AnswerFormat.JsonLines, rows).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(200, lines.Length);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var f = json.RootElement.GetProperty("f");
            Assert.Equal(3, f.GetArrayLength());
            Assert.Equal(JsonValueKind.Null, f[2][0].ValueKind); // NaN has no JSON spelling
            Assert.Equal(-3.4028235E+38f, f[1][0].GetSingle());
            Assert.Equal(double.MinValue, json.RootElement.GetProperty("d")[1].GetDouble());
            Assert.Equal(long.MinValue, json.RootElement.GetProperty("l").GetInt64());
            Assert.False(json.RootElement.GetProperty("b")[1].GetBoolean());
            Assert.Equal(int.MinValue, json.RootElement.GetProperty("name \"quoted\"")[0].GetInt32());
        }

        using var document = JsonDocument.Parse(Write(writer, AnswerFormat.Json, rows));
        Assert.Equal(200, document.RootElement.GetProperty("predictions").GetArrayLength());
    }

    [Fact]
    public void FloatsRoundTripExactly()
    {
        var signature = new ModelSignature([new TensorInfo("X", TensorElementType.Float, [-1, 1])], [new TensorInfo("Y", TensorElementType.Float, [-1, 1])]);
        var random = new Random(2);
        var values = Enumerable.Range(0, 5000).Select(_ => BitConverter.Int32BitsToSingle(random.Next())).Where(float.IsFinite).ToArray();
        using var rows = new RowSet(signature, values.Length);
        foreach (var _ in values)
        {
            rows.AddRow();
        }

        rows.PrepareOutputs();
        for (var r = 0; r < values.Length; r++)
        {
            MemoryMarshal.Cast<byte, float>(rows.OutputRows(0, r, 1))[0] = values[r];
        }

        var text = Write(new AnswerWriter(signature), AnswerFormat.Csv, rows).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(values, text.Select(t => float.Parse(t, CultureInfo.InvariantCulture)));
    }

    private static RowSet Filled(int count)
    {
        var rows = new RowSet(Widest, count);
        for (var r = 0; r < count; r++)
        {
            rows.AddRow();
        }

        rows.PrepareOutputs();
        for (var r = 0; r < count; r++)
        {
            Floats.CopyTo(MemoryMarshal.Cast<byte, float>(rows.OutputRows(0, r, 1)));
            Doubles.CopyTo(MemoryMarshal.Cast<byte, double>(rows.OutputRows(1, r, 1)));
            MemoryMarshal.Cast<byte, long>(rows.OutputRows(2, r, 1))[0] = long.MinValue;
            rows.OutputRows(3, r, 1)[0] = 1;
            rows.OutputRows(3, r, 1)[1] = 0;
            MemoryMarshal.Cast<byte, int>(rows.OutputRows(4, r, 1))[0] = int.MinValue;
        }

        return rows;
    }

    private static string Write(AnswerWriter writer, AnswerFormat format, RowSet rows)
    {
        // A small first segment forces a new one mid-answer: every record must still fit its span.
        using var output = new PooledBufferWriter(64);
        writer.Write(format, rows, output);
        return Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(output.AsSequence()));
    }
}
