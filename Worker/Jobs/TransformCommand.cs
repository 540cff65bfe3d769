using System.Runtime.InteropServices;
using Worker.Hosting;
using Worker.Jobs.Transform;

namespace Worker.Jobs;

/// <summary><c>Worker transform</c>: a whole batch transform on local files.</summary>
public static class TransformCommand
{
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    public static async Task<int> RunAsync(Func<TransformOptions> readOptions, Func<TransformDisplay> readDisplay)
    {
        TransformOptions options;
        TransformDisplay display;
        try
        {
            options = readOptions();
            display = readDisplay();
            options.Validate();
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return ExitUsage;
        }

        using var stop = new SignalStop();
        try
        {
            var report = await new TransformJob(options, Console.Out, display).RunAsync(stop.Token).ConfigureAwait(false);
            if (report.JobError is not null)
            {
                await Console.Error.WriteLineAsync("transform failed: " + report.JobError).ConfigureAwait(false);
            }

            return report.Succeeded ? 0 : ExitFailed;
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return ExitUsage;
        }
        catch (OperationCanceledException) when (stop.Signal is { } signal)
        {
            await Console.Error.WriteLineAsync($"transform stopped by {signal}: files not finished have no .out").ConfigureAwait(false);
            return stop.ExitCode;
        }
    }
}

/// <summary>SIGINT/SIGTERM cancel a job instead of killing it, so unfinished outputs are removed.</summary>
public sealed class SignalStop : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration _sigterm;
    private readonly PosixSignalRegistration _sigint;

    public SignalStop()
    {
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    public CancellationToken Token => _cancel.Token;
    public PosixSignal? Signal { get; private set; }

    /// <summary>The shell's convention: 128 + the signal's number.</summary>
    public int ExitCode => Signal == PosixSignal.SIGINT ? 130 : 143;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Signal ??= context.Signal;
        _cancel.Cancel();
    }

    public void Dispose()
    {
        _sigterm.Dispose();
        _sigint.Dispose();
        _cancel.Dispose();
    }
}
