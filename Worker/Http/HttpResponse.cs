using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Worker.Http;

/// <summary>One response being built. Reused per connection; the body is buffered so Content-Length is always known.</summary>
public sealed class HttpResponse : IDisposable
{
    public const string JsonContentType = "application/json";
    public const string TextContentType = "text/plain; charset=utf-8";

    // Error messages quote user input; relaxed escaping keeps them readable (the body is never HTML).
    internal static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private Utf8JsonWriter? _json;

    public int StatusCode { get; set; } = 200;
    public string ContentType { get; set; } = TextContentType;
    public PooledBufferWriter Body { get; } = new();

    /// <summary>Value of the Allow header on a 405.</summary>
    public string? Allow { get; set; }

    /// <summary>Set when the stream can no longer be trusted and the connection must close after this response.</summary>
    public bool CloseConnection { get; set; }

    /// <summary>The JSON error message, kept for the log line.</summary>
    public string? ErrorMessage { get; private set; }

    public void Reset()
    {
        StatusCode = 200;
        ContentType = TextContentType;
        Allow = null;
        CloseConnection = false;
        ErrorMessage = null;
        Body.Reset();
    }

    /// <summary>A JSON writer over the body, reused across requests of the connection.</summary>
    public Utf8JsonWriter StartJson(int statusCode)
    {
        Body.Reset();
        StatusCode = statusCode;
        ContentType = JsonContentType;
        if (_json is null)
        {
            _json = new Utf8JsonWriter(Body, JsonOptions);
        }
        else
        {
            _json.Reset(Body);
        }

        return _json;
    }

    /// <summary>The contract's error body: <c>{"error": "...", "record": i, "offset": b}</c>.</summary>
    public void SetError(int statusCode, string message, long? record = null, long? offset = null)
    {
        var json = StartJson(statusCode);
        json.WriteStartObject();
        json.WriteString("error"u8, message);
        if (record is { } r)
        {
            json.WriteNumber("record"u8, r);
        }

        if (offset is { } o)
        {
            json.WriteNumber("offset"u8, o);
        }

        json.WriteEndObject();
        json.Flush();
        ErrorMessage = message;
    }

    public void Dispose()
    {
        _json?.Dispose();
        Body.Dispose();
    }

    /// <summary>Writes status line, headers and body into the connection's pipe (no flush).</summary>
    public void WriteTo(IBufferWriter<byte> writer, bool keepAlive, bool isHttp11Client, bool omitBody)
    {
        var contentLength = Body.Length;
        var reason = ReasonPhrase(StatusCode);
        var maxHeadSize = 64 + reason.Length + ContentType.Length + (Allow?.Length ?? 0) + 64;
        var span = writer.GetSpan(maxHeadSize);
        var written = 0;

        Append(span, ref written, "HTTP/1.1 "u8);
        Utf8Formatter.TryFormat(StatusCode, span[written..], out var n);
        written += n;
        span[written++] = (byte)' ';
        Append(span, ref written, reason);
        Append(span, ref written, "\r\nContent-Type: "u8);
        written += Encoding.ASCII.GetBytes(ContentType, span[written..]);
        Append(span, ref written, "\r\nContent-Length: "u8);
        Utf8Formatter.TryFormat(contentLength, span[written..], out n);
        written += n;
        if (!keepAlive)
        {
            Append(span, ref written, "\r\nConnection: close"u8);
        }
        else if (!isHttp11Client)
        {
            Append(span, ref written, "\r\nConnection: keep-alive"u8);
        }

        if (Allow is not null)
        {
            Append(span, ref written, "\r\nAllow: "u8);
            written += Encoding.ASCII.GetBytes(Allow, span[written..]);
        }

        Append(span, ref written, "\r\n\r\n"u8);
        writer.Advance(written);

        if (!omitBody && contentLength > 0)
        {
            Body.CopyTo(writer);
        }
    }

    private static void Append(Span<byte> span, ref int written, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(span[written..]);
        written += bytes.Length;
    }

    private static ReadOnlySpan<byte> ReasonPhrase(int statusCode) => statusCode switch
    {
        200 => "OK"u8,
        400 => "Bad Request"u8,
        404 => "Not Found"u8,
        405 => "Method Not Allowed"u8,
        406 => "Not Acceptable"u8,
        408 => "Request Timeout"u8,
        413 => "Content Too Large"u8,
        415 => "Unsupported Media Type"u8,
        417 => "Expectation Failed"u8,
        431 => "Request Header Fields Too Large"u8,
        500 => "Internal Server Error"u8,
        501 => "Not Implemented"u8,
        503 => "Service Unavailable"u8,
        505 => "HTTP Version Not Supported"u8,
        _ => "Status"u8,
    };
}
