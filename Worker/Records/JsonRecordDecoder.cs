using System.Text.Json;
using Worker.Inference.Ort;

namespace Worker.Records;

/// <summary>
/// JSON Lines (one value per line) and JSON (<c>{"instances": [...]}</c>, <c>{"inputs": {name: rows}}</c>
/// or a top-level array) → input rows, with Utf8JsonReader straight over the body bytes.
/// A record is an array (nested arrays flattened row-major, shape checked), a number for a
/// one-value row, or an object keyed by input name.
/// </summary>
public static class JsonRecordDecoder
{
    private const int MaxDepth = 16;

    public static void DecodeLines(ReadOnlySpan<byte> body, RowSet rows, bool singleRecord)
    {
        var flatFloatRows = HasFlatFloatRows(rows.Signature);
        var position = body.StartsWith("\uFEFF"u8) ? 3 : 0;
        var record = 0L;
        while (position < body.Length)
        {
            var rest = body[position..];
            var newline = rest.IndexOf((byte)'\n');
            var line = newline < 0 ? rest : rest[..newline];
            var lineStart = position;
            position += newline < 0 ? rest.Length : newline + 1;

            if (line.IndexOfAnyExcept(" \t\r"u8) < 0)
            {
                if (body[position..].IndexOfAnyExcept(" \t\r\n"u8) < 0)
                {
                    break; // trailing line ends
                }

                throw new RecordException($"record {record} is an empty line", record, lineStart);
            }

            if (singleRecord && record == 1)
            {
                throw new RecordException("the body holds more than one JSON line, but the batch strategy is SINGLE_RECORD", record, lineStart);
            }

            if (flatFloatRows)
            {
                var row = rows.AddRow();
                if (TryReadFlatFloatLine(body, lineStart, lineStart + line.Length, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(rows.InputRow(0, row))))
                {
                    record++;
                    continue;
                }

                rows.RemoveLastRow(); // the general path below decodes (or rejects) the line from scratch
            }

            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = MaxDepth });
            try
            {
                reader.Read();
                DecodeRecord(ref reader, rows, record, lineStart);
                if (reader.Read())
                {
                    throw new RecordException($"record {record}: more than one JSON value on the line", record, lineStart + reader.TokenStartIndex);
                }
            }
            catch (JsonException e)
            {
                throw new RecordException($"record {record}: invalid JSON: {e.Message}", record, lineStart + reader.BytesConsumed);
            }

            record++;
        }
    }

    /// <summary>
    /// The line <c>body[lineStart..lineEnd)</c> is <c>[n, n, …]</c> and nothing else. Read over the whole
    /// body (the vector path loads past the line's end; a value or array that runs past it is refused).
    /// False means "let Utf8JsonReader decide", so what is accepted and every error message stay the reader's.
    /// </summary>
    private static bool TryReadFlatFloatLine(ReadOnlySpan<byte> body, int lineStart, int lineEnd, Span<float> row)
    {
        var i = SkipWhitespace(body[..lineEnd], lineStart);
        return TryReadFlatFloatArray(body, ref i, row) && i <= lineEnd && SkipWhitespace(body[..lineEnd], i) == lineEnd;
    }

    /// <summary>
    /// <c>[n, n, …]</c> at <paramref name="i"/> with JSON's own number grammar and whitespace, in one
    /// pass, exactly filling <paramref name="row"/>; <paramref name="i"/> ends after the ']'.
    /// </summary>
    private static bool TryReadFlatFloatArray(ReadOnlySpan<byte> text, ref int i, Span<float> row)
    {
        if (i == text.Length || text[i] != (byte)'[')
        {
            return false;
        }

        var first = SkipWhitespace(text, i + 1);
        var end = first <= text.Length - DelimiterBlocks.Margin ? TryReadFlatFloatArrayMasked(text, first, row) : -1;
        if (end > 0)
        {
            i = end;
            return true;
        }

        return TryReadFlatFloatArrayWords(text, ref i, row);
    }

    /// <summary><see cref="TryReadFlatFloatArray(ReadOnlySpan{byte}, ref int, Span{float})"/> a value at a time with the number word path (any position, any JSON number).</summary>
    internal static bool TryReadFlatFloatArrayWords(ReadOnlySpan<byte> text, ref int i, Span<float> row)
    {
        if (i == text.Length || text[i] != (byte)'[')
        {
            return false;
        }

        var count = 0;
        i = SkipWhitespace(text, i + 1);
        while (true)
        {
            if (count == row.Length || !NumberText.TryParseSingleInline(text, ref i, strictJson: true, out var value))
            {
                return false;
            }

            row[count++] = value;
            i = SkipWhitespace(text, i);
            if (i == text.Length)
            {
                return false;
            }

            if (text[i] == (byte)',')
            {
                i = SkipWhitespace(text, i + 1);
                continue;
            }

            if (text[i] != (byte)']')
            {
                return false;
            }

            i++;
            return count == row.Length;
        }
    }

    /// <summary>
    /// The rest of a flat array from its first value at <paramref name="start"/>, found as the CSV rows
    /// are (<see cref="CsvRecordDecoder.TryReadPlainFloatRowMasked"/>): the delimiters 64 bytes at a time
    /// as a bit mask (<see cref="DelimiterBlocks"/>), each value's end a bit scan, each value parsed on
    /// its own. Spaces and tabs may stand around the commas; a line end, an exponent or anything unusual
    /// gives -1 and the word path reads the array from its start. Returns the position after the <c>]</c>.
    /// </summary>
    internal static int TryReadFlatFloatArrayMasked(ReadOnlySpan<byte> text, int start, Span<float> row)
    {
        var blockStart = start;
        var mask = DelimiterBlocks.Mask<JsonArrayDelimiters>(text, blockStart);
        var count = 0;
        while (true)
        {
            if (!DelimiterBlocks.TryNext<JsonArrayDelimiters>(text, ref blockStart, ref mask, out var end)
                || count == row.Length
                || !NumberText.TryParseSingleDelimited(text, start, end, strictJson: true, out var value))
            {
                return -1;
            }

            row[count++] = value;
            while (end < text.Length && text[end] is (byte)' ' or (byte)'\t')
            {
                end++;
            }

            if (end == text.Length)
            {
                return -1;
            }

            if (text[end] == (byte)']')
            {
                return count == row.Length ? end + 1 : -1;
            }

            if (text[end] != (byte)',')
            {
                return -1;
            }

            start = end + 1;
            while (start < text.Length && text[start] is (byte)' ' or (byte)'\t')
            {
                start++;
            }

            // The mask keeps only the bits from the next value on (the spaces' bits included).
            if (!DelimiterBlocks.SkipTo<JsonArrayDelimiters>(text, start, ref blockStart, ref mask) || start > text.Length - NumberText.WordPathBytes)
            {
                return -1;
            }
        }
    }

    /// <summary>
    /// MULTI_RECORD <c>{"instances": [[n, …], …]}</c> or <c>[[n, …], …]</c> of flat float rows, in one
    /// pass. False means "decode the body with Utf8JsonReader from the start": the rows added here are
    /// removed, so what is accepted and every error message stay the reader's.
    /// </summary>
    private static bool TryReadFlatFloatInstances(ReadOnlySpan<byte> body, RowSet rows)
    {
        var first = rows.RowCount;
        if (TryReadFlatFloatInstances(body, rows, first))
        {
            return true;
        }

        while (rows.RowCount > first)
        {
            rows.RemoveLastRow();
        }

        return false;
    }

    private static bool TryReadFlatFloatInstances(ReadOnlySpan<byte> body, RowSet rows, int first)
    {
        var i = SkipWhitespace(body, body.StartsWith("\uFEFF"u8) ? 3 : 0);
        var enveloped = i < body.Length && body[i] == (byte)'{';
        if (enveloped)
        {
            i = SkipWhitespace(body, i + 1);
            if (!body[i..].StartsWith("\"instances\""u8))
            {
                return false;
            }

            i = SkipWhitespace(body, i + "\"instances\"".Length);
            if (i == body.Length || body[i] != (byte)':')
            {
                return false;
            }

            i = SkipWhitespace(body, i + 1);
        }

        if (i == body.Length || body[i] != (byte)'[')
        {
            return false;
        }

        i = SkipWhitespace(body, i + 1);
        while (true)
        {
            var row = rows.AddRow();
            if (!TryReadFlatFloatArray(body, ref i, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(rows.InputRow(0, row))))
            {
                return false;
            }

            i = SkipWhitespace(body, i);
            if (i < body.Length && body[i] == (byte)',')
            {
                i = SkipWhitespace(body, i + 1);
                continue;
            }

            if (i == body.Length || body[i] != (byte)']')
            {
                return false;
            }

            i = SkipWhitespace(body, i + 1);
            break;
        }

        if (enveloped)
        {
            if (i == body.Length || body[i] != (byte)'}')
            {
                return false;
            }

            i = SkipWhitespace(body, i + 1);
        }

        return i == body.Length && rows.RowCount > first;
    }

    /// <summary>One float32 input of rows of values: the shape the one-pass paths fill.</summary>
    private static bool HasFlatFloatRows(ModelSignature signature) =>
        signature.Inputs.Count == 1 && signature.Inputs[0].ElementType == TensorElementType.Float && signature.Inputs[0].Shape.Length == 2
        && !signature.Inputs[0].HasDynamicAxes;

    private static int SkipWhitespace(ReadOnlySpan<byte> text, int i)
    {
        // JSON's four; a line handed to the line reader holds no '\n', so one set serves both.
        while (i < text.Length && text[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            i++;
        }

        return i;
    }

    public static void DecodeDocument(ReadOnlySpan<byte> body, RowSet rows, bool singleRecord)
    {
        if (!singleRecord && HasFlatFloatRows(rows.Signature)
            && TryReadFlatFloatInstances(body, rows))
        {
            return;
        }

        DecodeDocumentWithReader(body, rows, singleRecord);
    }

    /// <summary>The general path: every JSON document form, every error; the reference the fast path is tested against.</summary>
    internal static void DecodeDocumentWithReader(ReadOnlySpan<byte> body, RowSet rows, bool singleRecord)
    {
        // A UTF-8 BOM is ignored, as RFC 8259 allows and as CSV and JSON Lines bodies do (Utf8JsonReader
        // itself rejects it); byte offsets in errors then count from after it.
        if (body.StartsWith("\uFEFF"u8))
        {
            body = body[3..];
        }

        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth + 2 });
        try
        {
            if (!reader.Read())
            {
                throw new RecordException("the JSON body is empty", 0, 0);
            }

            if (singleRecord && reader.TokenType != JsonTokenType.StartObject)
            {
                DecodeRecord(ref reader, rows, 0, 0);
            }
            else if (reader.TokenType == JsonTokenType.StartArray)
            {
                DecodeInstances(ref reader, rows);
            }
            else if (reader.TokenType == JsonTokenType.StartObject)
            {
                DecodeEnvelope(ref reader, rows, singleRecord, body);
            }
            else
            {
                throw new RecordException("a JSON body is {\"instances\": [...]}, {\"inputs\": {...}} or an array of records", 0, 0);
            }

            if (reader.Read())
            {
                throw new RecordException("content after the JSON value", rows.RowCount, reader.TokenStartIndex);
            }
        }
        catch (JsonException e)
        {
            throw new RecordException($"invalid JSON: {e.Message}", rows.RowCount, reader.BytesConsumed);
        }

        if (singleRecord && rows.RowCount > 1)
        {
            throw new RecordException("the body holds more than one record, but the batch strategy is SINGLE_RECORD", 1, 0);
        }
    }

    private static void DecodeEnvelope(ref Utf8JsonReader reader, RowSet rows, bool singleRecord, ReadOnlySpan<byte> body)
    {
        var envelope = reader;
        reader.Read();
        // "predictions" too: the answer of another worker (a serial inference pipeline) is a request as it stands.
        if (reader.TokenType == JsonTokenType.PropertyName && (reader.ValueTextEquals("instances"u8) || reader.ValueTextEquals("predictions"u8)))
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw new RecordException("\"instances\" (or \"predictions\") must be an array of records", 0, reader.TokenStartIndex);
            }

            DecodeInstances(ref reader, rows);
            ExpectEndOfObject(ref reader, rows);
            return;
        }

        if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("inputs"u8))
        {
            reader.Read();
            DecodeColumns(ref reader, rows);
            ExpectEndOfObject(ref reader, rows);
            return;
        }

        if (singleRecord)
        {
            // SINGLE_RECORD: the object itself is the record, keyed by input name.
            reader = envelope;
            DecodeRecord(ref reader, rows, 0, 0);
            return;
        }

        throw new RecordException("a JSON body is {\"instances\": [...]}, {\"inputs\": {...}} or an array of records", 0, envelope.TokenStartIndex);
    }

    private static void ExpectEndOfObject(ref Utf8JsonReader reader, RowSet rows)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.EndObject)
        {
            throw new RecordException("the JSON envelope has more than one member", rows.RowCount, reader.TokenStartIndex);
        }
    }

    private static void DecodeInstances(ref Utf8JsonReader reader, RowSet rows)
    {
        long record = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            DecodeRecord(ref reader, rows, record, 0);
            record++;
        }
    }

    /// <summary><c>{"inputs": {"a": [row, row], "b": [row, row]}}</c>: each input's rows, column by column.</summary>
    private static void DecodeColumns(ref Utf8JsonReader reader, RowSet rows)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new RecordException("\"inputs\" must be an object keyed by input name", 0, reader.TokenStartIndex);
        }

        Span<bool> seen = stackalloc bool[rows.Signature.Inputs.Count];
        var expectedRows = -1;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var input = FindInput(ref reader, rows.Signature, 0, allowSoleFallback: true);
            seen[input] = true;
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw new RecordException($"input {rows.Signature.Inputs[input].Name}: expected an array of rows", 0, reader.TokenStartIndex);
            }

            var row = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (row == rows.RowCount)
                {
                    rows.AddRow();
                }

                ReadTensor(ref reader, rows, input, row, row, 0);
                row++;
            }

            if (expectedRows >= 0 && row != expectedRows)
            {
                throw new RecordException($"input {rows.Signature.Inputs[input].Name} has {row} rows, other inputs have {expectedRows}", row, reader.TokenStartIndex);
            }

            expectedRows = row;
        }

        RequireAll(seen, rows.Signature, 0, 0);
        if (rows.Signature.HasDynamicInputs)
        {
            for (var row = 0; row < rows.RowCount; row++)
            {
                rows.CheckSharedAxes(row, row, 0);
            }
        }
    }

    private static void DecodeRecord(ref Utf8JsonReader reader, RowSet rows, long record, long baseOffset)
    {
        var signature = rows.Signature;
        var row = rows.AddRow();
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            Span<bool> seen = stackalloc bool[signature.Inputs.Count];
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var input = FindInput(ref reader, signature, record, allowSoleFallback: true);
                seen[input] = true;
                reader.Read();
                ReadTensor(ref reader, rows, input, row, record, baseOffset);
            }

            RequireAll(seen, signature, record, baseOffset);
            if (signature.HasDynamicInputs)
            {
                rows.CheckSharedAxes(row, record, baseOffset);
            }

            return;
        }

        if (signature.Inputs.Count != 1)
        {
            throw new RecordException(
                $"record {record}: the model has inputs {string.Join(", ", signature.Inputs.Select(i => i.Name))}; send an object keyed by input name",
                record,
                baseOffset + reader.TokenStartIndex);
        }

        ReadTensor(ref reader, rows, 0, row, record, baseOffset);
    }

    /// <summary>
    /// An image model's record as TF Serving writes it: <c>{"b64": "&lt;base64&gt;"}</c>, or that object
    /// under the input's name; the string is the encoded image (JPEG, PNG, WebP).
    /// </summary>
    private static void ReadImage(ref Utf8JsonReader reader, RowSet rows, int rowIndex, long record, long baseOffset)
    {
        var start = baseOffset + reader.TokenStartIndex;
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("b64"u8))
            {
                throw new RecordException($"record {record}: an image is {{\"b64\": \"<base64 of the image file>\"}}", record, start);
            }

            reader.Read();
            ReadImage(ref reader, rows, rowIndex, record, baseOffset);
            reader.Read();
            if (reader.TokenType != JsonTokenType.EndObject)
            {
                throw new RecordException($"record {record}: an image is {{\"b64\": \"<base64 of the image file>\"}}, with nothing else", record, start);
            }

            return;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            throw new RecordException($"record {record}: \"b64\" must be a string of base64", record, start);
        }

        var length = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            System.Buffers.OperationStatus status;
            int written;
            if (reader.ValueIsEscaped || reader.HasValueSequence)
            {
                // "\/" and the like: unescaped into the buffer, then decoded where it lies.
                status = System.Buffers.Text.Base64.DecodeFromUtf8InPlace(buffer.AsSpan(0, reader.CopyString(buffer)), out written);
            }
            else
            {
                status = System.Buffers.Text.Base64.DecodeFromUtf8(reader.ValueSpan, buffer, out _, out written);
            }

            if (status != System.Buffers.OperationStatus.Done)
            {
                throw new RecordException($"record {record}: \"b64\" is not valid base64 ({status})", record, start);
            }

            Images.ImageRecords.WriteRow(buffer.AsSpan(0, written), rows, rowIndex, record, start);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int FindInput(ref Utf8JsonReader reader, ModelSignature signature, long record, bool allowSoleFallback)
    {
        for (var i = 0; i < signature.Inputs.Count; i++)
        {
            if (reader.ValueTextEquals(signature.Inputs[i].Name))
            {
                return i;
            }
        }

        // A one-input model takes its values under any single key (e.g. SageMaker's {"features": [...]}).
        if (allowSoleFallback && signature.Inputs.Count == 1)
        {
            return 0;
        }

        throw new RecordException($"record {record}: '{reader.GetString()}' is not an input of the model ({string.Join(", ", signature.Inputs.Select(i => i.Name))})", record, reader.TokenStartIndex);
    }

    private static void RequireAll(ReadOnlySpan<bool> seen, ModelSignature signature, long record, long offset)
    {
        for (var i = 0; i < seen.Length; i++)
        {
            if (!seen[i])
            {
                throw new RecordException($"record {record}: input '{signature.Inputs[i].Name}' is missing", record, offset);
            }
        }
    }

    /// <summary>Reads a number or (nested) array of numbers into one row, checking the count and the nesting against the shape.</summary>
    private static void ReadTensor(ref Utf8JsonReader reader, RowSet rows, int inputIndex, int rowIndex, long record, long baseOffset)
    {
        if (rows.Signature.Image is not null && reader.TokenType is JsonTokenType.String or JsonTokenType.StartObject)
        {
            ReadImage(ref reader, rows, rowIndex, record, baseOffset);
            return;
        }

        var input = rows.Signature.Inputs[inputIndex];
        if (input.HasDynamicAxes)
        {
            ReadDynamicTensor(ref reader, rows, inputIndex, rowIndex, record, baseOffset);
            return;
        }

        var row = rows.InputRow(inputIndex, rowIndex);
        var target = new ValueTarget(rows, inputIndex, rowIndex);
        var rowSize = (int)input.RowSize;
        var start = baseOffset + reader.TokenStartIndex;
        var isString = input.ElementType == TensorElementType.String;
        if (reader.TokenType is JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False || (isString && reader.TokenType == JsonTokenType.String))
        {
            if (rowSize != 1)
            {
                throw new RecordException($"record {record}: expected {rowSize} values for input {input.Name}, got 1", record, start);
            }

            WriteValue(ref reader, input, row, target, 0, record, start);
            return;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new RecordException($"record {record}: input {input.Name} expects {(input.ElementType == TensorElementType.String ? "strings" : "numbers")}, got {reader.TokenType}", record, start);
        }

        Span<int> counts = stackalloc int[MaxDepth + 1];
        var depth = 1;
        var maxDepth = 1;
        var count = 0;
        var nestingMatches = true;
        counts[1] = 0;
        while (depth > 0 && reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    counts[depth]++;
                    depth++;
                    maxDepth = Math.Max(maxDepth, depth);
                    counts[depth] = 0;
                    break;
                case JsonTokenType.EndArray:
                    // With full nesting, every array at depth d holds Shape[d] items.
                    if (depth < input.Shape.Length && counts[depth] != input.Shape[depth])
                    {
                        nestingMatches = false;
                    }

                    depth--;
                    break;
                case JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False:
                case JsonTokenType.String when isString:
                    if (count < rowSize)
                    {
                        WriteValue(ref reader, input, row, target, count, record, start);
                    }

                    counts[depth]++;
                    count++;
                    break;
                default:
                    throw new RecordException($"record {record}: input {input.Name} expects {(input.ElementType == TensorElementType.String ? "strings" : "numbers")}, got {reader.TokenType}", record, baseOffset + reader.TokenStartIndex);
            }
        }

        if (count != rowSize)
        {
            throw new RecordException($"record {record}: expected {rowSize} values for input {input.Name}, got {count}", record, start);
        }

        // Flat rows are always accepted; nested ones must follow the model's shape exactly.
        if (maxDepth > 1 && (maxDepth != input.Shape.Length - 1 || !nestingMatches))
        {
            throw new RecordException($"record {record}: nested arrays for input {input.Name} do not match its shape {input.ShapeText}", record, start);
        }
    }

    private static void WriteValue(ref Utf8JsonReader reader, TensorInfo input, Span<byte> row, ValueTarget target, int index, long record, long start)
    {
        // JSON numbers are never escaped; a number split across buffer segments cannot occur on a span
        // reader. A bool input also takes JSON's true and false; a string input takes JSON strings only.
        var ok = (reader.TokenType, input.ElementType) switch
        {
            (JsonTokenType.String, TensorElementType.String) => WriteString(ref reader, target, index),
            (JsonTokenType.String, _) or (_, TensorElementType.String) => false,
            (JsonTokenType.Number, _) => ValueWriter.TryWrite(input.ElementType, reader.ValueSpan, row, index),
            (JsonTokenType.True or JsonTokenType.False, TensorElementType.Bool) => ValueWriter.TryWrite(input.ElementType, reader.TokenType == JsonTokenType.True ? 1 : 0, row, index),
            _ => false,
        };

        if (!ok)
        {
            throw new RecordException($"record {record}: value {index} is not a {TensorInfo.TypeName(input.ElementType)} (input {input.Name})", record, start);
        }
    }

    /// <summary>
    /// An input with dynamic axes: the record's nesting gives its sizes (each array at a level holds
    /// as many items as its siblings: a rectangular tensor), the fixed dimensions must match, and a
    /// flat array serves when only one dimension is dynamic. Values go to the row set's value arena.
    /// </summary>
    private static void ReadDynamicTensor(ref Utf8JsonReader reader, RowSet rows, int inputIndex, int rowIndex, long record, long baseOffset)
    {
        var input = rows.Signature.Inputs[inputIndex];
        var rank = input.Shape.Length;
        var start = baseOffset + reader.TokenStartIndex;
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new RecordException($"record {record}: input {input.Name} has dynamic dimensions {input.ShapeText}: send an array (nested as its shape)", record, start);
        }

        // sizes[d]: the items of each array at depth d (depth 1 is the record's own array); -1 until seen.
        Span<long> sizes = stackalloc long[MaxDepth + 2];
        Span<long> counts = stackalloc long[MaxDepth + 2];
        sizes.Fill(-1);
        Span<byte> value = stackalloc byte[8];
        var elementSize = input.ElementSize;
        var depth = 1;
        var maxDepth = 1;
        var count = 0L;
        var rectangular = true;
        var leafDepth = -1;
        counts[1] = 0;
        rows.BeginDynamic(inputIndex);
        while (depth > 0 && reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    counts[depth]++;
                    depth++;
                    maxDepth = Math.Max(maxDepth, depth);
                    counts[depth] = 0;
                    break;
                case JsonTokenType.EndArray:
                    if (sizes[depth] < 0)
                    {
                        sizes[depth] = counts[depth];
                    }
                    else if (sizes[depth] != counts[depth])
                    {
                        rectangular = false;
                    }

                    depth--;
                    break;
                case JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False:
                    rectangular &= leafDepth < 0 || leafDepth == depth;
                    leafDepth = depth;
                    var ok = reader.TokenType == JsonTokenType.Number
                        ? ValueWriter.TryWrite(input.ElementType, reader.ValueSpan, value, 0)
                        : input.ElementType == TensorElementType.Bool && ValueWriter.TryWrite(input.ElementType, reader.TokenType == JsonTokenType.True ? 1 : 0, value, 0);
                    if (!ok)
                    {
                        throw new RecordException($"record {record}: value {count} is not a {TensorInfo.TypeName(input.ElementType)} (input {input.Name})", record, start);
                    }

                    rows.AppendDynamicValue(inputIndex, value[..elementSize]);
                    counts[depth]++;
                    count++;
                    break;
                default:
                    throw new RecordException($"record {record}: input {input.Name} expects numbers, got {reader.TokenType}", record, baseOffset + reader.TokenStartIndex);
            }
        }

        Span<long> dims = stackalloc long[rank - 1];
        if (rectangular && maxDepth == rank - 1)
        {
            // Nested as the shape: level d's size is dimension d's.
            for (var d = 1; d < rank; d++)
            {
                dims[d - 1] = sizes[d];
                rectangular &= input.Shape[d] < 0 || input.Shape[d] == sizes[d];
            }
        }
        else if (rectangular && maxDepth == 1 && input.Shape.Skip(1).Count(d => d < 0) == 1 && count % input.FixedRowSize == 0)
        {
            // Flat, one dynamic dimension: it takes what the fixed ones leave.
            for (var d = 1; d < rank; d++)
            {
                dims[d - 1] = input.Shape[d] >= 0 ? input.Shape[d] : count / input.FixedRowSize;
            }
        }
        else
        {
            throw new RecordException($"record {record}: the arrays for input {input.Name} are not a tensor of its shape {input.ShapeText}", record, start);
        }

        if (count == 0)
        {
            throw new RecordException($"record {record}: input {input.Name} has no values", record, start);
        }

        rows.EndDynamic(inputIndex, rowIndex, dims);
    }

    /// <summary>A JSON string's text, unescaped where it has escapes, into the row set's string arena.</summary>
    private static bool WriteString(ref Utf8JsonReader reader, ValueTarget target, int index)
    {
        if (!reader.ValueIsEscaped)
        {
            target.Rows.WriteString(target.Input, target.Row, index, reader.ValueSpan);
            return true;
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(reader.ValueSpan.Length);
        try
        {
            var length = reader.CopyString(buffer);
            target.Rows.WriteString(target.Input, target.Row, index, buffer.AsSpan(0, length));
            return true;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Where a value goes: a string needs its row set's arena, a number only the row's bytes.</summary>
    private readonly record struct ValueTarget(RowSet Rows, int Input, int Row);
}
