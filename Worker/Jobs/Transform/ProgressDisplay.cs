using Spectre.Console;

namespace Worker.Jobs.Transform;

/// <summary>How a job shows its progress.</summary>
public enum TransformDisplay
{
    /// <summary>A bar on an interactive terminal, log lines otherwise.</summary>
    Auto,
    Bar,
    Log,
    None,
}

/// <summary>Shows a running job: a Spectre.Console bar on a terminal, a plain line every few seconds in a log.</summary>
public static class ProgressDisplay
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(TransformDisplay display, TextWriter console, TransformProgress progress, Func<Task> work)
    {
        if (display == TransformDisplay.Auto)
        {
            display = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive ? TransformDisplay.Bar : TransformDisplay.Log;
        }

        switch (display)
        {
            case TransformDisplay.Bar:
                await RunWithBarAsync(progress, work).ConfigureAwait(false);
                break;
            case TransformDisplay.Log:
                await RunWithLogAsync(console, progress, work).ConfigureAwait(false);
                break;
            default:
                await work().ConfigureAwait(false);
                break;
        }
    }

    private static async Task RunWithBarAsync(TransformProgress progress, Func<Task> work)
    {
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var bar = context.AddTask(Describe(progress), maxValue: Math.Max(1, progress.InputBytes));
                var running = work();
                while (!running.IsCompleted)
                {
                    bar.Value = progress.InputBytesRead;
                    bar.Description = Describe(progress);
                    await Task.WhenAny(running, Task.Delay(250)).ConfigureAwait(false);
                }

                bar.Value = bar.MaxValue;
                bar.Description = Describe(progress);
                await running.ConfigureAwait(false);
            }).ConfigureAwait(false);
    }

    private static string Describe(TransformProgress progress) =>
        Markup.Escape($"{progress.FilesDone + progress.FilesFailed}/{progress.Files} files  {progress.RecordsDone:N0} records  "
            + $"{progress.InputBytesRead / 1e6:N1} MB  {progress.RecordsPerSecond:N0} rec/s");

    private static async Task RunWithLogAsync(TextWriter console, TransformProgress progress, Func<Task> work)
    {
        var running = work();
        while (!running.IsCompleted)
        {
            await Task.WhenAny(running, Task.Delay(LogInterval)).ConfigureAwait(false);
            if (!running.IsCompleted)
            {
                console.WriteLine("progress: " + progress.Describe());
            }
        }

        await running.ConfigureAwait(false);
    }
}
