using System.Diagnostics;
using System.Text.Json;

namespace Worker.Tests.Support;

/// <summary>What the tests that start the real program as a process share.</summary>
public static class WorkerProcess
{
    /// <summary>The port from the "listening" log line (the worker is started on port 0).</summary>
    public static async Task<int> ReadListeningPortAsync(Process worker)
    {
        while (true)
        {
            var line = await worker.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))
                ?? throw new InvalidOperationException("worker exited before listening: " + await worker.StandardError.ReadToEndAsync());
            using var json = JsonDocument.Parse(line);
            if (json.RootElement.GetProperty("message").GetString() == "listening")
            {
                return json.RootElement.GetProperty("port").GetInt32();
            }
        }
    }

    /// <summary>Pings until 200 (the model loads in the background, /ping says 503 meanwhile); returns the last status.</summary>
    public static async Task<int> WaitUntilReadyAsync(RawHttpClient client)
    {
        var status = 0;
        for (var attempt = 0; attempt < 300 && status != 200; attempt++)
        {
            await client.SendAsync("GET /ping HTTP/1.1\r\nHost: sagemaker\r\n\r\n");
            status = (await client.ReadResponseAsync()).Status;
            if (status != 200)
            {
                await Task.Delay(100);
            }
        }

        return status;
    }
}
