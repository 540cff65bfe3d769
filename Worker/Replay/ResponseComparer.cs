using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Worker.Replay;

/// <summary>
/// Compares a replayed response with the recorded one: status, media type, and body, where numbers
/// may differ by a relative tolerance (other hardware, other ORT build) and everything else must be
/// equal. A difference is described by the first differing record, readably.
/// </summary>
public sealed class ResponseComparer(double tolerance)
{
    public double Tolerance { get; } = tolerance;

    /// <returns>Null when they agree, else what differs.</returns>
    public string? Compare(HttpMessage expected, HttpMessage actual)
    {
        if (expected.Status != actual.Status)
        {
            return $"status: expected {expected.Status}, got {actual.Status} {Excerpt(actual.Body)}".TrimEnd();
        }

        if (expected.MediaType != actual.MediaType)
        {
            return $"Content-Type: expected '{expected.MediaType}', got '{actual.MediaType}'";
        }

        return expected.MediaType switch
        {
            "text/csv" => CompareLines(expected.Body, actual.Body, CompareCsvLine),
            "application/jsonlines" or "application/x-jsonlines" or "application/jsonl" => CompareLines(expected.Body, actual.Body, CompareJsonText),
            "application/json" => CompareJsonText(Encoding.UTF8.GetString(expected.Body), Encoding.UTF8.GetString(actual.Body)),
            _ => expected.Body.AsSpan().SequenceEqual(actual.Body) ? null : $"body: expected {Excerpt(expected.Body)}, got {Excerpt(actual.Body)}",
        };
    }

    private static string Excerpt(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 160)).ReplaceLineEndings("\\n");
        return body.Length > 160 ? $"'{text}…' ({body.Length} bytes)" : $"'{text}'";
    }

    private static string? CompareLines(byte[] expectedBody, byte[] actualBody, Func<string, string, string?> compareLine)
    {
        var expected = Lines(expectedBody);
        var actual = Lines(actualBody);
        for (var i = 0; i < Math.Min(expected.Length, actual.Length); i++)
        {
            if (compareLine(expected[i], actual[i]) is { } difference)
            {
                return $"record {i}: {difference}\n    expected: {Shorten(expected[i])}\n    actual:   {Shorten(actual[i])}";
            }
        }

        return expected.Length == actual.Length
            ? null
            : $"expected {expected.Length} records, got {actual.Length}; first extra or missing is record {Math.Min(expected.Length, actual.Length)}: "
              + Shorten(expected.Length > actual.Length ? expected[actual.Length] : actual[expected.Length]);
    }

    private static string[] Lines(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }

        return text.Length == 0 ? [] : text.Split('\n');
    }

    private static string Shorten(string text) => text.Length > 200 ? text[..200] + "…" : text;

    private string? CompareCsvLine(string expected, string actual)
    {
        var e = expected.TrimEnd('\r').Split(',');
        var a = actual.TrimEnd('\r').Split(',');
        if (e.Length != a.Length)
        {
            return $"expected {e.Length} values, got {a.Length}";
        }

        for (var i = 0; i < e.Length; i++)
        {
            if (!FieldsAgree(e[i], a[i]))
            {
                return $"value {i}: expected {e[i]}, got {a[i]}";
            }
        }

        return null;
    }

    private bool FieldsAgree(string expected, string actual)
    {
        if (expected == actual)
        {
            return true;
        }

        return double.TryParse(expected, NumberStyles.Float, CultureInfo.InvariantCulture, out var e)
            && double.TryParse(actual, NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
            && NumbersAgree(e, a);
    }

    /// <summary>Relative tolerance; below 1 in magnitude the tolerance is absolute (0 and 1e-9 agree).</summary>
    public bool NumbersAgree(double expected, double actual) =>
        expected.Equals(actual) || Math.Abs(expected - actual) <= Tolerance * Math.Max(1, Math.Max(Math.Abs(expected), Math.Abs(actual)));

    private string? CompareJsonText(string expected, string actual)
    {
        JsonDocument e;
        try
        {
            e = JsonDocument.Parse(expected);
        }
        catch (JsonException)
        {
            return expected == actual ? null : "expected text (not JSON) differs";
        }

        using (e)
        {
            try
            {
                using var a = JsonDocument.Parse(actual);
                return CompareJson(e.RootElement, a.RootElement, "$");
            }
            catch (JsonException ex)
            {
                return "the answer is not JSON: " + ex.Message;
            }
        }
    }

    private string? CompareJson(JsonElement expected, JsonElement actual, string path)
    {
        if (expected.ValueKind != actual.ValueKind)
        {
            return $"at {path}: expected {expected.ValueKind} {Shorten(expected.GetRawText())}, got {actual.ValueKind} {Shorten(actual.GetRawText())}";
        }

        switch (expected.ValueKind)
        {
            case JsonValueKind.Number:
                return NumbersAgree(expected.GetDouble(), actual.GetDouble()) ? null : $"at {path}: expected {expected.GetRawText()}, got {actual.GetRawText()}";
            case JsonValueKind.Array:
                var expectedItems = expected.EnumerateArray().ToList();
                var actualItems = actual.EnumerateArray().ToList();
                for (var i = 0; i < Math.Min(expectedItems.Count, actualItems.Count); i++)
                {
                    if (CompareJson(expectedItems[i], actualItems[i], $"{path}[{i}]") is { } difference)
                    {
                        return difference;
                    }
                }

                return expectedItems.Count == actualItems.Count ? null : $"at {path}: expected {expectedItems.Count} items, got {actualItems.Count}";
            case JsonValueKind.Object:
                var expectedNames = expected.EnumerateObject().Select(p => p.Name).ToList();
                var actualNames = actual.EnumerateObject().Select(p => p.Name).ToList();
                if (!expectedNames.SequenceEqual(actualNames))
                {
                    return $"at {path}: expected members [{string.Join(", ", expectedNames)}], got [{string.Join(", ", actualNames)}]";
                }

                foreach (var property in expected.EnumerateObject())
                {
                    if (CompareJson(property.Value, actual.GetProperty(property.Name), $"{path}.{property.Name}") is { } difference)
                    {
                        return difference;
                    }
                }

                return null;
            default:
                return expected.GetRawText() == actual.GetRawText() ? null : $"at {path}: expected {Shorten(expected.GetRawText())}, got {Shorten(actual.GetRawText())}";
        }
    }
}
