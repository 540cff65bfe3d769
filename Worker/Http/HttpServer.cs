using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Worker.Hosting;

namespace Worker.Http;

/// <summary>
/// Raw-socket HTTP/1.1 server: an accept loop, one <see cref="HttpConnection"/> per socket, and a
/// heartbeat that enforces the header and keep-alive timeouts.
/// </summary>
public sealed class HttpServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<HttpConnection, byte> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private Timer? _heartbeat;
    private volatile bool _acceptStopped;

    public HttpServer(WorkerSettings settings, RequestRoutes routes, JsonLog log)
    {
        Settings = settings;
        Routes = routes;
        Log = log;
    }

    public WorkerSettings Settings { get; }
    public RequestRoutes Routes { get; }
    public JsonLog Log { get; }

    /// <summary>serve --record: set before <see cref="Start"/>; every exchange goes to it.</summary>
    public Replay.ExchangeRecorder? Recorder { get; set; }
    public IPEndPoint? LocalEndPoint => _listener?.LocalEndPoint as IPEndPoint;
    public int ActiveConnections => _connections.Count;
    internal CancellationToken StoppingToken => _stopping.Token;

    public void Start(IPAddress address, int port)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(1024);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        var shortest = Math.Min(Settings.RequestHeadersTimeout.TotalMilliseconds, Settings.KeepAliveTimeout.TotalMilliseconds);
        var period = TimeSpan.FromMilliseconds(Math.Clamp(shortest / 4, 10, 1000));
        _heartbeat = new Timer(_ => OnHeartbeat(), null, period, period);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Stops accepting, lets in-flight requests finish within the shutdown timeout, then aborts the rest.</summary>
    public async Task StopAsync()
    {
        _acceptStopped = true;
        _listener?.Dispose();
        await _acceptLoop.ConfigureAwait(false);

        foreach (var connection in _connections.Keys)
        {
            connection.BeginDrain();
        }

        var all = Task.WhenAll(_connections.Keys.Select(c => c.Completion));
        try
        {
            await all.WaitAsync(Settings.ShutdownTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.Warn("shutdown timeout: aborting connections", ("connections", _connections.Count));
            await _stopping.CancelAsync().ConfigureAwait(false);
            foreach (var connection in _connections.Keys)
            {
                connection.Abort();
            }

            await all.ConfigureAwait(false);
        }

        if (_heartbeat is not null)
        {
            await _heartbeat.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    internal void Remove(HttpConnection connection) => _connections.TryRemove(connection, out _);

    private async Task AcceptLoopAsync()
    {
        var listener = _listener!;
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted })
            {
                return;
            }
            catch (SocketException) when (_acceptStopped)
            {
                return;
            }
            catch (SocketException e)
            {
                // E.g. the peer reset before accept completed, or out of descriptors: keep serving.
                Log.Warn("accept failed", ("error", e.Message));
                continue;
            }

            socket.NoDelay = true;
            var connection = new HttpConnection(socket, this);
            _connections.TryAdd(connection, 0);
            connection.Start();
        }
    }

    private void OnHeartbeat()
    {
        var now = Environment.TickCount64;
        foreach (var connection in _connections.Keys)
        {
            connection.OnHeartbeat(now);
        }
    }
}
