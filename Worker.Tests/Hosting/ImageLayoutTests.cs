using System.Diagnostics;
using System.Text.Json;
using Worker.Tests.Support;

namespace Worker.Tests.Hosting;

/// <summary>
/// The machines that run the tests have no Docker engine, so this runs the app the way the image
/// does: a self-contained linux-x64 publish started as <c>/app/Worker serve</c> (ENTRYPOINT + CMD),
/// configured only by SageMaker's environment, with the model where SageMaker unpacks it.
/// </summary>
public class ImageLayoutTests
{
    [Fact]
    public void TheImageDeclaresTheCapabilitiesSageMakerReads()
    {
        // A line continued with '\' is one LABEL instruction: read them joined.
        var dockerfile = File.ReadAllText(Path.Combine(RepositoryRoot(), "Dockerfile")).Replace("\\\n", " ", StringComparison.Ordinal);
        var labels = dockerfile.Split('\n').Where(l => l.TrimStart().StartsWith("LABEL ", StringComparison.Ordinal)).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)).ToList();
        Assert.Contains("com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true", labels);
        Assert.Contains("com.amazonaws.sagemaker.capabilities.multi-models=true", labels);
    }

    [Fact]
    public async Task PublishedAppServesFromTheImageLayout()
    {
        var root = Directory.CreateTempSubdirectory("worker-image-");
        try
        {
            var app = Path.Combine(root.FullName, "app");
            await PublishAsync(app);
            Assert.True(File.Exists(Path.Combine(app, "Worker")), "the apphost the ENTRYPOINT names");
            Assert.True(File.Exists(Path.Combine(app, "libonnxruntime.so")), "ONNX Runtime from the package, next to the program");
            Assert.True(File.Exists(Path.Combine(app, "libonnxruntime_providers_cuda.so")), "the CUDA provider beside it");
            Assert.True(File.Exists(Path.Combine(app, "libSkiaSharp.so")), "Skia's natives (image decoding) beside it");

            // /opt/ml/model as SageMaker unpacks model.tar.gz: the model may sit in a sub-folder.
            var model = Path.Combine(root.FullName, "opt", "ml", "model", "v1");
            Directory.CreateDirectory(model);
            File.Copy(Models.File("linear"), Path.Combine(model, "model.onnx"));

            var start = new ProcessStartInfo(Path.Combine(app, "Worker")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("serve");
            start.Environment["SM_MODEL_DIR"] = Path.Combine(root.FullName, "opt", "ml", "model");
            start.Environment["SAGEMAKER_BIND_TO_PORT"] = "0";
            start.Environment["SAGEMAKER_BATCH"] = "true";
            start.Environment["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = "6";
            start.Environment.Remove("ORT_LIBRARY_PATH");
            using var worker = Process.Start(start) ?? throw new InvalidOperationException("could not start the published worker");
            try
            {
                var port = await WorkerProcess.ReadListeningPortAsync(worker);
                await using var client = await RawHttpClient.ConnectAsync(port);
                Assert.Equal(200, await WorkerProcess.WaitUntilReadyAsync(client));

                await client.SendAsync("GET /execution-parameters HTTP/1.1\r\nHost: sagemaker\r\n\r\n");
                using (var parameters = JsonDocument.Parse((await client.ReadResponseAsync()).Body))
                {
                    Assert.Equal("MULTI_RECORD", parameters.RootElement.GetProperty("BatchStrategy").GetString());
                    Assert.InRange(parameters.RootElement.GetProperty("MaxPayloadInMB").GetInt32(), 1, 6);
                    Assert.True(parameters.RootElement.GetProperty("MaxConcurrentTransforms").GetInt32() >= 1);
                }

                await using (var images = await StartMultiModelAsync(app))
                {
                    // The same published program as a multi-model endpoint, decoding an image with the natives it carries.
                    var url = Path.Combine(root.FullName, "opt", "ml", "models", "img", "model");
                    Directory.CreateDirectory(url);
                    File.Copy(Models.File(Path.Combine("images", "nchw_float")), Path.Combine(url, "model.onnx"));
                    var load = System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { model_name = "img", url }));
                    await images.Client.SendAsync([.. System.Text.Encoding.ASCII.GetBytes($"POST /models HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\nContent-Length: {load.Length}\r\n\r\n"), .. load]);
                    Assert.Equal(200, (await images.Client.ReadResponseAsync(TimeSpan.FromSeconds(60))).Status);
                    var png = Worker.Records.Images.SyntheticImages.Png(32, 24);
                    await images.Client.SendAsync([.. System.Text.Encoding.ASCII.GetBytes($"POST /models/img/invoke HTTP/1.1\r\nHost: s\r\nContent-Type: image/png\r\nAccept: application/json\r\nContent-Length: {png.Length}\r\n\r\n"), .. png]);
                    var predicted = await images.Client.ReadResponseAsync(TimeSpan.FromSeconds(60));
                    Assert.True(predicted.Status == 200, predicted.BodyText);
                    using var json = JsonDocument.Parse(predicted.Body);
                    Assert.Equal(3, json.RootElement.GetProperty("predictions")[0].GetProperty("mean").GetArrayLength());
                }

                const string body = "1,2,3,4\n-5,0.5,6,7\n";
                await client.SendAsync($"POST /invocations HTTP/1.1\r\nHost: sagemaker\r\nContent-Type: text/csv\r\nAccept: text/csv\r\nContent-Length: {body.Length}\r\n\r\n{body}");
                var answer = await client.ReadResponseAsync();
                Assert.Equal(200, answer.Status);
                Assert.Equal("6.1,6.8,2.55\n3.1,12.8,4.8\n", answer.BodyText);
            }
            finally
            {
                if (!worker.HasExited)
                {
                    Assert.Equal(0, Signals.Send(worker.Id, Signals.Terminate)); // docker stop sends SIGTERM
                }
            }

            await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, worker.ExitCode);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private sealed class RunningWorker(Process process, RawHttpClient client) : IAsyncDisposable
    {
        public RawHttpClient Client { get; } = client;

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    private static async Task<RunningWorker> StartMultiModelAsync(string app)
    {
        var start = new ProcessStartInfo(Path.Combine(app, "Worker")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add("--multi-model");
        start.Environment["SAGEMAKER_BIND_TO_PORT"] = "0";
        start.Environment["WORKER_WARMUP"] = "off";
        start.Environment.Remove("ORT_LIBRARY_PATH");
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the published worker");
        var port = await WorkerProcess.ReadListeningPortAsync(process);
        _ = process.StandardOutput.ReadToEndAsync();
        return new RunningWorker(process, await RawHttpClient.ConnectAsync(port));
    }

    /// <summary>What the Dockerfile's build stage does: a self-contained linux-x64 publish, ONNX Runtime's natives from the package beside the program.</summary>
    private static async Task PublishAsync(string output)
    {
        var project = Path.Combine(RepositoryRoot(), "Worker", "Worker.csproj");
        var publish = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "publish", project, "-c", "Release", "-r", "linux-x64", "--self-contained", "true", "-o", output, "--nologo" })
        {
            publish.ArgumentList.Add(arg);
        }

        using var process = Process.Start(publish) ?? throw new InvalidOperationException("could not start dotnet publish");
        var log = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(process.ExitCode == 0, "dotnet publish failed:\n" + await log + await errors);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Worker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Worker.sln not found above the test assembly");
    }
}
