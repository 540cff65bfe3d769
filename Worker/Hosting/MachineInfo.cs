using System.Text.RegularExpressions;

namespace Worker.Hosting;

/// <summary>The resources the worker sizes itself by.</summary>
public sealed partial record MachineInfo(int Cores, int Gpus, long MemoryBytes)
{
    public static MachineInfo Detect() =>
        new(Environment.ProcessorCount, CountNvidiaDevices(), GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);

    /// <summary>
    /// The NVIDIA container runtime exposes exactly the visible GPUs as /dev/nvidia0..N, so counting
    /// them needs neither the driver library nor nvidia-smi.
    /// </summary>
    private static int CountNvidiaDevices()
    {
        try
        {
            return Directory.Exists("/dev")
                ? Directory.EnumerateFiles("/dev", "nvidia*").Count(path => NvidiaDevice().IsMatch(Path.GetFileName(path)))
                : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    [GeneratedRegex("^nvidia[0-9]+$")]
    private static partial Regex NvidiaDevice();
}

/// <summary>
/// What <c>/execution-parameters</c> tells SageMaker, derived from the machine so a user who sets
/// nothing still gets a transform that fills this instance.
/// </summary>
public sealed record ExecutionParameters(int MaxConcurrentTransforms, string BatchStrategy, int MaxPayloadInMB)
{
    // SageMaker refuses MaxPayloadInMB above 100.
    private const int SageMakerMaxPayloadInMB = 100;

    // Bytes held per payload byte while a request is in flight: the body, the decoded input rows
    // (float32 rows are about as large as numeric CSV text), the outputs and the encoded answer.
    private const int BytesHeldPerPayloadByte = 4;

    public static ExecutionParameters Compute(MachineInfo machine, WorkerSettings settings)
    {
        // The same worker count the inference engine starts with (InferenceSizing).
        var workers = Inference.InferenceSizing.Workers(machine, settings);

        // Two requests per worker: one being parsed or answered while the other's rows run, so the
        // queue never drains between requests.
        var concurrency = workers * 2;

        // Let the in-flight requests use at most half of memory; the rest is the model, ORT's arena
        // and the runtime.
        var memoryPerRequest = machine.MemoryBytes / 2 / concurrency / BytesHeldPerPayloadByte;
        var payloadMb = (int)Math.Clamp(memoryPerRequest / (1024 * 1024), 1, SageMakerMaxPayloadInMB);

        // Never suggest more than this server accepts: the job's own limit (SAGEMAKER_MAX_PAYLOAD_IN_MB) wins.
        if (settings.MaxPayloadInMB > 0)
        {
            payloadMb = Math.Min(payloadMb, settings.MaxPayloadInMB);
        }

        return new ExecutionParameters(concurrency, "MULTI_RECORD", payloadMb);
    }
}
