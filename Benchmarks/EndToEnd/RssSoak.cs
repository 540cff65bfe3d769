using System.Globalization;
using System.Text;

namespace Benchmarks.EndToEnd;

/// <summary>
/// Sends requests of varied sizes (1 to 4096 rows, so ORT sees many batch shapes) to a running
/// worker and samples the worker's resident memory every 1000 requests: it must level off, not climb.
/// </summary>
public static class RssSoak
{
    public static async Task<int> RunAsync(int port, int pid, int requests, int columns)
    {
        var random = new Random(17);
        using var client = new LoopbackClient(port);
        var samples = new List<(int Requests, long RssKb)>();
        for (var i = 1; i <= requests; i++)
        {
            var rows = random.Next(4) == 0 ? random.Next(512, 4097) : random.Next(1, 64);
            var body = new StringBuilder();
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < columns; c++)
                {
                    body.Append(c == 0 ? "" : ",").Append(((random.NextSingle() * 2) - 1).ToString("R", CultureInfo.InvariantCulture));
                }

                body.Append('\n');
            }

            var status = await client.SendAsync(LoopbackClient.Request("text/csv", Encoding.ASCII.GetBytes(body.ToString())));
            if (status != 200)
            {
                Console.Error.WriteLine($"request {i}: status {status}");
                return 1;
            }

            if (i % 1000 == 0)
            {
                samples.Add((i, ReadRssKb(pid)));
                Console.WriteLine($"{i} requests: RSS {samples[^1].RssKb / 1024.0:F1} MiB");
            }
        }

        var second = samples[1].RssKb;
        var last = samples[^1].RssKb;
        Console.WriteLine($"RSS after 2000 requests {second / 1024.0:F1} MiB, after {requests} {last / 1024.0:F1} MiB: growth {(last - second) / 1024.0:F1} MiB ({100.0 * (last - second) / second:F1}%)");
        return 0;
    }

    private static long ReadRssKb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("no VmRSS");
    }
}
