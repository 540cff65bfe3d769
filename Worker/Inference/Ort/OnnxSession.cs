using System.Runtime.InteropServices;
using System.Text;

namespace Worker.Inference.Ort;

public enum DevicePreference
{
    /// <summary>CUDA when a GPU is present and the CUDA provider loads, else CPU.</summary>
    Auto,
    Cpu,
    Cuda,
}

public sealed record SessionConfig
{
    public DevicePreference Device { get; init; } = DevicePreference.Auto;
    public int CudaDeviceId { get; init; }

    /// <summary>GPUs seen on the machine; Auto only tries CUDA when there is one.</summary>
    public int GpuCount { get; init; }

    /// <summary>0 lets ORT choose (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Whether idle intra-op threads spin for work (ORT's default) or sleep (<c>session.intra_op.allow_spinning</c>).</summary>
    public bool AllowSpinning { get; init; } = true;
}

/// <summary>
/// One ORT session over one model file. Run is thread-safe (ORT guarantees concurrent Run on one
/// session); each call owns its input and output values.
/// </summary>
public sealed unsafe class OnnxSession : IDisposable
{
    private readonly OrtApi _api;
    private readonly OrtHandle _session;
    private readonly OrtHandle _cpuMemory;
    private readonly nint* _inputNames;
    private readonly nint* _outputNames;
    private int _disposed;

    private OnnxSession(OrtApi api, OrtHandle session, OrtHandle cpuMemory, ModelSignature signature, string device)
    {
        _api = api;
        _session = session;
        _cpuMemory = cpuMemory;
        Signature = signature;
        Device = device;
        _inputNames = AllocateNames(signature.Inputs);
        _outputNames = AllocateNames(signature.Outputs);
    }

    public ModelSignature Signature { get; }

    /// <summary>"cpu" or "cuda:N".</summary>
    public string Device { get; }

    /// <summary>Why CUDA was not used, when Auto fell back to CPU.</summary>
    public string? CudaFallbackReason { get; private init; }

    public static OnnxSession Create(OrtApi api, string modelPath, SessionConfig config)
    {
        var env = OrtEnvironment.Get(api);
        nint options;
        api.Check(api.CreateSessionOptions(&options));
        using var optionsHandle = new OrtHandle(options, api.ReleaseSessionOptions);

        api.Check(api.SetSessionGraphOptimizationLevel(options, 99));
        api.Check(api.SetInterOpNumThreads(options, 1));
        if (config.IntraOpThreads > 0)
        {
            api.Check(api.SetIntraOpNumThreads(options, config.IntraOpThreads));
        }

        // Batch sizes vary from Run to Run; a memory pattern per shape would grow without bound (ORT #11118).
        api.Check(api.DisableMemPattern(options));
        if (!config.AllowSpinning)
        {
            fixed (byte* key = "session.intra_op.allow_spinning\0"u8)
            fixed (byte* value = "0\0"u8)
            {
                api.Check(api.AddSessionConfigEntry(options, key, value));
            }
        }

        var device = "cpu";
        string? fallback = null;
        if (config.Device == DevicePreference.Cuda || (config.Device == DevicePreference.Auto && config.GpuCount > 0))
        {
            try
            {
                AppendCuda(api, options, config.CudaDeviceId);
                device = $"cuda:{config.CudaDeviceId}";
            }
            catch (OrtException e) when (config.Device == DevicePreference.Auto)
            {
                fallback = e.Message;
            }
        }
        else if (config.Device == DevicePreference.Auto)
        {
            fallback = "no GPU on this machine";
        }

        nint session;
        var path = Encoding.UTF8.GetBytes(modelPath + "\0");
        fixed (byte* pathPointer = path)
        {
            api.Check(api.CreateSession(env.DangerousGetHandle(), pathPointer, options, &session));
        }

        var sessionHandle = new OrtHandle(session, api.ReleaseSession);
        try
        {
            var signature = ReadSignature(api, session);
            nint memory;
            api.Check(api.CreateCpuMemoryInfo(0 /* OrtDeviceAllocator */, 0 /* OrtMemTypeDefault */, &memory));
            return new OnnxSession(api, sessionHandle, new OrtHandle(memory, api.ReleaseMemoryInfo), signature, device)
            {
                CudaFallbackReason = fallback,
            };
        }
        catch
        {
            sessionHandle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the model on caller-owned input buffers (pinned for the duration of the call). The
    /// outputs are ORT-owned and must be disposed; their data lives until then.
    /// </summary>
    public OrtOutputs Run(ReadOnlySpan<InputTensor> inputs)
    {
        if (inputs.Length != Signature.Inputs.Count)
        {
            throw new ArgumentException($"model takes {Signature.Inputs.Count} inputs, got {inputs.Length}");
        }

        var inputValues = stackalloc nint[inputs.Length];
        var outputs = new OrtOutputs(_api, Signature.Outputs.Count);
        var created = 0;
        try
        {
            for (; created < inputs.Length; created++)
            {
                var input = inputs[created];
                nint value;
                fixed (long* shape = input.Shape)
                {
                    _api.Check(_api.CreateTensorWithDataAsOrtValue(
                        _cpuMemory.DangerousGetHandle(), (void*)input.Data, (nuint)input.ByteLength, shape, (nuint)input.Shape.Length, (int)Signature.Inputs[created].ElementType, &value));
                }

                inputValues[created] = value;
            }

            fixed (nint* outputValues = outputs.Values)
            {
                _api.Check(_api.Run(_session.DangerousGetHandle(), 0, _inputNames, inputValues, (nuint)inputs.Length, _outputNames, (nuint)Signature.Outputs.Count, outputValues));
            }

            return outputs;
        }
        catch
        {
            outputs.Dispose();
            throw;
        }
        finally
        {
            for (var i = 0; i < created; i++)
            {
                _api.ReleaseValue(inputValues[i]);
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _session.Dispose();
        _cpuMemory.Dispose();
        FreeNames(_inputNames, Signature.Inputs.Count);
        FreeNames(_outputNames, Signature.Outputs.Count);
    }

    private static void AppendCuda(OrtApi api, nint options, int deviceId)
    {
        nint cudaOptions;
        api.Check(api.CreateCUDAProviderOptions(&cudaOptions));
        try
        {
            var key = "device_id\0"u8;
            var value = Encoding.ASCII.GetBytes(deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\0");
            fixed (byte* keyPointer = key)
            fixed (byte* valuePointer = value)
            {
                var keys = stackalloc byte*[] { keyPointer };
                var values = stackalloc byte*[] { valuePointer };
                api.Check(api.UpdateCUDAProviderOptions(cudaOptions, keys, values, 1));
            }

            api.Check(api.SessionOptionsAppendExecutionProvider_CUDA_V2(options, cudaOptions));
        }
        finally
        {
            api.ReleaseCUDAProviderOptions(cudaOptions);
        }
    }

    private static ModelSignature ReadSignature(OrtApi api, nint session)
    {
        nint allocator;
        api.Check(api.GetAllocatorWithDefaultOptions(&allocator));

        nuint inputCount, outputCount;
        api.Check(api.SessionGetInputCount(session, &inputCount));
        api.Check(api.SessionGetOutputCount(session, &outputCount));

        var inputs = ReadTensors(api, session, allocator, inputCount, api.SessionGetInputName, api.SessionGetInputTypeInfo);
        var outputs = ReadTensors(api, session, allocator, outputCount, api.SessionGetOutputName, api.SessionGetOutputTypeInfo);
        return new ModelSignature(inputs, outputs);
    }

    /// <summary>Inputs and outputs are read the same way, through their own pair of OrtApi slots.</summary>
    private static TensorInfo[] ReadTensors(
        OrtApi api,
        nint session,
        nint allocator,
        nuint count,
        delegate* unmanaged<nint, nuint, nint, nint*, nint> getName,
        delegate* unmanaged<nint, nuint, nint*, nint> getTypeInfo)
    {
        var tensors = new TensorInfo[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            nint name;
            api.Check(getName(session, i, allocator, &name));
            nint typeInfo;
            api.Check(getTypeInfo(session, i, &typeInfo));
            tensors[(int)i] = ReadTensorInfo(api, TakeString(api, allocator, name), typeInfo);
        }

        return tensors;
    }

    private static TensorInfo ReadTensorInfo(OrtApi api, string name, nint typeInfo)
    {
        using var owner = new OrtHandle(typeInfo, api.ReleaseTypeInfo);
        int onnxType;
        api.Check(api.GetOnnxTypeFromTypeInfo(typeInfo, &onnxType));
        if (onnxType != 1 /* ONNX_TYPE_TENSOR */)
        {
            return new TensorInfo(name, TensorElementType.Undefined, []);
        }

        // The tensor info is a view owned by the type info: never released on its own.
        nint tensorInfo;
        api.Check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo));
        var (elementType, shape) = api.ReadTypeAndShape(tensorInfo);
        return new TensorInfo(name, elementType, shape);
    }

    private static string TakeString(OrtApi api, nint allocator, nint text)
    {
        try
        {
            return Marshal.PtrToStringUTF8(text) ?? "";
        }
        finally
        {
            api.Check(api.AllocatorFree(allocator, text));
        }
    }

    private static nint* AllocateNames(IReadOnlyList<TensorInfo> tensors)
    {
        var names = (nint*)NativeMemory.Alloc((nuint)Math.Max(tensors.Count, 1), (nuint)sizeof(nint));
        for (var i = 0; i < tensors.Count; i++)
        {
            names[i] = Marshal.StringToCoTaskMemUTF8(tensors[i].Name);
        }

        return names;
    }

    private static void FreeNames(nint* names, int count)
    {
        for (var i = 0; i < count; i++)
        {
            Marshal.FreeCoTaskMem(names[i]);
        }

        NativeMemory.Free(names);
    }
}

/// <summary>An input tensor over caller-owned memory that stays pinned until Run returns.</summary>
public readonly record struct InputTensor(nint Data, long ByteLength, long[] Shape);

/// <summary>The OrtValues one Run produced. Dispose releases every one (a leaked output pins ORT's arena).</summary>
public sealed unsafe class OrtOutputs : IDisposable
{
    private readonly OrtApi _api;

    internal OrtOutputs(OrtApi api, int count)
    {
        _api = api;
        Values = new nint[count];
    }

    internal nint[] Values { get; }

    public int Count => Values.Length;

    public (TensorElementType Type, long[] Shape) GetTypeAndShape(int index)
    {
        nint info;
        _api.Check(_api.GetTensorTypeAndShape(Values[index], &info));
        using var owner = new OrtHandle(info, _api.ReleaseTensorTypeAndShapeInfo);
        return _api.ReadTypeAndShape(info);
    }

    /// <summary>The output's data; valid until this object is disposed.</summary>
    public ReadOnlySpan<T> GetData<T>(int index, long elementCount)
        where T : unmanaged
    {
        void* data;
        _api.Check(_api.GetTensorMutableData(Values[index], &data));
        return new ReadOnlySpan<T>(data, checked((int)elementCount));
    }

    public void Dispose()
    {
        for (var i = 0; i < Values.Length; i++)
        {
            if (Values[i] != 0)
            {
                _api.ReleaseValue(Values[i]);
                Values[i] = 0;
            }
        }
    }
}

/// <summary>One OrtEnv for the process, as ORT expects; it lives as long as the process.</summary>
internal static unsafe class OrtEnvironment
{
    private static readonly Lock Gate = new();
    private static OrtHandle? _env;

    public static OrtHandle Get(OrtApi api)
    {
        lock (Gate)
        {
            if (_env is null)
            {
                nint env;
                var logId = "worker\0"u8;
                fixed (byte* id = logId)
                {
                    api.Check(api.CreateEnv(2 /* ORT_LOGGING_LEVEL_WARNING */, id, &env));
                }

                _env = new OrtHandle(env, api.ReleaseEnv);
            }

            return _env;
        }
    }
}
