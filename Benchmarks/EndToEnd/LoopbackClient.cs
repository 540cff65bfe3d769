using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Benchmarks.EndToEnd;

/// <summary>A keep-alive HTTP/1.1 client over one loopback socket: sends prepared request bytes, reads one response.</summary>
public sealed class LoopbackClient : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[1 << 20];
    private int _start;
    private int _end;

    public LoopbackClient(int port)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Connect(IPAddress.Loopback, port);
    }

    public static byte[] Request(string contentType, byte[] body, string accept = "text/csv") =>
        [.. Encoding.ASCII.GetBytes($"POST /invocations HTTP/1.1\r\nHost: bench\r\nContent-Type: {contentType}\r\nAccept: {accept}\r\nContent-Length: {body.Length}\r\n\r\n"), .. body];

    /// <returns>The status code; the body is read and dropped.</returns>
    public async Task<int> SendAsync(byte[] request)
    {
        await _socket.SendAsync(request, SocketFlags.None);
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            await FillAsync();
        }

        var head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
        var status = int.Parse(head.AsSpan(9, 3), provider: null);
        var lengthAt = head.IndexOf("Content-Length: ", StringComparison.OrdinalIgnoreCase) + 16;
        var lengthEnd = head.IndexOf('\r', lengthAt);
        var length = int.Parse(head.AsSpan(lengthAt, (lengthEnd < 0 ? head.Length : lengthEnd) - lengthAt), provider: null);
        _start += headEnd + 4;
        while (_end - _start < length)
        {
            length -= _end - _start;
            _start = _end = 0;
            await FillAsync();
        }

        _start += length;
        return status;
    }

    public void Dispose() => _socket.Dispose();

    private async Task FillAsync()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None);
        if (read == 0)
        {
            throw new IOException("server closed the connection");
        }

        _end += read;
    }
}
