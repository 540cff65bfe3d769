using System.Buffers.Binary;
using System.Text;
using Worker.Inference.Ort;

namespace Worker.Records;

/// <summary>
/// Framed records → input rows: a <c>tf.train.Example</c> (TFRecord), a SageMaker
/// <c>aialgs.data.Record</c> (RecordIO-protobuf), or a raw little-endian tensor (RecordIO).
/// Read straight from the wire bytes with <see cref="ProtoReader"/>.
/// </summary>
public sealed class ProtoRecordDecoder
{
    private static readonly byte[] ValuesKey = "values"u8.ToArray();
    private readonly ModelSignature _signature;
    private readonly byte[][] _inputNames;

    public ProtoRecordDecoder(ModelSignature signature)
    {
        _signature = signature;
        _inputNames = signature.Inputs.Select(i => Encoding.UTF8.GetBytes(i.Name)).ToArray();
    }

    /// <summary>tf.train.Example: the feature named like an input feeds it; with one input and one feature the name need not match.</summary>
    public void DecodeExample(ReadOnlySpan<byte> example, RowSet rows, long record, long offset)
    {
        RefuseDynamic(record, offset);
        try
        {
            DecodeExampleCore(example, rows, record, offset);
        }
        catch (RecordException e) when (e.Offset != offset)
        {
            throw new RecordException(e.Message, record, offset);
        }
    }

    public void DecodeSageMakerRecord(ReadOnlySpan<byte> message, RowSet rows, long record, long offset)
    {
        RefuseDynamic(record, offset);
        try
        {
            DecodeSageMakerRecordCore(message, rows, record, offset);
        }
        catch (RecordException e) when (e.Offset != offset)
        {
            throw new RecordException(e.Message, record, offset);
        }
    }

    private void DecodeExampleCore(ReadOnlySpan<byte> example, RowSet rows, long record, long offset)
    {
        var row = rows.AddRow();
        Span<bool> filled = stackalloc bool[_signature.Inputs.Count];
        ReadOnlySpan<byte> soleFeature = default;
        var features = 0;
        try
        {
            var reader = new ProtoReader(example);
            while (reader.TryReadTag(out var field, out var wire))
            {
                if (field != 1 || wire != ProtoReader.LengthDelimited)
                {
                    reader.Skip(wire);
                    continue;
                }

                var map = new ProtoReader(reader.ReadLengthDelimited());
                while (map.TryReadTag(out var mapField, out var mapWire))
                {
                    if (mapField != 1 || mapWire != ProtoReader.LengthDelimited)
                    {
                        map.Skip(mapWire);
                        continue;
                    }

                    ReadEntry(map.ReadLengthDelimited(), out var key, out var feature);
                    features++;
                    soleFeature = feature;
                    var input = FindInput(key, allowValuesKey: false);
                    if (input >= 0)
                    {
                        DecodeFeature(feature, input, rows, row, record);
                        filled[input] = true;
                    }
                }
            }

            if (filled.Length == 1 && !filled[0] && features == 1)
            {
                DecodeFeature(soleFeature, 0, rows, row, record);
                filled[0] = true;
            }
        }
        catch (ProtoException e)
        {
            throw new RecordException($"record {record}: malformed tf.train.Example: {e.Message}", record, offset);
        }

        RequireAll(filled, record, offset, "feature");
    }

    /// <summary>aialgs.data.Record: <c>features["values"]</c> feeds a single input, or features by input name; dense or sparse; the label is ignored.</summary>
    private void DecodeSageMakerRecordCore(ReadOnlySpan<byte> message, RowSet rows, long record, long offset)
    {
        var row = rows.AddRow();
        Span<bool> filled = stackalloc bool[_signature.Inputs.Count];
        try
        {
            var reader = new ProtoReader(message);
            while (reader.TryReadTag(out var field, out var wire))
            {
                if (field != 1 || wire != ProtoReader.LengthDelimited)
                {
                    reader.Skip(wire); // label, uid, metadata, configuration
                    continue;
                }

                ReadEntry(reader.ReadLengthDelimited(), out var key, out var value);
                var input = FindInput(key, allowValuesKey: true);
                if (input >= 0)
                {
                    DecodeValue(value, input, rows.InputRow(input, row), record);
                    filled[input] = true;
                }
            }
        }
        catch (ProtoException e)
        {
            throw new RecordException($"record {record}: malformed RecordIO-protobuf Record: {e.Message}", record, offset);
        }

        RequireAll(filled, record, offset, "features entry");
    }

    /// <summary>application/x-recordio: the record is the single input's row as little-endian values.</summary>
    public void DecodeRawTensor(ReadOnlySpan<byte> data, RowSet rows, long record, long offset)
    {
        RefuseDynamic(record, offset);
        if (_signature.Inputs.Count != 1)
        {
            throw new RecordException($"record {record}: a raw RecordIO record fills a single input, but the model has {_signature.Inputs.Count}", record, offset);
        }

        if (_signature.Inputs[0].ElementType == TensorElementType.String)
        {
            throw new RecordException($"record {record}: a raw RecordIO record cannot carry input {_signature.Inputs[0].Name}'s strings; send them as JSON, CSV or TFRecord bytes_list", record, offset);
        }

        var expected = rows.InputRowBytes[0];
        if (data.Length != expected)
        {
            var input = _signature.Inputs[0];
            throw new RecordException(
                $"record {record}: expected {expected} bytes ({input.RowSize} little-endian {TensorInfo.TypeName(input.ElementType)}), got {data.Length}", record, offset);
        }

        data.CopyTo(rows.InputRow(0, rows.AddRow()));
    }

    /// <summary>The framed formats carry flat values with no sizes: inputs with dynamic axes take JSON (or CSV).</summary>
    private void RefuseDynamic(long record, long offset)
    {
        if (_signature.HasDynamicInputs)
        {
            throw new RecordException(
                $"record {record}: input {_signature.Inputs.First(i => i.HasDynamicAxes).Name} has dynamic dimensions; send JSON (nested arrays give each record's sizes) or CSV", record, offset);
        }
    }

    private static void ReadEntry(ReadOnlySpan<byte> entry, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        key = default;
        value = default;
        var reader = new ProtoReader(entry);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == ProtoReader.LengthDelimited)
            {
                key = reader.ReadLengthDelimited();
            }
            else if (field == 2 && wire == ProtoReader.LengthDelimited)
            {
                value = reader.ReadLengthDelimited();
            }
            else
            {
                reader.Skip(wire);
            }
        }
    }

    private int FindInput(ReadOnlySpan<byte> key, bool allowValuesKey)
    {
        for (var i = 0; i < _inputNames.Length; i++)
        {
            if (key.SequenceEqual(_inputNames[i]))
            {
                return i;
            }
        }

        return allowValuesKey && _inputNames.Length == 1 && key.SequenceEqual(ValuesKey) ? 0 : -1;
    }

    private void DecodeFeature(ReadOnlySpan<byte> feature, int input, RowSet rows, int row, long record)
    {
        var info = _signature.Inputs[input];
        if (info.ElementType == TensorElementType.String)
        {
            DecodeBytesFeature(feature, input, rows, row, record);
            return;
        }

        var values = new RowValues(info, rows.InputRow(input, row), record);
        var reader = new ProtoReader(feature);
        while (reader.TryReadTag(out var field, out var wire))
        {
            var list = field is 2 or 3 && wire == ProtoReader.LengthDelimited ? new ProtoReader(reader.ReadLengthDelimited()) : default;
            switch (field)
            {
                case 1:
                    throw new RecordException($"record {record}: feature for input {info.Name} is a bytes_list; the input takes numbers", record, 0);
                case 2:
                    ReadFloats(ref list, ref values);
                    break;
                case 3:
                    ReadInt64s(ref list, ref values);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        values.RequireComplete();
    }

    /// <summary>A string input takes a feature's bytes_list, each value one string (UTF-8, as tf.io writes text).</summary>
    private void DecodeBytesFeature(ReadOnlySpan<byte> feature, int input, RowSet rows, int row, long record)
    {
        var info = _signature.Inputs[input];
        var count = 0;
        var reader = new ProtoReader(feature);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field is 2 or 3)
            {
                throw new RecordException($"record {record}: feature for input {info.Name} is a {(field == 2 ? "float_list" : "int64_list")}; the input takes strings (a bytes_list)", record, 0);
            }

            if (field != 1 || wire != ProtoReader.LengthDelimited)
            {
                reader.Skip(wire);
                continue;
            }

            var list = new ProtoReader(reader.ReadLengthDelimited());
            while (list.TryReadTag(out var listField, out var listWire))
            {
                if (listField != 1 || listWire != ProtoReader.LengthDelimited)
                {
                    list.Skip(listWire);
                    continue;
                }

                var value = list.ReadLengthDelimited();
                if (count < info.RowSize)
                {
                    rows.WriteString(input, row, count, value);
                }

                count++;
            }
        }

        if (count != info.RowSize)
        {
            throw new RecordException($"record {record}: expected {info.RowSize} values for input {info.Name}, got {count}", record, 0);
        }
    }

    private void DecodeValue(ReadOnlySpan<byte> value, int input, Span<byte> row, long record)
    {
        var info = _signature.Inputs[input];
        var reader = new ProtoReader(value);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (wire != ProtoReader.LengthDelimited)
            {
                reader.Skip(wire);
                continue;
            }

            var tensor = reader.ReadLengthDelimited();
            switch (field)
            {
                case 2:
                case 3:
                case 7:
                    DecodeTensor(tensor, field, info, row, record);
                    return;
                case 9:
                    throw new RecordException($"record {record}: features entry for input {info.Name} holds bytes; the input takes numbers", record, 0);
            }
        }

        throw new RecordException($"record {record}: features entry for input {info.Name} holds no tensor", record, 0);
    }

    /// <summary>Float32Tensor (2), Float64Tensor (3) or Int32Tensor (7); sparse when keys are present.</summary>
    private static void DecodeTensor(ReadOnlySpan<byte> tensor, int kind, TensorInfo info, Span<byte> row, long record)
    {
        ReadOnlySpan<byte> packedValues = default;
        ReadOnlySpan<byte> packedKeys = default;
        ReadOnlySpan<byte> packedShape = default;
        var values = new RowValues(info, row, record);
        var reader = new ProtoReader(tensor);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.LengthDelimited:
                    packedValues = reader.ReadLengthDelimited();
                    break;
                case 1:
                    // An unpacked value: dense tensors only.
                    values.Add(ReadScalar(ref reader, kind, wire));
                    break;
                case 2 when wire == ProtoReader.LengthDelimited:
                    packedKeys = reader.ReadLengthDelimited();
                    break;
                case 3 when wire == ProtoReader.LengthDelimited:
                    packedShape = reader.ReadLengthDelimited();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (packedKeys.IsEmpty)
        {
            var list = new ProtoReader(packedValues);
            while (!list.End)
            {
                values.Add(ReadPackedScalar(ref list, kind));
            }

            values.RequireComplete();
            return;
        }

        // Sparse: the row starts zeroed (RowSet.AddRow); each key is a flat index into it.
        if (!packedShape.IsEmpty)
        {
            var shape = new ProtoReader(packedShape);
            ulong size = 1;
            while (!shape.End)
            {
                size *= shape.ReadVarint();
            }

            if (size != (ulong)info.RowSize)
            {
                throw new RecordException($"record {record}: sparse tensor of size {size} for input {info.Name}, which takes {info.RowSize} values", record, 0);
            }
        }

        var keys = new ProtoReader(packedKeys);
        var sparseValues = new ProtoReader(packedValues);
        while (!keys.End)
        {
            var key = keys.ReadVarint();
            if (sparseValues.End)
            {
                throw new RecordException($"record {record}: sparse tensor has more keys than values", record, 0);
            }

            var value = ReadPackedScalar(ref sparseValues, kind);
            if (key >= (ulong)info.RowSize)
            {
                throw new RecordException($"record {record}: sparse key {key} is outside input {info.Name}'s {info.RowSize} values", record, 0);
            }

            if (!ValueWriter.TryWrite(info.ElementType, value, row, (int)key))
            {
                throw new RecordException($"record {record}: value {value} at key {key} does not fit input {info.Name} ({TensorInfo.TypeName(info.ElementType)})", record, 0);
            }
        }

        if (!sparseValues.End)
        {
            throw new RecordException($"record {record}: sparse tensor has more values than keys", record, 0);
        }
    }

    private static double ReadPackedScalar(ref ProtoReader reader, int kind) => kind switch
    {
        2 => BitConverter.Int32BitsToSingle((int)reader.ReadFixed32()),
        3 => BitConverter.Int64BitsToDouble((long)reader.ReadFixed64()),
        _ => (int)reader.ReadVarint(),
    };

    private static double ReadScalar(ref ProtoReader reader, int kind, int wire) => (kind, wire) switch
    {
        (2, ProtoReader.Fixed32) => BitConverter.Int32BitsToSingle((int)reader.ReadFixed32()),
        (3, ProtoReader.Fixed64) => BitConverter.Int64BitsToDouble((long)reader.ReadFixed64()),
        (7, ProtoReader.Varint) => (int)reader.ReadVarint(),
        _ => throw new ProtoException($"tensor value with wire type {wire}"),
    };

    private static void ReadFloats(ref ProtoReader list, ref RowValues values)
    {
        while (list.TryReadTag(out var field, out var wire))
        {
            if (field != 1)
            {
                list.Skip(wire);
            }
            else if (wire == ProtoReader.LengthDelimited)
            {
                var packed = list.ReadLengthDelimited();
                if (packed.Length % 4 != 0)
                {
                    throw new ProtoException("packed float list length is not a multiple of 4");
                }

                for (var i = 0; i < packed.Length; i += 4)
                {
                    values.Add(BinaryPrimitives.ReadSingleLittleEndian(packed[i..]));
                }
            }
            else
            {
                values.Add(BitConverter.Int32BitsToSingle((int)list.ReadFixed32()));
            }
        }
    }

    private static void ReadInt64s(ref ProtoReader list, ref RowValues values)
    {
        while (list.TryReadTag(out var field, out var wire))
        {
            if (field != 1)
            {
                list.Skip(wire);
            }
            else if (wire == ProtoReader.LengthDelimited)
            {
                var packed = new ProtoReader(list.ReadLengthDelimited());
                while (!packed.End)
                {
                    values.AddInt64((long)packed.ReadVarint());
                }
            }
            else
            {
                values.AddInt64((long)list.ReadVarint());
            }
        }
    }

    private void RequireAll(ReadOnlySpan<bool> filled, long record, long offset, string what)
    {
        for (var i = 0; i < filled.Length; i++)
        {
            if (!filled[i])
            {
                throw new RecordException($"record {record}: no {what} named '{_signature.Inputs[i].Name}' for the model's input", record, offset);
            }
        }
    }

    /// <summary>Counts values into one row and checks the count against the input's row size.</summary>
    private ref struct RowValues(TensorInfo info, Span<byte> row, long record)
    {
        private readonly Span<byte> _row = row;
        private int _count;

        public void Add(double value)
        {
            if (_count < info.RowSize && !ValueWriter.TryWrite(info.ElementType, value, _row, _count))
            {
                throw Unfit(value);
            }

            _count++;
        }

        public void AddInt64(long value)
        {
            if (_count < info.RowSize && !ValueWriter.TryWrite(info.ElementType, value, _row, _count))
            {
                throw Unfit(value);
            }

            _count++;
        }

        private readonly RecordException Unfit<T>(T value) =>
            new($"record {record}: value {_count} ({value}) does not fit input {info.Name} ({TensorInfo.TypeName(info.ElementType)})", record, 0);

        public readonly void RequireComplete()
        {
            if (_count != info.RowSize)
            {
                throw new RecordException($"record {record}: expected {info.RowSize} values for input {info.Name}, got {_count}", record, 0);
            }
        }
    }
}
