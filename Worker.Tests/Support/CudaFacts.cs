using System.Runtime.InteropServices;
using Worker.Hosting;

namespace Worker.Tests.Support;

/// <summary>
/// Whether this machine can run ORT's CUDA provider: an NVIDIA device and the CUDA 13 and cuDNN 9
/// libraries the provider links. Tests that need it are skipped elsewhere, visibly (the summary
/// line counts them), never passed silently.
/// </summary>
public static class Cuda
{
    public const string SkipReason = "needs an NVIDIA GPU with the CUDA 13 and cuDNN 9 libraries (Benchmarks/gpu-check.sh runs these)";

    private static readonly Lazy<bool> Present = new(() =>
        MachineInfo.Detect().Gpus > 0
        && new[] { "libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcudnn.so.9" }.All(CanLoad));

    public static bool Available => Present.Value;

    private static bool CanLoad(string library)
    {
        if (!NativeLibrary.TryLoad(library, out var handle))
        {
            return false;
        }

        NativeLibrary.Free(handle);
        return true;
    }
}

/// <summary>A test that runs only where CUDA is available, and is reported as skipped elsewhere.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!Cuda.Available)
        {
            Skip = Cuda.SkipReason;
        }
    }
}

/// <summary>A test of the fallback on machines without CUDA; skipped where CUDA is available.</summary>
public sealed class NoCudaFactAttribute : FactAttribute
{
    public NoCudaFactAttribute()
    {
        if (Cuda.Available)
        {
            Skip = "this machine has CUDA: the fallback without it cannot be seen here";
        }
    }
}
