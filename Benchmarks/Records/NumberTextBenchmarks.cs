using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using nietras.SeparatedValues;
using Worker.Inference.Ort;
using Worker.Records;

namespace Benchmarks.Records;

/// <summary>How users' tools write numbers: the text a float32 row becomes.</summary>
public enum NumberStyle
{
    /// <summary>pandas <c>to_csv</c> of float64 columns: shortest round trip, up to 17 digits (-8.287016868591309).</summary>
    PandasFloat64,

    /// <summary>numpy and Spark float32: shortest round trip, up to 9 digits, exponents (1.5e-05).</summary>
    NumpyFloat32,

    /// <summary>Four decimals, the shape of this project's first benchmarks (12.3456).</summary>
    ShortDecimals,
}

/// <summary>
/// CSV and JSON Lines → float32 rows (16 columns, ~10 MiB, one core) on number text as pandas, numpy
/// and Spark write it, side by side, with Sep 0.17.1 (the fastest .NET CSV reader, csFastFloat inside)
/// parsing the same CSV bytes to floats as the anchor. MB/s = payload bytes ÷ median.
/// </summary>
[MemoryDiagnoser]
public class NumberTextBenchmarks
{
    private const int Columns = 16;
    private readonly ModelSignature _signature = Payloads.Signature(Columns);
    private byte[] _csv = [];
    private byte[] _jsonLines = [];
    private float[] _sepRow = new float[Columns];

    [Params(NumberStyle.PandasFloat64, NumberStyle.NumpyFloat32, NumberStyle.ShortDecimals)]
    public NumberStyle Style { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _csv = Text(Style, json: false);
        _jsonLines = Text(Style, json: true);
        Console.WriteLine($"// {Style}: CSV {_csv.Length} bytes, JSON Lines {_jsonLines.Length} bytes; first row: {Encoding.ASCII.GetString(_csv, 0, _csv.AsSpan().IndexOf((byte)'\n'))}");
    }

    /// <summary>~10 MiB of rows in the style; the same random values for every style.</summary>
    public static byte[] Text(NumberStyle style, bool json)
    {
        var random = new Random(1);
        var output = new MemoryStream(Payloads.TargetBytes + 4096);
        var fields = new string[Columns];
        while (output.Length < Payloads.TargetBytes)
        {
            for (var c = 0; c < Columns; c++)
            {
                var value = (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-6, 4));
                fields[c] = style switch
                {
                    NumberStyle.PandasFloat64 => value.ToString("R", CultureInfo.InvariantCulture),
                    NumberStyle.NumpyFloat32 => ((float)value).ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal),
                    _ => Math.Round(value, 4).ToString("0.0###", CultureInfo.InvariantCulture),
                };
            }

            output.Write(Encoding.ASCII.GetBytes(json ? "[" + string.Join(",", fields) + "]\n" : string.Join(",", fields) + "\n"));
        }

        return output.ToArray();
    }

    [Benchmark(Baseline = true, Description = "worker CSV -> float32 rows")]
    public int WorkerCsv()
    {
        using var rows = new RowSet(_signature, 65536);
        CsvRecordDecoder.Decode(_csv, default, rows, singleRecord: false);
        return rows.RowCount;
    }

    [Benchmark(Description = "Sep CSV -> float32 (anchor)")]
    public int SepCsv()
    {
        using var reader = Sep.Reader(o => o with { HasHeader = false }).From(_csv);
        var count = 0;
        foreach (var row in reader)
        {
            for (var c = 0; c < Columns; c++)
            {
                _sepRow[c] = row[c].Parse<float>();
            }

            count++;
        }

        return count;
    }

    [Benchmark(Description = "worker JSON Lines -> float32 rows")]
    public int WorkerJsonLines()
    {
        using var rows = new RowSet(_signature, 65536);
        JsonRecordDecoder.DecodeLines(_jsonLines, rows, singleRecord: false);
        return rows.RowCount;
    }
}
