using Microsoft.ML.OnnxRuntime;
using Worker.Hosting;
using Worker.Inference.Ort;
using Worker.Output;
using Worker.Records;
using Worker.Records.Images;

namespace Worker.Inference;

/// <summary>The model could not be made ready; the reason is what /ping and the log say.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);

public static class ModelLoader
{
    /// <summary>Finds the model, opens an ORT session on the chosen device, checks the worker can feed and read it, and starts the workers.</summary>
    public static InferenceEngine Load(WorkerSettings settings, MachineInfo machine, JsonLog log)
    {
        var path = ModelLocator.Find(settings.ModelDirectory, out var reason) ?? throw new ModelLoadException(reason);

        var config = new SessionConfig
        {
            Device = settings.Device,
            GpuCount = machine.Gpus,
            IntraOpThreads = InferenceSizing.IntraOpThreads(machine, settings),
            AllowSpinning = settings.SpinsOrtThreads,
            Cuda = settings.Cuda,
        };

        // One session per GPU (ORT serialises a session's Runs on one CUDA stream); one on CPU.
        var devices = settings.CudaDevices ?? [.. Enumerable.Range(0, Math.Max(machine.Gpus, 1))];
        var sessions = new List<OnnxSession>();
        try
        {
            sessions.Add(OnnxSession.Create(path, config with { CudaDeviceId = devices[0] }));
            if (sessions[0].Device != "cpu")
            {
                var gpuDevice = settings.Device == DevicePreference.TensorRT ? DevicePreference.TensorRT : DevicePreference.Cuda;
                foreach (var device in devices.Skip(1))
                {
                    sessions.Add(OnnxSession.Create(path, config with { Device = gpuDevice, CudaDeviceId = device }));
                }
            }

            Validate(sessions[0].Signature, path);
            AttachImage(sessions, settings, path);
        }
        catch (Exception e)
        {
            foreach (var opened in sessions)
            {
                opened.Dispose();
            }

            if (e is OrtLibraryException library)
            {
                throw new ModelLoadException(library.Message, library);
            }

            if (e is OnnxRuntimeException ort)
            {
                throw new ModelLoadException($"cannot load {path}: {ort.Message.TrimEnd()}", ort);
            }

            if (e is ConfigurationException configuration)
            {
                throw new ModelLoadException(configuration.Message, configuration);
            }

            throw;
        }

        var session = sessions[0];

        var options = InferenceSizing.Options(machine, settings);
        log.Info(
            "model loaded",
            ("path", path),
            ("ort_version", OrtLibrary.Version),
            ("ort_library", OrtLibrary.LibraryPath),
            ("device", string.Join(",", sessions.Select(s => s.Device))),
            ("cuda_fallback", session.CudaFallbackReason),
            ("signature", session.Signature.ToString()),
            ("workers", options.Workers),
            ("intra_op_threads", config.IntraOpThreads),
            ("ort_spinning", config.AllowSpinning),
            ("max_batch_rows", session.Signature.IsBatchable ? options.MaxBatchRows : session.Signature.FixedBatch),
            ("fixed_batch", session.Signature.IsBatchable ? null : session.Signature.FixedBatch));
        return new InferenceEngine(sessions, options, log);
    }

    /// <summary>An image input takes images too, preprocessed by WORKER_IMAGE_* (environment first, then the model's metadata_props).</summary>
    private static void AttachImage(List<OnnxSession> sessions, WorkerSettings settings, string path)
    {
        var preprocessing = ImagePreprocessing.Parse(settings.ImageVariables, sessions[0].Metadata);
        var image = ImageInput.Find(sessions[0].Signature, preprocessing);
        if (image is not null)
        {
            foreach (var (values, key) in new[] { (preprocessing.Mean, ImagePreprocessing.MeanKey), (preprocessing.Std, ImagePreprocessing.StdKey) })
            {
                if (values is not null && values.Length != image.Channels)
                {
                    throw new ModelLoadException($"{key}: {values.Length} value(s), but {path}'s image input has {image.Channels} channel(s)");
                }
            }
        }

        foreach (var session in sessions)
        {
            session.AttachImage(image);
        }
    }

    private static void Validate(ModelSignature signature, string path)
    {
        foreach (var input in signature.Inputs)
        {
            if (!ValueWriter.IsDecodable(input.ElementType))
            {
                throw new ModelLoadException($"{path}: input {input.Name} is {TensorInfo.TypeName(input.ElementType)}; the worker feeds tensors of float16, bfloat16, float32, float64, int8-int64, uint8-uint64 and bool");
            }

            if (input.HasDynamicAxes && (input.ElementType == TensorElementType.String || !input.IsBatchable))
            {
                throw new ModelLoadException($"{path}: input {input.Name} has shape {input.ShapeText}: dynamic dimensions after the batch are served for numeric inputs with a dynamic batch, not for {(input.IsBatchable ? "strings" : "a fixed batch")}");
            }

            if (!input.HasDynamicAxes && input.RowSize < 1)
            {
                throw new ModelLoadException($"{path}: input {input.Name} has shape {input.ShapeText}, a dimension of size 0");
            }
        }

        if (signature.FixedBatch < 0)
        {
            throw new ModelLoadException($"{path}: inputs {string.Join(", ", signature.Inputs.Select(i => i.Name + i.ShapeText))} mix dynamic and fixed batch dimensions, or fixed ones of different sizes");
        }

        foreach (var output in signature.Outputs)
        {
            if (output.IsSequenceOfMaps || output.IsSequenceOfTensors)
            {
                throw new ModelLoadException($"{path}: output {output.Name} is a sequence of {(output.IsSequenceOfMaps ? "maps whose keys" : "tensors whose shape")} could not be read with a first Run on zeroed inputs");
            }

            if (!AnswerWriter.CanEncode(output.ElementType))
            {
                throw new ModelLoadException($"{path}: output {output.Name} is {TensorInfo.TypeName(output.ElementType)}, which the worker cannot write yet");
            }

            if (output.RowSize < 1)
            {
                throw new ModelLoadException($"{path}: output {output.Name} has shape {output.ShapeText}: an output's dimensions after the batch must be fixed (per-token outputs are not served yet)");
            }

            // A fixed batch of N rows must come back as N rows, one per record.
            if (signature.FixedBatch > 1 && (output.Shape.Length == 0 || output.Shape[0] >= 0 && output.Shape[0] != signature.FixedBatch))
            {
                throw new ModelLoadException($"{path}: the model runs batches of {signature.FixedBatch}, but output {output.Name} has shape {output.ShapeText}, not one row per sample");
            }
        }
    }
}
