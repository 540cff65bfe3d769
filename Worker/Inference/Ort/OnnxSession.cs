using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Worker.Inference.Ort;

public enum DevicePreference
{
    /// <summary>CUDA when a GPU is present and the CUDA provider loads, else CPU. Never TensorRT.</summary>
    Auto,
    Cpu,
    Cuda,

    /// <summary>TensorRT first, CUDA for the nodes TensorRT does not take; only when asked for.</summary>
    TensorRT,
}

/// <summary>CUDA provider options GPU users tune; null keeps ORT's default.</summary>
public sealed record CudaSettings
{
    /// <summary><c>arena_extend_strategy</c>: kNextPowerOfTwo (ORT's default) or kSameAsRequested.</summary>
    public string? ArenaExtendStrategy { get; init; }

    /// <summary><c>cudnn_conv_algo_search</c>: EXHAUSTIVE (ORT's default), HEURISTIC or DEFAULT.</summary>
    public string? CudnnConvAlgoSearch { get; init; }

    /// <summary><c>do_copy_in_default_stream</c> (ORT's default: true).</summary>
    public bool? CopyInDefaultStream { get; init; }

    public Dictionary<string, string> ProviderOptions(int deviceId)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["device_id"] = deviceId.ToString(CultureInfo.InvariantCulture),
        };
        if (ArenaExtendStrategy is { } arena)
        {
            options["arena_extend_strategy"] = arena;
        }

        if (CudnnConvAlgoSearch is { } search)
        {
            options["cudnn_conv_algo_search"] = search;
        }

        if (CopyInDefaultStream is { } copy)
        {
            options["do_copy_in_default_stream"] = copy ? "1" : "0";
        }

        return options;
    }
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

    public CudaSettings Cuda { get; init; } = new();
}

/// <summary>
/// One ORT session over one model file, through the official managed package. Run is thread-safe
/// (ORT guarantees concurrent Run on one session); each inference worker runs through its own
/// <see cref="BatchRunner"/>, which owns that worker's pinned buffers and values.
/// </summary>
public sealed class OnnxSession : IDisposable
{
    private OnnxSession(InferenceSession session, string device, string? cudaFallbackReason)
    {
        Session = session;
        Device = device;
        CudaFallbackReason = cudaFallbackReason;
        var signature = new ModelSignature(
            [.. session.InputNames.Select(name => ReadTensorInfo(name, session.InputMetadata[name]))],
            [.. session.OutputNames.Select(name => ReadTensorInfo(name, session.OutputMetadata[name]))]);
        Signature = signature.HasSequenceOutputs ? ReadSequenceShapes(session, signature) : signature;
    }

    public ModelSignature Signature { get; private set; }

    /// <summary>The model's metadata_props (producer's custom keys, e.g. WORKER_IMAGE_MEAN).</summary>
    public IReadOnlyDictionary<string, string> Metadata => Session.ModelMetadata.CustomMetadataMap;

    /// <summary>Marks the single input as an image input, before the engine starts.</summary>
    internal void AttachImage(Records.Images.ImageInput? image) => Signature = Signature with { Image = image };

    /// <summary>"cpu", "cuda:N" or "tensorrt:N".</summary>
    public string Device { get; }

    /// <summary>Why CUDA was not used, when Auto fell back to CPU.</summary>
    public string? CudaFallbackReason { get; }

    /// <summary>The package's session, for benchmarks that time bare Run against the worker.</summary>
    internal InferenceSession Session { get; }

    /// <summary>
    /// Opens the model on the configured device. Auto tries CUDA only when the machine has a GPU and
    /// falls back to CPU, keeping ORT's reason (e.g. a CUDA library that cannot be loaded).
    /// </summary>
    /// <exception cref="OrtLibraryException">ONNX Runtime's native library cannot be loaded.</exception>
    /// <exception cref="OnnxRuntimeException">ORT refused the model or the asked-for device.</exception>
    public static OnnxSession Create(string modelPath, SessionConfig config)
    {
        _ = OrtLibrary.Environment;
        string? fallback = null;
        if (config.Device is DevicePreference.Cuda or DevicePreference.TensorRT || (config.Device == DevicePreference.Auto && config.GpuCount > 0))
        {
            try
            {
                return Open(modelPath, config, config.Device == DevicePreference.Auto ? DevicePreference.Cuda : config.Device, null);
            }
            catch (OnnxRuntimeException e) when (config.Device == DevicePreference.Auto)
            {
                fallback = e.Message;
            }
        }
        else if (config.Device == DevicePreference.Auto)
        {
            fallback = "no GPU on this machine";
        }

        return Open(modelPath, config, DevicePreference.Cpu, fallback);
    }

    /// <summary>A worker's own buffers for batches of up to <paramref name="maxRows"/> rows.</summary>
    public BatchRunner CreateRunner(int maxRows) => new(this, Signature.IsBatchable ? maxRows : Math.Max(1, Signature.FixedBatch));

    public void Dispose() => Session.Dispose();

    private static OnnxSession Open(string modelPath, SessionConfig config, DevicePreference device, string? cudaFallbackReason)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            InterOpNumThreads = 1,

            // Batch sizes vary from Run to Run; a memory pattern per shape would grow without bound (ORT #11118).
            EnableMemoryPattern = false,
        };
        if (config.IntraOpThreads > 0)
        {
            options.IntraOpNumThreads = config.IntraOpThreads;
        }

        if (!config.AllowSpinning)
        {
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        }

        var name = "cpu";
        if (device == DevicePreference.TensorRT)
        {
            using var tensorRt = new OrtTensorRTProviderOptions();
            tensorRt.UpdateOptions(new Dictionary<string, string> { ["device_id"] = config.CudaDeviceId.ToString(CultureInfo.InvariantCulture) });
            options.AppendExecutionProvider_Tensorrt(tensorRt);
            name = $"tensorrt:{config.CudaDeviceId}";
        }

        if (device is DevicePreference.Cuda or DevicePreference.TensorRT)
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(config.Cuda.ProviderOptions(config.CudaDeviceId));
            options.AppendExecutionProvider_CUDA(cuda);
            name = device == DevicePreference.Cuda ? $"cuda:{config.CudaDeviceId}" : name;
        }

        return new OnnxSession(new InferenceSession(modelPath, options), name, cudaFallbackReason);
    }

    /// <summary>
    /// A ZipMap output's keys are the classifier's labels, the same in every record's map, but the
    /// model's type says only "a sequence of maps"; a sequence of tensors says nothing of its
    /// elements' shape. One Run on zeroed inputs at load reads them, so a ZipMap output becomes a
    /// float row of one value per label, in the maps' (sorted) key order, and a sequence of tensors a
    /// row of its first element's shape. A model whose inputs cannot be zeroed keeps such an output
    /// unresolved, and loading refuses it by name.
    /// </summary>
    private static ModelSignature ReadSequenceShapes(InferenceSession session, ModelSignature signature)
    {
        var rows = signature.IsBatchable ? 1 : signature.FixedBatch;
        if (rows < 1 || signature.Inputs.Any(i => i.RowSize < 1 || i.ElementSize == 0))
        {
            return signature;
        }

        // Zeros, and empty strings for string inputs.

        var inputs = new List<OrtValue>();
        try
        {
            foreach (var input in signature.Inputs)
            {
                var shape = input.Shape.Length == 0 ? [] : (long[])input.Shape.Clone();
                if (shape.Length > 0)
                {
                    shape[0] = rows;
                }

                if (input.ElementType == TensorElementType.String)
                {
                    inputs.Add(OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape));
                    continue;
                }

                var bytes = rows * input.RowSize * input.ElementSize;
                var zeros = GC.AllocateArray<byte>((int)bytes, pinned: true);
                inputs.Add(OrtValue.CreateTensorValueWithData(
                    OrtMemoryInfo.DefaultInstance, (Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)(int)input.ElementType, shape, Marshal.UnsafeAddrOfPinnedArrayElement(zeros, 0), bytes));
            }

            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, session.InputNames, inputs, session.OutputNames);
            var outputs = signature.Outputs.ToArray();
            for (var o = 0; o < outputs.Length; o++)
            {
                if (outputs[o].IsSequenceOfMaps)
                {
                    using var map = results[o].GetValue(0, OrtAllocator.DefaultInstance);
                    using var keys = map.GetValue(0, OrtAllocator.DefaultInstance);
                    string[] labels = keys.GetTensorTypeAndShape().ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.String
                        ? keys.GetStringTensorAsArray()
                        : [.. keys.GetTensorDataAsSpan<long>().ToArray().Select(k => k.ToString(CultureInfo.InvariantCulture))];
                    outputs[o] = new TensorInfo(outputs[o].Name, TensorElementType.Float, [signature.IsBatchable ? -1 : rows, labels.Length]) { MapKeys = labels };
                }
                else if (outputs[o].IsSequenceOfTensors && results[o].GetValueCount() > 0)
                {
                    using var element = results[o].GetValue(0, OrtAllocator.DefaultInstance);
                    long[] shape = [signature.IsBatchable ? -1 : rows, .. element.GetTensorTypeAndShape().Shape];
                    outputs[o] = new TensorInfo(outputs[o].Name, outputs[o].ElementType, shape) { IsPerRecordSequence = true };
                }
            }

            return new ModelSignature(signature.Inputs, outputs);
        }
        catch (OnnxRuntimeException)
        {
            return signature; // zeros were not a valid input: the output stays unresolved and is refused by name
        }
        finally
        {
            foreach (var input in inputs)
            {
                input.Dispose();
            }
        }
    }

    private static TensorInfo ReadTensorInfo(string name, NodeMetadata metadata)
    {
        if (metadata.OnnxValueType == OnnxValueType.ONNX_TYPE_SEQUENCE
            && metadata.AsSequenceMetadata().ElementMeta is { OnnxValueType: OnnxValueType.ONNX_TYPE_MAP } element
            && element.AsMapMetadata() is var map
            && map.KeyDataType is Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 or Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.String
            && map.ValueMetadata is { IsTensor: true, ElementDataType: Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float })
        {
            return new TensorInfo(name, TensorElementType.Undefined, []) { IsSequenceOfMaps = true };
        }

        if (metadata.OnnxValueType == OnnxValueType.ONNX_TYPE_SEQUENCE
            && metadata.AsSequenceMetadata().ElementMeta is { IsTensor: true, IsString: false } tensorElement)
        {
            // Element type known, element shape read at load; Undefined until then.
            return new TensorInfo(name, (TensorElementType)(int)tensorElement.ElementDataType, []) { IsSequenceOfTensors = true };
        }

        if (metadata.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR)
        {
            return new TensorInfo(name, TensorElementType.Undefined, []);
        }

        return new TensorInfo(name, (TensorElementType)(int)metadata.ElementDataType, [.. metadata.Dimensions.Select(d => (long)d)])
        {
            DimNames = [.. metadata.SymbolicDimensions.Select(n => n ?? "")],
        };
    }
}
