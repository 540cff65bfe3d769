using System.Runtime.InteropServices;

namespace Worker.Inference.Ort;

/// <summary>A failed ORT call: the OrtErrorCode and message of the returned OrtStatus.</summary>
public sealed class OrtException(int code, string message) : Exception(message)
{
    /// <summary>OrtErrorCode: 1 FAIL, 2 INVALID_ARGUMENT, 3 NO_SUCHFILE, 7 INVALID_PROTOBUF, 10 INVALID_GRAPH, 11 EP_FAIL, ...</summary>
    public int Code { get; } = code;
}

/// <summary>The native library is missing or is not an ONNX Runtime this binding can use.</summary>
public sealed class OrtLibraryException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// ORT's C API: <c>OrtGetApiBase()</c> → <c>GetApi(17)</c> → a table of function pointers whose slot
/// order is fixed by onnxruntime_c_api.h (append-only). Only the slots the worker calls are typed
/// here; each slot number was checked against ORT 1.30.0 (shared/ORT_C_API.md).
/// </summary>
public sealed unsafe class OrtApi
{
    public const string LibraryPathVariable = "ORT_LIBRARY_PATH";
    public const string LibraryFileName = "libonnxruntime.so.1";

    // Version 17 covers every slot below (the highest used, GetBuildInfoString 254, needs 15).
    // Never call a slot above 275, the last of version 17.
    public const uint ApiVersion = 17;

    private static readonly Lock LoadLock = new();
    private static OrtApi? _shared;

    // Statuses and errors
    public readonly delegate* unmanaged<nint, int> GetErrorCode;                                   // 1
    public readonly delegate* unmanaged<nint, nint> GetErrorMessage;                               // 2
    public readonly delegate* unmanaged<int, byte*, nint*, nint> CreateEnv;                        // 3
    public readonly delegate* unmanaged<nint, byte*, nint, nint*, nint> CreateSession;             // 7
    public readonly delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint> Run; // 9
    public readonly delegate* unmanaged<nint*, nint> CreateSessionOptions;                         // 10
    public readonly delegate* unmanaged<nint, nint> EnableMemPattern;                              // 16
    public readonly delegate* unmanaged<nint, nint> DisableMemPattern;                             // 17
    public readonly delegate* unmanaged<nint, int, nint> SetSessionGraphOptimizationLevel;         // 23
    public readonly delegate* unmanaged<nint, int, nint> SetIntraOpNumThreads;                     // 24
    public readonly delegate* unmanaged<nint, int, nint> SetInterOpNumThreads;                     // 25
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetInputCount;                  // 30
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetOutputCount;                 // 31
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetInputTypeInfo;         // 33
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;        // 34
    public readonly delegate* unmanaged<nint, nuint, nint, nint*, nint> SessionGetInputName;       // 36
    public readonly delegate* unmanaged<nint, nuint, nint, nint*, nint> SessionGetOutputName;      // 37
    public readonly delegate* unmanaged<nint, long*, nuint, int, nint*, nint> CreateTensorAsOrtValue; // 48
    public readonly delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint> CreateTensorWithDataAsOrtValue; // 49
    public readonly delegate* unmanaged<nint, void**, nint> GetTensorMutableData;                 // 51
    public readonly delegate* unmanaged<nint, nint*, nint> CastTypeInfoToTensorInfo;               // 55
    public readonly delegate* unmanaged<nint, int*, nint> GetOnnxTypeFromTypeInfo;                 // 56
    public readonly delegate* unmanaged<nint, int*, nint> GetTensorElementType;                    // 60
    public readonly delegate* unmanaged<nint, nuint*, nint> GetDimensionsCount;                    // 61
    public readonly delegate* unmanaged<nint, long*, nuint, nint> GetDimensions;                   // 62
    public readonly delegate* unmanaged<nint, nint*, nuint, nint> GetSymbolicDimensions;           // 63
    public readonly delegate* unmanaged<nint, nint*, nint> GetTensorTypeAndShape;                  // 65
    public readonly delegate* unmanaged<int, int, nint*, nint> CreateCpuMemoryInfo;                // 69
    public readonly delegate* unmanaged<nint, nint, nint> AllocatorFree;                           // 76
    public readonly delegate* unmanaged<nint*, nint> GetAllocatorWithDefaultOptions;               // 78
    public readonly delegate* unmanaged<nint, void> ReleaseEnv;                                    // 92
    public readonly delegate* unmanaged<nint, void> ReleaseStatus;                                 // 93
    public readonly delegate* unmanaged<nint, void> ReleaseMemoryInfo;                             // 94
    public readonly delegate* unmanaged<nint, void> ReleaseSession;                                // 95
    public readonly delegate* unmanaged<nint, void> ReleaseValue;                                  // 96
    public readonly delegate* unmanaged<nint, void> ReleaseTypeInfo;                               // 98
    public readonly delegate* unmanaged<nint, void> ReleaseTensorTypeAndShapeInfo;                 // 99
    public readonly delegate* unmanaged<nint, void> ReleaseSessionOptions;                         // 100
    public readonly delegate* unmanaged<nint, nint*, nint> SessionGetModelMetadata;                // 111
    public readonly delegate* unmanaged<nint, nint, nint*, nint> ModelMetadataGetProducerName;     // 112
    public readonly delegate* unmanaged<nint, void> ReleaseModelMetadata;                          // 118
    public readonly delegate* unmanaged<nint**, int*, nint> GetAvailableProviders;                 // 125
    public readonly delegate* unmanaged<nint*, int, nint> ReleaseAvailableProviders;               // 126
    public readonly delegate* unmanaged<nint, byte*, byte*, nint> AddSessionConfigEntry;           // 130
    public readonly delegate* unmanaged<nint, nint, nint> SessionOptionsAppendExecutionProvider_CUDA_V2; // 204
    public readonly delegate* unmanaged<nint*, nint> CreateCUDAProviderOptions;                    // 205
    public readonly delegate* unmanaged<nint, byte**, byte**, nuint, nint> UpdateCUDAProviderOptions; // 206
    public readonly delegate* unmanaged<nint, void> ReleaseCUDAProviderOptions;                    // 208
    public readonly delegate* unmanaged<nint> GetBuildInfoString;                                  // 254

    private OrtApi(string libraryPath, nint* table, string version)
    {
        LibraryPath = libraryPath;
        Version = version;
        GetErrorCode = (delegate* unmanaged<nint, int>)table[1];
        GetErrorMessage = (delegate* unmanaged<nint, nint>)table[2];
        CreateEnv = (delegate* unmanaged<int, byte*, nint*, nint>)table[3];
        CreateSession = (delegate* unmanaged<nint, byte*, nint, nint*, nint>)table[7];
        Run = (delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)table[9];
        CreateSessionOptions = (delegate* unmanaged<nint*, nint>)table[10];
        EnableMemPattern = (delegate* unmanaged<nint, nint>)table[16];
        DisableMemPattern = (delegate* unmanaged<nint, nint>)table[17];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged<nint, int, nint>)table[23];
        SetIntraOpNumThreads = (delegate* unmanaged<nint, int, nint>)table[24];
        SetInterOpNumThreads = (delegate* unmanaged<nint, int, nint>)table[25];
        SessionGetInputCount = (delegate* unmanaged<nint, nuint*, nint>)table[30];
        SessionGetOutputCount = (delegate* unmanaged<nint, nuint*, nint>)table[31];
        SessionGetInputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)table[33];
        SessionGetOutputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)table[34];
        SessionGetInputName = (delegate* unmanaged<nint, nuint, nint, nint*, nint>)table[36];
        SessionGetOutputName = (delegate* unmanaged<nint, nuint, nint, nint*, nint>)table[37];
        CreateTensorAsOrtValue = (delegate* unmanaged<nint, long*, nuint, int, nint*, nint>)table[48];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)table[49];
        GetTensorMutableData = (delegate* unmanaged<nint, void**, nint>)table[51];
        CastTypeInfoToTensorInfo = (delegate* unmanaged<nint, nint*, nint>)table[55];
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged<nint, int*, nint>)table[56];
        GetTensorElementType = (delegate* unmanaged<nint, int*, nint>)table[60];
        GetDimensionsCount = (delegate* unmanaged<nint, nuint*, nint>)table[61];
        GetDimensions = (delegate* unmanaged<nint, long*, nuint, nint>)table[62];
        GetSymbolicDimensions = (delegate* unmanaged<nint, nint*, nuint, nint>)table[63];
        GetTensorTypeAndShape = (delegate* unmanaged<nint, nint*, nint>)table[65];
        CreateCpuMemoryInfo = (delegate* unmanaged<int, int, nint*, nint>)table[69];
        AllocatorFree = (delegate* unmanaged<nint, nint, nint>)table[76];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged<nint*, nint>)table[78];
        ReleaseEnv = (delegate* unmanaged<nint, void>)table[92];
        ReleaseStatus = (delegate* unmanaged<nint, void>)table[93];
        ReleaseMemoryInfo = (delegate* unmanaged<nint, void>)table[94];
        ReleaseSession = (delegate* unmanaged<nint, void>)table[95];
        ReleaseValue = (delegate* unmanaged<nint, void>)table[96];
        ReleaseTypeInfo = (delegate* unmanaged<nint, void>)table[98];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged<nint, void>)table[99];
        ReleaseSessionOptions = (delegate* unmanaged<nint, void>)table[100];
        SessionGetModelMetadata = (delegate* unmanaged<nint, nint*, nint>)table[111];
        ModelMetadataGetProducerName = (delegate* unmanaged<nint, nint, nint*, nint>)table[112];
        ReleaseModelMetadata = (delegate* unmanaged<nint, void>)table[118];
        GetAvailableProviders = (delegate* unmanaged<nint**, int*, nint>)table[125];
        ReleaseAvailableProviders = (delegate* unmanaged<nint*, int, nint>)table[126];
        AddSessionConfigEntry = (delegate* unmanaged<nint, byte*, byte*, nint>)table[130];
        SessionOptionsAppendExecutionProvider_CUDA_V2 = (delegate* unmanaged<nint, nint, nint>)table[204];
        CreateCUDAProviderOptions = (delegate* unmanaged<nint*, nint>)table[205];
        UpdateCUDAProviderOptions = (delegate* unmanaged<nint, byte**, byte**, nuint, nint>)table[206];
        ReleaseCUDAProviderOptions = (delegate* unmanaged<nint, void>)table[208];
        GetBuildInfoString = (delegate* unmanaged<nint>)table[254];
    }

    public string LibraryPath { get; }

    /// <summary>ORT's version string, e.g. "1.30.0".</summary>
    public string Version { get; }

    public string BuildInfo => Marshal.PtrToStringUTF8(GetBuildInfoString()) ?? "";

    /// <summary>The process-wide binding: <c>ORT_LIBRARY_PATH</c> if set, else libonnxruntime.so.1 next to the program.</summary>
    public static OrtApi Shared
    {
        get
        {
            if (_shared is { } api)
            {
                return api;
            }

            lock (LoadLock)
            {
                return _shared ??= Load(ResolveLibraryPath());
            }
        }
    }

    public static string ResolveLibraryPath()
    {
        var configured = Environment.GetEnvironmentVariable(LibraryPathVariable);
        return string.IsNullOrWhiteSpace(configured) ? Path.Combine(AppContext.BaseDirectory, LibraryFileName) : configured;
    }

    public static OrtApi Load(string libraryPath)
    {
        if (!File.Exists(libraryPath))
        {
            throw new OrtLibraryException(
                $"ONNX Runtime library not found at {libraryPath}; the build puts {LibraryFileName} next to the program, or set {LibraryPathVariable} to its path");
        }

        nint library;
        try
        {
            library = NativeLibrary.Load(libraryPath);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new OrtLibraryException($"cannot load ONNX Runtime library {libraryPath}: {e.Message}", e);
        }

        if (!NativeLibrary.TryGetExport(library, "OrtGetApiBase", out var getApiBase))
        {
            throw new OrtLibraryException($"{libraryPath} is not ONNX Runtime: it has no OrtGetApiBase export");
        }

        var apiBase = ((delegate* unmanaged<nint*>)getApiBase)();
        var version = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)apiBase[1])()) ?? "unknown";
        var table = ((delegate* unmanaged<uint, nint*>)apiBase[0])(ApiVersion);
        if (table == null)
        {
            throw new OrtLibraryException($"ONNX Runtime {version} at {libraryPath} does not offer C API version {ApiVersion} (ORT 1.17 or newer is needed)");
        }

        // The library stays loaded for the life of the process: its function pointers are the binding.
        return new OrtApi(libraryPath, table, version);
    }

    /// <summary>Throws for a non-NULL status, copying its message first and always releasing it.</summary>
    public void Check(nint status)
    {
        if (status != 0)
        {
            Throw(status);
        }
    }

    public OrtException ToException(nint status)
    {
        var code = GetErrorCode(status);
        var message = Marshal.PtrToStringUTF8(GetErrorMessage(status)) ?? "unknown ONNX Runtime error";
        ReleaseStatus(status);
        return new OrtException(code, message);
    }

    /// <summary>Element type and dimensions (-1 where dynamic) of an OrtTensorTypeAndShapeInfo the caller owns.</summary>
    public (TensorElementType Type, long[] Shape) ReadTypeAndShape(nint tensorInfo)
    {
        int type;
        Check(GetTensorElementType(tensorInfo, &type));
        nuint rank;
        Check(GetDimensionsCount(tensorInfo, &rank));
        var shape = new long[(int)rank];
        fixed (long* dims = shape)
        {
            Check(GetDimensions(tensorInfo, dims, rank));
        }

        return ((TensorElementType)type, shape);
    }

    public IReadOnlyList<string> AvailableProviders()
    {
        nint* list;
        int count;
        Check(GetAvailableProviders(&list, &count));
        try
        {
            var names = new string[count];
            for (var i = 0; i < count; i++)
            {
                names[i] = Marshal.PtrToStringUTF8(list[i]) ?? "";
            }

            return names;
        }
        finally
        {
            Check(ReleaseAvailableProviders(list, count));
        }
    }

    private void Throw(nint status) => throw ToException(status);
}

/// <summary>Owns one native ORT object and releases it exactly once with its Release* function.</summary>
public sealed unsafe class OrtHandle : SafeHandle
{
    private readonly delegate* unmanaged<nint, void> _release;

    public OrtHandle(nint handle, delegate* unmanaged<nint, void> release)
        : base(0, ownsHandle: true)
    {
        _release = release;
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        _release(handle);
        return true;
    }
}
