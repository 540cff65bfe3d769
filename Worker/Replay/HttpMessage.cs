using System.Net.Sockets;
using System.Text;

namespace Worker.Replay;

/// <summary>A parsed HTTP/1.1 response: what replay compares.</summary>
public sealed record HttpMessage(int Status, IReadOnlyList<(string Name, string Value)> Headers, byte[] Body)
{
    /// <summary>The reason phrase of the status line, as the server sent it.</summary>
    public string Reason { get; init; } = "";

    /// <summary>The response as a recorded file holds it: status line, headers, blank line, body.</summary>
    public byte[] ToBytes()
    {
        var head = new StringBuilder($"HTTP/1.1 {Status} {Reason}\r\n");
        foreach (var (name, value) in Headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append("\r\n");
        return [.. Encoding.Latin1.GetBytes(head.ToString()), .. Body];
    }

    public string? Header(string name) =>
        Headers.Where(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

    /// <summary>The media type alone, lower case: <c>text/csv</c> of <c>text/csv; charset=utf-8</c>.</summary>
    public string MediaType => (Header("Content-Type") ?? "").Split(';')[0].Trim().ToLowerInvariant();

    /// <summary>Parses a recorded response: status line, headers, blank line, body (by Content-Length, else the rest).</summary>
    public static HttpMessage Parse(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            throw new FormatException("no end of the header section (CRLF CRLF)");
        }

        var (status, reason, headers) = ParseHead(Encoding.Latin1.GetString(bytes[..end]));
        var body = bytes[(end + 4)..];
        return new HttpMessage(status, headers, body.ToArray()) { Reason = reason };
    }

    private static (int Status, string Reason, List<(string, string)> Headers) ParseHead(string head)
    {
        var lines = head.Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        if (statusParts.Length < 2 || !statusParts[0].StartsWith("HTTP/", StringComparison.Ordinal) || !int.TryParse(statusParts[1], out var status))
        {
            throw new FormatException($"not an HTTP status line: '{lines[0]}'");
        }

        var headers = new List<(string, string)>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers.Add((line[..colon].Trim(), line[(colon + 1)..].Trim()));
            }
        }

        return (status, statusParts.Length > 2 ? statusParts[2] : "", headers);
    }

    /// <summary>
    /// Sends <paramref name="request"/> byte for byte on a new connection and reads the final response
    /// (a <c>100 Continue</c> is skipped). The body is read by Content-Length, else until the server closes.
    /// </summary>
    public static async Task<HttpMessage> ExchangeAsync(Uri endpoint, byte[] request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cancel.CancelAfter(timeout);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancel.Token).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);

        // The server may answer (413, 404) before the body is all sent and close: keep reading regardless.
        var sending = SendAsync(stream, request, cancel.Token);
        var buffer = new List<byte>(4096);
        var chunk = new byte[64 * 1024];
        while (true)
        {
            var headEnd = IndexOfHeadEnd(buffer);
            while (headEnd < 0)
            {
                var read = await stream.ReadAsync(chunk, cancel.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException($"the server closed the connection after {buffer.Count} bytes, before a whole response head");
                }

                buffer.AddRange(chunk.AsSpan(0, read));
                headEnd = IndexOfHeadEnd(buffer);
            }

            var (status, reason, headers) = ParseHead(Encoding.Latin1.GetString([.. buffer.GetRange(0, headEnd)]));
            buffer.RemoveRange(0, headEnd + 4);
            if (status is >= 100 and < 200)
            {
                continue;
            }

            var lengthText = headers.Where(h => h.Item1.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Select(h => h.Item2).FirstOrDefault();
            long? length = long.TryParse(lengthText, out var l) ? l : null;
            while (length is null || buffer.Count < length)
            {
                var read = await stream.ReadAsync(chunk, cancel.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    if (length is null)
                    {
                        break;
                    }

                    throw new IOException($"the server closed the connection {length - buffer.Count} bytes before the end of the body");
                }

                buffer.AddRange(chunk.AsSpan(0, read));
            }

            await sending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var body = length is { } n ? buffer.GetRange(0, (int)n).ToArray() : buffer.ToArray();
            return new HttpMessage(status, headers, body) { Reason = reason };
        }
    }

    private static async Task SendAsync(NetworkStream stream, byte[] request, CancellationToken cancellationToken)
    {
        try
        {
            await stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The server stopped reading (it answered early and closed): its answer is what counts.
        }
    }

    private static int IndexOfHeadEnd(List<byte> buffer)
    {
        for (var i = 3; i < buffer.Count; i++)
        {
            if (buffer[i] == '\n' && buffer[i - 1] == '\r' && buffer[i - 2] == '\n' && buffer[i - 3] == '\r')
            {
                return i - 3;
            }
        }

        return -1;
    }
}
