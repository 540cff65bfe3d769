using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Worker.Hosting;

namespace Worker.Jobs.Transform;

/// <summary>DataProcessing.JoinSource: whether each answer is joined onto its input record.</summary>
public enum JoinSource
{
    None,
    Input,
}

/// <summary>
/// CreateTransformJob's DataProcessing: InputFilter picks what of each record is sent, JoinSource
/// joins each answer onto its input record, OutputFilter picks what of the joined record is written.
/// They run here, in the data plane, exactly where SageMaker runs them: the container never sees them.
/// </summary>
public sealed record DataProcessing(JsonPathFilter? InputFilter, JoinSource JoinSource, JsonPathFilter? OutputFilter)
{
    public static DataProcessing None { get; } = new(null, JoinSource.None, null);

    public bool FiltersInput => InputFilter is { IsIdentity: false };

    /// <summary>Answers are rewritten record by record: joined, filtered, or both.</summary>
    public bool RewritesAnswers => JoinSource == JoinSource.Input || OutputFilter is { IsIdentity: false };

    public bool IsActive => FiltersInput || RewritesAnswers;

    public static JoinSource ParseJoinSource(string name, string text) =>
        text.ToLowerInvariant() switch
        {
            "none" => JoinSource.None,
            "input" => JoinSource.Input,
            _ => throw new ConfigurationException(name, $"must be None or Input, got '{text}'"),
        };

    /// <summary>SageMaker takes DataProcessing on CSV, JSON and JSON Lines only, and CSV records only by index.</summary>
    public void CheckFormat(string option, Records.RecordFormat format)
    {
        if (!IsActive)
        {
            return;
        }

        if (format is not (Records.RecordFormat.Csv or Records.RecordFormat.Json or Records.RecordFormat.JsonLines))
        {
            throw new ConfigurationException(option, $"input filters, joins and output filters take CSV, JSON and JSON Lines input only, not {format}");
        }

        if (format == Records.RecordFormat.Csv)
        {
            foreach (var (filter, name) in new[] { (InputFilter, "--input-filter"), (JoinSource == JoinSource.Input ? OutputFilter : null, "--output-filter") })
            {
                if (filter is { AppliesToCsv: false })
                {
                    throw new ConfigurationException(name, $"'{filter.Text}': a CSV record is the array of its fields, so only index paths such as $[1:] or $[0,-1] apply");
                }
            }
        }
    }
}

/// <summary>The original records of one request, kept until its answer is joined onto them.</summary>
internal sealed class RecordOriginals
{
    private readonly ArrayBufferWriter<byte> _bytes = new();
    private readonly List<int> _ends = [];

    public int Count => _ends.Count;

    public void Add(ReadOnlySpan<byte> record)
    {
        _bytes.Write(record);
        _ends.Add(_bytes.WrittenCount);
    }

    public ReadOnlySpan<byte> this[int index] =>
        _bytes.WrittenSpan[(index == 0 ? 0 : _ends[index - 1]).._ends[index]];
}

/// <summary>
/// Applies a job's <see cref="DataProcessing"/> to one file's records (CSV by raw field, JSON by
/// node) and to their answers. CSV fields keep their text exactly, quotes included.
/// </summary>
internal sealed class RecordProcessor(DataProcessing processing, bool csvInput)
{
    // The input side runs on the file's reader and the answer side on its writer, at the same time:
    // each has its own scratch lists.
    private readonly List<Range> _inputFields = [];
    private readonly List<int> _inputSelected = [];
    private readonly List<Range> _fields = [];
    private readonly List<Range> _answerFields = [];
    private readonly List<int> _selected = [];
    private readonly ArrayBufferWriter<byte> _joined = new();

    public DataProcessing Processing { get; } = processing;

    /// <summary>The record as the model is sent it (no line end).</summary>
    public void FilterInput(ReadOnlySpan<byte> record, IBufferWriter<byte> into)
    {
        var filter = Processing.InputFilter!;
        if (csvInput)
        {
            CsvFields.Split(record, _inputFields);
            filter.SelectFields(_inputFields.Count, _inputSelected);
            WriteFields(record, _inputFields, _inputSelected, into);
            return;
        }

        WriteJson(filter.Apply(ParseJson(record, "the record")), into);
    }

    /// <summary>One output record (no line end): the answer, joined onto its input when asked, then filtered.</summary>
    public void WriteAnswer(ReadOnlySpan<byte> original, ReadOnlySpan<byte> answer, bool answerIsCsv, bool answerIsJson, IBufferWriter<byte> into)
    {
        var join = Processing.JoinSource == JoinSource.Input;
        var filter = Processing.OutputFilter is { IsIdentity: false } f ? f : null;
        if (join ? csvInput : answerIsCsv)
        {
            // The joined record is CSV: the input's fields, then the answer's.
            if (filter is { AppliesToCsv: false })
            {
                throw new FilterException($"the output filter '{filter.Text}' names keys, but the joined record is CSV: only index paths such as $[0,-1] apply");
            }

            _fields.Clear();
            _joined.ResetWrittenCount();
            if (join)
            {
                CsvFields.Split(original, _answerFields);
                _joined.Write(original);
                _fields.AddRange(_answerFields);
            }

            var answerStart = _joined.WrittenCount;
            if (answerIsCsv)
            {
                _joined.Write(answer);
                CsvFields.Split(answer, _answerFields);
            }
            else
            {
                // A JSON answer on a CSV record: one field, quoted as RFC 4180 quotes.
                WriteQuotedField(answer, _joined);
                _answerFields.Clear();
                _answerFields.Add(0..(_joined.WrittenCount - answerStart));
            }

            foreach (var field in _answerFields)
            {
                _fields.Add((field.Start.Value + answerStart)..(field.End.Value + answerStart));
            }

            var line = _joined.WrittenSpan;
            _selected.Clear();
            if (filter is null)
            {
                for (var i = 0; i < _fields.Count; i++)
                {
                    _selected.Add(i);
                }
            }
            else
            {
                filter.SelectFields(_fields.Count, _selected);
            }

            WriteFields(line, _fields, _selected, into);
            return;
        }

        JsonNode? answerNode = answerIsJson ? ParseJson(answer, "the answer") : JsonValue.Create(System.Text.Encoding.UTF8.GetString(answer));
        JsonNode? joined;
        if (!join)
        {
            joined = answerNode;
        }
        else if (ParseJson(original, "the record") is JsonObject obj)
        {
            obj["SageMakerOutput"] = answerNode;
            joined = obj;
        }
        else
        {
            // Only an object can take a key: anything else goes under SageMakerInput beside the answer.
            joined = new JsonObject { ["SageMakerInput"] = ParseJson(original, "the record"), ["SageMakerOutput"] = answerNode };
        }

        WriteJson(filter is null ? joined : filter.Apply(joined), into);
    }

    private static JsonNode? ParseJson(ReadOnlySpan<byte> text, string what)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw new FilterException($"{what} is not JSON: {e.Message}");
        }
    }

    private static void WriteJson(JsonNode? node, IBufferWriter<byte> into)
    {
        using var writer = new Utf8JsonWriter(into, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
        if (node is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            node.WriteTo(writer);
        }
    }

    private static void WriteFields(ReadOnlySpan<byte> line, List<Range> fields, List<int> selected, IBufferWriter<byte> into)
    {
        for (var i = 0; i < selected.Count; i++)
        {
            if (i > 0)
            {
                into.Write(","u8);
            }

            into.Write(line[fields[selected[i]]]);
        }
    }

    private static void WriteQuotedField(ReadOnlySpan<byte> text, IBufferWriter<byte> into)
    {
        into.Write("\""u8);
        while (text.IndexOf((byte)'"') is var quote and >= 0)
        {
            into.Write(text[..(quote + 1)]);
            into.Write("\""u8);
            text = text[(quote + 1)..];
        }

        into.Write(text);
        into.Write("\""u8);
    }
}

/// <summary>The raw fields of one RFC 4180 record (no line end), quotes kept.</summary>
internal static class CsvFields
{
    public static void Split(ReadOnlySpan<byte> record, List<Range> fields)
    {
        fields.Clear();
        var start = 0;
        var at = 0;
        var quoted = false;
        while (at < record.Length)
        {
            var b = record[at];
            if (b == (byte)'"')
            {
                quoted = !quoted; // "" inside quotes toggles twice
            }
            else if (b == (byte)',' && !quoted)
            {
                fields.Add(start..at);
                start = at + 1;
            }

            at++;
        }

        fields.Add(start..record.Length);
    }
}

/// <summary>Cuts one answer into the answers of its records, for the join and the output filter.</summary>
internal static class AnswerRecords
{
    public static bool IsCsv(string? contentType) => contentType is "text/csv";

    public static bool IsJson(string? contentType) => contentType is not null && contentType.Contains("json", StringComparison.Ordinal);

    /// <summary>
    /// Each record's answer within <paramref name="body"/>: lines of a CSV (outside quotes) or JSON Lines
    /// answer, the elements of a JSON answer's <c>predictions</c> array, or the whole answer for one record.
    /// </summary>
    public static void Split(ReadOnlySpan<byte> body, string? contentType, int expected, List<Range> pieces)
    {
        pieces.Clear();
        if (IsCsv(contentType) || contentType is "application/jsonlines" or "application/x-jsonlines" or "application/jsonl")
        {
            SplitLines(body, quotes: IsCsv(contentType), pieces);
        }
        else if (expected == 1)
        {
            pieces.Add(0..TrimEnd(body, body.Length));
        }
        else if (IsJson(contentType))
        {
            SplitPredictions(body, pieces);
        }

        if (pieces.Count != expected)
        {
            throw new FilterException(
                $"the container answered {pieces.Count} record(s) ({contentType ?? "no Content-Type"}) for {expected} sent; joining and output filters need one answer per record: "
                + "answers as text/csv or application/jsonlines lines, or a JSON {\"predictions\": [...]}");
        }
    }

    private static void SplitLines(ReadOnlySpan<byte> body, bool quotes, List<Range> pieces)
    {
        var start = 0;
        var quoted = false;
        for (var at = 0; at < body.Length; at++)
        {
            var b = body[at];
            if (b == (byte)'"' && quotes)
            {
                quoted = !quoted;
            }
            else if (b == (byte)'\n' && !quoted)
            {
                pieces.Add(start..TrimEnd(body, at));
                start = at + 1;
            }
        }

        if (start < body.Length)
        {
            pieces.Add(start..TrimEnd(body, body.Length));
        }
    }

    private static int TrimEnd(ReadOnlySpan<byte> body, int end)
    {
        while (end > 0 && body[end - 1] is (byte)'\r' or (byte)'\n' or (byte)' ')
        {
            end--;
        }

        return end;
    }

    private static void SplitPredictions(ReadOnlySpan<byte> body, List<Range> pieces)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isPredictions = reader.ValueTextEquals("predictions"u8);
                reader.Read();
                if (!isPredictions || reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    pieces.Add(start..(int)reader.BytesConsumed);
                }

                return;
            }
        }
        catch (JsonException)
        {
            pieces.Clear();
        }
    }
}
