using System.Net;
using System.Net.Sockets;
using Worker.Http;
using Worker.Inference;

namespace Worker.Hosting;

/// <summary>
/// The running worker: settings, readiness and the HTTP server, composed once. Tests and the
/// <c>transform</c> job start it in-process on a loopback port exactly as <c>serve</c> does.
/// </summary>
public sealed class WorkerHost : IAsyncDisposable
{
    private readonly HttpServer _server;
    private InferenceEngine? _engine;
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

    /// <summary>The loaded model's engine, once <see cref="LoadModel"/> succeeded.</summary>
    public InferenceEngine? Engine => _engine;

    /// <summary>
    /// Loads the model from the model directory and attaches the record pipeline to /invocations.
    /// /ping says 503 with the reason until this succeeds, and keeps saying why if it fails.
    /// </summary>
    public bool LoadModel()
    {
        Readiness.SetLoading("model is loading from " + Settings.ModelDirectory);
        try
        {
            var engine = ModelLoader.Load(Settings, Machine, Log);
            _engine = engine;
            var pipeline = new InvocationPipeline(engine, Settings);
            if (Settings.WarmUp)
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                // Endpoints answer a caller who waits: warm the request path too. A batch job runs many
                // large requests, where the first thirty's extra milliseconds do not repay two seconds.
                var bodies = pipeline.WarmUp(requestPath: !Settings.IsBatchJob);
                Log.Info("warmed up", ("bodies", bodies), ("ms", Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1)));
            }

            _server.Routes.Invocations = pipeline;
            Readiness.SetReady(engine.Device);
            return true;
        }
        catch (ModelLoadException e)
        {
            Readiness.SetFailed(e.Message);
            Log.Error("model not ready", ("error", e.Message));
            return false;
        }
    }

    /// <summary>The multi-model endpoint's models, once <see cref="StartMultiModel"/> ran.</summary>
    public MultiModelHost? Models { get; private set; }

    /// <summary>
    /// A multi-model endpoint: no model at start (/ping says 200 at once), models loaded, listed,
    /// unloaded and invoked under /models; /invocations is refused.
    /// </summary>
    public void StartMultiModel(int pageSize = 100)
    {
        Models = new MultiModelHost(Settings, Machine, Log) { PageSize = pageSize };
        _server.Routes.MultiModel = Models;
        Readiness.SetReady("multi-model");
        Log.Info("multi-model endpoint", ("memory_budget_mb", Models.BudgetBytes >> 20));
    }

    /// <summary>serve --record: every exchange from now on is written to <paramref name="directory"/>. Call before <see cref="Start"/>.</summary>
    public void RecordTo(string directory)
    {
        _server.Recorder = new Replay.ExchangeRecorder(directory, Settings, Log);
    }

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
        if (_server.Recorder is { } recorder)
        {
            await recorder.DisposeAsync().ConfigureAwait(false);
        }

        _engine?.Dispose();
        Models?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
    }
}
