using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Worker.Tests.Support;

public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>A socket that speaks HTTP/1.1 by hand, so tests control every byte on the wire.</summary>
public sealed class RawHttpClient : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly List<byte> _unread = [];

    private RawHttpClient(Socket socket) => _socket = socket;

    public static async Task<RawHttpClient> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return new RawHttpClient(socket);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
        }
    }

    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Reads one response: status line, headers, and a body of Content-Length bytes.</summary>
    public async Task<RawResponse> ReadResponseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var headEnd = await FillUntilAsync(() => IndexOf("\r\n\r\n"u8), cts.Token);
        var head = Encoding.Latin1.GetString(_unread.GetRange(0, headEnd).ToArray());
        _unread.RemoveRange(0, headEnd + 4);

        var lines = head.Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        Assert.Equal("HTTP/1.1", statusParts[0]);
        var status = int.Parse(statusParts[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..].Trim();
        }

        if (status == 100)
        {
            return new RawResponse(status, headers, []);
        }

        Assert.True(headers.ContainsKey("Content-Type"), "every response carries Content-Type");
        var length = int.Parse(headers["Content-Length"], System.Globalization.CultureInfo.InvariantCulture);
        await FillUntilAsync(() => _unread.Count >= length ? length : -1, cts.Token);
        var body = _unread.GetRange(0, length).ToArray();
        _unread.RemoveRange(0, length);
        return new RawResponse(status, headers, body);
    }

    /// <summary>True when the server closed the connection (read returns 0 or reset) within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    return true;
                }

                _unread.AddRange(buffer.AsSpan(0, read).ToArray());
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public bool HasUnreadBytes => _unread.Count > 0;

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<int> FillUntilAsync(Func<int> found, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var index = found();
            if (index >= 0)
            {
                return index;
            }

            var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException("server closed the connection before a full response");
            }

            _unread.AddRange(buffer.AsSpan(0, read).ToArray());
        }
    }

    private int IndexOf(ReadOnlySpan<byte> pattern)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_unread);
        return span.IndexOf(pattern);
    }
}
