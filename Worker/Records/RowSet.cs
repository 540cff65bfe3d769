using System.Buffers;
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

/// <summary>Parses one text value into a row slot of the input's element type.</summary>
internal static class ValueWriter
{
    public static bool TryWrite(TensorElementType type, ReadOnlySpan<byte> text, Span<byte> row, int index)
    {
        const System.Globalization.NumberStyles Integer = System.Globalization.NumberStyles.Integer;
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
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
                if (NumberText.TryParseDouble(text, out var d))
                {
                    MemoryMarshal.Cast<byte, double>(row)[index] = d;
                    return true;
                }

                return false;
            case TensorElementType.Int32:
                if (int.TryParse(text, Integer, invariant, out var i))
                {
                    MemoryMarshal.Cast<byte, int>(row)[index] = i;
                    return true;
                }

                return false;
            case TensorElementType.Int64:
                if (long.TryParse(text, Integer, invariant, out var l))
                {
                    MemoryMarshal.Cast<byte, long>(row)[index] = l;
                    return true;
                }

                return false;
            default:
                return false;
        }
    }

    public static void Write(TensorElementType type, double value, Span<byte> row, int index)
    {
        switch (type)
        {
            case TensorElementType.Float: MemoryMarshal.Cast<byte, float>(row)[index] = (float)value; break;
            case TensorElementType.Double: MemoryMarshal.Cast<byte, double>(row)[index] = value; break;
            case TensorElementType.Int32: MemoryMarshal.Cast<byte, int>(row)[index] = (int)value; break;
            case TensorElementType.Int64: MemoryMarshal.Cast<byte, long>(row)[index] = (long)value; break;
        }
    }

    public static bool IsDecodable(TensorElementType type) =>
        type is TensorElementType.Float or TensorElementType.Double or TensorElementType.Int32 or TensorElementType.Int64;
}
