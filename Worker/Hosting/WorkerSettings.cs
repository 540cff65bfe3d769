using System.Collections;
using System.Globalization;

namespace Worker.Hosting;

/// <summary>SageMaker's BatchStrategy: how many records one request body holds.</summary>
public enum BatchStrategy
{
    MultiRecord,
    SingleRecord,
}

/// <summary>A start-up setting that cannot be used; names the variable so the user can fix it.</summary>
public sealed class ConfigurationException(string variable, string message)
    : Exception($"{variable}: {message}")
{
    public string Variable { get; } = variable;
}

/// <summary>
/// Everything the worker reads at start, in one place. Values come from SageMaker's environment
/// variables; command-line options override them. Built once; immutable afterwards.
/// </summary>
public sealed record WorkerSettings
{
    public const string PortVariable = "SAGEMAKER_BIND_TO_PORT";
    public const string MaxPayloadVariable = "SAGEMAKER_MAX_PAYLOAD_IN_MB";
    public const string BatchStrategyVariable = "SAGEMAKER_BATCH_STRATEGY";
    public const string MaxConcurrentTransformsVariable = "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS";
    public const string BatchVariable = "SAGEMAKER_BATCH";
    public const string ModelDirVariable = "SM_MODEL_DIR";
    public const string LogLevelVariable = "WORKER_LOG_LEVEL";
    public const string DefaultModelDirectory = "/opt/ml/model";
    public const string DeviceVariable = "WORKER_DEVICE";
    public const string MaxBatchRowsVariable = "WORKER_MAX_BATCH_ROWS";
    public const string MaxQueueDelayVariable = "WORKER_MAX_QUEUE_DELAY_MS";
    public const string InferenceWorkersVariable = "WORKER_INFERENCE_WORKERS";
    public const string IntraOpThreadsVariable = "WORKER_INTRA_OP_THREADS";
    public const string OrtSpinningVariable = "WORKER_ORT_SPINNING";
    public const string CudaDevicesVariable = "WORKER_CUDA_DEVICES";
    public const string WarmUpVariable = "WORKER_WARMUP";
    public const string CudaArenaExtendStrategyVariable = "WORKER_CUDA_ARENA_EXTEND_STRATEGY";
    public const string CudnnConvAlgoSearchVariable = "WORKER_CUDNN_CONV_ALGO_SEARCH";
    public const string CudaCopyInDefaultStreamVariable = "WORKER_CUDA_COPY_IN_DEFAULT_STREAM";
    public const string MultiModelVariable = "SAGEMAKER_MULTI_MODEL";
    public const string MultiModelMemoryVariable = "WORKER_MME_MEMORY_MB";

    public int Port { get; init; } = 8080;

    /// <summary>A multi-model endpoint: no model at start, models loaded and invoked by name under /models.</summary>
    public bool MultiModel { get; init; }

    /// <summary>WORKER_IMAGE_* as set in the environment (image preprocessing; the model's metadata_props fill the rest).</summary>
    public IReadOnlyDictionary<string, string> ImageVariables { get; init; } = new Dictionary<string, string>();

    /// <summary>The memory the loaded models may take together, in MiB; null: 70% of the machine's.</summary>
    public long? MultiModelMemoryMB { get; init; }

    private readonly int _maxPayloadInMB = 6;

    /// <summary>Body limit in MiB as configured (batch's 6 by default); 0 means no limit (SageMaker then streams chunked bodies). Setting it makes it explicit.</summary>
    public int MaxPayloadInMB
    {
        get => _maxPayloadInMB;
        init
        {
            _maxPayloadInMB = value;
            MaxPayloadIsExplicit = true;
        }
    }

    /// <summary>True when the payload limit came from the environment or a flag rather than the default.</summary>
    public bool MaxPayloadIsExplicit { get; init; }

    public BatchStrategy BatchStrategy { get; init; } = BatchStrategy.MultiRecord;
    public int MaxConcurrentTransforms { get; init; } = 1;
    public bool IsBatchJob { get; init; }
    public string ModelDirectory { get; init; } = DefaultModelDirectory;
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>auto (CUDA when a GPU and its provider are there, else CPU), cpu, cuda (fail without it), or tensorrt (only when asked for).</summary>
    public Inference.Ort.DevicePreference Device { get; init; } = Inference.Ort.DevicePreference.Auto;

    /// <summary>Run synthetic records through the pipeline before /ping says ready, so the first real requests find it warm.</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>The GPUs to open one session on each; null: every GPU the machine shows.</summary>
    public int[]? CudaDevices { get; init; }

    /// <summary>CUDA provider options (arena growth, cuDNN algorithm search, copies in the default stream).</summary>
    public Inference.Ort.CudaSettings Cuda { get; init; } = new();

    /// <summary>Most rows in one Run.</summary>
    public int MaxBatchRows { get; init; } = 512;

    /// <summary>How long a worker waits for more rows while its batch is not full.</summary>
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Inference workers; null sizes from the machine.</summary>
    public int? InferenceWorkers { get; init; }

    /// <summary>ORT intra-op threads per session; null sizes from the machine.</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>Whether ORT's idle intra-op threads spin for work; null chooses by batch strategy (<see cref="SpinsOrtThreads"/>).</summary>
    public bool? OrtSpinning { get; init; }

    /// <summary>
    /// ORT's idle threads spin between parallel sections unless told not to. With many small
    /// SINGLE_RECORD Runs that spinning took a large share of the CPU the server needed (a profile of
    /// 64 one-row clients: 17% of all samples on ORT's pause instruction; batched 27.8 → 19.2–20.4 ms per
    /// 1,024 requests with it off), while MULTI_RECORD batches showed no clear difference, so by
    /// default only SINGLE_RECORD turns it off.
    /// </summary>
    public bool SpinsOrtThreads => OrtSpinning ?? BatchStrategy != BatchStrategy.SingleRecord;

    /// <summary>Header section must arrive within this time of its first byte (slowloris).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>An idle keep-alive connection, or a body that stops arriving, is closed after this.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(130);

    /// <summary>On SIGTERM, in-flight requests get this long to finish (docker stop waits 30 s before SIGKILL).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Header section limit; larger is 431.</summary>
    public int MaxHeaderBytes { get; init; } = 32 * 1024;

    /// <summary>
    /// The body limit with nothing set outside a batch job (SAGEMAKER_BATCH not true): asynchronous
    /// inference takes payloads up to 1 GB (real-time InvokeEndpoint up to 25 MB), and the same image
    /// serves every mode.
    /// </summary>
    public const int RealTimeMaxPayloadInMB = 1024;

    /// <summary>The body limit in force: the one set, else batch's 6 MiB in a batch job, else <see cref="RealTimeMaxPayloadInMB"/>.</summary>
    public int BodyLimitInMB => MaxPayloadIsExplicit || IsBatchJob ? MaxPayloadInMB : RealTimeMaxPayloadInMB;

    /// <summary>Body limit in bytes, or <see cref="long.MaxValue"/> when unlimited.</summary>
    public long MaxBodyBytes => BodyLimitInMB == 0 ? long.MaxValue : (long)BodyLimitInMB * 1024 * 1024;

    /// <summary>Reads the process environment. <paramref name="port"/> and <paramref name="modelDirectory"/> are command-line overrides.</summary>
    public static WorkerSettings FromEnvironment(int? port = null, string? modelDirectory = null)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string key && entry.Value is string value)
            {
                variables[key] = value;
            }
        }

        return FromVariables(variables, port, modelDirectory);
    }

    public static WorkerSettings FromVariables(IReadOnlyDictionary<string, string> variables, int? port = null, string? modelDirectory = null)
    {
        string? Get(string name) =>
            variables.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

        var settings = new WorkerSettings();

        if (port is { } portOverride)
        {
            settings = settings with { Port = ValidatePort("--port", portOverride) };
        }
        else if (Get(PortVariable) is { } portText)
        {
            settings = settings with { Port = ValidatePort(PortVariable, ParseInt(PortVariable, portText)) };
        }

        if (Get(MaxPayloadVariable) is { } payloadText)
        {
            var mb = ParseInt(MaxPayloadVariable, payloadText);
            if (mb < 0)
            {
                throw new ConfigurationException(MaxPayloadVariable, $"must be 0 (no limit) or a positive number of MiB, got '{payloadText}'");
            }

            settings = settings with { MaxPayloadInMB = mb, MaxPayloadIsExplicit = true };
        }

        if (Get(BatchStrategyVariable) is { } strategyText)
        {
            settings = settings with { BatchStrategy = ParseBatchStrategy(BatchStrategyVariable, strategyText) };
        }

        if (Get(MaxConcurrentTransformsVariable) is { } concurrencyText)
        {
            var concurrency = ParseInt(MaxConcurrentTransformsVariable, concurrencyText);
            if (concurrency < 1)
            {
                throw new ConfigurationException(MaxConcurrentTransformsVariable, $"must be at least 1, got '{concurrencyText}'");
            }

            settings = settings with { MaxConcurrentTransforms = concurrency };
        }

        if (Get(BatchVariable) is { } batchText)
        {
            settings = settings with { IsBatchJob = ParseBool(BatchVariable, batchText) };
        }

        if (Get(LogLevelVariable) is { } levelText)
        {
            if (!Enum.TryParse<LogLevel>(levelText, ignoreCase: true, out var level) || !Enum.IsDefined(level))
            {
                throw new ConfigurationException(LogLevelVariable, $"must be one of {string.Join(", ", Enum.GetNames<LogLevel>())}, got '{levelText}'");
            }

            settings = settings with { LogLevel = level };
        }

        if (Get(DeviceVariable) is { } deviceText)
        {
            settings = settings with
            {
                Device = deviceText.ToLowerInvariant() switch
                {
                    "auto" => Inference.Ort.DevicePreference.Auto,
                    "cpu" => Inference.Ort.DevicePreference.Cpu,
                    "cuda" or "gpu" => Inference.Ort.DevicePreference.Cuda,
                    "tensorrt" => Inference.Ort.DevicePreference.TensorRT,
                    _ => throw new ConfigurationException(DeviceVariable, $"must be auto, cpu, cuda or tensorrt, got '{deviceText}'"),
                },
            };
        }

        if (Get(MaxBatchRowsVariable) is { } batchRowsText)
        {
            settings = settings with { MaxBatchRows = ParsePositive(MaxBatchRowsVariable, batchRowsText) };
        }

        if (Get(MaxQueueDelayVariable) is { } delayText)
        {
            if (!double.TryParse(delayText, NumberStyles.Float, CultureInfo.InvariantCulture, out var delayMs) || delayMs < 0 || delayMs > 10_000)
            {
                throw new ConfigurationException(MaxQueueDelayVariable, $"must be milliseconds between 0 and 10000, got '{delayText}'");
            }

            settings = settings with { MaxQueueDelay = TimeSpan.FromMilliseconds(delayMs) };
        }

        if (Get(InferenceWorkersVariable) is { } workersText)
        {
            settings = settings with { InferenceWorkers = ParsePositive(InferenceWorkersVariable, workersText) };
        }

        if (Get(IntraOpThreadsVariable) is { } threadsText)
        {
            settings = settings with { IntraOpThreads = ParsePositive(IntraOpThreadsVariable, threadsText) };
        }

        if (Get(OrtSpinningVariable) is { } spinningText)
        {
            settings = settings with
            {
                OrtSpinning = spinningText.ToLowerInvariant() switch
                {
                    "auto" => null,
                    "on" or "true" or "1" => true,
                    "off" or "false" or "0" => false,
                    _ => throw new ConfigurationException(OrtSpinningVariable, $"must be auto, on or off, got '{spinningText}'"),
                },
            };
        }

        if (Get(CudaDevicesVariable) is { } devicesText)
        {
            var devices = new List<int>();
            foreach (var id in devicesText.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var device) || devices.Contains(device))
                {
                    throw new ConfigurationException(CudaDevicesVariable, $"must be distinct GPU ids separated by commas (e.g. 0,1), got '{devicesText}'");
                }

                devices.Add(device);
            }

            settings = settings with { CudaDevices = [.. devices] };
        }

        settings = settings with
        {
            ImageVariables = Records.Images.ImagePreprocessing.Keys.Where(key => Get(key) is not null).ToDictionary(key => key, key => Get(key)!),
        };

        if (Get(MultiModelVariable) is { } multiModelText)
        {
            settings = settings with { MultiModel = ParseBool(MultiModelVariable, multiModelText) };
        }

        if (Get(MultiModelMemoryVariable) is { } memoryText)
        {
            var mb = ParseInt(MultiModelMemoryVariable, memoryText);
            if (mb < 1)
            {
                throw new ConfigurationException(MultiModelMemoryVariable, $"must be a positive number of MiB, got '{memoryText}'");
            }

            settings = settings with { MultiModelMemoryMB = mb };
        }

        if (Get(WarmUpVariable) is { } warmUpText)
        {
            settings = settings with { WarmUp = ParseBool(WarmUpVariable, warmUpText.ToLowerInvariant() switch { "on" => "true", "off" => "false", var other => other }) };
        }

        if (Get(CudaArenaExtendStrategyVariable) is { } arenaText)
        {
            var arena = arenaText.ToLowerInvariant().Replace("_", "", StringComparison.Ordinal) switch
            {
                "knextpoweroftwo" or "nextpoweroftwo" => "kNextPowerOfTwo",
                "ksameasrequested" or "sameasrequested" => "kSameAsRequested",
                _ => throw new ConfigurationException(CudaArenaExtendStrategyVariable, $"must be kNextPowerOfTwo or kSameAsRequested, got '{arenaText}'"),
            };
            settings = settings with { Cuda = settings.Cuda with { ArenaExtendStrategy = arena } };
        }

        if (Get(CudnnConvAlgoSearchVariable) is { } searchText)
        {
            var search = searchText.ToUpperInvariant();
            if (search is not ("EXHAUSTIVE" or "HEURISTIC" or "DEFAULT"))
            {
                throw new ConfigurationException(CudnnConvAlgoSearchVariable, $"must be EXHAUSTIVE, HEURISTIC or DEFAULT, got '{searchText}'");
            }

            settings = settings with { Cuda = settings.Cuda with { CudnnConvAlgoSearch = search } };
        }

        if (Get(CudaCopyInDefaultStreamVariable) is { } copyText)
        {
            settings = settings with { Cuda = settings.Cuda with { CopyInDefaultStream = ParseBool(CudaCopyInDefaultStreamVariable, copyText) } };
        }

        var directory = modelDirectory ?? Get(ModelDirVariable) ?? DefaultModelDirectory;
        return settings with { ModelDirectory = directory };
    }

    public static BatchStrategy ParseBatchStrategy(string variable, string text) =>
        text.Replace("_", "", StringComparison.Ordinal).ToUpperInvariant() switch
        {
            "MULTIRECORD" => BatchStrategy.MultiRecord,
            "SINGLERECORD" => BatchStrategy.SingleRecord,
            _ => throw new ConfigurationException(variable, $"must be MULTI_RECORD or SINGLE_RECORD, got '{text}'"),
        };

    private static int ParseInt(string variable, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ConfigurationException(variable, $"must be a whole number, got '{text}'");

    private static int ParsePositive(string variable, string text)
    {
        var value = ParseInt(variable, text);
        return value >= 1 ? value : throw new ConfigurationException(variable, $"must be at least 1, got '{text}'");
    }

    private static int ValidatePort(string variable, int port) =>
        port is >= 0 and <= 65535 ? port : throw new ConfigurationException(variable, $"must be a port number 0-65535, got {port}");

    private static bool ParseBool(string variable, string text) =>
        text.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new ConfigurationException(variable, $"must be true or false, got '{text}'"),
        };
}
