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

    /// <summary>The built program (Worker.dll next to the tests) in its own process, SageMaker's variables cleared.</summary>
    public static Process Start(string[] args, params (string Name, string Value)[] environment)
    {
        var workerDll = Path.Combine(AppContext.BaseDirectory, "Worker.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(workerDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("SAGEMAKER_", StringComparison.Ordinal) || k.StartsWith("TRANSFORM_", StringComparison.Ordinal) || k is "SM_MODEL_DIR" or "WORKER_OPT_ML").ToList())
        {
            info.Environment.Remove(name);
        }

        // Started often by the tests: no warm-up unless a test asks for it.
        info.Environment["WORKER_WARMUP"] = "off";
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start the worker");
    }
}
