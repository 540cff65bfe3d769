using Worker.Replay;

namespace Worker.Jobs;

/// <summary><c>Worker replay DIR</c>: every recorded exchange, sent again and compared; <c>N passed, N failed</c>.</summary>
public static class ReplayCommand
{
    public static async Task<int> RunAsync(string directory, Uri? endpoint, string? modelDirectory, double tolerance, bool writeMissing, TextWriter console, string? targetModel = null)
    {
        if (targetModel is not null && endpoint is null)
        {
            await Console.Error.WriteLineAsync("--target-model: sends to a multi-model container's /models/NAME/invoke: give that container with --endpoint").ConfigureAwait(false);
            return 2;
        }

        if (!Directory.Exists(directory))
        {
            await Console.Error.WriteLineAsync($"replay: {directory} is not a folder").ConfigureAwait(false);
            return 2;
        }

        var cases = ReplayCase.Find(directory);
        if (cases.Count == 0)
        {
            await Console.Error.WriteLineAsync($"replay: no *.request files under {directory}").ConfigureAwait(false);
            return 2;
        }

        using var stop = new SignalStop();
        await using var runner = new ReplayRunner(endpoint, modelDirectory, tolerance, writeMissing, targetModel);
        int passed = 0, failed = 0;
        try
        {
            foreach (var replayCase in cases)
            {
                var result = await runner.RunAsync(replayCase, stop.Token).ConfigureAwait(false);
                if (result.Difference is null)
                {
                    passed++;
                    console.WriteLine($"{(result.Written ? "NEW " : "PASS")} {replayCase.Name} ({result.Status})");
                }
                else
                {
                    failed++;
                    console.WriteLine($"FAIL {replayCase.Name}: {result.Difference}");
                }
            }
        }
        catch (OperationCanceledException) when (stop.Signal is not null)
        {
            console.WriteLine($"replay stopped by {stop.Signal}");
            return stop.ExitCode;
        }

        console.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }
}
