using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using Worker.Inference.Ort;

namespace Worker.Records;

/// <summary>
/// The decoded input rows of one request, one pooled byte buffer per model input, and the output
/// rows the model writes back. Decoders write straight into it; nothing is allocated per record.
/// </summary>
public sealed class RowSet : IDisposable
{
    private readonly byte[][] _inputs;
    private readonly byte[]?[] _outputs;
    private readonly StringArena? _inputStrings;
    private readonly StringArena? _outputStrings;
    private readonly StringArena?[] _dynamicValues;
    private int _dynamicStart;
    private readonly Lock _outputStringsGate = new();
    private int _capacity;

    public RowSet(ModelSignature signature, int expectedRows = 16)
    {
        Signature = signature;
        InputRowBytes = signature.InputRowBytes;
        OutputRowBytes = signature.OutputRowBytes;
        _capacity = Math.Max(expectedRows, 1);
        _inputs = new byte[InputRowBytes.Length][];
        for (var i = 0; i < _inputs.Length; i++)
        {
            _inputs[i] = ArrayPool<byte>.Shared.Rent(Math.Max(InputRowBytes[i] * _capacity, 1));
        }

        _outputs = new byte[signature.Outputs.Count][];
        _inputStrings = signature.Inputs.Any(i => i.ElementType == TensorElementType.String) ? new StringArena() : null;
        _outputStrings = signature.Outputs.Any(o => o.ElementType == TensorElementType.String) ? new StringArena() : null;
        _dynamicValues = [.. signature.Inputs.Select(i => i.HasDynamicAxes ? new StringArena() : null)];
    }

    public ModelSignature Signature { get; }
    /// <summary>The signature's row sizes (shared by every row set of the model: read only).</summary>
    public int[] InputRowBytes { get; }
    public int[] OutputRowBytes { get; }
    public int RowCount { get; private set; }

    /// <summary>Adds a zeroed row to every input and returns its index.</summary>
    public int AddRow()
    {
        if (RowCount == _capacity)
        {
            Grow();
        }

        for (var i = 0; i < _inputs.Length; i++)
        {
            _inputs[i].AsSpan(RowCount * InputRowBytes[i], InputRowBytes[i]).Clear();
        }

        return RowCount++;
    }

    /// <summary>Drops the row just added (a fast path that handed the record to the general path).</summary>
    public void RemoveLastRow() => RowCount--;

    public Span<byte> InputRow(int input, int row) => _inputs[input].AsSpan(row * InputRowBytes[input], InputRowBytes[input]);

    public ReadOnlySpan<byte> InputRows(int input, int firstRow, int count) =>
        _inputs[input].AsSpan(firstRow * InputRowBytes[input], count * InputRowBytes[input]);

    /// <summary>Sets value <paramref name="index"/> of a string input's row to <paramref name="utf8"/> (a row starts with empty strings).</summary>
    public void WriteString(int input, int row, int index, ReadOnlySpan<byte> utf8) =>
        MemoryMarshal.Cast<byte, StringSlot>(InputRow(input, row))[index] = _inputStrings!.Append(utf8);

    /// <summary>The UTF-8 bytes a string input's slot points at.</summary>
    public ReadOnlySpan<byte> InputString(StringSlot slot) => _inputStrings![slot];

    /// <summary>
    /// Sets a string output's value. Slices of one request run on several inference workers at once,
    /// so appends to the one output arena take a lock; string outputs are labels, a few per record.
    /// </summary>
    public void WriteOutputString(int output, int row, int index, ReadOnlySpan<byte> utf8)
    {
        lock (_outputStringsGate)
        {
            MemoryMarshal.Cast<byte, StringSlot>(OutputRows(output, row, 1))[index] = _outputStrings!.Append(utf8);
        }
    }

    /// <summary>A string output's value; read once inference has finished with the row.</summary>
    public ReadOnlySpan<byte> OutputString(int output, int row, int index)
    {
        lock (_outputStringsGate)
        {
            return _outputStrings![OutputRow<StringSlot>(output, row)[index]];
        }
    }

    /// <summary>Starts a record's values for an input with dynamic axes; each value then goes through <see cref="AppendDynamicValue"/>.</summary>
    public void BeginDynamic(int input) => _dynamicStart = _dynamicValues[input]!.Length;

    /// <summary>One value's little-endian bytes, after the record's values so far.</summary>
    public void AppendDynamicValue(int input, ReadOnlySpan<byte> value) => _dynamicValues[input]!.Append(value);

    /// <summary>Ends the record's values for the input: its row keeps where they are and the sizes of its dimensions after the first.</summary>
    public void EndDynamic(int input, int row, ReadOnlySpan<long> dims)
    {
        var bytes = InputRow(input, row);
        MemoryMarshal.Cast<byte, StringSlot>(bytes)[0] = new StringSlot(_dynamicStart, _dynamicValues[input]!.Length - _dynamicStart);
        dims.CopyTo(DynamicDims(input, row));
    }

    /// <summary>A dynamic input's sizes for the record: one per dimension after the first.</summary>
    public Span<long> DynamicDims(int input, int row) => MemoryMarshal.Cast<byte, long>(InputRow(input, row)[StringSlot.Size..]);

    /// <summary>A dynamic input's values for the record, little-endian, row-major.</summary>
    public ReadOnlySpan<byte> DynamicValues(int input, int row) => _dynamicValues[input]![MemoryMarshal.Cast<byte, StringSlot>(InputRow(input, row))[0]];

    /// <summary>Whether two records (of any row sets of the model) have the same sizes in every dynamic input, so they can share a Run.</summary>
    public static bool SameShape(RowSet a, int rowA, RowSet b, int rowB)
    {
        var inputs = a.Signature.Inputs;
        for (var i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].HasDynamicAxes && !a.DynamicDims(i, rowA).SequenceEqual(b.DynamicDims(i, rowB)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Inputs that name a dynamic dimension alike (input_ids and attention_mask both [batch,
    /// sequence]) must agree on its size in every record: otherwise a 400 naming both.
    /// </summary>
    public void CheckSharedAxes(int row, long record, long offset)
    {
        var inputs = Signature.Inputs;
        for (var i = 0; i < inputs.Count; i++)
        {
            for (var d = 1; d < inputs[i].Shape.Length; d++)
            {
                if (inputs[i].Shape[d] >= 0 || d >= inputs[i].DimNames.Count || inputs[i].DimNames[d].Length == 0)
                {
                    continue;
                }

                for (var j = i + 1; j < inputs.Count; j++)
                {
                    for (var e = 1; e < inputs[j].Shape.Length; e++)
                    {
                        if (inputs[j].Shape[e] < 0 && e < inputs[j].DimNames.Count && inputs[j].DimNames[e] == inputs[i].DimNames[d]
                            && DynamicDims(i, row)[d - 1] != DynamicDims(j, row)[e - 1])
                        {
                            throw new RecordException(
                                $"record {record}: inputs {inputs[i].Name} and {inputs[j].Name} share the axis '{inputs[i].DimNames[d]}' but have {DynamicDims(i, row)[d - 1]} and {DynamicDims(j, row)[e - 1]} along it",
                                record,
                                offset);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Rents the output buffers once every row is decoded.</summary>
    public void PrepareOutputs()
    {
        for (var o = 0; o < _outputs.Length; o++)
        {
            _outputs[o] ??= ArrayPool<byte>.Shared.Rent(Math.Max(OutputRowBytes[o] * RowCount, 1));
        }
    }

    public Span<byte> OutputRows(int output, int firstRow, int count) =>
        _outputs[output].AsSpan(firstRow * OutputRowBytes[output], count * OutputRowBytes[output]);

    public ReadOnlySpan<T> OutputRow<T>(int output, int row)
        where T : unmanaged =>
        MemoryMarshal.Cast<byte, T>(_outputs[output].AsSpan(row * OutputRowBytes[output], OutputRowBytes[output]));

    public void Dispose()
    {
        _inputStrings?.Dispose();
        _outputStrings?.Dispose();
        foreach (var arena in _dynamicValues)
        {
            arena?.Dispose();
        }

        foreach (var buffer in _inputs)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        for (var o = 0; o < _outputs.Length; o++)
        {
            if (_outputs[o] is { } buffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                _outputs[o] = null;
            }
        }
    }

    private void Grow()
    {
        var capacity = _capacity * 2;
        for (var i = 0; i < _inputs.Length; i++)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(InputRowBytes[i] * capacity, 1));
            _inputs[i].AsSpan(0, RowCount * InputRowBytes[i]).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_inputs[i]);
            _inputs[i] = bigger;
        }

        _capacity = capacity;
    }
}

/// <summary>A record that cannot be used: becomes a 400 with the record's index and byte offset.</summary>
public sealed class RecordException(string message, long record, long offset) : Exception(message)
{
    public long Record { get; } = record;
    public long Offset { get; } = offset;
}

/// <summary>Writes one value into a row slot of the input's element type, from text or from a number another format decoded.</summary>
internal static class ValueWriter
{
    /// <summary>
    /// Text as pandas, numpy and JSON write it: numbers for the float types (float16 and bfloat16
    /// rounded from the parsed double, as numpy and torch cast), whole numbers in range for the
    /// integer types, and true/false/True/False/1/0 for bool.
    /// </summary>
    public static bool TryWrite(TensorElementType type, ReadOnlySpan<byte> text, Span<byte> row, int index)
    {
        const NumberStyles Integer = NumberStyles.AllowLeadingSign;
        var invariant = CultureInfo.InvariantCulture;
        switch (type)
        {
            case TensorElementType.Float:
                if (NumberText.TryParseSingle(text, out var f))
                {
                    MemoryMarshal.Cast<byte, float>(row)[index] = f;
                    return true;
                }

                return false;
            case TensorElementType.Double:
            case TensorElementType.Float16:
            case TensorElementType.BFloat16:
                return NumberText.TryParseDouble(text, out var d) && TryWrite(type, d, row, index);
            case TensorElementType.Int32: return int.TryParse(text, Integer, invariant, out var i32) && Set(row, index, i32);
            case TensorElementType.Int64: return long.TryParse(text, Integer, invariant, out var i64) && Set(row, index, i64);
            case TensorElementType.Int16: return short.TryParse(text, Integer, invariant, out var i16) && Set(row, index, i16);
            case TensorElementType.Int8: return sbyte.TryParse(text, Integer, invariant, out var i8) && Set(row, index, i8);
            case TensorElementType.UInt8: return byte.TryParse(text, Integer, invariant, out var u8) && Set(row, index, u8);
            case TensorElementType.UInt16: return ushort.TryParse(text, Integer, invariant, out var u16) && Set(row, index, u16);
            case TensorElementType.UInt32: return uint.TryParse(text, Integer, invariant, out var u32) && Set(row, index, u32);
            case TensorElementType.UInt64: return ulong.TryParse(text, Integer, invariant, out var u64) && Set(row, index, u64);
            case TensorElementType.Bool:
                if (text.SequenceEqual("true"u8) || text.SequenceEqual("True"u8) || text.SequenceEqual("TRUE"u8) || text.SequenceEqual("1"u8))
                {
                    row[index] = 1;
                    return true;
                }

                if (text.SequenceEqual("false"u8) || text.SequenceEqual("False"u8) || text.SequenceEqual("FALSE"u8) || text.SequenceEqual("0"u8))
                {
                    row[index] = 0;
                    return true;
                }

                return false;
            default:
                return false;
        }
    }

    /// <summary>A number decoded from a binary format (TFRecord float_list, RecordIO-protobuf): false when the input's type cannot hold it.</summary>
    public static bool TryWrite(TensorElementType type, double value, Span<byte> row, int index)
    {
        switch (type)
        {
            case TensorElementType.Float: return Set(row, index, (float)value);
            case TensorElementType.Double: return Set(row, index, value);
            case TensorElementType.Float16: return Set(row, index, (Half)value);
            case TensorElementType.BFloat16: return Set(row, index, BFloat16Bits((float)value));
            case TensorElementType.Bool:
                if (value is 0 or 1)
                {
                    row[index] = (byte)value;
                    return true;
                }

                return false;
            case TensorElementType.String or TensorElementType.Undefined:
                return false;
            default:
                return double.IsInteger(value) && value is >= long.MinValue and < 9.2233720368547758E+18 && TryWrite(type, (long)value, row, index)
                    || type == TensorElementType.UInt64 && double.IsInteger(value) && value is >= 0 and < 1.8446744073709552E+19 && Set(row, index, (ulong)value);
        }
    }

    /// <summary>A whole number (TFRecord int64_list, JSON integers): exact for every integer type, false when out of its range.</summary>
    public static bool TryWrite(TensorElementType type, long value, Span<byte> row, int index) => type switch
    {
        TensorElementType.Int64 => Set(row, index, value),
        TensorElementType.Int32 => value is >= int.MinValue and <= int.MaxValue && Set(row, index, (int)value),
        TensorElementType.Int16 => value is >= short.MinValue and <= short.MaxValue && Set(row, index, (short)value),
        TensorElementType.Int8 => value is >= sbyte.MinValue and <= sbyte.MaxValue && Set(row, index, (sbyte)value),
        TensorElementType.UInt8 => value is >= 0 and <= byte.MaxValue && Set(row, index, (byte)value),
        TensorElementType.UInt16 => value is >= 0 and <= ushort.MaxValue && Set(row, index, (ushort)value),
        TensorElementType.UInt32 => value is >= 0 and <= uint.MaxValue && Set(row, index, (uint)value),
        TensorElementType.UInt64 => value >= 0 && Set(row, index, (ulong)value),
        TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16 or TensorElementType.BFloat16 or TensorElementType.Bool
            => TryWrite(type, (double)value, row, index),
        _ => false, // strings are never written from a number
    };

    public static bool IsDecodable(TensorElementType type) =>
        type is TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16 or TensorElementType.BFloat16
            or TensorElementType.Int8 or TensorElementType.Int16 or TensorElementType.Int32 or TensorElementType.Int64
            or TensorElementType.UInt8 or TensorElementType.UInt16 or TensorElementType.UInt32 or TensorElementType.UInt64
            or TensorElementType.Bool or TensorElementType.String;

    /// <summary>float32 → bfloat16 (the top 16 bits), rounded to nearest even; NaN stays a quiet NaN.</summary>
    public static ushort BFloat16Bits(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        bits += 0x7FFF + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }

    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    private static bool Set<T>(Span<byte> row, int index, T value)
        where T : unmanaged
    {
        MemoryMarshal.Cast<byte, T>(row)[index] = value;
        return true;
    }
}
