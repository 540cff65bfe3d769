using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Worker.Formats.SageMaker;
using Worker.Formats.TensorFlow;
using Worker.Inference.Ort;
using Worker.Records;

namespace Benchmarks.Records;

/// <summary>Deterministic ~10 MiB payloads of numeric rows in every format, and writers for the framings.</summary>
public static class Payloads
{
    public const int TargetBytes = 10 * 1024 * 1024;

    public static ModelSignature Signature(int columns) =>
        new([new TensorInfo("X", TensorElementType.Float, [-1, columns])], [new TensorInfo("Y", TensorElementType.Float, [-1, 1])]);

    public static float[] Row(Random random, int columns)
    {
        var row = new float[columns];
        for (var i = 0; i < columns; i++)
        {
            row[i] = MathF.Round((random.NextSingle() * 200) - 100, 4);
        }

        return row;
    }

    public static byte[] Csv(int columns, int targetBytes = TargetBytes) => Build(PayloadFormat.Csv, columns, targetBytes);

    public static byte[] JsonLines(int columns, int targetBytes = TargetBytes) => Build(PayloadFormat.JsonLines, columns, targetBytes);

    /// <summary><c>{"instances": [[…], …]}</c> of about <paramref name="targetBytes"/>.</summary>
    public static byte[] JsonInstances(int columns, int targetBytes = TargetBytes)
    {
        var random = new Random(1);
        var rows = new List<float[]>();
        for (var bytes = 0L; bytes < targetBytes; bytes += JsonLineBytes(rows[^1]))
        {
            rows.Add(Row(random, columns));
        }

        return Encode(PayloadFormat.Json, rows);
    }

    public static byte[] TfRecordExamples(int columns, int targetBytes = TargetBytes) => Build(PayloadFormat.TfRecordExamples, columns, targetBytes);

    public static byte[] RecordIOProtobuf(int columns, int targetBytes = TargetBytes) => Build(PayloadFormat.RecordIOProtobuf, columns, targetBytes);

    public static byte[] RecordIORaw(int columns, int targetBytes = TargetBytes) => Build(PayloadFormat.RecordIORaw, columns, targetBytes);

    /// <summary>The given rows, one record each, in the format (the JSON document holds them as "instances").</summary>
    public static byte[] Encode(PayloadFormat format, IReadOnlyList<float[]> rows)
    {
        var output = new MemoryStream();
        if (format == PayloadFormat.Json)
        {
            output.Write("{\"instances\":["u8);
            for (var r = 0; r < rows.Count; r++)
            {
                output.Write(Encoding.ASCII.GetBytes((r > 0 ? ",[" : "[") + string.Join(",", rows[r].Select(F)) + "]"));
            }

            output.Write("]}"u8);
            return output.ToArray();
        }

        var write = RecordWriter(format);
        foreach (var row in rows)
        {
            write(output, row);
        }

        return output.ToArray();
    }

    public static string ContentType(PayloadFormat format) => format switch
    {
        PayloadFormat.Csv => "text/csv",
        PayloadFormat.JsonLines => "application/jsonlines",
        PayloadFormat.Json => "application/json",
        PayloadFormat.TfRecordExamples => "application/x-tfrecord",
        PayloadFormat.RecordIOProtobuf => "application/x-recordio-protobuf",
        _ => "application/x-recordio",
    };

    /// <summary>Opaque 1 KiB records, for the framing alone.</summary>
    public static byte[] OpaqueRecords(bool tfRecord, int recordBytes = 1024, int targetBytes = TargetBytes)
    {
        var random = new Random(1);
        var output = new MemoryStream();
        while (output.Length < targetBytes)
        {
            var data = new byte[recordBytes];
            random.NextBytes(data);
            if (tfRecord)
            {
                TfRecord(output, data);
            }
            else
            {
                // Random data may hold the magic at an aligned offset; keep the benchmark to whole records.
                for (var i = 0; i + 4 <= data.Length; i += 4)
                {
                    if (BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(i)) == RecordIOReader.Magic)
                    {
                        data[i] ^= 1;
                    }
                }

                RecordIO(output, data);
            }
        }

        return output.ToArray();
    }

    public static void TfRecord(Stream output, byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Mask(Crc32C.Compute(header[..8])));
        output.Write(header);
        output.Write(data);
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Mask(Crc32C.Compute(data)));
        output.Write(footer);
    }

    public static void RecordIO(Stream output, byte[] data)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(header, RecordIOReader.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)data.Length);
        output.Write(header);
        output.Write(data);
        for (var pad = data.Length; pad % 4 != 0; pad++)
        {
            output.WriteByte(0);
        }
    }

    private static string F(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static int JsonLineBytes(float[] row) => 2 + row.Sum(v => F(v).Length + 1);

    private static byte[] Build(PayloadFormat format, int columns, int targetBytes)
    {
        var random = new Random(1);
        var write = RecordWriter(format);
        var output = new MemoryStream(targetBytes + 4096);
        while (output.Length < targetBytes)
        {
            write(output, Row(random, columns));
        }

        return output.ToArray();
    }

    private static Action<Stream, float[]> RecordWriter(PayloadFormat format) => format switch
    {
        PayloadFormat.Csv => (output, row) => output.Write(Encoding.ASCII.GetBytes(string.Join(",", row.Select(F)) + "\n")),
        PayloadFormat.JsonLines => (output, row) => output.Write(Encoding.ASCII.GetBytes("[" + string.Join(",", row.Select(F)) + "]\n")),
        PayloadFormat.TfRecordExamples => (output, row) =>
            TfRecord(output, new Example { Features = new Features { Feature = { ["X"] = new Feature { FloatList = new FloatList { Value = { row } } } } } }.ToByteArray()),
        PayloadFormat.RecordIOProtobuf => (output, row) =>
            RecordIO(output, new Record { Features = { ["values"] = new Value { Float32Tensor = new Float32Tensor { Values = { row } } } } }.ToByteArray()),
        PayloadFormat.RecordIORaw => (output, row) => RecordIO(output, System.Runtime.InteropServices.MemoryMarshal.AsBytes(row.AsSpan()).ToArray()),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not a record stream"),
    };
}

public enum PayloadFormat
{
    Csv,
    JsonLines,
    Json,
    TfRecordExamples,
    RecordIOProtobuf,
    RecordIORaw,
}
