using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Worker.Hosting;
using Worker.Inference.Ort;

namespace Benchmarks.EndToEnd;

/// <summary>
/// <c>Benchmarks gpu-check [--device cuda|tensorrt|cpu] [--rows N] [--batch N] [--rounds N]</c>: the
/// MLP end to end (MULTI_RECORD CSV over loopback HTTP) against bare <c>Run</c> on the same device
/// and batches, best of several rounds. Prints device, providers, rows/s and the ratio. Run by
/// Benchmarks/gpu-check.sh; with <c>--device cpu</c> it runs anywhere (to check the check).
/// </summary>
public static class GpuCheck
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var device = Arg("--device", "cuda").ToLowerInvariant() switch
        {
            "cpu" => DevicePreference.Cpu,
            "tensorrt" => DevicePreference.TensorRT,
            _ => DevicePreference.Cuda,
        };
        var rows = int.Parse(Arg("--rows", "65536"), CultureInfo.InvariantCulture);
        var batch = int.Parse(Arg("--batch", "1024"), CultureInfo.InvariantCulture);
        var rounds = int.Parse(Arg("--rounds", "5"), CultureInfo.InvariantCulture);
        var model = Path.Combine(MlpModel.Directory, "model.onnx");

        Console.WriteLine($"ORT {OrtLibrary.Version} at {OrtLibrary.LibraryPath}; providers: {string.Join(", ", OrtLibrary.AvailableProviders())}");

        // Rows as numpy writes float32 text (shortest round-trip, up to 9 significant digits).
        var random = new Random(7);
        var values = new float[rows * MlpModel.Inputs];
        var csv = new StringBuilder(rows * MlpModel.Inputs * 12);
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < MlpModel.Inputs; c++)
            {
                var value = (float)((random.NextDouble() * 4) - 2);
                values[(r * MlpModel.Inputs) + c] = value;
                csv.Append(value.ToString("R", CultureInfo.InvariantCulture)).Append(c + 1 < MlpModel.Inputs ? ',' : '\n');
            }
        }

        // Bare Run: the worker's own runner over pinned buffers, the same batches.
        double bareRowsPerSecond;
        using (var bare = OnnxSession.Create(model, new SessionConfig { Device = device, GpuCount = 1 }))
        using (var runner = bare.CreateRunner(batch))
        {
            Console.WriteLine($"bare session device: {bare.Device}");
            var best = double.MaxValue;
            for (var round = 0; round <= rounds; round++)
            {
                var clock = Stopwatch.StartNew();
                for (var first = 0; first < rows; first += batch)
                {
                    var count = Math.Min(batch, rows - first);
                    MemoryMarshal.AsBytes(values.AsSpan(first * MlpModel.Inputs, count * MlpModel.Inputs)).CopyTo(runner.Input(0, count));
                    runner.Run(count);
                }

                best = round == 0 ? best : Math.Min(best, clock.Elapsed.TotalSeconds); // round 0 warms up
            }

            bareRowsPerSecond = rows / best;
            Console.WriteLine($"bare Run, {batch}-row batches: {bareRowsPerSecond:N0} rows/s");
        }

        var settings = new WorkerSettings
        {
            Port = 0,
            ModelDirectory = MlpModel.Directory,
            Device = device,
            MaxPayloadInMB = 0,
            MaxBatchRows = batch,
        };
        await using var host = new WorkerHost(settings, JsonLog.Null, machine: MachineInfo.Detect() with { Gpus = device == DevicePreference.Cpu ? 0 : Math.Max(1, MachineInfo.Detect().Gpus) });
        host.Start(IPAddress.Loopback);
        if (!host.LoadModel())
        {
            Console.Error.WriteLine("model not ready: " + host.Readiness.Reason);
            return 1;
        }

        Console.WriteLine($"worker device: {host.Engine!.Device}, {host.Engine.Options.Workers} inference workers, {batch}-row batches");
        var request = LoopbackClient.Request("text/csv", Encoding.ASCII.GetBytes(csv.ToString()));
        using var client = new LoopbackClient(host.Port);
        var bestEndToEnd = double.MaxValue;
        for (var round = 0; round <= rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            var status = await client.SendAsync(request);
            if (status != 200)
            {
                Console.Error.WriteLine($"/invocations answered {status}");
                return 1;
            }

            bestEndToEnd = round == 0 ? bestEndToEnd : Math.Min(bestEndToEnd, clock.Elapsed.TotalSeconds);
        }

        var endToEnd = rows / bestEndToEnd;
        Console.WriteLine($"end to end, MULTI_RECORD CSV ({request.Length / 1e6:F1} MB, {rows} rows): {endToEnd:N0} rows/s, {request.Length / 1e6 / bestEndToEnd:F0} MB/s");
        Console.WriteLine($"end to end / bare Run: {endToEnd / bareRowsPerSecond:F2}");
        return 0;
    }
}
