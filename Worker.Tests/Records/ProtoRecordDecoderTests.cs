using System.Runtime.InteropServices;
using Google.Protobuf;
using Worker.Formats.SageMaker;
using Record = Worker.Formats.SageMaker.Record;
using Worker.Formats.TensorFlow;
using Worker.Inference.Ort;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Records;

/// <summary>Payloads written with classes generated from formats/proto, read by the worker's own wire decoder.</summary>
public class ProtoRecordDecoderTests
{
    public static Example ExampleOf(params (string Name, Feature Feature)[] features)
    {
        var example = new Example { Features = new Features() };
        foreach (var (name, feature) in features)
        {
            example.Features.Feature[name] = feature;
        }

        return example;
    }

    public static Feature Floats(params float[] values) => new() { FloatList = new FloatList { Value = { values } } };

    public static Feature Int64s(params long[] values) => new() { Int64List = new Int64List { Value = { values } } };

    public static Record DenseRecord(string key, params float[] values) =>
        new() { Features = { [key] = new Value { Float32Tensor = new Float32Tensor { Values = { values } } } } };

    [Fact]
    public void ExampleFeatureNamedLikeTheInputFeedsIt()
    {
        using var rows = new RowSet(Signatures.SingleInput(3));
        var decoder = new ProtoRecordDecoder(rows.Signature);
        decoder.DecodeExample(ExampleOf(("X", Floats(1, 2, 3)), ("ignored", Floats(9))).ToByteArray(), rows, 0, 0);
        decoder.DecodeExample(ExampleOf(("anything", Floats(4, 5, 6))).ToByteArray(), rows, 1, 0);
        decoder.DecodeExample(ExampleOf(("X", Int64s(7, -8, 9))).ToByteArray(), rows, 2, 0);
        Assert.Equal([[1f, 2f, 3f], [4f, 5f, 6f], [7f, -8f, 9f]], Signatures.FloatRows(rows));
    }

    [Fact]
    public void ExampleFeedsSeveralInputsByName()
    {
        using var rows = new RowSet(Signatures.TwoInputs());
        var decoder = new ProtoRecordDecoder(rows.Signature);
        decoder.DecodeExample(ExampleOf(("b", Int64s(5, 6)), ("a", Floats(0.5f, 1.5f))).ToByteArray(), rows, 0, 0);
        Assert.Equal([0.5f, 1.5f], MemoryMarshal.Cast<byte, float>(rows.InputRow(0, 0)).ToArray());
        Assert.Equal([5L, 6L], MemoryMarshal.Cast<byte, long>(rows.InputRow(1, 0)).ToArray());
    }

    [Fact]
    public void ExampleErrorsNameTheRecord()
    {
        using var rows = new RowSet(Signatures.TwoInputs());
        var decoder = new ProtoRecordDecoder(rows.Signature);
        var missing = Assert.Throws<RecordException>(() => decoder.DecodeExample(ExampleOf(("a", Floats(1, 2))).ToByteArray(), rows, 4, 100));
        Assert.Equal("record 4: no feature named 'b' for the model's input", missing.Message);
        Assert.Equal(100, missing.Offset);

        var wrongCount = Assert.Throws<RecordException>(() => decoder.DecodeExample(ExampleOf(("a", Floats(1)), ("b", Int64s(1, 2))).ToByteArray(), rows, 5, 7));
        Assert.Contains("expected 2 values for input a, got 1", wrongCount.Message);
        Assert.Equal(7, wrongCount.Offset);

        var bytes = ExampleOf(("a", new Feature { BytesList = new BytesList { Value = { ByteString.CopyFromUtf8("x") } } }), ("b", Int64s(1, 2)));
        Assert.Contains("bytes_list", Assert.Throws<RecordException>(() => decoder.DecodeExample(bytes.ToByteArray(), rows, 6, 0)).Message);

        Assert.Contains("malformed", Assert.Throws<RecordException>(() => decoder.DecodeExample([0x0A, 0x05, 0x01], rows, 7, 0)).Message);
    }

    [Fact]
    public void UnpackedFloatListsAreReadToo()
    {
        // Field 1 of FloatList written unpacked (wire type 5), as older writers may do.
        using var stream = new MemoryStream();
        var list = new CodedOutputStream(stream);
        foreach (var v in new[] { 1.5f, -2f })
        {
            list.WriteTag(1, WireFormat.WireType.Fixed32);
            list.WriteFloat(v);
        }

        list.Flush();
        var feature = new Feature { FloatList = FloatList.Parser.ParseFrom(stream.ToArray()) };
        using var rows = new RowSet(Signatures.SingleInput(2));
        new ProtoRecordDecoder(rows.Signature).DecodeExample(ExampleOf(("X", feature)).ToByteArray(), rows, 0, 0);
        Assert.Equal([[1.5f, -2f]], Signatures.FloatRows(rows));
    }

    [Fact]
    public void SageMakerRecordDenseSparseAndByName()
    {
        using var rows = new RowSet(Signatures.SingleInput(4));
        var decoder = new ProtoRecordDecoder(rows.Signature);
        var dense = DenseRecord("values", 1, 2, 3, 4);
        dense.Label["values"] = new Value { Float32Tensor = new Float32Tensor { Values = { 99 } } };
        decoder.DecodeSageMakerRecord(dense.ToByteArray(), rows, 0, 0);

        var sparse = new Record { Features = { ["values"] = new Value { Float32Tensor = new Float32Tensor { Values = { 5, 7 }, Keys = { 1, 3 }, Shape = { 4 } } } } };
        decoder.DecodeSageMakerRecord(sparse.ToByteArray(), rows, 1, 0);

        var doubles = new Record { Features = { ["X"] = new Value { Float64Tensor = new Float64Tensor { Values = { 0.25, 0.5, 0.75, 1 } } } } };
        decoder.DecodeSageMakerRecord(doubles.ToByteArray(), rows, 2, 0);

        var ints = new Record { Features = { ["values"] = new Value { Int32Tensor = new Int32Tensor { Values = { -1, 0, 1, 2 } } } } };
        decoder.DecodeSageMakerRecord(ints.ToByteArray(), rows, 3, 0);

        Assert.Equal([[1f, 2f, 3f, 4f], [0f, 5f, 0f, 7f], [0.25f, 0.5f, 0.75f, 1f], [-1f, 0f, 1f, 2f]], Signatures.FloatRows(rows));
    }

    [Fact]
    public void SageMakerRecordErrors()
    {
        using var rows = new RowSet(Signatures.SingleInput(4));
        var decoder = new ProtoRecordDecoder(rows.Signature);
        Assert.Contains("no features entry named 'X'", Assert.Throws<RecordException>(() => decoder.DecodeSageMakerRecord(DenseRecord("other", 1, 2, 3, 4).ToByteArray(), rows, 0, 0)).Message);
        Assert.Contains("expected 4 values", Assert.Throws<RecordException>(() => decoder.DecodeSageMakerRecord(DenseRecord("values", 1, 2).ToByteArray(), rows, 1, 0)).Message);
        var outside = new Record { Features = { ["values"] = new Value { Float32Tensor = new Float32Tensor { Values = { 5 }, Keys = { 4 } } } } };
        Assert.Contains("outside", Assert.Throws<RecordException>(() => decoder.DecodeSageMakerRecord(outside.ToByteArray(), rows, 2, 0)).Message);
        var wrongShape = new Record { Features = { ["values"] = new Value { Float32Tensor = new Float32Tensor { Values = { 5 }, Keys = { 1 }, Shape = { 10 } } } } };
        Assert.Contains("sparse tensor of size 10", Assert.Throws<RecordException>(() => decoder.DecodeSageMakerRecord(wrongShape.ToByteArray(), rows, 3, 0)).Message);
    }

    [Fact]
    public void RawTensorIsTheRowsLittleEndianBytes()
    {
        using var rows = new RowSet(Signatures.SingleInput(2, TensorElementType.Double));
        var decoder = new ProtoRecordDecoder(rows.Signature);
        decoder.DecodeRawTensor(MemoryMarshal.AsBytes<double>([1.5, -2]), rows, 0, 0);
        Assert.Equal([1.5, -2], MemoryMarshal.Cast<byte, double>(rows.InputRow(0, 0)).ToArray());
        var error = Assert.Throws<RecordException>(() => decoder.DecodeRawTensor(new byte[12], rows, 1, 40));
        Assert.Equal("record 1: expected 16 bytes (2 little-endian float64), got 12", error.Message);
        Assert.Equal(40, error.Offset);
    }

    [Fact]
    public void EveryPrefixOfARecordDecodesOrFailsCleanly()
    {
        var bytes = DenseRecord("values", 1, 2, 3, 4).ToByteArray();
        var example = ExampleOf(("X", Floats(1, 2, 3, 4))).ToByteArray();
        for (var length = 0; length < bytes.Length; length++)
        {
            using var rows = new RowSet(Signatures.SingleInput(4));
            var decoder = new ProtoRecordDecoder(rows.Signature);
            Assert.Throws<RecordException>(() => decoder.DecodeSageMakerRecord(bytes.AsSpan(0, length), rows, 0, 0));
        }

        for (var length = 0; length < example.Length; length++)
        {
            using var rows = new RowSet(Signatures.SingleInput(4));
            var decoder = new ProtoRecordDecoder(rows.Signature);
            Assert.Throws<RecordException>(() => decoder.DecodeExample(example.AsSpan(0, length), rows, 0, 0));
        }
    }
}
