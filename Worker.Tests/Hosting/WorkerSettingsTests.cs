using Worker.Hosting;

namespace Worker.Tests.Hosting;

public class WorkerSettingsTests
{
    [Fact]
    public void DefaultsFollowTheContract()
    {
        var settings = WorkerSettings.FromVariables(new Dictionary<string, string>());
        Assert.Equal(8080, settings.Port);
        Assert.Equal(6, settings.MaxPayloadInMB);

        // Outside a batch job (real-time, async): bodies up to 1 GiB; in one, batch's 6 MiB.
        Assert.Equal(1024L * 1024 * 1024, settings.MaxBodyBytes);
        Assert.Equal(6L * 1024 * 1024, WorkerSettings.FromVariables(new Dictionary<string, string> { ["SAGEMAKER_BATCH"] = "true" }).MaxBodyBytes);
        Assert.Equal(2L * 1024 * 1024, WorkerSettings.FromVariables(new Dictionary<string, string> { ["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = "2" }).MaxBodyBytes);
        Assert.Equal(BatchStrategy.MultiRecord, settings.BatchStrategy);
        Assert.Equal(1, settings.MaxConcurrentTransforms);
        Assert.False(settings.IsBatchJob);
        Assert.Equal("/opt/ml/model", settings.ModelDirectory);
        Assert.Equal(32 * 1024, settings.MaxHeaderBytes);
    }

    [Fact]
    public void ReadsSageMakerVariables()
    {
        var settings = WorkerSettings.FromVariables(new Dictionary<string, string>
        {
            ["SAGEMAKER_BIND_TO_PORT"] = "9090",
            ["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = "0",
            ["SAGEMAKER_BATCH_STRATEGY"] = "SINGLE_RECORD",
            ["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = "8",
            ["SAGEMAKER_BATCH"] = "true",
            ["SM_MODEL_DIR"] = "/models",
            ["WORKER_LOG_LEVEL"] = "debug",
        });
        Assert.Equal(9090, settings.Port);
        Assert.Equal(0, settings.MaxPayloadInMB);
        Assert.Equal(long.MaxValue, settings.MaxBodyBytes);
        Assert.Equal(BatchStrategy.SingleRecord, settings.BatchStrategy);
        Assert.Equal(8, settings.MaxConcurrentTransforms);
        Assert.True(settings.IsBatchJob);
        Assert.Equal("/models", settings.ModelDirectory);
        Assert.Equal(LogLevel.Debug, settings.LogLevel);
    }

    [Fact]
    public void CommandLineOverridesTheEnvironment()
    {
        var settings = WorkerSettings.FromVariables(
            new Dictionary<string, string> { ["SAGEMAKER_BIND_TO_PORT"] = "9090", ["SM_MODEL_DIR"] = "/models" },
            port: 7000,
            modelDirectory: "/here");
        Assert.Equal(7000, settings.Port);
        Assert.Equal("/here", settings.ModelDirectory);
    }

    [Theory]
    [InlineData("SAGEMAKER_BIND_TO_PORT", "http")]
    [InlineData("SAGEMAKER_BIND_TO_PORT", "70000")]
    [InlineData("SAGEMAKER_MAX_PAYLOAD_IN_MB", "-1")]
    [InlineData("SAGEMAKER_MAX_PAYLOAD_IN_MB", "6MB")]
    [InlineData("SAGEMAKER_BATCH_STRATEGY", "EVERYTHING")]
    [InlineData("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "0")]
    [InlineData("SAGEMAKER_BATCH", "maybe")]
    [InlineData("WORKER_LOG_LEVEL", "loud")]
    [InlineData("WORKER_ORT_SPINNING", "sometimes")]
    [InlineData("WORKER_DEVICE", "tpu")]
    [InlineData("WORKER_CUDA_DEVICES", "0,zero")]
    [InlineData("WORKER_CUDA_DEVICES", "1,1")]
    [InlineData("WORKER_CUDA_ARENA_EXTEND_STRATEGY", "kDouble")]
    [InlineData("WORKER_CUDNN_CONV_ALGO_SEARCH", "FASTEST")]
    [InlineData("WORKER_CUDA_COPY_IN_DEFAULT_STREAM", "sometimes")]
    public void ABadValueNamesItsVariable(string variable, string value)
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            WorkerSettings.FromVariables(new Dictionary<string, string> { [variable] = value }));
        Assert.Equal(variable, error.Variable);
        Assert.Contains(variable, error.Message);
        Assert.Contains(value, error.Message);
    }

    [Theory]
    [InlineData(null, "MULTI_RECORD", true)]
    [InlineData(null, "SINGLE_RECORD", false)]
    [InlineData("auto", "SINGLE_RECORD", false)]
    [InlineData("on", "SINGLE_RECORD", true)]
    [InlineData("off", "MULTI_RECORD", false)]
    public void OrtThreadsSpinUnlessSingleRecordOrToldOtherwise(string? spinning, string strategy, bool spins)
    {
        var variables = new Dictionary<string, string> { ["SAGEMAKER_BATCH_STRATEGY"] = strategy };
        if (spinning is not null)
        {
            variables["WORKER_ORT_SPINNING"] = spinning;
        }

        Assert.Equal(spins, WorkerSettings.FromVariables(variables).SpinsOrtThreads);
    }

    [Fact]
    public void ReadsTheDeviceAndCudaProviderOptions()
    {
        var settings = WorkerSettings.FromVariables(new Dictionary<string, string>
        {
            ["WORKER_DEVICE"] = "TensorRT",
            ["WORKER_CUDA_DEVICES"] = "1, 3",
            ["WORKER_CUDA_ARENA_EXTEND_STRATEGY"] = "kSameAsRequested",
            ["WORKER_CUDNN_CONV_ALGO_SEARCH"] = "heuristic",
            ["WORKER_CUDA_COPY_IN_DEFAULT_STREAM"] = "false",
        });
        Assert.Equal(Worker.Inference.Ort.DevicePreference.TensorRT, settings.Device);
        Assert.Equal([1, 3], settings.CudaDevices!);
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["device_id"] = "3",
                ["arena_extend_strategy"] = "kSameAsRequested",
                ["cudnn_conv_algo_search"] = "HEURISTIC",
                ["do_copy_in_default_stream"] = "0",
            },
            settings.Cuda.ProviderOptions(3));

        // Unset, ORT keeps its own defaults: only the device id is passed.
        Assert.Equal(new Dictionary<string, string> { ["device_id"] = "0" }, new WorkerSettings().Cuda.ProviderOptions(0));
        Assert.Equal(Worker.Inference.Ort.DevicePreference.Auto, new WorkerSettings().Device);
    }

    [Fact]
    public void InferenceIsSizedForTheGpusItWillUse()
    {
        var machine = new MachineInfo(32, 4, 256L << 30);
        Assert.Equal(8, Worker.Inference.InferenceSizing.Workers(machine, new WorkerSettings()));
        Assert.Equal(4, Worker.Inference.InferenceSizing.Workers(machine, new WorkerSettings { CudaDevices = [0, 2] }));
        Assert.Equal(8, Worker.Inference.InferenceSizing.Workers(machine, new WorkerSettings { Device = Worker.Inference.Ort.DevicePreference.Cpu }));
        Assert.Equal(4, Worker.Inference.InferenceSizing.IntraOpThreads(machine, new WorkerSettings { Device = Worker.Inference.Ort.DevicePreference.Cpu }));
        Assert.Equal(1, Worker.Inference.InferenceSizing.IntraOpThreads(machine, new WorkerSettings()));
    }

    [Theory]
    [InlineData("MULTI_RECORD", BatchStrategy.MultiRecord)]
    [InlineData("MultiRecord", BatchStrategy.MultiRecord)]
    [InlineData("single_record", BatchStrategy.SingleRecord)]
    [InlineData("SingleRecord", BatchStrategy.SingleRecord)]
    public void BatchStrategyAcceptsBothSpellings(string text, BatchStrategy expected) =>
        Assert.Equal(expected, WorkerSettings.ParseBatchStrategy("X", text));
}

public class ExecutionParametersTests
{
    private const long GiB = 1024L * 1024 * 1024;

    [Fact]
    public void SmallCpuMachineRunsTwoRequestsAtTheDefaultPayload()
    {
        var parameters = ExecutionParameters.Compute(new MachineInfo(2, 0, 24 * GiB), new WorkerSettings());
        Assert.Equal(new ExecutionParameters(2, "MULTI_RECORD", 6), parameters);
    }

    [Fact]
    public void GpusGetTwoWorkersEachAndTwoRequestsPerWorker()
    {
        var parameters = ExecutionParameters.Compute(new MachineInfo(32, 4, 240 * GiB), new WorkerSettings { MaxPayloadInMB = 0 });
        Assert.Equal(16, parameters.MaxConcurrentTransforms);
        Assert.Equal(100, parameters.MaxPayloadInMB);
    }

    [Fact]
    public void PayloadShrinksWithMemoryButNeverBelowOne()
    {
        var small = ExecutionParameters.Compute(new MachineInfo(16, 0, 1 * GiB), new WorkerSettings { MaxPayloadInMB = 0 });
        Assert.Equal(8, small.MaxConcurrentTransforms);
        Assert.Equal(16, small.MaxPayloadInMB); // 1 GiB / 2 / 8 requests / 4 bytes held per byte
        var tiny = ExecutionParameters.Compute(new MachineInfo(16, 0, 64L * 1024 * 1024), new WorkerSettings { MaxPayloadInMB = 0 });
        Assert.Equal(1, tiny.MaxPayloadInMB);
    }
}
