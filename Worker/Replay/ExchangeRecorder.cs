using System.Buffers;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Worker.Hosting;

namespace Worker.Replay;

/// <summary>
/// <c>serve --record DIR</c>: every exchange into DIR as three files (layout in formats/samples/README.md):
/// <c>NNNNNN.request</c> (the request's bytes as received, secrets redacted), <c>NNNNNN.response</c>
/// (status line, headers and body as sent) and <c>NNNNNN.json</c> (what the server was set to).
/// The connection only copies the bytes and hands them over; a background task writes the files.
/// Recording never fails or holds up a request: when the writer falls behind (over
/// <see cref="MaxPendingBytes"/> queued) or the disk fails, exchanges are dropped and counted.
/// </summary>
public sealed class ExchangeRecorder : IAsyncDisposable
{
    public const long MaxPendingBytes = 256L * 1024 * 1024;

    private readonly Channel<Exchange> _queue = Channel.CreateUnbounded<Exchange>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _directory;
    private readonly JsonLog _log;
    private readonly byte[] _settingsJson;
    private readonly Task _writing;
    private long _pendingBytes;
    private long _sequence;
    private long _dropped;
    private long _written;

    public ExchangeRecorder(string directory, WorkerSettings settings, JsonLog log)
    {
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
        _log = log;
        _settingsJson = CaseSettings.FromServer(settings).ToJson();
        _writing = Task.Run(WriteLoopAsync);
    }

    public long Dropped => Interlocked.Read(ref _dropped);
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Copies the exchange and queues it; false when it was dropped instead.</summary>
    public bool TryRecord(ReadOnlySequence<byte> requestHead, ReadOnlySequence<byte> requestBody, ReadOnlySpan<byte> response)
    {
        var size = requestHead.Length + requestBody.Length + response.Length;
        if (Interlocked.Add(ref _pendingBytes, size) > MaxPendingBytes)
        {
            Interlocked.Add(ref _pendingBytes, -size);
            Drop("the recorder is behind");
            return false;
        }

        var request = new byte[requestHead.Length + requestBody.Length];
        requestHead.CopyTo(request);
        requestBody.CopyTo(request.AsSpan((int)requestHead.Length));
        var exchange = new Exchange(Interlocked.Increment(ref _sequence), request, (int)requestHead.Length, response.ToArray());
        if (!_queue.Writer.TryWrite(exchange))
        {
            Interlocked.Add(ref _pendingBytes, -size);
            Drop("the recorder is stopped");
            return false;
        }

        return true;
    }

    private void Drop(string why)
    {
        // Say it on the first drop and then every 1000th, not once per request.
        if (Interlocked.Increment(ref _dropped) % 1000 == 1)
        {
            _log.Warn("exchange not recorded", ("reason", why), ("dropped", Dropped));
        }
    }

    private async Task WriteLoopAsync()
    {
        await foreach (var exchange in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            var name = Path.Combine(_directory, exchange.Sequence.ToString("D6", CultureInfo.InvariantCulture));
            try
            {
                await using (var request = new FileStream(name + ".request", FileMode.Create, FileAccess.Write))
                {
                    await request.WriteAsync(Redact(exchange.Request.AsSpan(0, exchange.HeadLength))).ConfigureAwait(false);
                    await request.WriteAsync(exchange.Request.AsMemory(exchange.HeadLength)).ConfigureAwait(false);
                }

                await File.WriteAllBytesAsync(name + ".response", exchange.Response).ConfigureAwait(false);
                await File.WriteAllBytesAsync(name + ".json", _settingsJson).ConfigureAwait(false);
                Interlocked.Increment(ref _written);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Drop("cannot write " + name + ": " + e.Message);
            }
            finally
            {
                Interlocked.Add(ref _pendingBytes, -(exchange.Request.Length + exchange.Response.Length));
            }
        }
    }

    /// <summary>Header values that carry credentials are replaced; everything else stays byte for byte.</summary>
    public static byte[] Redact(ReadOnlySpan<byte> head)
    {
        var output = new ArrayBufferWriter<byte>(head.Length);
        var first = true;
        while (!head.IsEmpty)
        {
            var end = head.IndexOf((byte)'\n');
            var line = end < 0 ? head : head[..(end + 1)];
            head = head[line.Length..];
            var colon = line.IndexOf((byte)':');
            if (!first && colon > 0 && IsSensitive(line[..colon]))
            {
                output.Write(line[..(colon + 1)]);
                output.Write(" [redacted]"u8);
                output.Write(line.EndsWith("\r\n"u8) ? "\r\n"u8 : line.EndsWith("\n"u8) ? "\n"u8 : []);
            }
            else
            {
                output.Write(line);
            }

            first = false;
        }

        return output.WrittenSpan.ToArray();
    }

    private static bool IsSensitive(ReadOnlySpan<byte> name)
    {
        var text = Encoding.ASCII.GetString(name).Trim();
        return text.Equals("Authorization", StringComparison.OrdinalIgnoreCase)
            || text.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase)
            || text.Equals("Cookie", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("X-Amz", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Writes what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writing.ConfigureAwait(false);
        if (Dropped > 0)
        {
            _log.Warn("exchanges not recorded", ("dropped", Dropped), ("written", Written));
        }
    }

    private sealed record Exchange(long Sequence, byte[] Request, int HeadLength, byte[] Response);
}
