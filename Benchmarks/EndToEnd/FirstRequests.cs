using System.Diagnostics;
using System.Net.Sockets;

namespace Benchmarks.EndToEnd;

/// <summary>
/// <c>first-requests --app PATH --model DIR --body FILE [--requests 50] [--rounds 5]</c>: starts the
/// published program as SageMaker would, waits for /ping, then times each of 50 identical
/// MULTI_RECORD CSV requests on one keep-alive connection. A fresh process each round; prints the
/// first five requests and the fiftieth, and first ÷ fiftieth, as medians over the rounds.
/// </summary>
public static class FirstRequests
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var app = Arg("--app", "");
        var model = Arg("--model", "");
        var body = await File.ReadAllBytesAsync(Arg("--body", ""));
        var requests = int.Parse(Arg("--requests", "50"), System.Globalization.CultureInfo.InvariantCulture);
        var rounds = int.Parse(Arg("--rounds", "5"), System.Globalization.CultureInfo.InvariantCulture);
        var request = LoopbackClient.Request("text/csv", body);
        var times = new double[rounds][];
        for (var round = 0; round < rounds; round++)
        {
            var port = FreePort();
            var start = new ProcessStartInfo(app) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("serve");
            start.Environment["SAGEMAKER_BIND_TO_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["SM_MODEL_DIR"] = model;
            start.Environment["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = "0";
            using var worker = Process.Start(start) ?? throw new InvalidOperationException("cannot start " + app);
            _ = worker.StandardOutput.ReadToEndAsync();
            _ = worker.StandardError.ReadToEndAsync();
            try
            {
                await WaitUntilReadyAsync(port);
                using var client = new LoopbackClient(port);
                times[round] = new double[requests];
                for (var i = 0; i < requests; i++)
                {
                    var clock = Stopwatch.StartNew();
                    var status = await client.SendAsync(request);
                    times[round][i] = clock.Elapsed.TotalMilliseconds;
                    if (status != 200)
                    {
                        Console.Error.WriteLine($"request {i + 1}: status {status}");
                        return 1;
                    }
                }
            }
            finally
            {
                worker.Kill();
                await worker.WaitForExitAsync();
            }

            Console.WriteLine($"round {round + 1}: first five {string.Join(" / ", times[round].Take(5).Select(t => t.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} ms, fiftieth {times[round][^1]:F1} ms");
        }

        double Median(IEnumerable<double> xs)
        {
            var sorted = xs.Order().ToArray();
            return sorted[sorted.Length / 2];
        }

        var first = Median(times.Select(t => t[0]));
        var last = Median(times.Select(t => t[^1]));
        Console.WriteLine($"medians over {rounds} processes: requests 1-5 {string.Join(" / ", Enumerable.Range(0, 5).Select(i => Median(times.Select(t => t[i])).ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} ms, request {requests} {last:F1} ms; first / fiftieth = {first / last:F2}");
        return 0;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitUntilReadyAsync(int port)
    {
        for (var attempt = 0; attempt < 600; attempt++)
        {
            try
            {
                using var client = new LoopbackClient(port);
                if (await client.SendAsync("GET /ping HTTP/1.1\r\nHost: bench\r\n\r\n"u8.ToArray()) == 200)
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the worker never became ready");
    }
}
