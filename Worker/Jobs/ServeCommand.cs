using System.Runtime.InteropServices;
using Worker.Hosting;

namespace Worker.Jobs;

/// <summary><c>Worker serve</c>: what SageMaker runs as <c>docker run IMAGE serve</c>.</summary>
public static class ServeCommand
{
    public static async Task<int> RunAsync(int? port, string? modelDirectory, string? recordDirectory = null, bool multiModel = false)
    {
        WorkerSettings settings;
        try
        {
            settings = WorkerSettings.FromEnvironment(port, modelDirectory);
            if (multiModel)
            {
                settings = settings with { MultiModel = true };
            }
        }
        catch (ConfigurationException e)
        {
            await using var startupLog = new JsonLog(Console.OpenStandardOutput(), LogLevel.Information);
            startupLog.Error("invalid configuration", ("variable", e.Variable), ("error", e.Message));
            return 2;
        }

        await using var log = new JsonLog(Console.OpenStandardOutput(), settings.LogLevel);
        await using var host = new WorkerHost(settings, log);

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            // Handle it ourselves: finish in-flight requests, then exit 0.
            context.Cancel = true;
            log.Info("stop requested", ("signal", context.Signal.ToString()));
            stop.TrySetResult();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        try
        {
            if (recordDirectory is not null)
            {
                host.RecordTo(recordDirectory);
                log.Info("recording every exchange", ("directory", Path.GetFullPath(recordDirectory)));
            }

            host.Start();
        }
        catch (System.Net.Sockets.SocketException e)
        {
            log.Error("cannot listen", ("port", settings.Port), ("error", e.Message));
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Error("cannot record", ("directory", recordDirectory), ("error", e.Message));
            return 1;
        }

        log.Info(
            "listening",
            ("port", host.Port),
            ("model_dir", settings.MultiModel ? null : settings.ModelDirectory),
            ("multi_model", settings.MultiModel),
            ("max_payload_mb", settings.BodyLimitInMB),
            ("batch_strategy", settings.BatchStrategy.ToString()),
            ("cores", host.Machine.Cores),
            ("gpus", host.Machine.Gpus));

        if (settings.MultiModel)
        {
            host.StartMultiModel();
        }
        else
        {
            // Load in the background: /ping answers 503 "loading" meanwhile instead of not answering.
            _ = Task.Run(host.LoadModel);
        }

        await stop.Task.ConfigureAwait(false);
        await host.StopAsync().ConfigureAwait(false);
        log.Info("stopped");
        return 0;
    }
}
