using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Worker.Tests.Support;

/// <summary>
/// A stand-in for somebody else's container, to drive <c>transform --endpoint</c> into what ours
/// never does (fail and recover, miscount lines). Minimal HTTP/1.1 over a TcpListener, keep-alive,
/// Content-Length or chunked request bodies. /ping is 200, /execution-parameters 404.
/// </summary>
public sealed class ScriptedEndpoint : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<int, byte[], (int Status, string ContentType, byte[] Body)> _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _invocations;

    /// <param name="answer">Given the invocation's number (from 0) and its body, the answer.</param>
    public ScriptedEndpoint(Func<int, byte[], (int Status, string ContentType, byte[] Body)> answer)
    {
        _answer = answer;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
    public int Invocations => Volatile.Read(ref _invocations);

    /// <summary>Answers every body with itself as text/csv: a container that echoes its records.</summary>
    public static (int, string, byte[]) Echo(byte[] body) => (200, "text/csv", body);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        await using var stream = new NetworkStream(socket);
        using var reader = new BufferedStream(stream);
        try
        {
            while (true)
            {
                var head = await ReadHeadAsync(reader);
                if (head is null)
                {
                    return;
                }

                var lines = head.Split("\r\n");
                var path = lines[0].Split(' ')[1];
                var headers = lines.Skip(1).Where(l => l.Contains(':'))
                    .ToDictionary(l => l[..l.IndexOf(':')].Trim().ToLowerInvariant(), l => l[(l.IndexOf(':') + 1)..].Trim());
                var body = headers.TryGetValue("content-length", out var length)
                    ? await ReadExactlyAsync(reader, int.Parse(length))
                    : headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked") ? await ReadChunkedAsync(reader) : [];

                (int Status, string ContentType, byte[] Body) answer = path switch
                {
                    "/ping" => (200, "text/plain", []),
                    "/invocations" => _answer(Interlocked.Increment(ref _invocations) - 1, body),
                    _ => (404, "application/json", "{\"error\": \"not here\"}"u8.ToArray()),
                };
                var response = $"HTTP/1.1 {answer.Status} X\r\nContent-Type: {answer.ContentType}\r\nContent-Length: {answer.Body.Length}\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
                await stream.WriteAsync(answer.Body);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    private static async Task<string?> ReadHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one) == 0)
            {
                return null;
            }

            head.Add(one[0]);
            if (head.Count >= 4 && head[^1] == '\n' && head[^2] == '\r' && head[^3] == '\n' && head[^4] == '\r')
            {
                return Encoding.ASCII.GetString([.. head]);
            }
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int length)
    {
        var buffer = new byte[length];
        await stream.ReadExactlyAsync(buffer);
        return buffer;
    }

    private static async Task<byte[]> ReadChunkedAsync(Stream stream)
    {
        var body = new MemoryStream();
        while (true)
        {
            var sizeLine = await ReadLineAsync(stream);
            var size = Convert.ToInt32(sizeLine.Split(';')[0].Trim(), 16);
            if (size == 0)
            {
                while ((await ReadLineAsync(stream)).Length > 0)
                {
                }

                return body.ToArray();
            }

            body.Write(await ReadExactlyAsync(stream, size));
            await ReadLineAsync(stream);
        }
    }

    private static async Task<string> ReadLineAsync(Stream stream)
    {
        var line = new List<byte>();
        var one = new byte[1];
        while (await stream.ReadAsync(one) > 0 && one[0] != '\n')
        {
            line.Add(one[0]);
        }

        return Encoding.ASCII.GetString([.. line]).TrimEnd('\r');
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
