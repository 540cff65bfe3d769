namespace Worker.Records;

/// <summary>How a request body is cut into records (the Content-Type).</summary>
public enum RecordFormat
{
    Csv,
    JsonLines,
    Json,
    TfRecord,
    RecordIO,
    RecordIOProtobuf,

    /// <summary>One encoded image (JPEG, PNG, WebP), the body whole: <c>image/*</c> and <c>application/x-image</c>.</summary>
    Image,
}

/// <summary>How the answer is written (the Accept type).</summary>
public enum AnswerFormat
{
    Csv,
    JsonLines,
    Json,
}

/// <summary>What the Content-Type's parameters ask of the CSV reader.</summary>
public readonly record struct CsvOptions(bool HasHeader);

/// <summary>Content-Type and Accept negotiation. Parameters are parsed, not compared as strings.</summary>
public static class MediaTypes
{
    public static bool TryGetRecordFormat(string? contentType, out RecordFormat format, out CsvOptions csv, out string error)
    {
        format = default;
        csv = default;
        if (string.IsNullOrWhiteSpace(contentType))
        {
            error = "request has no Content-Type; send text/csv, application/jsonlines, application/json, application/x-tfrecord, application/x-recordio, application/x-recordio-protobuf or an image (image/jpeg, image/png, image/webp, application/x-image)";
            return false;
        }

        var (type, parameters) = Split(contentType);
        switch (type)
        {
            case "text/csv":
                format = RecordFormat.Csv;
                break;
            case "application/jsonlines" or "application/x-jsonlines" or "application/jsonl" or "application/json-lines":
                format = RecordFormat.JsonLines;
                break;
            case "application/json":
                format = RecordFormat.Json;
                break;
            case "application/x-tfrecord":
                format = RecordFormat.TfRecord;
                break;
            case "application/x-recordio":
                format = RecordFormat.RecordIO;
                break;
            case "application/x-recordio-protobuf":
                format = RecordFormat.RecordIOProtobuf;
                break;
            case "image/jpeg" or "image/jpg" or "image/png" or "image/webp" or "application/x-image":
                // The format is sniffed from the bytes: the type only says "an image".
                format = RecordFormat.Image;
                break;
            default:
                error = $"Content-Type '{contentType}' is not supported";
                return false;
        }

        foreach (var (name, value) in parameters)
        {
            if (name == "charset" && value is not ("utf-8" or "utf8" or "us-ascii"))
            {
                error = $"charset '{value}' is not supported; send UTF-8";
                return false;
            }

            if (name == "header" && format == RecordFormat.Csv)
            {
                csv = new CsvOptions(HasHeader: value == "present");
            }
        }

        error = "";
        return true;
    }

    /// <summary>
    /// Picks the answer type: the first acceptable entry of highest quality; a missing Accept or a
    /// wildcard gets the Content-Type's family (csv→csv, json→json, everything else→jsonlines).
    /// </summary>
    public static bool TryGetAnswerFormat(string? accept, RecordFormat input, out AnswerFormat format, out string error)
    {
        error = "";
        var family = input switch
        {
            RecordFormat.Csv => AnswerFormat.Csv,
            RecordFormat.Json => AnswerFormat.Json,
            _ => AnswerFormat.JsonLines,
        };

        if (string.IsNullOrWhiteSpace(accept))
        {
            format = family;
            return true;
        }

        AnswerFormat? best = null;
        var bestQuality = 0.0;
        foreach (var entry in accept.Split(','))
        {
            var (type, parameters) = Split(entry);
            var quality = 1.0;
            foreach (var (name, value) in parameters)
            {
                if (name == "q" && double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var q))
                {
                    quality = q;
                }
            }

            AnswerFormat? candidate = type switch
            {
                "text/csv" => AnswerFormat.Csv,
                "application/jsonlines" or "application/x-jsonlines" or "application/jsonl" or "application/json-lines" => AnswerFormat.JsonLines,
                "application/json" => AnswerFormat.Json,
                "*/*" => family,
                "text/*" => AnswerFormat.Csv,
                "application/*" => family == AnswerFormat.Csv ? AnswerFormat.JsonLines : family,
                _ => null,
            };

            if (candidate is not null && quality > bestQuality)
            {
                best = candidate;
                bestQuality = quality;
            }
        }

        if (best is { } chosen)
        {
            format = chosen;
            return true;
        }

        format = default;
        error = $"Accept '{accept}' names no supported type; the worker answers text/csv, application/jsonlines or application/json";
        return false;
    }

    public static string ContentTypeOf(AnswerFormat format) => format switch
    {
        AnswerFormat.Csv => "text/csv",
        AnswerFormat.JsonLines => "application/jsonlines",
        _ => "application/json",
    };

    private static (string Type, List<(string Name, string Value)> Parameters) Split(string mediaType)
    {
        var parts = mediaType.Split(';');
        var parameters = new List<(string, string)>();
        for (var i = 1; i < parts.Length; i++)
        {
            var equals = parts[i].IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                parameters.Add((parts[i][..equals].Trim().ToLowerInvariant(), parts[i][(equals + 1)..].Trim().Trim('"').ToLowerInvariant()));
            }
        }

        return (parts[0].Trim().ToLowerInvariant(), parameters);
    }
}
