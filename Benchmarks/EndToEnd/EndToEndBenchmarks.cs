using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using Worker.Hosting;
using Worker.Inference.Ort;

namespace Benchmarks.EndToEnd;

/// <summary>
/// The worker's limit is ORT itself. On the same 8192 rows of the MLP: bare <c>Run</c> on the batches
/// the worker would form (16 × 512 rows, already decoded, pinned) against the whole path, CSV over
/// loopback HTTP → split → decode → queue → Run → encode → socket. Also ORT's own batch-64 ÷ batch-1
/// ratio, the most dynamic batching can gain on this model.
/// </summary>
[MemoryDiagnoser]
public class EndToEndBenchmarks
{
    public const int Rows = 8192;
    public const int Batch = 512;
    private const int SmallRows = 1024;

    private WorkerHost _host = null!;
    private OnnxSession _bare = null!;
    private float[] _pinned = null!;
    private byte[] _csvRequest = null!;
    private byte[] _jsonLinesRequest = null!;
    private LoopbackClient _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        var threads = Environment.ProcessorCount;
        var settings = new WorkerSettings
        {
            Port = 0,
            ModelDirectory = MlpModel.Directory,
            Device = DevicePreference.Cpu,
            MaxPayloadInMB = 0,
            MaxBatchRows = Batch,
            InferenceWorkers = 1,
            IntraOpThreads = threads,
        };
        _host = new WorkerHost(settings, JsonLog.Null);
        _host.Start(IPAddress.Loopback);
        if (!_host.LoadModel())
        {
            throw new InvalidOperationException(_host.Readiness.Reason);
        }

        _bare = OnnxSession.Create(OrtApi.Shared, Path.Combine(MlpModel.Directory, "model.onnx"), new SessionConfig { Device = DevicePreference.Cpu, IntraOpThreads = threads });

        var random = new Random(3);
        _pinned = GC.AllocateArray<float>(Rows * MlpModel.Inputs, pinned: true);
        var csv = new StringBuilder();
        var jsonLines = new StringBuilder();
        for (var r = 0; r < Rows; r++)
        {
            for (var c = 0; c < MlpModel.Inputs; c++)
            {
                var value = MathF.Round((random.NextSingle() * 2) - 1, 5);
                _pinned[(r * MlpModel.Inputs) + c] = value;
                var text = value.ToString("R", CultureInfo.InvariantCulture);
                csv.Append(text).Append(c == MlpModel.Inputs - 1 ? '\n' : ',');
                jsonLines.Append(c == 0 ? "[" : ",").Append(text).Append(c == MlpModel.Inputs - 1 ? "]\n" : "");
            }
        }

        _csvRequest = LoopbackClient.Request("text/csv", Encoding.ASCII.GetBytes(csv.ToString()));
        _jsonLinesRequest = LoopbackClient.Request("application/jsonlines", Encoding.ASCII.GetBytes(jsonLines.ToString()));
        _client = new LoopbackClient(_host.Port);
        Console.WriteLine($"// CSV request {_csvRequest.Length} bytes, JSON Lines request {_jsonLinesRequest.Length} bytes, {Rows} rows, ORT {OrtApi.Shared.Version}, {threads} intra-op threads");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _host.StopAsync().GetAwaiter().GetResult();
        _bare.Dispose();
    }

    [Benchmark(Baseline = true, Description = "bare ORT Run, 16 x 512 rows")]
    public void BareOrt() => RunBare(Batch, Rows);

    [Benchmark(Description = "end to end, MULTI_RECORD CSV, 8192 rows")]
    public Task<int> EndToEndCsv() => Send(_csvRequest);

    [Benchmark(Description = "end to end, MULTI_RECORD JSON Lines, 8192 rows")]
    public Task<int> EndToEndJsonLines() => Send(_jsonLinesRequest);

    [Benchmark(Description = "bare ORT Run, 1024 x 1 row")]
    public void BareOrtBatchOf1() => RunBare(1, SmallRows);

    [Benchmark(Description = "bare ORT Run, 16 x 64 rows")]
    public void BareOrtBatchOf64() => RunBare(64, SmallRows);

    private async Task<int> Send(byte[] request)
    {
        var status = await _client.SendAsync(request);
        return status == 200 ? status : throw new InvalidOperationException($"status {status}");
    }

    private void RunBare(int batch, int rows)
    {
        var shape = new long[] { batch, MlpModel.Inputs };
        var rowBytes = MlpModel.Inputs * sizeof(float);
        for (var first = 0; first < rows; first += batch)
        {
            var data = Marshal.UnsafeAddrOfPinnedArrayElement(_pinned, first * MlpModel.Inputs);
            using var outputs = _bare.Run([new InputTensor(data, (long)batch * rowBytes, shape)]);
        }
    }
}
