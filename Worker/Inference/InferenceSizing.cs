using Worker.Hosting;

namespace Worker.Inference;

/// <summary>
/// One place that sizes inference from the machine, so /execution-parameters and the workers agree.
/// CPU: one worker per four cores (ORT already spreads one Run over its intra-op threads), each with
/// its share of the cores. GPU: one session per device fed by two workers, so one gathers and copies
/// its next batch while the other's runs.
/// </summary>
public static class InferenceSizing
{
    public static int Workers(MachineInfo machine, WorkerSettings settings) =>
        settings.InferenceWorkers ?? (Gpus(machine, settings) > 0 ? Gpus(machine, settings) * 2 : Math.Max(1, machine.Cores / 4));

    public static int IntraOpThreads(MachineInfo machine, WorkerSettings settings) =>
        settings.IntraOpThreads ?? (Gpus(machine, settings) > 0 ? 1 : Math.Max(1, machine.Cores / Workers(machine, settings)));

    /// <summary>The GPUs inference will use: none when told to run on CPU, else the listed ones or every one seen.</summary>
    public static int Gpus(MachineInfo machine, WorkerSettings settings) =>
        settings.Device == Ort.DevicePreference.Cpu || machine.Gpus == 0 ? 0 : settings.CudaDevices?.Length ?? machine.Gpus;

    public static InferenceOptions Options(MachineInfo machine, WorkerSettings settings)
    {
        var workers = Workers(machine, settings);
        return new InferenceOptions
        {
            Workers = workers,
            MaxBatchRows = settings.MaxBatchRows,
            MaxQueueDelay = settings.MaxQueueDelay,
            QueueCapacity = Math.Max(64, workers * 64),
        };
    }
}
