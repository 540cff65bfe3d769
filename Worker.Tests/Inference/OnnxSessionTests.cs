using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Worker.Inference.Ort;
using Worker.Tests.Support;

namespace Worker.Tests.Inference;

/// <summary>The official ONNX Runtime package (managed API and native library) on real models.</summary>
public class OnnxSessionTests
{
    private static readonly SessionConfig Cpu = new() { Device = DevicePreference.Cpu, IntraOpThreads = 1 };

    [Fact]
    public void LoadsTheOfficialPackagesLibrary()
    {
        Assert.Equal("1.31.0", OrtLibrary.Version);
        var providers = OrtLibrary.AvailableProviders();
        Assert.Contains("CPUExecutionProvider", providers);
        Assert.Contains("CUDAExecutionProvider", providers);
        Assert.Contains("TensorrtExecutionProvider", providers);

        // The package's own library, restored with the build, not one found elsewhere on the machine.
        var library = OrtLibrary.LibraryPath;
        Assert.EndsWith("/libonnxruntime.so", library);
        Assert.StartsWith(Path.GetFullPath(AppContext.BaseDirectory), library);
    }

    [Fact]
    public void ReadsTheSignatureFromTheModel()
    {
        using var linear = OnnxSession.Create(Models.File("linear"), Cpu);
        var input = Assert.Single(linear.Signature.Inputs);
        Assert.Equal(("X", TensorElementType.Float, 4L, true), (input.Name, input.ElementType, input.RowSize, input.IsBatchable));
        var output = Assert.Single(linear.Signature.Outputs);
        Assert.Equal(("Y", TensorElementType.Float, 3L), (output.Name, output.ElementType, output.RowSize));
        Assert.Equal("cpu", linear.Device);
        Assert.Null(linear.CudaFallbackReason);

        using var classifier = OnnxSession.Create(Models.File("classifier"), Cpu);
        Assert.Equal(["probabilities", "label"], classifier.Signature.Outputs.Select(o => o.Name));
        Assert.Equal(TensorElementType.Int64, classifier.Signature.Outputs[1].ElementType);
        Assert.Equal(1L, classifier.Signature.Outputs[1].RowSize);

        using var twoInputs = OnnxSession.Create(Models.File("two_inputs"), Cpu);
        Assert.Equal([TensorElementType.Float, TensorElementType.Int64], twoInputs.Signature.Inputs.Select(i => i.ElementType));

        using var fixedBatch = OnnxSession.Create(Models.File("fixed_batch"), Cpu);
        Assert.False(fixedBatch.Signature.IsBatchable);
        Assert.Equal([1L, 2L], fixedBatch.Signature.Inputs[0].Shape);
    }

    [Fact]
    public void RunsTheLinearModelInTheRunnersPinnedBuffers()
    {
        using var session = OnnxSession.Create(Models.File("linear"), Cpu);
        using var runner = session.CreateRunner(8);
        float[] rows = [1, 2, 3, 4, -5, 0.5f, 6, 7];
        rows.CopyTo(MemoryMarshal.Cast<byte, float>(runner.Input(0, 2)));

        runner.Run(2);
        var y = MemoryMarshal.Cast<byte, float>(runner.Output(0, 2)).ToArray();
        Assert.Equal(6, y.Length);
        Assert.Equal(Models.Linear(rows.AsSpan(0, 4)), y[..3], new ToleranceComparer(1e-5f));
        Assert.Equal(Models.Linear(rows.AsSpan(4, 4)), y[3..], new ToleranceComparer(1e-5f));
    }

    [Fact]
    public void EveryRowCountRunsAndAgainWithNewData()
    {
        // The runner keeps one set of values per row count; a second pass over every count must see
        // the new data in the same buffers, not the first pass's answers.
        using var session = OnnxSession.Create(Models.File("linear"), Cpu);
        using var runner = session.CreateRunner(16);
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var rows in new[] { 16, 1, 7, 16, 2, 1 })
            {
                var x = MemoryMarshal.Cast<byte, float>(runner.Input(0, rows));
                for (var i = 0; i < x.Length; i++)
                {
                    x[i] = (i * 0.25f) - (pass * 3) + rows;
                }

                runner.Run(rows);
                var y = MemoryMarshal.Cast<byte, float>(runner.Output(0, rows));
                for (var r = 0; r < rows; r++)
                {
                    Assert.Equal(Models.Linear(x.Slice(r * 4, 4)), y.Slice(r * 3, 3).ToArray(), new ToleranceComparer(1e-5f));
                }
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => runner.Run(17));
        Assert.Throws<ArgumentOutOfRangeException>(() => runner.Run(0));
    }

    [Fact]
    public void RunsWithTwoThreadsThatDoNotSpin()
    {
        // The SINGLE_RECORD default: ORT takes the config entry and its pool's threads sleep between sections.
        using var session = OnnxSession.Create(Models.File("linear"), Cpu with { IntraOpThreads = 2, AllowSpinning = false });
        using var runner = session.CreateRunner(1);
        float[] row = [1, 2, 3, 4];
        for (var run = 0; run < 3; run++)
        {
            row.CopyTo(MemoryMarshal.Cast<byte, float>(runner.Input(0, 1)));
            runner.Run(1);
            Assert.Equal(Models.Linear(row), MemoryMarshal.Cast<byte, float>(runner.Output(0, 1)).ToArray(), new ToleranceComparer(1e-5f));
        }
    }

    [Fact]
    public void RunsTheClassifierWithTwoOutputs()
    {
        using var session = OnnxSession.Create(Models.File("classifier"), Cpu);
        using var runner = session.CreateRunner(4);
        float[] rows = [1, 0, 0, 0, 0, 1];
        rows.CopyTo(MemoryMarshal.Cast<byte, float>(runner.Input(0, 2)));
        runner.Run(2);
        var probabilities = MemoryMarshal.Cast<byte, float>(runner.Output(0, 2)).ToArray();
        var labels = MemoryMarshal.Cast<byte, long>(runner.Output(1, 2)).ToArray();
        for (var r = 0; r < 2; r++)
        {
            var (p, label) = Models.Classifier(rows.AsSpan(r * 3, 3));
            Assert.Equal(p, probabilities[(r * 2)..((r * 2) + 2)], new ToleranceComparer(1e-5f));
            Assert.Equal(label, labels[r]);
        }
    }

    [Fact]
    public void RunsAModelWithTwoInputsOfDifferentTypes()
    {
        using var session = OnnxSession.Create(Models.File("two_inputs"), Cpu);
        using var runner = session.CreateRunner(1);
        MemoryMarshal.Cast<byte, float>(runner.Input(0, 1))[0] = 0.5f;
        MemoryMarshal.Cast<byte, float>(runner.Input(0, 1))[1] = -1;
        MemoryMarshal.Cast<byte, long>(runner.Input(1, 1))[0] = 3;
        MemoryMarshal.Cast<byte, long>(runner.Input(1, 1))[1] = 40;
        runner.Run(1);
        Assert.Equal([3.5f, 39f], MemoryMarshal.Cast<byte, float>(runner.Output(0, 1)).ToArray());
    }

    [Fact]
    public void AFixedShapeModelRunsOneRowAtItsOwnShape()
    {
        using var session = OnnxSession.Create(Models.File("fixed_batch"), Cpu);
        using var runner = session.CreateRunner(512);
        Assert.Equal(1, runner.MaxRows);
        MemoryMarshal.Cast<byte, float>(runner.Input(0, 1))[0] = 1.5f;
        MemoryMarshal.Cast<byte, float>(runner.Input(0, 1))[1] = -4;
        runner.Run(1);
        Assert.Equal([3f, -8f], MemoryMarshal.Cast<byte, float>(runner.Output(0, 1)).ToArray());
    }

    [Fact]
    public void AFailedRunIsAnOrtErrorAndTheRunnerLivesOn()
    {
        // gather: Y = table[X] with a 3-entry table; index 7 makes ORT's Gather fail inside Run.
        using var session = OnnxSession.Create(Models.File("gather"), Cpu);
        using var runner = session.CreateRunner(2);
        MemoryMarshal.Cast<byte, long>(runner.Input(0, 2))[0] = 1;
        MemoryMarshal.Cast<byte, long>(runner.Input(0, 2))[1] = 7;
        var error = Assert.Throws<OnnxRuntimeException>(() => runner.Run(2));
        Assert.Contains("Gather", error.Message, StringComparison.OrdinalIgnoreCase);

        MemoryMarshal.Cast<byte, long>(runner.Input(0, 2))[1] = 2;
        runner.Run(2);
        Assert.Equal([20f, 30f], MemoryMarshal.Cast<byte, float>(runner.Output(0, 2)).ToArray());
    }

    [Fact]
    public void MissingModelFileIsAnOrtError()
    {
        var error = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Create("/nonexistent/model.onnx", Cpu));
        Assert.Contains("/nonexistent/model.onnx", error.Message);
    }

    [Fact]
    public void CorruptModelIsAnOrtError()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "this is not a protobuf");
            var error = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Create(path, Cpu));
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [NoCudaFact]
    public void CudaWhenAskedForFailsClearlyWithoutItAndAutoFallsBack()
    {
        // The package lists CUDA, but its provider cannot load without CUDA 13's libraries: "cuda" must
        // fail with ORT's reason, "auto" on a machine that claims a GPU must fall back and keep it.
        var error = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Create(Models.File("linear"), new SessionConfig { Device = DevicePreference.Cuda }));
        Assert.Contains(".so", error.Message);
        using var auto = OnnxSession.Create(Models.File("linear"), new SessionConfig { Device = DevicePreference.Auto, GpuCount = 1 });
        Assert.Equal("cpu", auto.Device);
        Assert.Contains(".so", auto.CudaFallbackReason);

        using var noGpu = OnnxSession.Create(Models.File("linear"), new SessionConfig { Device = DevicePreference.Auto, GpuCount = 0 });
        Assert.Equal("no GPU on this machine", noGpu.CudaFallbackReason);
        Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Create(Models.File("linear"), new SessionConfig { Device = DevicePreference.TensorRT }));
    }

    [CudaFact]
    public void CudaRunsTheLinearModelAndAgreesWithTheCpu()
    {
        using var cuda = OnnxSession.Create(Models.File("linear"), new SessionConfig { Device = DevicePreference.Cuda, Cuda = new CudaSettings { CudnnConvAlgoSearch = "HEURISTIC", ArenaExtendStrategy = "kSameAsRequested", CopyInDefaultStream = true } });
        Assert.Equal("cuda:0", cuda.Device);
        using var runner = cuda.CreateRunner(64);
        foreach (var rows in new[] { 64, 3, 64, 1 })
        {
            var x = MemoryMarshal.Cast<byte, float>(runner.Input(0, rows));
            for (var i = 0; i < x.Length; i++)
            {
                x[i] = (i % 17) - 8 + rows;
            }

            runner.Run(rows);
            var y = MemoryMarshal.Cast<byte, float>(runner.Output(0, rows));
            for (var r = 0; r < rows; r++)
            {
                Assert.Equal(Models.Linear(x.Slice(r * 4, 4)), y.Slice(r * 3, 3).ToArray(), new ToleranceComparer(1e-4f));
            }
        }

        using var auto = OnnxSession.Create(Models.File("linear"), new SessionConfig { Device = DevicePreference.Auto, GpuCount = 1 });
        Assert.Equal("cuda:0", auto.Device);
        Assert.Null(auto.CudaFallbackReason);
    }

    [Fact]
    public void ConcurrentRunnersOnOneSessionAgree()
    {
        using var session = OnnxSession.Create(Models.File("linear"), Cpu);
        Parallel.For(0, 8, thread =>
        {
            using var runner = session.CreateRunner(1);
            var x = MemoryMarshal.Cast<byte, float>(runner.Input(0, 1));
            for (var i = 0; i < 200; i++)
            {
                x[0] = thread;
                x[3] = i;
                runner.Run(1);
                Assert.Equal(Models.Linear(x), MemoryMarshal.Cast<byte, float>(runner.Output(0, 1)).ToArray(), new ToleranceComparer(1e-4f));
            }
        });
    }

    [Fact]
    public void ARunAllocatesOnlyThePackagesOwnArgumentArrays()
    {
        // The worker's part of a Run allocates nothing: values over the pinned buffers are made once
        // per row count. What is left is the managed package's own per-call name and handle arrays
        // (InferenceSession.Run: two name lookups and two handle arrays made through LINQ): 448 bytes
        // per Run measured for this one-input, two-output model, per batch and never per record.
        using var session = OnnxSession.Create(Models.File("classifier"), Cpu);
        using var runner = session.CreateRunner(64);
        foreach (var rows in new[] { 64, 1, 5 })
        {
            runner.Run(rows);
        }

        const int Runs = 300;
        var allocated = long.MaxValue;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < Runs; i++)
            {
                runner.Run(i % 3 == 0 ? 64 : i % 3 == 1 ? 1 : 5);
            }

            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(allocated / Runs <= 512, $"{allocated / Runs} bytes per Run");
    }
}

public sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance * Math.Max(1, Math.Max(Math.Abs(x), Math.Abs(y)));

    public int GetHashCode(float obj) => 0;
}
