using System.Buffers;
using BenchmarkDotNet.Attributes;
using Worker.Inference.Ort;
using Worker.Records;

namespace Benchmarks.Records;

/// <summary>
/// Splitters and decoders on ~10 MiB payloads, one core. MB/s = payload bytes ÷ median (the report
/// reads the sizes from <see cref="PayloadOf"/>). Rows are 16 float32 values, a typical tabular record.
/// </summary>
[MemoryDiagnoser]
public class SplitterBenchmarks
{
    private const int Columns = 16;
    private readonly ModelSignature _signature = Payloads.Signature(Columns);
    private byte[] _csv = [];
    private byte[] _jsonLines = [];
    private byte[] _jsonInstances = [];
    private byte[] _examples = [];
    private byte[] _recordIOProtobuf = [];
    private byte[] _recordIORaw = [];
    private byte[] _opaqueTfRecord = [];
    private byte[] _opaqueRecordIO = [];
    private ProtoRecordDecoder _decoder = null!;

    [GlobalSetup]
    public void Setup()
    {
        _csv = Payloads.Csv(Columns);
        _jsonLines = Payloads.JsonLines(Columns);
        _jsonInstances = Payloads.JsonInstances(Columns);
        _examples = Payloads.TfRecordExamples(Columns);
        _recordIOProtobuf = Payloads.RecordIOProtobuf(Columns);
        _recordIORaw = Payloads.RecordIORaw(Columns);
        _opaqueTfRecord = Payloads.OpaqueRecords(tfRecord: true);
        _opaqueRecordIO = Payloads.OpaqueRecords(tfRecord: false);
        _decoder = new ProtoRecordDecoder(_signature);
        PayloadOf = new Dictionary<string, byte[]>
        {
            [nameof(Crc32COnly)] = _opaqueTfRecord,
            [nameof(TfRecordSplitWithCrc)] = _opaqueTfRecord,
            [nameof(RecordIOSplit)] = _opaqueRecordIO,
            [nameof(CsvToFloats)] = _csv,
            [nameof(JsonLinesToFloats)] = _jsonLines,
            [nameof(JsonInstancesToFloats)] = _jsonInstances,
            [nameof(TfRecordExamplesToFloats)] = _examples,
            [nameof(RecordIOProtobufToFloats)] = _recordIOProtobuf,
            [nameof(RecordIORawToFloats)] = _recordIORaw,
        };
        foreach (var (name, bytes) in PayloadOf)
        {
            Console.WriteLine($"// {name}: payload {bytes.Length} bytes");
        }
    }

    /// <summary>The payload each benchmark reads (the report divides by its length); every benchmark but the CRC returns its record count.</summary>
    public IReadOnlyDictionary<string, byte[]> PayloadOf { get; private set; } = new Dictionary<string, byte[]>();

    [Benchmark]
    public uint Crc32COnly() => Crc32C.Compute(_opaqueTfRecord);

    [Benchmark]
    public int TfRecordSplitWithCrc()
    {
        var count = 0;
        TfRecordReader.ForEach(new ReadOnlySequence<byte>(_opaqueTfRecord), ref count, static (ref int c, ReadOnlySequence<byte> _, long _, long _) => c++);
        return count;
    }

    [Benchmark]
    public int RecordIOSplit()
    {
        var count = 0;
        RecordIOReader.ForEach(new ReadOnlySequence<byte>(_opaqueRecordIO), ref count, static (ref int c, ReadOnlySequence<byte> _, long _, long _) => c++);
        return count;
    }

    [Benchmark]
    public int CsvToFloats()
    {
        using var rows = new RowSet(_signature, 65536);
        CsvRecordDecoder.Decode(_csv, default, rows, singleRecord: false);
        return rows.RowCount;
    }

    [Benchmark]
    public int JsonLinesToFloats()
    {
        using var rows = new RowSet(_signature, 65536);
        JsonRecordDecoder.DecodeLines(_jsonLines, rows, singleRecord: false);
        return rows.RowCount;
    }

    [Benchmark]
    public int JsonInstancesToFloats()
    {
        using var rows = new RowSet(_signature, 65536);
        JsonRecordDecoder.DecodeDocument(_jsonInstances, rows, singleRecord: false);
        return rows.RowCount;
    }

    [Benchmark]
    public int TfRecordExamplesToFloats()
    {
        using var rows = new RowSet(_signature, 65536);
        FramedRecords.Decode(new ReadOnlySequence<byte>(_examples), RecordFormat.TfRecord, _decoder, rows, singleRecord: false);
        return rows.RowCount;
    }

    [Benchmark]
    public int RecordIOProtobufToFloats()
    {
        using var rows = new RowSet(_signature, 65536);
        FramedRecords.Decode(new ReadOnlySequence<byte>(_recordIOProtobuf), RecordFormat.RecordIOProtobuf, _decoder, rows, singleRecord: false);
        return rows.RowCount;
    }

    [Benchmark]
    public int RecordIORawToFloats()
    {
        using var rows = new RowSet(_signature, 65536);
        FramedRecords.Decode(new ReadOnlySequence<byte>(_recordIORaw), RecordFormat.RecordIO, _decoder, rows, singleRecord: false);
        return rows.RowCount;
    }
}
