using System.Diagnostics.CodeAnalysis;

namespace Worker.Http;

/// <summary>Why a request was refused before it reached a route. Each maps to one status and message.</summary>
public enum RequestRejectionReason
{
    InvalidRequestLine,
    InvalidHeaderLine,
    BareLineFeed,
    HeaderFolding,
    HeadersTooLarge,
    UnsupportedHttpVersion,
    MissingHost,
    InvalidContentLength,
    DuplicateContentLength,
    ContentLengthWithTransferEncoding,
    UnsupportedTransferEncoding,
    ChunkedOnHttp10,
    InvalidChunkSize,
    InvalidChunkLine,
    ChunkLineTooLong,
    UnexpectedEndOfBody,
    BodyTooLarge,
    UnsupportedExpectation,
    RequestBodyTimeout,
}

/// <summary>A request the server refuses; the connection answers it and then closes.</summary>
public sealed class HttpRejectException(RequestRejectionReason reason, int statusCode, string message) : Exception(message)
{
    public RequestRejectionReason Reason { get; } = reason;
    public int StatusCode { get; } = statusCode;

    // Throw helpers keep the hot parsing methods small enough to inline.
    [DoesNotReturn]
    public static void Throw(RequestRejectionReason reason) => throw Create(reason);

    public static HttpRejectException Create(RequestRejectionReason reason) => reason switch
    {
        RequestRejectionReason.InvalidRequestLine => new(reason, 400, "malformed request line"),
        RequestRejectionReason.InvalidHeaderLine => new(reason, 400, "malformed header line"),
        RequestRejectionReason.BareLineFeed => new(reason, 400, "line ends with LF without CR"),
        RequestRejectionReason.HeaderFolding => new(reason, 400, "obsolete header line folding is not accepted"),
        RequestRejectionReason.HeadersTooLarge => new(reason, 431, "request header section is larger than the limit"),
        RequestRejectionReason.UnsupportedHttpVersion => new(reason, 505, "only HTTP/1.0 and HTTP/1.1 are supported"),
        RequestRejectionReason.MissingHost => new(reason, 400, "HTTP/1.1 request without a Host header"),
        RequestRejectionReason.InvalidContentLength => new(reason, 400, "invalid Content-Length"),
        RequestRejectionReason.DuplicateContentLength => new(reason, 400, "more than one Content-Length"),
        RequestRejectionReason.ContentLengthWithTransferEncoding => new(reason, 400, "both Content-Length and Transfer-Encoding are present"),
        RequestRejectionReason.UnsupportedTransferEncoding => new(reason, 501, "only Transfer-Encoding: chunked is supported"),
        RequestRejectionReason.ChunkedOnHttp10 => new(reason, 400, "Transfer-Encoding is not allowed on HTTP/1.0"),
        RequestRejectionReason.InvalidChunkSize => new(reason, 400, "invalid chunk size"),
        RequestRejectionReason.InvalidChunkLine => new(reason, 400, "malformed chunk framing"),
        RequestRejectionReason.ChunkLineTooLong => new(reason, 400, "chunk header line is too long"),
        RequestRejectionReason.UnexpectedEndOfBody => new(reason, 400, "connection closed before the body was complete"),
        RequestRejectionReason.BodyTooLarge => new(reason, 413, "request body is larger than the payload limit"),
        RequestRejectionReason.UnsupportedExpectation => new(reason, 417, "only Expect: 100-continue is supported"),
        RequestRejectionReason.RequestBodyTimeout => new(reason, 408, "request was not received in time"),
        _ => new(reason, 400, "bad request"),
    };
}
