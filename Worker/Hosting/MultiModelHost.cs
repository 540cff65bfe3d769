using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using Worker.Http;
using Worker.Inference;

namespace Worker.Hosting;

/// <summary>
/// SageMaker's multi-model endpoint contract ("Custom Containers Contract for Multi-Model
/// Endpoints"): models loaded, listed, read, unloaded and invoked by name. Each model has its own
/// engine and batching. Loads and unloads never hold up the invocations of other models: the
/// table is read lock-free, and only loads take a lock, to check the name and reserve memory.
/// </summary>
public sealed class MultiModelHost : IMultiModelHandler, IDisposable
{
    /// <summary>Models per page of <c>GET /models</c>.</summary>
    public int PageSize { get; init; } = 100;

    // A model's memory, estimated before it is loaded: ORT holds its weights (and an optimised copy of
    // some), plus a fixed share for the session, its arena and the inference workers' buffers.
    private const long FixedBytesPerModel = 32L << 20;
    private const int BytesPerWeightByte = 2;

    private readonly ConcurrentDictionary<string, LoadedModel> _models = new(StringComparer.Ordinal);
    private readonly HashSet<string> _loading = new(StringComparer.Ordinal);
    private readonly Lock _reserve = new();
    private readonly WorkerSettings _settings;
    private readonly MachineInfo _machine;
    private readonly JsonLog _log;
    private long _reservedBytes;

    public MultiModelHost(WorkerSettings settings, MachineInfo machine, JsonLog log)
    {
        _settings = settings;
        _machine = machine;
        _log = log;
        BudgetBytes = settings.MultiModelMemoryMB is { } mb ? mb << 20 : DefaultBudgetBytes(machine);
    }

    /// <summary>The memory models may take together: WORKER_MME_MEMORY_MB, else 70% of the machine's (cgroup-limited) memory.</summary>
    public long BudgetBytes { get; }

    public long ReservedBytes => Interlocked.Read(ref _reservedBytes);

    public int Count => _models.Count;

    public static long DefaultBudgetBytes(MachineInfo machine) => machine.MemoryBytes / 10 * 7;

    /// <summary>What loading the model under <paramref name="directory"/> is expected to take.</summary>
    public static long EstimateBytes(string modelPath)
    {
        // External data files sit beside the model; count everything in its folder.
        var folder = Path.GetDirectoryName(modelPath)!;
        var weights = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        return (weights * BytesPerWeightByte) + FixedBytesPerModel;
    }

    public async ValueTask LoadAsync(ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        string? name = null;
        string? url = null;
        try
        {
            using var json = JsonDocument.Parse(body, new JsonDocumentOptions { AllowTrailingCommas = true });
            if (json.RootElement.ValueKind == JsonValueKind.Object)
            {
                name = json.RootElement.TryGetProperty("model_name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                url = json.RootElement.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
            }
        }
        catch (JsonException e)
        {
            response.SetError(400, "the load request is not JSON: " + e.Message);
            return;
        }

        if (string.IsNullOrEmpty(name) || name.Contains('/', StringComparison.Ordinal) || string.IsNullOrEmpty(url))
        {
            response.SetError(400, "the load request is {\"model_name\": \"...\", \"url\": \"/opt/ml/models/.../model\"} with a name without '/'");
            return;
        }

        if (!Directory.Exists(url))
        {
            response.SetError(404, $"model url {url} does not exist");
            return;
        }

        if (ModelLocator.Find(url, out var reason) is not { } modelPath)
        {
            response.SetError(400, $"model url {url}: {reason}");
            return;
        }

        var estimate = EstimateBytes(modelPath);
        lock (_reserve)
        {
            if (_models.ContainsKey(name) || _loading.Contains(name))
            {
                response.SetError(409, $"model {name} is already loaded");
                return;
            }

            if (_reservedBytes + estimate > BudgetBytes)
            {
                response.SetError(507, $"model {name} needs about {estimate >> 20} MiB; {_reservedBytes >> 20} of {BudgetBytes >> 20} MiB are taken by {_models.Count} model(s) ({WorkerSettings.MultiModelMemoryVariable})");
                return;
            }

            _reservedBytes += estimate;
            _loading.Add(name);
        }

        var loaded = false;
        try
        {
            // ORT's session creation and the warm-up are CPU work: off the connection's thread.
            var model = await Task.Run(() => Open(name, url, estimate), cancellationToken).ConfigureAwait(false);
            _models[name] = model;
            loaded = true;
            _log.Info("model loaded", ("model_name", name), ("url", url), ("device", model.Pipeline.Engine.Device), ("estimated_mb", estimate >> 20), ("models", _models.Count));
            WriteModel(response, name, url);
        }
        catch (ModelLoadException e)
        {
            _log.Warn("model not loaded", ("model_name", name), ("url", url), ("error", e.Message));
            response.SetError(400, $"model {name} cannot be loaded: {e.Message}");
        }
        finally
        {
            lock (_reserve)
            {
                _loading.Remove(name);
                if (!loaded)
                {
                    _reservedBytes -= estimate;
                }
            }
        }
    }

    private LoadedModel Open(string name, string url, long estimate)
    {
        var engine = ModelLoader.Load(_settings with { ModelDirectory = url }, _machine, _log);
        var pipeline = new InvocationPipeline(engine, _settings);
        if (_settings.WarmUp)
        {
            pipeline.WarmUp(requestPath: false); // SageMaker loads on a request's behalf: keep the load short
        }

        return new LoadedModel(name, url, pipeline, estimate);
    }

    public void List(string? nextPageToken, HttpResponse response)
    {
        // Sorted by name; a page's token is the first name of the next page, so pages stay in step
        // while models come and go.
        var names = _models.Keys.Where(n => nextPageToken is null || string.CompareOrdinal(n, nextPageToken) >= 0).Order(StringComparer.Ordinal).Take(PageSize + 1).ToList();
        var json = response.StartJson(200);
        json.WriteStartObject();
        json.WriteStartArray("models"u8);
        foreach (var name in names.Take(PageSize))
        {
            if (_models.TryGetValue(name, out var model))
            {
                json.WriteStartObject();
                json.WriteString("modelName"u8, model.Name);
                json.WriteString("modelUrl"u8, model.Url);
                json.WriteEndObject();
            }
        }

        json.WriteEndArray();
        if (names.Count > PageSize)
        {
            json.WriteString("nextPageToken"u8, names[PageSize]);
        }

        json.WriteEndObject();
        json.Flush();
    }

    public void Get(string name, HttpResponse response)
    {
        if (!_models.TryGetValue(name, out var model))
        {
            response.SetError(404, $"model {name} is not loaded");
            return;
        }

        WriteModel(response, model.Name, model.Url);
    }

    /// <summary>Takes the model out of the table at once (new invocations are 404s), then answers once its in-flight requests have finished and its memory is freed.</summary>
    public async ValueTask UnloadAsync(string name, HttpResponse response, CancellationToken cancellationToken)
    {
        if (!_models.TryRemove(name, out var model))
        {
            response.SetError(404, $"model {name} is not loaded");
            return;
        }

        await model.CloseAsync().ConfigureAwait(false);
        lock (_reserve)
        {
            _reservedBytes -= model.EstimatedBytes;
        }

        _log.Info("model unloaded", ("model_name", name), ("models", _models.Count));
        var json = response.StartJson(200);
        json.WriteStartObject();
        json.WriteString("status"u8, "unloaded");
        json.WriteString("modelName"u8, name);
        json.WriteEndObject();
        json.Flush();
    }

    public async ValueTask InvokeAsync(string name, HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        if (!TryAcquire(name, response, out var model))
        {
            return;
        }

        try
        {
            await model.Pipeline.InvokeAsync(head, body, response, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            model.Release();
        }
    }

    public IStreamingInvocationHandler? StreamingHandlerFor(string name, HttpRequestHead head) =>
        _models.TryGetValue(name, out var model) && model.Pipeline.CanStream(head) ? new StreamingInvocation(this, name) : null;

    private bool TryAcquire(string name, HttpResponse response, out LoadedModel model)
    {
        if (_models.TryGetValue(name, out model!) && model.TryAcquire())
        {
            return true;
        }

        response.SetError(404, $"model {name} is not loaded");
        return false;
    }

    private static void WriteModel(HttpResponse response, string name, string url)
    {
        var json = response.StartJson(200);
        json.WriteStartObject();
        json.WriteString("modelName"u8, name);
        json.WriteString("modelUrl"u8, url);
        json.WriteEndObject();
        json.Flush();
    }

    public void Dispose()
    {
        foreach (var name in _models.Keys.ToList())
        {
            if (_models.TryRemove(name, out var model))
            {
                model.CloseAsync().AsTask().GetAwaiter().GetResult();
            }
        }
    }

    /// <summary>A streamed invocation holds the model from its first byte to its answer.</summary>
    private sealed class StreamingInvocation(MultiModelHost host, string name) : IStreamingInvocationHandler
    {
        public bool CanStream(HttpRequestHead head) => true;

        public ValueTask InvokeAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken) =>
            host.InvokeAsync(name, head, body, response, cancellationToken);

        public async ValueTask InvokeStreamingAsync(HttpRequestHead head, RequestBodyReader body, HttpResponse response, CancellationToken cancellationToken)
        {
            if (!host.TryAcquire(name, response, out var model))
            {
                return;
            }

            try
            {
                await model.Pipeline.InvokeStreamingAsync(head, body, response, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                model.Release();
            }
        }
    }

    /// <summary>One model and the requests in flight on it; closing waits for them, then frees the engine.</summary>
    private sealed class LoadedModel(string name, string url, InvocationPipeline pipeline, long estimatedBytes)
    {
        private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inFlight;
        private int _closing; // set with a full fence: a closer and a last request always see one another

        public string Name { get; } = name;
        public string Url { get; } = url;
        public InvocationPipeline Pipeline { get; } = pipeline;
        public long EstimatedBytes { get; } = estimatedBytes;

        public bool TryAcquire()
        {
            Interlocked.Increment(ref _inFlight);
            if (Volatile.Read(ref _closing) == 0)
            {
                return true;
            }

            Release();
            return false;
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _closing) == 1)
            {
                _drained.TrySetResult();
            }
        }

        public async ValueTask CloseAsync()
        {
            Interlocked.Exchange(ref _closing, 1);
            if (Volatile.Read(ref _inFlight) > 0)
            {
                await _drained.Task.ConfigureAwait(false);
            }

            Pipeline.Engine.Dispose();
        }
    }
}
