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
    private readonly byte[]?[][] _mapKeyPrefixes;
    private readonly int _maxRecordBytes;
    private readonly int[] _stringOutputs;

    public AnswerWriter(ModelSignature signature)
    {
        _signature = signature;

        // `"name":` per output, escaped once per model.
        _propertyPrefixes = signature.Outputs
            .Select(o => System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(o.Name, JsonOptions) + ":"))
            .ToArray();
        // `"label":` per class of a ZipMap output: its JSON answer is an object keyed by label.
        _mapKeyPrefixes = [.. signature.Outputs.Select(o => o.MapKeys?.Select(k => (byte[]?)System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(k, JsonOptions) + ":")).ToArray() ?? [])];
        _maxRecordBytes = MaxRecordBytes(signature, _propertyPrefixes) + _mapKeyPrefixes.Sum(keys => keys.Sum(k => k!.Length));
        _stringOutputs = [.. signature.Outputs.Select((o, i) => (o, i)).Where(x => x.o.ElementType == TensorElementType.String).Select(x => x.i)];
    }

    private static JsonSerializerOptions JsonOptions { get; } = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static bool CanEncode(TensorElementType type) =>
        type is TensorElementType.Float or TensorElementType.Double or TensorElementType.Int32 or TensorElementType.Int64
            or TensorElementType.Bool or TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Int16
            or TensorElementType.UInt16 or TensorElementType.UInt32 or TensorElementType.UInt64
            or TensorElementType.Float16 or TensorElementType.BFloat16 or TensorElementType.String;

    public void Write(AnswerFormat format, RowSet rows, IBufferWriter<byte> output)
    {
        WriteStart(format, output);
        WriteRows(format, rows, 0, rows.RowCount, output);
        WriteEnd(format, output);
    }

    /// <summary>What comes before the first record's answer (JSON's array opening).</summary>
    public static void WriteStart(AnswerFormat format, IBufferWriter<byte> output)
    {
        if (format == AnswerFormat.Json)
        {
            output.Write("{\"predictions\":["u8);
        }
    }

    /// <summary>What comes after the last record's answer.</summary>
    public static void WriteEnd(AnswerFormat format, IBufferWriter<byte> output)
    {
        if (format == AnswerFormat.Json)
        {
            output.Write("]}"u8);
        }
    }

    /// <summary>
    /// The answers of rows [<paramref name="firstRow"/>, +<paramref name="count"/>), between
    /// <see cref="WriteStart"/> and <see cref="WriteEnd"/>; a request's slices are written in order as they finish.
    /// </summary>
    public void WriteRows(AnswerFormat format, RowSet rows, int firstRow, int count, IBufferWriter<byte> output)
    {
        // One span per record, sized from the signature (and a record's strings): no buffer-writer call per value.
        var end = firstRow + count;
        switch (format)
        {
            case AnswerFormat.Csv:
                for (var row = firstRow; row < end; row++)
                {
                    var line = new SpanCursor(output.GetSpan(RecordBytes(rows, row)));
                    WriteCsvLine(rows, row, ref line);
                    output.Advance(line.Length);
                }

                break;
            case AnswerFormat.JsonLines:
                for (var row = firstRow; row < end; row++)
                {
                    var line = new SpanCursor(output.GetSpan(RecordBytes(rows, row)));
                    WriteJsonObject(rows, row, ref line);
                    line.Append((byte)'\n');
                    output.Advance(line.Length);
                }

                break;
            default:
                for (var row = firstRow; row < end; row++)
                {
                    var item = new SpanCursor(output.GetSpan(RecordBytes(rows, row)));
                    if (row > 0)
                    {
                        item.Append((byte)',');
                    }

                    WriteJsonObject(rows, row, ref item);
                    output.Advance(item.Length);
                }

                break;
        }
    }

    /// <summary>An upper bound on one record's answer: the signature's, plus its strings escaped at worst (6 bytes a byte in JSON) and quoted.</summary>
    private int RecordBytes(RowSet rows, int row)
    {
        var total = _maxRecordBytes;
        foreach (var o in _stringOutputs)
        {
            for (var i = 0; i < _signature.Outputs[o].RowSize; i++)
            {
                total += (rows.OutputString(o, row, i).Length * 6) + 2;
            }
        }

        return total;
    }

    /// <summary>An upper bound on one record's answer in any format, strings aside.</summary>
    private static int MaxRecordBytes(ModelSignature signature, byte[][] prefixes)
    {
        var total = 4;
        for (var o = 0; o < signature.Outputs.Count; o++)
        {
            // Each value: its widest text, a separator and, in nested JSON, up to two brackets.
            total += prefixes[o].Length + 4 + (int)(signature.Outputs[o].RowSize * (MaxChars(signature.Outputs[o].ElementType) + 3));
        }

        return total;
    }

    private static int MaxChars(TensorElementType type) => type switch
    {
        TensorElementType.Double => 25, // -2.2250738585072014E-308
        TensorElementType.Float or TensorElementType.BFloat16 => 16,  // -1.17549435E-38
        TensorElementType.Float16 => 16,
        TensorElementType.Int64 or TensorElementType.UInt64 => 20,
        TensorElementType.Int32 or TensorElementType.UInt32 => 11,
        _ => 6,
    };

    private void WriteCsvLine(RowSet rows, int row, ref SpanCursor line)
    {
        var first = true;
        for (var o = 0; o < _signature.Outputs.Count; o++)
        {
            var type = _signature.Outputs[o].ElementType;
            var count = (int)_signature.Outputs[o].RowSize;
            if (type == TensorElementType.Float)
            {
                // The common case, one row span per output rather than one per value.
                foreach (var value in rows.OutputRow<float>(o, row))
                {
                    if (!first)
                    {
                        line.Append((byte)',');
                    }

                    first = false;
                    line.Advance(FloatText.Format(value, line.Free));
                }

                continue;
            }

            for (var i = 0; i < count; i++)
            {
                if (!first)
                {
                    line.Append((byte)',');
                }

                first = false;
                WriteValue(type, rows, o, row, i, ref line, json: false);
            }
        }

        line.Append((byte)'\n');
    }

    private void WriteJsonObject(RowSet rows, int row, ref SpanCursor line)
    {
        line.Append((byte)'{');
        for (var o = 0; o < _signature.Outputs.Count; o++)
        {
            if (o > 0)
            {
                line.Append((byte)',');
            }

            line.Append(_propertyPrefixes[o]);
            var info = _signature.Outputs[o];
            if (info.MapKeys is not null)
            {
                var keys = _mapKeyPrefixes[o];
                line.Append((byte)'{');
                for (var i = 0; i < keys.Length; i++)
                {
                    if (i > 0)
                    {
                        line.Append((byte)',');
                    }

                    line.Append(keys[i]);
                    WriteValue(TensorElementType.Float, rows, o, row, i, ref line, json: true);
                }

                line.Append((byte)'}');
            }
            else if (info.Shape.Length <= 1)
            {
                // One value per record (shape [N]): a scalar, not a one-element array.
                WriteValue(info.ElementType, rows, o, row, 0, ref line, json: true);
            }
            else
            {
                var index = 0;
                WriteNested(info, 1, rows, o, row, ref index, ref line);
            }
        }

        line.Append((byte)'}');
    }

    private static void WriteNested(TensorInfo info, int dimension, RowSet rows, int o, int row, ref int index, ref SpanCursor line)
    {
        line.Append((byte)'[');
        for (var i = 0; i < info.Shape[dimension]; i++)
        {
            if (i > 0)
            {
                line.Append((byte)',');
            }

            if (dimension == info.Shape.Length - 1)
            {
                WriteValue(info.ElementType, rows, o, row, index++, ref line, json: true);
            }
            else
            {
                WriteNested(info, dimension + 1, rows, o, row, ref index, ref line);
            }
        }

        line.Append((byte)']');
    }

    private static void WriteValue(TensorElementType type, RowSet rows, int o, int row, int i, ref SpanCursor line, bool json)
    {
        var span = line.Free;
        int written;
        switch (type)
        {
            case TensorElementType.Float:
                var f = rows.OutputRow<float>(o, row)[i];
                if (json && !float.IsFinite(f))
                {
                    line.Append("null"u8);
                    return;
                }

                written = FloatText.Format(f, span);
                break;
            case TensorElementType.Double:
                var d = rows.OutputRow<double>(o, row)[i];
                if (json && !double.IsFinite(d))
                {
                    line.Append("null"u8);
                    return;
                }

                d.TryFormat(span, out written, default, CultureInfo.InvariantCulture);
                break;
            case TensorElementType.Float16:
                // float16 widens to float32 exactly; written as that float's shortest text, so a
                // reader in float32 or float64 gets the value itself (65504, not float16's shortest 6.55E+04).
                var h = (float)rows.OutputRow<Half>(o, row)[i];
                if (json && !float.IsFinite(h))
                {
                    line.Append("null"u8);
                    return;
                }

                written = FloatText.Format(h, span);
                break;
            case TensorElementType.BFloat16:
                // bfloat16 widens to float32 exactly; written as that float's shortest text.
                var b = ValueWriter.BFloat16ToSingle(rows.OutputRow<ushort>(o, row)[i]);
                if (json && !float.IsFinite(b))
                {
                    line.Append("null"u8);
                    return;
                }

                written = FloatText.Format(b, span);
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
                line.Append(rows.OutputRow<byte>(o, row)[i] != 0 ? "true"u8 : "false"u8);
                return;
            case TensorElementType.String:
                if (json)
                {
                    AppendJsonString(rows.OutputString(o, row, i), ref line);
                }
                else
                {
                    AppendCsvField(rows.OutputString(o, row, i), ref line);
                }

                return;
            default:
                throw new NotSupportedException($"output element type {type}");
        }

        line.Advance(written);
    }

    /// <summary>A JSON string: quote, backslash and control characters escaped, other UTF-8 as it is.</summary>
    private static void AppendJsonString(ReadOnlySpan<byte> utf8, ref SpanCursor line)
    {
        line.Append((byte)'"');
        foreach (var b in utf8)
        {
            switch (b)
            {
                case (byte)'"': line.Append("\\\""u8); break;
                case (byte)'\\': line.Append("\\\\"u8); break;
                case (byte)'\n': line.Append("\\n"u8); break;
                case (byte)'\r': line.Append("\\r"u8); break;
                case (byte)'\t': line.Append("\\t"u8); break;
                case < 0x20:
                    line.Append("\\u00"u8);
                    line.Append((byte)"0123456789abcdef"[b >> 4]);
                    line.Append((byte)"0123456789abcdef"[b & 0xF]);
                    break;
                default: line.Append(b); break;
            }
        }

        line.Append((byte)'"');
    }

    /// <summary>An RFC 4180 field: quoted, with quotes doubled, when it holds a comma, a quote or a line end.</summary>
    private static void AppendCsvField(ReadOnlySpan<byte> utf8, ref SpanCursor line)
    {
        if (utf8.IndexOfAny(",\"\r\n"u8) < 0)
        {
            line.Append(utf8);
            return;
        }

        line.Append((byte)'"');
        foreach (var b in utf8)
        {
            if (b == (byte)'"')
            {
                line.Append((byte)'"');
            }

            line.Append(b);
        }

        line.Append((byte)'"');
    }

    /// <summary>Writes into one span and counts what it wrote.</summary>
    private ref struct SpanCursor(Span<byte> span)
    {
        private readonly Span<byte> _span = span;

        public int Length { get; private set; }

        public readonly Span<byte> Free => _span[Length..];

        public void Append(byte b) => _span[Length++] = b;

        public void Append(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_span[Length..]);
            Length += bytes.Length;
        }

        public void Advance(int count) => Length += count;
    }
}
