using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Worker.Inference.Ort;

namespace Worker.Records;

/// <summary>
/// RFC 4180 CSV → input rows in one pass: quoted fields may hold commas, doubled quotes and CR/LF;
/// CRLF or LF line ends; an optional UTF-8 BOM; a trailing line end is not a record; a blank line
/// between records is an error. A row's fields fill the model's inputs in order, each input taking
/// its row size of values; with <c>header=present</c> and several inputs, the header's names map
/// columns to inputs (each then of one value) in any order.
/// Unquoted fields (the common numeric case) are parsed in place; only quoted fields are unescaped
/// into a scratch buffer.
/// </summary>
public static class CsvRecordDecoder
{
    public static void Decode(ReadOnlySpan<byte> body, CsvOptions options, RowSet rows, bool singleRecord)
    {
        var signature = rows.Signature;
        var inputs = signature.Inputs;
        var input = inputs[0];
        var fieldInputs = signature.FieldInputs;
        var fieldIndices = signature.FieldIndices;
        var rowSize = fieldInputs.Length;
        List<string>? headerNames = options.HasHeader && inputs.Count > 1 ? [] : null;

        // An input with dynamic axes takes a row of any length when it is the only input and only
        // one of its dimensions is dynamic: the row's length gives that dimension.
        var dynamic = signature.HasDynamicInputs;
        if (dynamic && (inputs.Count != 1 || input.Shape.Skip(1).Count(d => d < 0) != 1))
        {
            throw new RecordException(
                $"CSV rows can feed one input with one dynamic dimension; this model has {string.Join(", ", inputs.Select(i => i.Name + i.ShapeText))}: send JSON",
                0,
                0);
        }

        Span<byte> dynamicValue = stackalloc byte[8];
        var position = body.StartsWith("\uFEFF"u8) ? 3 : 0;
        var record = 0L;
        byte[]? scratch = null;
        var skipHeader = options.HasHeader;
        try
        {
            while (position < body.Length)
            {
                var recordStart = position;
                if (IsLineEnd(body, position))
                {
                    // Trailing line ends close the body; a blank line between records is an error.
                    if (OnlyLineEndsFrom(body, position))
                    {
                        break;
                    }

                    throw new RecordException($"record {record} is an empty line", record, position);
                }

                if (singleRecord && record == 1 && !skipHeader)
                {
                    throw new RecordException("the body holds more than one CSV record, but the batch strategy is SINGLE_RECORD", record, position);
                }

                var row = skipHeader ? -1 : rows.AddRow();

                // Fast path: an unquoted float row of a one-input model parsed in one pass. Anything
                // else, including every error, takes the general path below from the row's start, so
                // answers and messages agree.
                if (dynamic && row >= 0)
                {
                    rows.BeginDynamic(0);
                }

                if (row >= 0 && !dynamic && inputs.Count == 1 && input.ElementType == TensorElementType.Float)
                {
                    var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(rows.InputRow(0, row));
                    var end = position <= body.Length - DelimiterBlocks.Margin ? TryReadPlainFloatRowMasked(body, position, floats) : -1;
                    if (end < 0)
                    {
                        end = TryReadPlainFloatRow(body, position, floats);
                    }

                    if (end > 0)
                    {
                        position = end;
                        record++;
                        continue;
                    }
                }

                var field = 0;
                while (true)
                {
                    ReadOnlySpan<byte> value;
                    if (position < body.Length && body[position] == (byte)'"')
                    {
                        value = ReadQuoted(body, ref position, ref scratch, record, recordStart);
                    }
                    else
                    {
                        var rest = body[position..];
                        var end = rest.IndexOfAny((byte)',', (byte)'\n');
                        value = end < 0 ? rest : rest[..end];
                        position += value.Length;
                        if (!value.IsEmpty && value[^1] == (byte)'\r' && (position == body.Length || body[position] == (byte)'\n'))
                        {
                            value = value[..^1];
                        }
                    }

                    if (dynamic && row >= 0)
                    {
                        if (!ValueWriter.TryWrite(input.ElementType, value, dynamicValue, 0))
                        {
                            throw new RecordException($"record {record}: value {field} '{Shorten(value)}' is not a {TensorInfo.TypeName(input.ElementType)}", record, recordStart);
                        }

                        rows.AppendDynamicValue(0, dynamicValue[..input.ElementSize]);
                    }
                    else if (row >= 0 && field < rowSize)
                    {
                        var target = inputs[fieldInputs[field]];
                        if (target.ElementType == TensorElementType.String)
                        {
                            // A string column keeps its text as written, unquoted (an empty field is "").
                            rows.WriteString(fieldInputs[field], row, fieldIndices[field], value);
                        }
                        else if (!ValueWriter.TryWrite(target.ElementType, value, rows.InputRow(fieldInputs[field], row), fieldIndices[field]))
                        {
                            throw new RecordException(
                                value.IsEmpty
                                    ? $"record {record}: value {field} is empty"
                                    : $"record {record}: value {field} '{Shorten(value)}' is not a {TensorInfo.TypeName(target.ElementType)}{(inputs.Count > 1 ? $" (input {target.Name})" : "")}",
                                record,
                                recordStart);
                        }
                    }
                    else if (headerNames is not null && row < 0)
                    {
                        headerNames.Add(Encoding.UTF8.GetString(value));
                    }

                    field++;
                    if (position < body.Length && body[position] == (byte)',')
                    {
                        position++;
                        continue;
                    }

                    if (position < body.Length)
                    {
                        position++; // the '\n' (a preceding '\r' was already taken off the value)
                    }

                    break;
                }

                if (dynamic && row >= 0)
                {
                    EndDynamicRow(rows, row, field, record, recordStart);
                }
                else if (row >= 0 && field != rowSize)
                {
                    throw new RecordException($"record {record}: expected {rowSize} values, got {field}", record, recordStart);
                }

                if (skipHeader)
                {
                    skipHeader = false;
                    if (headerNames is not null)
                    {
                        (fieldInputs, fieldIndices) = MapHeader(headerNames, signature);
                        rowSize = fieldInputs.Length;
                    }

                    continue;
                }

                record++;
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>A dynamic input's row of <paramref name="values"/> values: its one dynamic dimension is what the fixed ones leave.</summary>
    private static void EndDynamicRow(RowSet rows, int row, int values, long record, int recordStart)
    {
        var input = rows.Signature.Inputs[0];
        var step = input.FixedRowSize;
        if (values % step != 0)
        {
            throw new RecordException($"record {record}: {values} values do not fill input {input.Name}'s shape {input.ShapeText} (a multiple of {step})", record, recordStart);
        }

        Span<long> dims = stackalloc long[input.Shape.Length - 1];
        for (var d = 1; d < input.Shape.Length; d++)
        {
            dims[d - 1] = input.Shape[d] >= 0 ? input.Shape[d] : values / step;
        }

        rows.EndDynamic(0, row, dims);
    }

    /// <summary>
    /// <c>header=present</c> for a model of several inputs: each column named after an input, in any
    /// order, feeds that input, which then takes one value per record (a DataFrame column each).
    /// </summary>
    private static (int[] FieldInputs, int[] FieldIndices) MapHeader(List<string> names, ModelSignature signature)
    {
        var inputs = signature.Inputs;
        var fieldInputs = new int[names.Count];
        var seen = new bool[inputs.Count];
        for (var column = 0; column < names.Count; column++)
        {
            var input = -1;
            for (var i = 0; i < inputs.Count; i++)
            {
                if (string.Equals(inputs[i].Name, names[column].Trim(), StringComparison.Ordinal))
                {
                    input = i;
                }
            }

            if (input < 0)
            {
                throw new RecordException($"header column {column} '{names[column]}' is not an input of the model ({string.Join(", ", inputs.Select(i => i.Name))})", 0, 0);
            }

            if (seen[input])
            {
                throw new RecordException($"header column {column} '{names[column]}' names input {inputs[input].Name} a second time", 0, 0);
            }

            if (inputs[input].RowSize != 1)
            {
                throw new RecordException($"header column {column} '{names[column]}': input {inputs[input].Name} takes {inputs[input].RowSize} values per record; a named column feeds an input of one value", 0, 0);
            }

            seen[input] = true;
            fieldInputs[column] = input;
        }

        var missing = inputs.Where((_, i) => !seen[i]).Select(i => i.Name).ToArray();
        if (missing.Length > 0)
        {
            throw new RecordException($"the header has no column for input{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing)}", 0, 0);
        }

        return (fieldInputs, new int[names.Count]);
    }

    /// <summary>
    /// The same rows as <see cref="TryReadPlainFloatRow"/>, found another way: the delimiters come 64
    /// bytes at a time as a bit mask (<see cref="DelimiterBlocks"/>), so each field's start is the
    /// previous delimiter's bit and no field waits on the previous number's parse. -1 sends the row to
    /// the word path (it also takes rows too close to the body's end for the block loads).
    /// </summary>
    internal static int TryReadPlainFloatRowMasked(ReadOnlySpan<byte> body, int position, Span<float> row)
    {
        var blockStart = position;
        var mask = DelimiterBlocks.Mask<CsvDelimiters>(body, blockStart);
        var start = position;
        var field = 0;
        var lean = NumberText.Vectorized;
        while (true)
        {
            int end;
            if (lean)
            {
                var leanEnd = TryReadLeanFields(body, row, ref blockStart, ref mask, ref start, ref field, out end);
                if (leanEnd != 0)
                {
                    return leanEnd;
                }

                // A field longer than the lean path takes (pandas' 17 digits): the rest of the row
                // takes this loop, as such fields come in whole rows and going back and forth costs.
                lean = end - start <= 16;
            }
            else
            {
                if (!DelimiterBlocks.TryNext<CsvDelimiters>(body, ref blockStart, ref mask, out end))
                {
                    return -1;
                }

                mask &= mask - 1;
            }

            if (field == row.Length
                || !NumberText.TryParseSingleDelimited(body, start, end, strictJson: false, out var value))
            {
                return -1;
            }

            row[field++] = value;
            var delimiter = body[end];
            if (delimiter == (byte)',')
            {
                start = end + 1;
                continue;
            }

            if (field != row.Length)
            {
                return -1;
            }

            return delimiter == (byte)'\n' ? end + 1
                : delimiter == (byte)'\r' && end + 1 < body.Length && body[end + 1] == (byte)'\n' ? end + 2
                : -1;
        }
    }

    /// <summary>
    /// The row's fields from <paramref name="startAt"/> on, while each takes <see cref="NumberText.TryParseSingleFieldLean"/>:
    /// a loop with no call and no bounds check, so its state stays in registers and it runs fewer
    /// instructions a field than the full path's loop, whose speed follows that count more than
    /// anything else measured (BENCHMARKS.md, number text). Returns the row's end (as
    /// <see cref="TryReadPlainFloatRowMasked"/>), -1, or 0 with <paramref name="end"/> the end of the
    /// field at <paramref name="startAt"/>, which the caller parses by the full path.
    /// </summary>
    private static int TryReadLeanFields(ReadOnlySpan<byte> body, Span<float> row, ref int blockStartAt, ref ulong maskAt, ref int startAt, ref int fieldAt, out int fieldEnd)
    {
        ref var text = ref MemoryMarshal.GetReference(body);
        ref var values = ref MemoryMarshal.GetReference(row);
        var blockStart = blockStartAt;
        var mask = maskAt;
        var start = startAt;
        var field = fieldAt;
        var result = -1;
        var end = -1;
        while (DelimiterBlocks.TryNext<CsvDelimiters>(body, ref blockStart, ref mask, out end))
        {
            mask &= mask - 1;
            if (field == row.Length)
            {
                break;
            }

            // In bounds: a field starts at most one byte past the previous delimiter, whose block keeps
            // DelimiterBlocks.Margin bytes before the body's end.
            if (!NumberText.TryParseSingleFieldLean(ref text, start, end, out var value))
            {
                result = 0;
                break;
            }

            Unsafe.Add(ref values, field++) = value;
            var delimiter = Unsafe.Add(ref text, end);
            if (delimiter == (byte)',')
            {
                start = end + 1;
                continue;
            }

            result = field != row.Length ? -1
                : delimiter == (byte)'\n' ? end + 1
                : delimiter == (byte)'\r' && end + 1 < body.Length && body[end + 1] == (byte)'\n' ? end + 2
                : -1;
            break;
        }

        blockStartAt = blockStart;
        maskAt = mask;
        startAt = start;
        fieldAt = field;
        fieldEnd = end;
        return result;
    }

    /// <returns>The position after the row's line end, or -1 when the row needs the general path.</returns>
    internal static int TryReadPlainFloatRow(ReadOnlySpan<byte> body, int position, Span<float> row)
    {
        var field = 0;
        while (true)
        {
            if (field == row.Length || !NumberText.TryParseSingleInline(body, ref position, strictJson: false, out var value))
            {
                return -1;
            }

            row[field++] = value;
            if (position == body.Length)
            {
                return field == row.Length ? position : -1;
            }

            var next = body[position];
            if (next == (byte)',')
            {
                position++;
                continue;
            }

            var lineEnd = next == (byte)'\n' ? 1 : next == (byte)'\r' && position + 1 < body.Length && body[position + 1] == (byte)'\n' ? 2 : 0;
            return lineEnd > 0 && field == row.Length ? position + lineEnd : -1;
        }
    }

    private static ReadOnlySpan<byte> ReadQuoted(ReadOnlySpan<byte> body, scoped ref int position, scoped ref byte[]? scratch, long record, int recordStart)
    {
        var start = position;
        position++; // opening quote
        var length = 0;
        while (true)
        {
            var rest = body[position..];
            var quote = rest.IndexOf((byte)'"');
            if (quote < 0)
            {
                throw new RecordException($"record {record}: quoted field starting at byte {start} is never closed", record, recordStart);
            }

            Append(ref scratch, ref length, rest[..quote]);
            position += quote + 1;
            if (position < body.Length && body[position] == (byte)'"')
            {
                Append(ref scratch, ref length, "\""u8);
                position++;
                continue;
            }

            break;
        }

        // After the closing quote: a comma, a line end or the end of the body.
        if (position < body.Length && body[position] == (byte)'\r' && position + 1 < body.Length && body[position + 1] == (byte)'\n')
        {
            position++;
        }

        if (position < body.Length && body[position] is not ((byte)',' or (byte)'\n'))
        {
            throw new RecordException($"record {record}: unexpected character after a closing quote at byte {position}", record, recordStart);
        }

        return scratch.AsSpan(0, length);
    }

    private static void Append(ref byte[]? scratch, ref int length, ReadOnlySpan<byte> bytes)
    {
        if (scratch is null || scratch.Length < length + bytes.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(256, (length + bytes.Length) * 2));
            scratch?.AsSpan(0, length).CopyTo(bigger);
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }

            scratch = bigger;
        }

        bytes.CopyTo(scratch.AsSpan(length));
        length += bytes.Length;
    }

    private static bool IsLineEnd(ReadOnlySpan<byte> body, int position) =>
        body[position] == (byte)'\n' || (body[position] == (byte)'\r' && position + 1 < body.Length && body[position + 1] == (byte)'\n');

    private static bool OnlyLineEndsFrom(ReadOnlySpan<byte> body, int position) =>
        body[position..].IndexOfAnyExcept((byte)'\r', (byte)'\n') < 0;

    internal static string Shorten(ReadOnlySpan<byte> value) =>
        Encoding.UTF8.GetString(value[..Math.Min(value.Length, 40)]) + (value.Length > 40 ? "…" : "");
}
