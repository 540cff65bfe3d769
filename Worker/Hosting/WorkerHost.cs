using System.Net;
using System.Net.Sockets;
using Worker.Http;

namespace Worker.Hosting;

/// <summary>
/// The running worker: settings, readiness and the HTTP server, composed once. Tests and the
/// <c>transform</c> job start it in-process on a loopback port exactly as <c>serve</c> does.
/// </summary>
public sealed class WorkerHost : IAsyncDisposable
{
    private readonly HttpServer _server;
    private bool _started;
    private bool _stopped;

    public WorkerHost(WorkerSettings settings, JsonLog log, IInvocationHandler? invocations = null, MachineInfo? machine = null)
    {
        Settings = settings;
        Log = log;
        Machine = machine ?? MachineInfo.Detect();
        ExecutionParameters = ExecutionParameters.Compute(Machine, settings);
        var routes = new RequestRoutes(Readiness, ExecutionParameters, invocations ?? new UnsupportedMediaTypeHandler());
        _server = new HttpServer(settings, routes, log);
    }

    public WorkerSettings Settings { get; }
    public JsonLog Log { get; }
    public MachineInfo Machine { get; }
    public ExecutionParameters ExecutionParameters { get; }
    public ModelReadiness Readiness { get; } = new();

    /// <summary>The bound port (useful when started on port 0).</summary>
    public int Port => _server.LocalEndPoint?.Port ?? throw new InvalidOperationException("not started");

    public int ActiveConnections => _server.ActiveConnections;

    /// <summary>Binds all interfaces (IPv6 dual-stack where the OS has it), or <paramref name="address"/> when given.</summary>
    public void Start(IPAddress? address = null)
    {
        address ??= Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any;
        try
        {
            _server.Start(address, Settings.Port);
        }
        catch (SocketException) when (address.Equals(IPAddress.IPv6Any))
        {
            // IPv6 compiled in but disabled in this container.
            _server.Start(IPAddress.Any, Settings.Port);
        }

        _started = true;
    }

    public async Task StopAsync()
    {
        if (!_started || _stopped)
        {
            return;
        }

        _stopped = true;
        await _server.StopAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
    }
}
