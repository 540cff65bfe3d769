using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using Worker.Inference.Ort;
using Worker.Records;

namespace Worker.Output;

/// <summary>
/// Writes one answer per record, in record order, in the Accept type: CSV lines of every output
/// value; JSON Lines objects <c>{"output": value-or-array}</c>; or <c>{"predictions": [...]}</c>.
/// Floats are written in shortest round-trip form.
/// </summary>
public sealed class AnswerWriter
{
    private readonly ModelSignature _signature;
    private readonly byte[][] _propertyPrefixes;

    public AnswerWriter(ModelSignature signature)
    {
        _signature = signature;

        // `"name":` per output, escaped once per model.
        _propertyPrefixes = signature.Outputs
            .Select(o => System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(o.Name, JsonOptions) + ":"))
            .ToArray();
    }

    private static JsonSerializerOptions JsonOptions { get; } = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static bool CanEncode(TensorElementType type) =>
        type is TensorElementType.Float or TensorElementType.Double or TensorElementType.Int32 or TensorElementType.Int64
            or TensorElementType.Bool or TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Int16
            or TensorElementType.UInt16 or TensorElementType.UInt32 or TensorElementType.UInt64;

    public void Write(AnswerFormat format, RowSet rows, IBufferWriter<byte> output)
    {
        switch (format)
        {
            case AnswerFormat.Csv:
                for (var row = 0; row < rows.RowCount; row++)
                {
                    WriteCsvLine(rows, row, output);
                }

                break;
            case AnswerFormat.JsonLines:
                for (var row = 0; row < rows.RowCount; row++)
                {
                    WriteJsonObject(rows, row, output);
                    output.Write("\n"u8);
                }

                break;
            default:
                output.Write("{\"predictions\":["u8);
                for (var row = 0; row < rows.RowCount; row++)
                {
                    if (row > 0)
                    {
                        output.Write(","u8);
                    }

                    WriteJsonObject(rows, row, output);
                }

                output.Write("]}"u8);
                break;
        }
    }

    private void WriteCsvLine(RowSet rows, int row, IBufferWriter<byte> output)
    {
        var first = true;
        for (var o = 0; o < _signature.Outputs.Count; o++)
        {
            var type = _signature.Outputs[o].ElementType;
            var count = (int)_signature.Outputs[o].RowSize;
            for (var i = 0; i < count; i++)
            {
                if (!first)
                {
                    output.Write(","u8);
                }

                first = false;
                WriteValue(type, rows, o, row, i, output, json: false);
            }
        }

        output.Write("\n"u8);
    }

    private void WriteJsonObject(RowSet rows, int row, IBufferWriter<byte> output)
    {
        output.Write("{"u8);
        for (var o = 0; o < _signature.Outputs.Count; o++)
        {
            if (o > 0)
            {
                output.Write(","u8);
            }

            output.Write(_propertyPrefixes[o]);
            var info = _signature.Outputs[o];
            if (info.Shape.Length <= 1)
            {
                // One value per record (shape [N]): a scalar, not a one-element array.
                WriteValue(info.ElementType, rows, o, row, 0, output, json: true);
            }
            else
            {
                var index = 0;
                WriteNested(info, 1, rows, o, row, ref index, output);
            }
        }

        output.Write("}"u8);
    }

    private static void WriteNested(TensorInfo info, int dimension, RowSet rows, int o, int row, ref int index, IBufferWriter<byte> output)
    {
        output.Write("["u8);
        for (var i = 0; i < info.Shape[dimension]; i++)
        {
            if (i > 0)
            {
                output.Write(","u8);
            }

            if (dimension == info.Shape.Length - 1)
            {
                WriteValue(info.ElementType, rows, o, row, index++, output, json: true);
            }
            else
            {
                WriteNested(info, dimension + 1, rows, o, row, ref index, output);
            }
        }

        output.Write("]"u8);
    }

    private static void WriteValue(TensorElementType type, RowSet rows, int o, int row, int i, IBufferWriter<byte> output, bool json)
    {
        var span = output.GetSpan(32);
        int written;
        switch (type)
        {
            case TensorElementType.Float:
                var f = rows.OutputRow<float>(o, row)[i];
                if (json && !float.IsFinite(f))
                {
                    "null"u8.CopyTo(span);
                    written = 4;
                    break;
                }

                f.TryFormat(span, out written, default, CultureInfo.InvariantCulture);
                break;
            case TensorElementType.Double:
                var d = rows.OutputRow<double>(o, row)[i];
                if (json && !double.IsFinite(d))
                {
                    "null"u8.CopyTo(span);
                    written = 4;
                    break;
                }

                d.TryFormat(span, out written, default, CultureInfo.InvariantCulture);
                break;
            case TensorElementType.Int32: Utf8Formatter.TryFormat(rows.OutputRow<int>(o, row)[i], span, out written); break;
            case TensorElementType.Int64: Utf8Formatter.TryFormat(rows.OutputRow<long>(o, row)[i], span, out written); break;
            case TensorElementType.UInt32: Utf8Formatter.TryFormat(rows.OutputRow<uint>(o, row)[i], span, out written); break;
            case TensorElementType.UInt64: Utf8Formatter.TryFormat(rows.OutputRow<ulong>(o, row)[i], span, out written); break;
            case TensorElementType.Int16: Utf8Formatter.TryFormat(rows.OutputRow<short>(o, row)[i], span, out written); break;
            case TensorElementType.UInt16: Utf8Formatter.TryFormat(rows.OutputRow<ushort>(o, row)[i], span, out written); break;
            case TensorElementType.Int8: Utf8Formatter.TryFormat(rows.OutputRow<sbyte>(o, row)[i], span, out written); break;
            case TensorElementType.UInt8: Utf8Formatter.TryFormat(rows.OutputRow<byte>(o, row)[i], span, out written); break;
            case TensorElementType.Bool:
                var b = rows.OutputRow<byte>(o, row)[i] != 0;
                (b ? "true"u8 : "false"u8).CopyTo(span);
                written = b ? 4 : 5;
                break;
            default:
                throw new NotSupportedException($"output element type {type}");
        }

        output.Advance(written);
    }
}
