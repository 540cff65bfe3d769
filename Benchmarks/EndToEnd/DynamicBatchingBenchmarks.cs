using System.Globalization;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using Worker.Hosting;
using Worker.Inference.Ort;

namespace Benchmarks.EndToEnd;

/// <summary>
/// 64 concurrent SINGLE_RECORD clients, 16 one-row requests each (1024 rows), against the MLP:
/// dynamic batching (up to 512 rows per Run, 1 ms max delay) against batch-of-1 (every request its own Run).
/// </summary>
[MemoryDiagnoser]
public class DynamicBatchingBenchmarks
{
    private const int Clients = 64;
    private const int RequestsPerClient = 16;

    private WorkerHost _host = null!;
    private LoopbackClient[] _clients = [];
    private byte[][] _requests = [];

    [Params(512, 1)]
    public int MaxBatchRows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var settings = new WorkerSettings
        {
            Port = 0,
            ModelDirectory = MlpModel.Directory,
            Device = DevicePreference.Cpu,
            BatchStrategy = BatchStrategy.SingleRecord,
            MaxBatchRows = MaxBatchRows,
            MaxQueueDelay = TimeSpan.FromMilliseconds(1),
            InferenceWorkers = 1,
            IntraOpThreads = Environment.ProcessorCount,
        };
        _host = new WorkerHost(settings, JsonLog.Null);
        _host.Start(IPAddress.Loopback);
        if (!_host.LoadModel())
        {
            throw new InvalidOperationException(_host.Readiness.Reason);
        }

        var random = new Random(5);
        _requests = Enumerable.Range(0, Clients).Select(_ =>
        {
            var row = string.Join(",", Enumerable.Range(0, MlpModel.Inputs).Select(_ => MathF.Round((random.NextSingle() * 2) - 1, 5).ToString("R", CultureInfo.InvariantCulture)));
            return LoopbackClient.Request("text/csv", Encoding.ASCII.GetBytes(row + "\n"));
        }).ToArray();
        _clients = Enumerable.Range(0, Clients).Select(_ => new LoopbackClient(_host.Port)).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        _host.StopAsync().GetAwaiter().GetResult();
    }

    [Benchmark(Description = "64 clients x 16 SINGLE_RECORD requests")]
    public Task SixtyFourClients() => SendFromEveryClient(i => _requests[i]);

    /// <summary>
    /// The same clients and request count on <c>GET /ping</c>: the server's own small-request rate on
    /// this machine with these clients, the cap on what batched one-row requests can reach (DESIGN §6).
    /// </summary>
    [Benchmark(Description = "64 clients x 16 GET /ping")]
    public Task SixtyFourClientsPing() => SendFromEveryClient(_ => PingRequest);

    private static readonly byte[] PingRequest = "GET /ping HTTP/1.1\r\nHost: bench\r\n\r\n"u8.ToArray();

    private Task SendFromEveryClient(Func<int, byte[]> request) =>
        Task.WhenAll(_clients.Select(async (client, i) =>
        {
            for (var r = 0; r < RequestsPerClient; r++)
            {
                var status = await client.SendAsync(request(i));
                if (status != 200)
                {
                    throw new InvalidOperationException($"status {status}");
                }
            }
        }));
}
