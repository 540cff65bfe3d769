using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Worker.Inference.Ort;
using Worker.Output;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

/// <summary>
/// Budgets of bytes allocated per record, measured with GC.GetAllocatedBytesForCurrentThread: no
/// timing, so CI catches a per-record allocation on a noisy machine. Each budget is under the
/// smallest object (24 bytes), so one allocation per record anywhere fails the test.
/// </summary>
public class AllocationBudgetTests
{
    private const int Records = 20_000;
    private const double BudgetBytesPerRecord = 1.0;

    public static TheoryData<string> Formats() => new()
    {
        "csv", "csv-quoted", "jsonl-array", "jsonl-object", "json-instances", "tfrecord", "recordio-protobuf", "recordio-raw",
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void DecodingAllocatesNothingPerRecord(string format)
    {
        var signature = Signatures.TwoInputsOr(format);
        var body = Body(format, signature);
        var decoder = new ProtoRecordDecoder(signature);

        Decode(format, body, signature, decoder); // warm the array pool and the JIT

        // The least of three runs: a GC under memory pressure from tests running alongside may trim
        // the array pool, so one run re-rents its row buffers; a per-record allocation shows in all three.
        var allocated = long.MaxValue;
        var rows = 0;
        for (var run = 0; run < 3; run++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            rows = Decode(format, body, signature, decoder);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(Records, rows);
        Assert.True(allocated / (double)Records < BudgetBytesPerRecord, $"{format}: {allocated} bytes for {Records} records");
    }

    [Theory]
    [InlineData(AnswerFormat.Csv)]
    [InlineData(AnswerFormat.JsonLines)]
    [InlineData(AnswerFormat.Json)]
    public void EncodingAllocatesNothingPerRecord(AnswerFormat format)
    {
        var signature = new ModelSignature(
            [new TensorInfo("X", TensorElementType.Float, [-1, 2])],
            [new TensorInfo("probabilities", TensorElementType.Float, [-1, 2]), new TensorInfo("label", TensorElementType.Int64, [-1])]);
        using var rows = new RowSet(signature, Records);
        for (var i = 0; i < Records; i++)
        {
            rows.AddRow();
        }

        rows.PrepareOutputs();
        for (var i = 0; i < Records; i++)
        {
            MemoryMarshal.Cast<byte, float>(rows.OutputRows(0, i, 1))[0] = i * 0.001f;
            MemoryMarshal.Cast<byte, long>(rows.OutputRows(1, i, 1))[0] = i % 3;
        }

        var writer = new AnswerWriter(signature);
        using var output = new Worker.Http.PooledBufferWriter(1 << 20);
        writer.Write(format, rows, output);
        output.Reset();

        // The least of three runs, as above.
        var allocated = long.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            writer.Write(format, rows, output);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
            output.Reset();
        }
        Assert.True(allocated / (double)Records < BudgetBytesPerRecord, $"{format}: {allocated} bytes for {Records} records");
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("jsonl")]
    [InlineData("jsonl-dynamic")]
    public void StringsAndDynamicAxesAllocateNothingPerRecord(string format)
    {
        // Strings go to the row set's UTF-8 arena and dynamic values to its value arena, both pooled
        // buffers grown by doubling: no object per record (an escaped JSON string rents its scratch).
        var dynamic = format == "jsonl-dynamic";
        ModelSignature signature = dynamic
            ? new([new TensorInfo("ids", TensorElementType.Int64, [-1, -1]) { DimNames = ["batch", "sequence"] }], [new TensorInfo("y", TensorElementType.Float, [-1, 1])])
            : new([new TensorInfo("text", TensorElementType.String, [-1, 2]), new TensorInfo("n", TensorElementType.UInt8, [-1, 1])], [new TensorInfo("y", TensorElementType.Float, [-1, 1])]);
        var text = new StringBuilder();
        for (var i = 0; i < Records; i++)
        {
            text.Append(format switch
            {
                "csv" => $"red,\"green, light\",{i % 256}\n",
                "jsonl" => $"{{\"text\": [\"red\", \"gr\\u0065en\"], \"n\": {i % 256}}}\n",
                _ => $"[{string.Join(",", Enumerable.Range(0, 1 + (i % 5)))}]\n",
            });
        }

        var body = Encoding.UTF8.GetBytes(text.ToString());
        int Run()
        {
            using var rows = new RowSet(signature, 1024);
            if (format == "csv")
            {
                CsvRecordDecoder.Decode(body, default, rows, false);
            }
            else
            {
                JsonRecordDecoder.DecodeLines(body, rows, false);
            }

            return rows.RowCount;
        }

        Run();
        var allocated = long.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Equal(Records, Run());
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(allocated / (double)Records < BudgetBytesPerRecord, $"{format}: {allocated} bytes for {Records} records");
    }

    private static int Decode(string format, byte[] body, ModelSignature signature, ProtoRecordDecoder decoder)
    {
        using var rows = new RowSet(signature, 1024);
        switch (format)
        {
            case "csv" or "csv-quoted":
                CsvRecordDecoder.Decode(body, default, rows, false);
                break;
            case "jsonl-array" or "jsonl-object":
                JsonRecordDecoder.DecodeLines(body, rows, false);
                break;
            case "json-instances":
                JsonRecordDecoder.DecodeDocument(body, rows, false);
                break;
            case "tfrecord":
                FramedRecords.Decode(new ReadOnlySequence<byte>(body), RecordFormat.TfRecord, decoder, rows, false);
                break;
            case "recordio-protobuf":
                FramedRecords.Decode(new ReadOnlySequence<byte>(body), RecordFormat.RecordIOProtobuf, decoder, rows, false);
                break;
            default:
                FramedRecords.Decode(new ReadOnlySequence<byte>(body), RecordFormat.RecordIO, decoder, rows, false);
                break;
        }

        return rows.RowCount;
    }

    private static byte[] Body(string format, ModelSignature signature)
    {
        var text = new StringBuilder();
        var payloads = new List<byte[]>();
        for (var i = 0; i < Records; i++)
        {
            float[] row = [i, -i, i * 0.5f, 1];
            switch (format)
            {
                case "csv": text.Append(string.Join(",", row)).Append('\n'); break;
                case "csv-quoted": text.Append(string.Join(",", row.Select(v => $"\"{v}\""))).Append("\r\n"); break;
                case "jsonl-array": text.Append('[').Append(string.Join(",", row)).Append("]\n"); break;
                case "jsonl-object": text.Append("{\"a\": [").Append(row[0]).Append(',').Append(row[1]).Append("], \"b\": [3, 4]}\n"); break;
                case "json-instances": text.Append(i == 0 ? "{\"instances\": [" : ",").Append('[').Append(string.Join(",", row)).Append(']'); break;
                case "tfrecord": payloads.Add(ProtoRecordDecoderTests.ExampleOf(("X", ProtoRecordDecoderTests.Floats(row))).ToByteArray()); break;
                case "recordio-protobuf": payloads.Add(ProtoRecordDecoderTests.DenseRecord("values", row).ToByteArray()); break;
                default: payloads.Add(MemoryMarshal.AsBytes(row.AsSpan()).ToArray()); break;
            }
        }

        return format switch
        {
            "tfrecord" => FrameWriters.TfRecord([.. payloads]),
            "recordio-protobuf" or "recordio-raw" => FrameWriters.RecordIO([.. payloads]),
            "json-instances" => Encoding.ASCII.GetBytes(text.Append("]}").ToString()),
            _ => Encoding.ASCII.GetBytes(text.ToString()),
        };
    }
}
