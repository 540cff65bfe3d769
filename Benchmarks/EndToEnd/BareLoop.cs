using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Worker.Inference.Ort;

namespace Benchmarks.EndToEnd;

/// <summary>
/// <c>bare-loop --model FILE [--seconds 5] [--batch 1] [--threads N]</c>: a loop of bare ORT
/// <c>Run</c>s of one row each (the baseline of issue 15's one-row clients), on values made once
/// over pinned buffers, as many as fit in the time; prints <c>rows/s N</c>. Threads default to the
/// cores, with ORT's default spinning: the fastest such loop the package gives on this machine.
/// </summary>
public static class BareLoop
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var model = Arg("--model", "");
        var seconds = double.Parse(Arg("--seconds", "5"), CultureInfo.InvariantCulture);
        var batch = int.Parse(Arg("--batch", "1"), CultureInfo.InvariantCulture);
        var threads = int.Parse(Arg("--threads", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        using var session = OnnxSession.Create(model, new SessionConfig { Device = DevicePreference.Cpu, IntraOpThreads = threads });
        var input = session.Signature.Inputs[0];
        var output = session.Signature.Outputs[0];
        var inputs = GC.AllocateArray<float>(batch * (int)input.RowSize, pinned: true);
        var outputs = GC.AllocateArray<float>(batch * (int)output.RowSize, pinned: true);
        var random = new Random(11);
        for (var i = 0; i < inputs.Length; i++)
        {
            inputs[i] = (random.NextSingle() * 2) - 1;
        }

        using var inputValue = OrtValue.CreateTensorValueWithData(
            OrtMemoryInfo.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [batch, input.RowSize],
            Marshal.UnsafeAddrOfPinnedArrayElement(inputs, 0), (long)inputs.Length * sizeof(float));
        using var outputValue = OrtValue.CreateTensorValueWithData(
            OrtMemoryInfo.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [batch, output.RowSize],
            Marshal.UnsafeAddrOfPinnedArrayElement(outputs, 0), (long)outputs.Length * sizeof(float));
        using var runOptions = new RunOptions();
        string[] inputNames = [input.Name];
        string[] outputNames = [output.Name];
        OrtValue[] inputValues = [inputValue];
        OrtValue[] outputValues = [outputValue];

        // Warm (ORT's first Runs plan memory; the JIT tiers this loop) before the timed part.
        for (var i = 0; i < 2000; i++)
        {
            session.Session.Run(runOptions, inputNames, inputValues, outputNames, outputValues);
        }

        var runs = 0L;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            for (var i = 0; i < 256; i++)
            {
                session.Session.Run(runOptions, inputNames, inputValues, outputNames, outputValues);
            }

            runs += 256;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rows/s {runs * batch / clock.Elapsed.TotalSeconds:F0}"));
        return 0;
    }
}
