using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Worker.Inference.Ort;

/// <summary>ONNX Runtime's native library could not be loaded; the message says where it looked and how to fix it.</summary>
public sealed class OrtLibraryException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The process's ONNX Runtime: the official package's native library (next to the program, or under
/// runtimes/linux-x64/native in a framework-dependent build), or <c>ORT_LIBRARY_PATH</c> when set.
/// One OrtEnv for the process, created on first use, as ORT expects.
/// </summary>
public static class OrtLibrary
{
    public const string LibraryPathVariable = "ORT_LIBRARY_PATH";

    private static readonly Lock Gate = new();
    private static OrtEnv? _env;

    /// <summary>The process's OrtEnv; loads the native library on first use.</summary>
    public static OrtEnv Environment
    {
        get
        {
            lock (Gate)
            {
                return _env ??= Load();
            }
        }
    }

    /// <summary>ORT's own version string, e.g. "1.31.0".</summary>
    public static string Version => Environment.GetVersionString();

    /// <summary>Where the native library was loaded from, read back from the process's mappings.</summary>
    public static string LibraryPath
    {
        get
        {
            _ = Environment;
            try
            {
                foreach (var line in File.ReadLines("/proc/self/maps"))
                {
                    var slash = line.IndexOf('/', StringComparison.Ordinal);
                    if (slash >= 0 && Path.GetFileName(line.AsSpan(slash)).StartsWith("libonnxruntime.so", StringComparison.Ordinal))
                    {
                        return line[slash..];
                    }
                }
            }
            catch (IOException)
            {
            }

            return "libonnxruntime.so";
        }
    }

    public static IReadOnlyList<string> AvailableProviders() => Environment.GetAvailableProviders();

    private static OrtEnv Load()
    {
        var configured = System.Environment.GetEnvironmentVariable(LibraryPathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            UseLibraryAt(configured.Trim());
        }

        try
        {
            var options = new EnvironmentCreationOptions { logId = "worker", logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING };
            return OrtEnv.CreateInstanceWithOptions(ref options);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or TypeInitializationException)
        {
            var where = string.IsNullOrWhiteSpace(configured)
                ? $"the package's libonnxruntime.so next to the program (or set {LibraryPathVariable})"
                : $"{LibraryPathVariable}={configured}";
            throw new OrtLibraryException($"cannot load ONNX Runtime from {where}: {Innermost(e).Message}", e);
        }
    }

    /// <summary>Points the managed package's "onnxruntime" imports at one file, instead of its own search.</summary>
    private static void UseLibraryAt(string path)
    {
        if (!File.Exists(path))
        {
            throw new OrtLibraryException($"ONNX Runtime library not found at {LibraryPathVariable}={path}");
        }

        OrtEnv.DisableDllImportResolver = true;
        nint handle;
        try
        {
            handle = NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new OrtLibraryException($"cannot load {LibraryPathVariable}={path}: {e.Message}", e);
        }

        if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out _))
        {
            throw new OrtLibraryException($"{LibraryPathVariable}={path} is not ONNX Runtime: it has no OrtGetApiBase");
        }

        NativeLibrary.SetDllImportResolver(typeof(OrtEnv).Assembly, (name, _, _) =>
            name == "onnxruntime" ? handle : 0);
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null && e is TypeInitializationException or TargetInvocationException)
        {
            e = e.InnerException;
        }

        return e;
    }
}
