using System.Buffers;
using System.Text;

namespace Worker.Http;

/// <summary>
/// RFC 9112 request-line and header parser. Synchronous and restartable: it returns false when the
/// head is not complete yet, and the caller calls again from the head's first byte with more data.
/// Strict where leniency enables smuggling: lines must end in CRLF, no header folding, one
/// Content-Length, never both Content-Length and Transfer-Encoding.
/// </summary>
public static class HttpRequestParser
{
    private const byte CR = (byte)'\r';
    private const byte LF = (byte)'\n';
    private const byte SP = (byte)' ';
    private const byte HT = (byte)'\t';

    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    private const int MaxLeadingEmptyLines = 4;

    public static bool TryParseHead(ref SequenceReader<byte> reader, HttpRequestHead head)
    {
        var start = reader.Consumed;
        head.Reset();

        ReadOnlySpan<byte> line;
        var leading = 0;
        while (true)
        {
            if (!TryReadLine(ref reader, out line))
            {
                return false;
            }

            if (!line.IsEmpty)
            {
                break;
            }

            if (++leading > MaxLeadingEmptyLines)
            {
                HttpRejectException.Throw(RequestRejectionReason.InvalidRequestLine);
            }
        }

        ParseRequestLine(line, head);

        while (true)
        {
            if (!TryReadLine(ref reader, out line))
            {
                return false;
            }

            if (line.IsEmpty)
            {
                break;
            }

            ParseHeaderLine(line, head);
        }

        head.HeadLength = checked((int)(reader.Consumed - start));
        Validate(head);
        return true;
    }

    /// <summary>Reads one CRLF-terminated line without its terminator. A line split across segments is copied (rare).</summary>
    private static bool TryReadLine(scoped ref SequenceReader<byte> reader, out ReadOnlySpan<byte> line)
    {
        if (!reader.TryReadTo(out ReadOnlySequence<byte> sequence, LF, advancePastDelimiter: true))
        {
            line = default;
            return false;
        }

        line = sequence.IsSingleSegment ? sequence.FirstSpan : sequence.ToArray();
        if (line.IsEmpty || line[^1] != CR)
        {
            HttpRejectException.Throw(RequestRejectionReason.BareLineFeed);
        }

        line = line[..^1];
        return true;
    }

    private static void ParseRequestLine(ReadOnlySpan<byte> line, HttpRequestHead head)
    {
        var firstSpace = line.IndexOf(SP);
        if (firstSpace <= 0)
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidRequestLine);
        }

        var method = line[..firstSpace];
        if (!IsToken(method))
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidRequestLine);
        }

        head.Method = ParseMethod(method);

        var rest = line[(firstSpace + 1)..];
        var secondSpace = rest.IndexOf(SP);
        if (secondSpace <= 0)
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidRequestLine);
        }

        var target = rest[..secondSpace];
        var version = rest[(secondSpace + 1)..];

        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            head.IsHttp11 = true;
        }
        else if (version.SequenceEqual("HTTP/1.0"u8))
        {
            head.IsHttp11 = false;
        }
        else if (version.Length == 8 && version.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)version[5]) && version[6] == '.' && char.IsAsciiDigit((char)version[7]))
        {
            HttpRejectException.Throw(RequestRejectionReason.UnsupportedHttpVersion);
        }
        else
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidRequestLine);
        }

        foreach (var b in target)
        {
            if (b <= SP || b == 0x7F)
            {
                HttpRejectException.Throw(RequestRejectionReason.InvalidRequestLine);
            }
        }

        head.Route = ParseRoute(target, out var isValidForm, head);
        if (!isValidForm)
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidRequestLine);
        }

        if (head.Route == Route.NotFound)
        {
            // Only for the log line; bounded so a huge target cannot bloat it.
            head.UnknownTarget = Encoding.ASCII.GetString(target[..Math.Min(target.Length, 200)]);
        }
    }

    private static Route ParseRoute(ReadOnlySpan<byte> target, out bool isValidForm, HttpRequestHead head)
    {
        isValidForm = true;
        if (target[0] != (byte)'/')
        {
            // absolute-form (http://host/path), which proxies may send; asterisk-form only for OPTIONS.
            if (target.SequenceEqual("*"u8))
            {
                return Route.NotFound;
            }

            var schemeEnd = target.IndexOf("://"u8);
            if (schemeEnd <= 0)
            {
                isValidForm = false;
                return Route.NotFound;
            }

            var afterAuthority = target[(schemeEnd + 3)..];
            var pathStart = afterAuthority.IndexOf((byte)'/');
            if (pathStart < 0)
            {
                return Route.NotFound;
            }

            target = afterAuthority[pathStart..];
        }

        var query = target.IndexOf((byte)'?');
        var path = query >= 0 ? target[..query] : target;

        if (path.SequenceEqual("/invocations"u8))
        {
            return Route.Invocations;
        }

        if (path.SequenceEqual("/ping"u8))
        {
            return Route.Ping;
        }

        if (path.SequenceEqual("/execution-parameters"u8))
        {
            return Route.ExecutionParameters;
        }

        return path.StartsWith("/models"u8) ? ParseModelsRoute(path, query >= 0 ? target[(query + 1)..] : default, head) : Route.NotFound;
    }

    /// <summary>
    /// The multi-model routes: <c>/models</c> (with <c>?next_page_token=</c>), <c>/models/{name}</c>,
    /// <c>/models/{name}/invoke</c>. A name is percent-decoded and never holds '/'; these strings are the
    /// only ones a head allocates, and only on these routes.
    /// </summary>
    private static Route ParseModelsRoute(ReadOnlySpan<byte> path, ReadOnlySpan<byte> query, HttpRequestHead head)
    {
        var rest = path["/models"u8.Length..];
        if (rest.IsEmpty || rest.SequenceEqual("/"u8))
        {
            if (TryGetQueryValue(query, "next_page_token"u8, out var token))
            {
                head.NextPageToken = PercentDecode(token);
            }

            return Route.Models;
        }

        if (rest[0] != (byte)'/')
        {
            return Route.NotFound;
        }

        rest = rest[1..];
        var route = Route.Model;
        if (rest.EndsWith("/invoke"u8))
        {
            rest = rest[..^"/invoke"u8.Length];
            route = Route.ModelInvoke;
        }

        var name = rest.IsEmpty || rest.IndexOf((byte)'/') >= 0 ? null : PercentDecode(rest);
        if (string.IsNullOrEmpty(name) || name.Contains('/', StringComparison.Ordinal))
        {
            return Route.NotFound;
        }

        head.ModelName = name;
        return route;
    }

    private static string? PercentDecode(ReadOnlySpan<byte> text)
    {
        try
        {
            return Uri.UnescapeDataString(Encoding.UTF8.GetString(text).Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return null;
        }
    }

    /// <summary>The value of the first <paramref name="name"/>=value pair of a query string.</summary>
    private static bool TryGetQueryValue(ReadOnlySpan<byte> query, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        while (!query.IsEmpty)
        {
            var end = query.IndexOf((byte)'&');
            var pair = end < 0 ? query : query[..end];
            query = end < 0 ? default : query[(end + 1)..];
            var equals = pair.IndexOf((byte)'=');
            if (equals >= 0 && pair[..equals].SequenceEqual(name))
            {
                value = pair[(equals + 1)..];
                return true;
            }
        }

        value = default;
        return false;
    }

    private static HttpMethod ParseMethod(ReadOnlySpan<byte> method) => method.Length switch
    {
        3 when method.SequenceEqual("GET"u8) => HttpMethod.Get,
        3 when method.SequenceEqual("PUT"u8) => HttpMethod.Put,
        4 when method.SequenceEqual("POST"u8) => HttpMethod.Post,
        4 when method.SequenceEqual("HEAD"u8) => HttpMethod.Head,
        5 when method.SequenceEqual("PATCH"u8) => HttpMethod.Patch,
        6 when method.SequenceEqual("DELETE"u8) => HttpMethod.Delete,
        7 when method.SequenceEqual("OPTIONS"u8) => HttpMethod.Options,
        _ => HttpMethod.Other,
    };

    private static void ParseHeaderLine(ReadOnlySpan<byte> line, HttpRequestHead head)
    {
        if (line[0] is SP or HT)
        {
            HttpRejectException.Throw(RequestRejectionReason.HeaderFolding);
        }

        var colon = line.IndexOf((byte)':');
        if (colon <= 0)
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidHeaderLine);
        }

        var name = line[..colon];
        if (!IsToken(name))
        {
            // Also catches whitespace between the name and the colon (RFC 9112 §5.1: must be rejected).
            HttpRejectException.Throw(RequestRejectionReason.InvalidHeaderLine);
        }

        var value = line[(colon + 1)..].Trim(" \t"u8);
        foreach (var b in value)
        {
            if ((b < SP && b != HT) || b == 0x7F)
            {
                HttpRejectException.Throw(RequestRejectionReason.InvalidHeaderLine);
            }
        }

        switch (name.Length)
        {
            case 4 when Ascii.EqualsIgnoreCase(name, "host"u8):
                if (head.HasHost)
                {
                    HttpRejectException.Throw(RequestRejectionReason.InvalidHeaderLine);
                }

                head.HasHost = true;
                break;
            case 6 when Ascii.EqualsIgnoreCase(name, "accept"u8):
                head.Accept = head.Accept is null ? HeaderValueStrings.Get(value) : head.Accept + ", " + HeaderValueStrings.Get(value);
                break;
            case 6 when Ascii.EqualsIgnoreCase(name, "expect"u8):
                if (!Ascii.EqualsIgnoreCase(value, "100-continue"u8))
                {
                    HttpRejectException.Throw(RequestRejectionReason.UnsupportedExpectation);
                }

                head.ExpectContinue = true;
                break;
            case 10 when Ascii.EqualsIgnoreCase(name, "connection"u8):
                ParseConnection(value, head);
                break;
            case 12 when Ascii.EqualsIgnoreCase(name, "content-type"u8):
                if (head.ContentType is not null)
                {
                    HttpRejectException.Throw(RequestRejectionReason.InvalidHeaderLine);
                }

                head.ContentType = HeaderValueStrings.Get(value);
                break;
            case 14 when Ascii.EqualsIgnoreCase(name, "content-length"u8):
                if (head.ContentLength >= 0)
                {
                    HttpRejectException.Throw(RequestRejectionReason.DuplicateContentLength);
                }

                head.ContentLength = ParseContentLength(value);
                break;
            case 29 when Ascii.EqualsIgnoreCase(name, "x-amzn-sagemaker-inference-id"u8):
                head.InferenceId = HeaderValueStrings.Get(value);
                break;
            case 29 when Ascii.EqualsIgnoreCase(name, "x-amzn-sagemaker-target-model"u8):
                head.TargetModel = HeaderValueStrings.Get(value);
                break;
            case 31 when Ascii.EqualsIgnoreCase(name, "x-amzn-sagemaker-target-variant"u8):
                head.TargetVariant = HeaderValueStrings.Get(value);
                break;
            case 34 when Ascii.EqualsIgnoreCase(name, "x-amzn-sagemaker-custom-attributes"u8):
                head.CustomAttributes = HeaderValueStrings.Get(value);
                break;
            case 17 when Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8):
                // Only a lone "chunked" is supported; a second Transfer-Encoding line would mean another coding.
                if (head.HasTransferEncoding || !Ascii.EqualsIgnoreCase(value, "chunked"u8))
                {
                    HttpRejectException.Throw(RequestRejectionReason.UnsupportedTransferEncoding);
                }

                head.HasTransferEncoding = true;
                head.IsChunked = true;
                break;
        }
    }

    private static void ParseConnection(ReadOnlySpan<byte> value, HttpRequestHead head)
    {
        foreach (var range in value.Split((byte)','))
        {
            var option = value[range].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(option, "close"u8))
            {
                head.ConnectionClose = true;
            }
            else if (Ascii.EqualsIgnoreCase(option, "keep-alive"u8))
            {
                head.ConnectionKeepAlive = true;
            }
        }
    }

    private static long ParseContentLength(ReadOnlySpan<byte> value)
    {
        // Digits only: no sign, no spaces, no list. 18 digits cannot overflow a long.
        if (value.IsEmpty || value.Length > 18)
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidContentLength);
        }

        long length = 0;
        foreach (var b in value)
        {
            var digit = b - (byte)'0';
            if ((uint)digit > 9)
            {
                HttpRejectException.Throw(RequestRejectionReason.InvalidContentLength);
            }

            length = (length * 10) + digit;
        }

        return length;
    }

    private static void Validate(HttpRequestHead head)
    {
        if (head.HasTransferEncoding && head.ContentLength >= 0)
        {
            HttpRejectException.Throw(RequestRejectionReason.ContentLengthWithTransferEncoding);
        }

        if (head.HasTransferEncoding && !head.IsHttp11)
        {
            HttpRejectException.Throw(RequestRejectionReason.ChunkedOnHttp10);
        }

        if (head.IsHttp11 && !head.HasHost)
        {
            HttpRejectException.Throw(RequestRejectionReason.MissingHost);
        }
    }

    // RFC 9110 §5.6.2 tchar.
    private static bool IsToken(ReadOnlySpan<byte> span)
    {
        foreach (var b in span)
        {
            if (!IsTokenChar(b))
            {
                return false;
            }
        }

        return !span.IsEmpty;
    }

    private static bool IsTokenChar(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\''
            or (byte)'*' or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';
}

/// <summary>Returns shared strings for the header values SageMaker sends on every request, so they are not allocated each time.</summary>
internal static class HeaderValueStrings
{
    private static readonly string[] Known =
    [
        "text/csv", "application/json", "application/jsonlines", "application/x-jsonlines", "application/jsonl",
        "application/x-recordio-protobuf", "application/x-recordio", "application/x-tfrecord", "*/*",
        "text/csv; charset=utf-8", "application/json; charset=utf-8",
    ];

    private static readonly byte[][] KnownBytes = Array.ConvertAll(Known, Encoding.ASCII.GetBytes);

    public static string Get(ReadOnlySpan<byte> value)
    {
        for (var i = 0; i < KnownBytes.Length; i++)
        {
            if (value.SequenceEqual(KnownBytes[i]))
            {
                return Known[i];
            }
        }

        return Encoding.Latin1.GetString(value);
    }
}
