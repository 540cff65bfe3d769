using System.Text.Json;
using Worker.Tests.Support;

namespace Worker.Tests.Hosting;

/// <summary>
/// Which ONNX Runtime the program loads, seen from outside: the package's library by default, the
/// file <c>ORT_LIBRARY_PATH</c> names when set, and a clear /ping reason when that file cannot be used.
/// Each case is its own process, since a process loads one ORT once.
/// </summary>
public class OrtLibraryProcessTests
{
    [Fact]
    public async Task LogsThePackagesLibraryVersionAndDevice()
    {
        var (status, _, log) = await PingOnce([]);
        Assert.Equal(200, status);
        var loaded = log.Single(line => line.GetProperty("message").GetString() == "model loaded");
        Assert.Equal("1.31.0", loaded.GetProperty("ort_version").GetString());
        Assert.EndsWith("/runtimes/linux-x64/native/libonnxruntime.so", loaded.GetProperty("ort_library").GetString());
        Assert.Equal("cpu", loaded.GetProperty("device").GetString());
    }

    [Fact]
    public async Task WarmsUpBeforeSayingReady()
    {
        var (status, _, log) = await PingOnce([("WORKER_WARMUP", "on")]);
        Assert.Equal(200, status);
        var messages = log.Select(line => line.GetProperty("message").GetString()).ToList();
        Assert.True(messages.IndexOf("warmed up") > messages.IndexOf("model loaded"), string.Join(",", messages));

        // JSON Lines and CSV bodies, three rounds each, all run.
        Assert.Equal(6, log.Single(line => line.GetProperty("message").GetString() == "warmed up").GetProperty("bodies").GetInt32());
    }

    [Fact]
    public async Task OrtLibraryPathChoosesTheLibrary()
    {
        var copy = Directory.CreateTempSubdirectory("ort-copy-");
        try
        {
            var library = Path.Combine(copy.FullName, "libonnxruntime.so");
            File.Copy(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libonnxruntime.so"), library);
            var (status, _, log) = await PingOnce([("ORT_LIBRARY_PATH", library)]);
            Assert.Equal(200, status);
            var loaded = log.Single(line => line.GetProperty("message").GetString() == "model loaded");
            Assert.Equal(library, loaded.GetProperty("ort_library").GetString());
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("/nonexistent/libonnxruntime.so", "not found")]
    [InlineData("/lib/x86_64-linux-gnu/libc.so.6", "OrtGetApiBase")]
    public async Task AnUnusableLibraryIsAPingReasonNotACrash(string path, string reason)
    {
        var (status, body, _) = await PingOnce([("ORT_LIBRARY_PATH", path)]);
        Assert.Equal(503, status);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("failed", json.RootElement.GetProperty("status").GetString());
        var error = json.RootElement.GetProperty("error").GetString();
        Assert.Contains("ORT_LIBRARY_PATH", error);
        Assert.Contains(reason, error);
    }

    [NoCudaFact]
    public async Task CudaAskedForWithoutItIsAPingReasonNamingTheMissingLibrary()
    {
        var (status, body, _) = await PingOnce([("WORKER_DEVICE", "cuda")]);
        Assert.Equal(503, status);
        Assert.Contains("libonnxruntime_providers_cuda.so", body);
        Assert.Contains(".so.13", body);
    }

    /// <summary>Starts the program on the linear model, pings until the model is loaded or has failed, stops it, and returns the last ping and the log.</summary>
    private static async Task<(int Status, string Body, List<JsonElement> Log)> PingOnce((string, string)[] environment)
    {
        using var worker = WorkerProcess.Start(["serve", "--port", "0", "--model-dir", Models.Directory("linear")], environment);
        var log = new List<JsonElement>();
        try
        {
            var port = await WorkerProcess.ReadListeningPortAsync(worker);
            await using var client = await RawHttpClient.ConnectAsync(port);
            for (var attempt = 0; ; attempt++)
            {
                await client.SendAsync("GET /ping HTTP/1.1\r\nHost: sagemaker\r\n\r\n");
                var response = await client.ReadResponseAsync();
                if (response.Status == 200 || response.BodyText.Contains("\"failed\"", StringComparison.Ordinal) || attempt == 300)
                {
                    Assert.Equal(0, Signals.Send(worker.Id, Signals.Terminate));
                    var rest = await worker.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
                    log.AddRange(rest.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()));
                    return (response.Status, response.BodyText, log);
                }

                await Task.Delay(50);
            }
        }
        finally
        {
            if (!worker.HasExited)
            {
                worker.Kill();
            }
        }
    }
}
