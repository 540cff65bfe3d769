using System.Net;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Benchmarks.Records;
using Worker.Hosting;
using Worker.Inference.Ort;

namespace Benchmarks.EndToEnd;

/// <summary>
/// The worker's limit is ORT itself. On the same 8192 rows of the MLP: bare <c>Run</c> on the batches
/// the worker would form (16 × 512 rows, already decoded, pinned) against the whole path in every
/// request format, over loopback HTTP → split → decode → queue → Run → encode CSV → socket. Also ORT's own batch-64 ÷ batch-1
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
    private Dictionary<PayloadFormat, byte[]> _requests = [];
    private LoopbackClient _client = null!;
    private Dictionary<NumberStyle, byte[]> _styledCsv = [];
    private (OrtValue[] Inputs, OrtValue[] Outputs)[] _bareValues = [];
    private readonly RunOptions _runOptions = new();
    private float[] _bareOutputs = null!;
    private BatchRunner _runner = null!;

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

        _bare = OnnxSession.Create(Path.Combine(MlpModel.Directory, "model.onnx"), new SessionConfig { Device = DevicePreference.Cpu, IntraOpThreads = threads });

        var random = new Random(3);
        _pinned = GC.AllocateArray<float>(Rows * MlpModel.Inputs, pinned: true);
        var rows = new float[Rows][];
        for (var r = 0; r < Rows; r++)
        {
            rows[r] = new float[MlpModel.Inputs];
            for (var c = 0; c < MlpModel.Inputs; c++)
            {
                rows[r][c] = _pinned[(r * MlpModel.Inputs) + c] = MathF.Round((random.NextSingle() * 2) - 1, 5);
            }
        }

        // Every format answers in CSV, so only the request side differs between them.
        _requests = Enum.GetValues<PayloadFormat>().ToDictionary(
            format => format,
            format => LoopbackClient.Request(Payloads.ContentType(format), Payloads.Encode(format, rows), accept: "text/csv"));
        // The same row count as pandas (float64, 17 digits) and numpy (float32, exponents) write it.
        _styledCsv = new Dictionary<NumberStyle, byte[]>
        {
            [NumberStyle.PandasFloat64] = LoopbackClient.Request("text/csv", StyledCsv(random, NumberStyle.PandasFloat64), accept: "text/csv"),
            [NumberStyle.NumpyFloat32] = LoopbackClient.Request("text/csv", StyledCsv(random, NumberStyle.NumpyFloat32), accept: "text/csv"),
        };
        _client = new LoopbackClient(_host.Port);
        _bareValues = [.. new[] { 1, 64, Batch }.Select(batch => BareValues(batch, Rows / batch))];
        _runner = _bare.CreateRunner(Batch);
        Console.WriteLine($"// {Rows} rows; request bytes: {string.Join(", ", _requests.Select(r => $"{r.Key} {r.Value.Length}"))}; ORT {OrtLibrary.Version}, {threads} intra-op threads");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _host.StopAsync().GetAwaiter().GetResult();
        foreach (var (inputs, outputs) in _bareValues)
        {
            foreach (var value in inputs.Concat(outputs))
            {
                value.Dispose();
            }
        }

        _runOptions.Dispose();
        _runner.Dispose();
        _bare.Dispose();
    }

    [Benchmark(Baseline = true, Description = "bare ORT Run, 16 x 512 rows")]
    public void BareOrt() => RunBare(2, Rows / Batch);

    /// <summary>What an inference worker does per batch: copy the rows into its runner's pinned input, Run, outputs read in place.</summary>
    [Benchmark(Description = "worker's BatchRunner (copy in + Run), 16 x 512 rows")]
    public void Runner()
    {
        var source = System.Runtime.InteropServices.MemoryMarshal.AsBytes(_pinned.AsSpan());
        var rowBytes = MlpModel.Inputs * sizeof(float);
        for (var first = 0; first < Rows; first += Batch)
        {
            source.Slice(first * rowBytes, Batch * rowBytes).CopyTo(_runner.Input(0, Batch));
            _runner.Run(Batch);
        }
    }

    [Benchmark(Description = "end to end, MULTI_RECORD CSV, 8192 rows")]
    public Task<int> EndToEndCsv() => Send(PayloadFormat.Csv);

    [Benchmark(Description = "end to end, MULTI_RECORD CSV as pandas writes float64, 8192 rows")]
    public Task<int> EndToEndCsvPandas() => SendRaw(_styledCsv[NumberStyle.PandasFloat64]);

    [Benchmark(Description = "end to end, MULTI_RECORD CSV as numpy writes float32, 8192 rows")]
    public Task<int> EndToEndCsvNumpy() => SendRaw(_styledCsv[NumberStyle.NumpyFloat32]);

    [Benchmark(Description = "end to end, MULTI_RECORD JSON Lines, 8192 rows")]
    public Task<int> EndToEndJsonLines() => Send(PayloadFormat.JsonLines);

    [Benchmark(Description = "end to end, JSON instances, 8192 rows")]
    public Task<int> EndToEndJson() => Send(PayloadFormat.Json);

    [Benchmark(Description = "end to end, MULTI_RECORD TFRecord Examples, 8192 rows")]
    public Task<int> EndToEndTfRecord() => Send(PayloadFormat.TfRecordExamples);

    [Benchmark(Description = "end to end, MULTI_RECORD RecordIO-protobuf, 8192 rows")]
    public Task<int> EndToEndRecordIOProtobuf() => Send(PayloadFormat.RecordIOProtobuf);

    [Benchmark(Description = "end to end, MULTI_RECORD RecordIO raw float32, 8192 rows")]
    public Task<int> EndToEndRecordIORaw() => Send(PayloadFormat.RecordIORaw);

    [Benchmark(Description = "bare ORT Run, 1024 x 1 row")]
    public void BareOrtBatchOf1() => RunBare(0, SmallRows);

    [Benchmark(Description = "bare ORT Run, 16 x 64 rows")]
    public void BareOrtBatchOf64() => RunBare(1, SmallRows / 64);

    private Task<int> Send(PayloadFormat format) => SendRaw(_requests[format]);

    private async Task<int> SendRaw(byte[] request)
    {
        var status = await _client.SendAsync(request);
        return status == 200 ? status : throw new InvalidOperationException($"status {status}");
    }

    private static byte[] StyledCsv(Random random, NumberStyle style)
    {
        var text = new System.Text.StringBuilder();
        for (var r = 0; r < Rows; r++)
        {
            for (var c = 0; c < MlpModel.Inputs; c++)
            {
                var value = (random.NextDouble() * 2) - 1;
                text.Append(c == 0 ? "" : ",").Append(style == NumberStyle.PandasFloat64
                    ? value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)
                    : ((float)(value * Math.Pow(10, random.Next(-5, 2)))).ToString("R", System.Globalization.CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal));
            }

            text.Append('\n');
        }

        return System.Text.Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>
    /// The package's own Run on values made once over the pinned rows (inputs) and a pinned buffer
    /// (outputs): the least work ORT can be asked to do through its managed API, the limit.
    /// </summary>
    private void RunBare(int shape, int runs)
    {
        var (inputs, outputs) = _bareValues[shape];
        for (var run = 0; run < runs; run++)
        {
            _bare.Session.Run(_runOptions, InputNames, [inputs[run]], OutputNames, [outputs[run]]);
        }
    }

    private static readonly string[] InputNames = ["X"];
    private static readonly string[] OutputNames = ["Y"];

    private (OrtValue[] Inputs, OrtValue[] Outputs) BareValues(int batch, int runs)
    {
        _bareOutputs ??= GC.AllocateArray<float>(Rows * MlpModel.Outputs, pinned: true);
        var inputs = new OrtValue[runs];
        var outputs = new OrtValue[runs];
        for (var run = 0; run < runs; run++)
        {
            inputs[run] = OrtValue.CreateTensorValueWithData(
                OrtMemoryInfo.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [batch, MlpModel.Inputs],
                Marshal.UnsafeAddrOfPinnedArrayElement(_pinned, run * batch * MlpModel.Inputs), (long)batch * MlpModel.Inputs * sizeof(float));
            outputs[run] = OrtValue.CreateTensorValueWithData(
                OrtMemoryInfo.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [batch, MlpModel.Outputs],
                Marshal.UnsafeAddrOfPinnedArrayElement(_bareOutputs, run * batch * MlpModel.Outputs), (long)batch * MlpModel.Outputs * sizeof(float));
        }

        return (inputs, outputs);
    }
}
