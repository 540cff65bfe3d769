using Worker.Hosting;
using Worker.Inference.Ort;
using Worker.Output;
using Worker.Records;

namespace Worker.Inference;

/// <summary>The model could not be made ready; the reason is what /ping and the log say.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);

public static class ModelLoader
{
    /// <summary>Finds the model, opens an ORT session on the chosen device, checks the worker can feed and read it, and starts the workers.</summary>
    public static InferenceEngine Load(WorkerSettings settings, MachineInfo machine, JsonLog log)
    {
        var path = ModelLocator.Find(settings.ModelDirectory, out var reason) ?? throw new ModelLoadException(reason);

        OrtApi api;
        try
        {
            api = OrtApi.Shared;
        }
        catch (OrtLibraryException e)
        {
            throw new ModelLoadException(e.Message, e);
        }

        var config = new SessionConfig
        {
            Device = settings.Device,
            GpuCount = machine.Gpus,
            IntraOpThreads = InferenceSizing.IntraOpThreads(machine, settings),
            AllowSpinning = settings.SpinsOrtThreads,
        };

        // One session per GPU (ORT serialises a session's Runs on one CUDA stream); one on CPU.
        var sessions = new List<OnnxSession>();
        try
        {
            sessions.Add(OnnxSession.Create(api, path, config));
            if (sessions[0].Device.StartsWith("cuda", StringComparison.Ordinal))
            {
                for (var device = 1; device < machine.Gpus; device++)
                {
                    sessions.Add(OnnxSession.Create(api, path, config with { Device = DevicePreference.Cuda, CudaDeviceId = device }));
                }
            }

            Validate(sessions[0].Signature, path);
        }
        catch (Exception e)
        {
            foreach (var opened in sessions)
            {
                opened.Dispose();
            }

            if (e is OrtException ort)
            {
                throw new ModelLoadException($"cannot load {path}: {ort.Message}", ort);
            }

            throw;
        }

        var session = sessions[0];

        var options = InferenceSizing.Options(machine, settings);
        log.Info(
            "model loaded",
            ("path", path),
            ("ort_version", api.Version),
            ("ort_library", api.LibraryPath),
            ("device", string.Join(",", sessions.Select(s => s.Device))),
            ("cuda_fallback", session.CudaFallbackReason),
            ("signature", session.Signature.ToString()),
            ("workers", options.Workers),
            ("intra_op_threads", config.IntraOpThreads),
            ("ort_spinning", config.AllowSpinning),
            ("max_batch_rows", session.Signature.IsBatchable ? options.MaxBatchRows : 1));
        return new InferenceEngine(sessions, options, log);
    }

    private static void Validate(ModelSignature signature, string path)
    {
        foreach (var input in signature.Inputs)
        {
            if (!ValueWriter.IsDecodable(input.ElementType))
            {
                throw new ModelLoadException($"{path}: input {input.Name} is {TensorInfo.TypeName(input.ElementType)}; the worker feeds float32, float64, int32 and int64 inputs");
            }

            if (input.RowSize < 1)
            {
                throw new ModelLoadException($"{path}: input {input.Name} has shape {input.ShapeText}; only the first dimension may be dynamic");
            }

            if (!input.IsBatchable && input.Shape.Length > 0 && input.Shape[0] != 1)
            {
                throw new ModelLoadException($"{path}: input {input.Name} has a fixed batch of {input.Shape[0]}; the worker runs fixed-shape models one row at a time (batch 1)");
            }
        }

        foreach (var output in signature.Outputs)
        {
            if (!AnswerWriter.CanEncode(output.ElementType))
            {
                throw new ModelLoadException($"{path}: output {output.Name} is {TensorInfo.TypeName(output.ElementType)}, which the worker cannot write yet");
            }

            if (output.RowSize < 1)
            {
                throw new ModelLoadException($"{path}: output {output.Name} has shape {output.ShapeText}; only the first dimension may be dynamic");
            }
        }
    }
}
