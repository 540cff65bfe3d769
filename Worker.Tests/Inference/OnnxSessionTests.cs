using System.Runtime.InteropServices;
using Worker.Inference.Ort;
using Worker.Tests.Support;

namespace Worker.Tests.Inference;

/// <summary>The real ONNX Runtime 1.30.0 library through our C-API binding, on real models.</summary>
public class OnnxSessionTests
{
    private static readonly SessionConfig Cpu = new() { Device = DevicePreference.Cpu, IntraOpThreads = 1 };

    [Fact]
    public void LoadsTheFetchedLibrary()
    {
        var api = OrtApi.Shared;
        Assert.Equal("1.30.0", api.Version);
        Assert.StartsWith("ORT Build Info", api.BuildInfo);
        Assert.Contains("CPUExecutionProvider", api.AvailableProviders());
    }

    [Fact]
    public void MissingLibraryIsAClearError()
    {
        var error = Assert.Throws<OrtLibraryException>(() => OrtApi.Load("/nonexistent/libonnxruntime.so.1"));
        Assert.Contains("ORT_LIBRARY_PATH", error.Message);
    }

    [Fact]
    public void ALibraryThatIsNotOrtIsAClearError()
    {
        var libc = "/lib/x86_64-linux-gnu/libc.so.6";
        Assert.True(File.Exists(libc), "the build machines are Debian x64");
        var error = Assert.Throws<OrtLibraryException>(() => OrtApi.Load(libc));
        Assert.Contains("OrtGetApiBase", error.Message);
    }

    [Fact]
    public void ReadsTheSignatureFromTheModel()
    {
        using var linear = OnnxSession.Create(OrtApi.Shared, Models.File("linear"), Cpu);
        var input = Assert.Single(linear.Signature.Inputs);
        Assert.Equal(("X", TensorElementType.Float, 4L, true), (input.Name, input.ElementType, input.RowSize, input.IsBatchable));
        var output = Assert.Single(linear.Signature.Outputs);
        Assert.Equal(("Y", TensorElementType.Float, 3L), (output.Name, output.ElementType, output.RowSize));
        Assert.Equal("cpu", linear.Device);

        using var classifier = OnnxSession.Create(OrtApi.Shared, Models.File("classifier"), Cpu);
        Assert.Equal(["probabilities", "label"], classifier.Signature.Outputs.Select(o => o.Name));
        Assert.Equal(TensorElementType.Int64, classifier.Signature.Outputs[1].ElementType);
        Assert.Equal(1L, classifier.Signature.Outputs[1].RowSize);

        using var twoInputs = OnnxSession.Create(OrtApi.Shared, Models.File("two_inputs"), Cpu);
        Assert.Equal([TensorElementType.Float, TensorElementType.Int64], twoInputs.Signature.Inputs.Select(i => i.ElementType));

        using var fixedBatch = OnnxSession.Create(OrtApi.Shared, Models.File("fixed_batch"), Cpu);
        Assert.False(fixedBatch.Signature.IsBatchable);
        Assert.Equal([1L, 2L], fixedBatch.Signature.Inputs[0].Shape);
    }

    [Fact]
    public void RunsTheLinearModelOnPinnedMemory()
    {
        using var session = OnnxSession.Create(OrtApi.Shared, Models.File("linear"), Cpu);
        var x = GC.AllocateArray<float>(8, pinned: true);
        float[] rows = [1, 2, 3, 4, -5, 0.5f, 6, 7];
        rows.CopyTo(x, 0);

        using var outputs = session.Run([Tensor(x, [2, 4])]);
        var (type, shape) = outputs.GetTypeAndShape(0);
        Assert.Equal(TensorElementType.Float, type);
        Assert.Equal([2L, 3L], shape);
        var y = outputs.GetData<float>(0, 6).ToArray();
        Assert.Equal(Models.Linear(rows.AsSpan(0, 4)), y[..3], new ToleranceComparer(1e-5f));
        Assert.Equal(Models.Linear(rows.AsSpan(4, 4)), y[3..], new ToleranceComparer(1e-5f));
    }

    [Fact]
    public void RunsWithTwoThreadsThatDoNotSpin()
    {
        // The SINGLE_RECORD default: ORT takes the config entry and its pool's threads sleep between sections.
        using var session = OnnxSession.Create(OrtApi.Shared, Models.File("linear"), Cpu with { IntraOpThreads = 2, AllowSpinning = false });
        var x = GC.AllocateArray<float>(4, pinned: true);
        float[] row = [1, 2, 3, 4];
        row.CopyTo(x, 0);
        for (var run = 0; run < 3; run++)
        {
            using var outputs = session.Run([Tensor(x, [1, 4])]);
            Assert.Equal(Models.Linear(row), outputs.GetData<float>(0, 3).ToArray(), new ToleranceComparer(1e-5f));
        }
    }

    [Fact]
    public void RunsTheClassifierWithTwoOutputs()
    {
        using var session = OnnxSession.Create(OrtApi.Shared, Models.File("classifier"), Cpu);
        var x = GC.AllocateArray<float>(6, pinned: true);
        float[] rows = [1, 0, 0, 0, 0, 1];
        rows.CopyTo(x, 0);
        using var outputs = session.Run([Tensor(x, [2, 3])]);
        var probabilities = outputs.GetData<float>(0, 4).ToArray();
        var labels = outputs.GetData<long>(1, 2).ToArray();
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
        using var session = OnnxSession.Create(OrtApi.Shared, Models.File("two_inputs"), Cpu);
        var a = GC.AllocateArray<float>(2, pinned: true);
        var b = GC.AllocateArray<long>(2, pinned: true);
        a[0] = 0.5f;
        a[1] = -1;
        b[0] = 3;
        b[1] = 40;
        using var outputs = session.Run([Tensor(a, [1, 2]), Tensor(b, [1, 2])]);
        Assert.Equal([3.5f, 39f], outputs.GetData<float>(0, 2).ToArray());
    }

    [Fact]
    public void AWrongShapeIsAnOrtErrorNotACrash()
    {
        using var session = OnnxSession.Create(OrtApi.Shared, Models.File("linear"), Cpu);
        var x = GC.AllocateArray<float>(6, pinned: true);
        var error = Assert.Throws<OrtException>(() => session.Run([Tensor(x, [2, 3])]));
        Assert.NotEqual(0, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));

        // The session is still usable.
        var good = GC.AllocateArray<float>(4, pinned: true);
        using var outputs = session.Run([Tensor(good, [1, 4])]);
        Assert.Equal(Models.Linear(new float[4]), outputs.GetData<float>(0, 3).ToArray(), new ToleranceComparer(1e-6f));
    }

    [Fact]
    public void MissingModelFileIsNoSuchFile()
    {
        var error = Assert.Throws<OrtException>(() => OnnxSession.Create(OrtApi.Shared, "/nonexistent/model.onnx", Cpu));
        Assert.Equal(3, error.Code);
    }

    [Fact]
    public void CorruptModelIsAnError()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "this is not a protobuf");
            var error = Assert.Throws<OrtException>(() => OnnxSession.Create(OrtApi.Shared, path, Cpu));
            Assert.NotEqual(0, error.Code);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CudaWhenAskedForFailsClearlyWithoutIt()
    {
        // The npm CPU build lists CUDA but cannot load its provider library: "cuda" must fail, "auto" must fall back.
        Assert.Throws<OrtException>(() => OnnxSession.Create(OrtApi.Shared, Models.File("linear"), new SessionConfig { Device = DevicePreference.Cuda }));
        using var auto = OnnxSession.Create(OrtApi.Shared, Models.File("linear"), new SessionConfig { Device = DevicePreference.Auto, GpuCount = 1 });
        Assert.Equal("cpu", auto.Device);
        Assert.False(string.IsNullOrEmpty(auto.CudaFallbackReason));
    }

    [Fact]
    public void ConcurrentRunsOnOneSessionAgree()
    {
        using var session = OnnxSession.Create(OrtApi.Shared, Models.File("linear"), Cpu);
        Parallel.For(0, 8, thread =>
        {
            var x = GC.AllocateArray<float>(4, pinned: true);
            for (var i = 0; i < 200; i++)
            {
                x[0] = thread;
                x[3] = i;
                using var outputs = session.Run([Tensor(x, [1, 4])]);
                Assert.Equal(Models.Linear(x), outputs.GetData<float>(0, 3).ToArray(), new ToleranceComparer(1e-4f));
            }
        });
    }

    internal static InputTensor Tensor<T>(T[] pinned, long[] shape)
        where T : unmanaged =>
        new(Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0), pinned.Length * Marshal.SizeOf<T>(), shape);
}

public sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance * Math.Max(1, Math.Max(Math.Abs(x), Math.Abs(y)));

    public int GetHashCode(float obj) => 0;
}
