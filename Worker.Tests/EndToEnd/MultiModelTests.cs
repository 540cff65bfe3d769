using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Worker.Hosting;
using Worker.Tests.Support;

namespace Worker.Tests.EndToEnd;

/// <summary>
/// The multi-model endpoint contract over real sockets with real models: load, list, get, invoke,
/// unload; 404, 409, 507; invocations of one model while others load and unload; an unload that
/// waits for the model's requests in flight; SIGTERM with models loaded.
/// </summary>
public sealed class MultiModelTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mme-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static WorkerHost StartMme(WorkerSettings? settings = null, int pageSize = 100)
    {
        var host = new WorkerHost((settings ?? new WorkerSettings()) with { Port = 0, WarmUp = false, Device = Worker.Inference.Ort.DevicePreference.Cpu }, JsonLog.Null, machine: TestServers.TwoCoreMachine);
        host.Start(IPAddress.Loopback);
        host.StartMultiModel(pageSize);
        return host;
    }

    /// <summary>A copy of a bundled model under /opt/ml/models/{name}/model's layout.</summary>
    private string ModelUrl(string model, string name)
    {
        var folder = Path.Combine(_root, name, "model");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(Models.Directory(model), "model.onnx"), Path.Combine(folder, "model.onnx"), overwrite: true);
        return folder;
    }

    private static async Task<RawResponse> SendAsync(int port, string method, string path, string? body = null, string contentType = "application/json")
    {
        await using var client = await RawHttpClient.ConnectAsync(port);
        var bytes = body is null ? [] : Encoding.UTF8.GetBytes(body);
        await client.SendAsync(Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: t\r\n" + (body is null ? "" : $"Content-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\n") + "\r\n").Concat(bytes).ToArray());
        return await client.ReadResponseAsync(TimeSpan.FromSeconds(60));
    }

    private static Task<RawResponse> LoadAsync(int port, string name, string url) =>
        SendAsync(port, "POST", "/models", JsonSerializer.Serialize(new { model_name = name, url }));

    private static Task<RawResponse> InvokeAsync(int port, string name, string csv) =>
        SendAsync(port, "POST", $"/models/{Uri.EscapeDataString(name)}/invoke", csv, "text/csv");

    private static string[] Names(RawResponse list)
    {
        using var json = JsonDocument.Parse(list.Body);
        return json.RootElement.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("modelName").GetString()!).ToArray();
    }

    [Fact]
    public async Task ModelsAreLoadedListedReadInvokedAndUnloadedByName()
    {
        await using var host = StartMme();
        var port = host.Port;
        Assert.Equal(200, (await SendAsync(port, "GET", "/ping")).Status); // no model yet

        var linearUrl = ModelUrl("linear", "linear-v1");
        var classifierUrl = ModelUrl("classifier", "clf");
        Assert.Equal(200, (await LoadAsync(port, "linear-v1", linearUrl)).Status);
        Assert.Equal(200, (await LoadAsync(port, "clf", classifierUrl)).Status);

        var list = await SendAsync(port, "GET", "/models");
        Assert.Equal(200, list.Status);
        Assert.Equal(["clf", "linear-v1"], Names(list));

        var get = await SendAsync(port, "GET", "/models/clf");
        Assert.Equal(200, get.Status);
        using (var json = JsonDocument.Parse(get.Body))
        {
            Assert.Equal("clf", json.RootElement.GetProperty("modelName").GetString());
            Assert.Equal(classifierUrl, json.RootElement.GetProperty("modelUrl").GetString());
        }

        Assert.Equal("6.1,6.8,2.55\n", (await InvokeAsync(port, "linear-v1", "1,2,3,4\n")).BodyText);
        var classified = (await InvokeAsync(port, "clf", "1,0,0\n")).BodyText.Trim().Split(',');
        var expected = Models.Classifier([1, 0, 0]);
        Assert.Equal(expected.Probabilities[0], float.Parse(classified[0], CultureInfo.InvariantCulture), 5);
        Assert.Equal(expected.Label.ToString(CultureInfo.InvariantCulture), classified[2]);

        Assert.Equal(200, (await SendAsync(port, "DELETE", "/models/linear-v1")).Status);
        Assert.Equal(404, (await InvokeAsync(port, "linear-v1", "1,2,3,4\n")).Status);
        Assert.Equal(404, (await SendAsync(port, "GET", "/models/linear-v1")).Status);
        Assert.Equal(404, (await SendAsync(port, "DELETE", "/models/linear-v1")).Status);
        Assert.Equal(["clf"], Names(await SendAsync(port, "GET", "/models")));

        // Loaded again under the same name once it is gone.
        Assert.Equal(200, (await LoadAsync(port, "linear-v1", linearUrl)).Status);
        Assert.Equal("6.1,6.8,2.55\n", (await InvokeAsync(port, "linear-v1", "1,2,3,4\n")).BodyText);
    }

    [Fact]
    public async Task TheErrorPathsSayWhy()
    {
        await using var host = StartMme();
        var port = host.Port;
        var url = ModelUrl("linear", "a");
        Assert.Equal(200, (await LoadAsync(port, "a", url)).Status);

        var again = await LoadAsync(port, "a", url);
        Assert.Equal(409, again.Status);
        Assert.Contains("already loaded", again.BodyText);

        var missing = await LoadAsync(port, "b", Path.Combine(_root, "nowhere"));
        Assert.Equal(404, missing.Status);
        Assert.Contains("does not exist", missing.BodyText);

        var empty = Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName;
        var noModel = await LoadAsync(port, "c", empty);
        Assert.Equal(400, noModel.Status);
        Assert.Contains("no *.onnx", noModel.BodyText);

        var corrupt = Directory.CreateDirectory(Path.Combine(_root, "corrupt")).FullName;
        File.WriteAllText(Path.Combine(corrupt, "model.onnx"), "this is not a protobuf");
        var unloadable = await LoadAsync(port, "d", corrupt);
        Assert.Equal(400, unloadable.Status);
        Assert.Contains("cannot be loaded", unloadable.BodyText);

        Assert.Equal(400, (await SendAsync(port, "POST", "/models", "{\"url\": \"/x\"}")).Status);
        Assert.Equal(400, (await SendAsync(port, "POST", "/models", "not json")).Status);
        Assert.Equal(404, (await InvokeAsync(port, "never", "1,2,3,4\n")).Status);
        Assert.Equal(405, (await SendAsync(port, "PUT", "/models/a", "{}")).Status);

        var invocations = await SendAsync(port, "POST", "/invocations", "1,2,3,4\n", "text/csv");
        Assert.Equal(404, invocations.Status);
        Assert.Contains("/models/{model_name}/invoke", invocations.BodyText);

        // The worker lives on, and what loaded still answers.
        Assert.Equal(200, (await SendAsync(port, "GET", "/ping")).Status);
        Assert.Equal("6.1,6.8,2.55\n", (await InvokeAsync(port, "a", "1,2,3,4\n")).BodyText);
        Assert.Equal(["a"], Names(await SendAsync(port, "GET", "/models")));
    }

    [Fact]
    public async Task ALoadPastTheMemoryBudgetIs507UntilAModelIsUnloaded()
    {
        // Each model is estimated at its weights twice plus 32 MiB: a 40 MiB budget takes one.
        await using var host = StartMme(new WorkerSettings { MultiModelMemoryMB = 40 });
        var port = host.Port;
        Assert.Equal(200, (await LoadAsync(port, "one", ModelUrl("linear", "one"))).Status);
        var full = await LoadAsync(port, "two", ModelUrl("linear", "two"));
        Assert.Equal(507, full.Status);
        Assert.Contains("WORKER_MME_MEMORY_MB", full.BodyText);

        Assert.Equal(200, (await SendAsync(port, "DELETE", "/models/one")).Status);
        Assert.Equal(200, (await LoadAsync(port, "two", ModelUrl("linear", "two"))).Status);
    }

    [Fact]
    public async Task TheListIsPagedWithNextPageToken()
    {
        await using var host = StartMme(pageSize: 2);
        var port = host.Port;
        var names = new[] { "m1", "m2", "m3", "m4", "m5" };
        foreach (var name in names)
        {
            Assert.Equal(200, (await LoadAsync(port, name, ModelUrl("linear", name))).Status);
        }

        var seen = new List<string>();
        string? token = null;
        for (var page = 0; page < 10; page++)
        {
            var response = await SendAsync(port, "GET", "/models" + (token is null ? "" : "?next_page_token=" + Uri.EscapeDataString(token)));
            seen.AddRange(Names(response));
            using var json = JsonDocument.Parse(response.Body);
            token = json.RootElement.TryGetProperty("nextPageToken", out var next) ? next.GetString() : null;
            if (token is null)
            {
                break;
            }
        }

        Assert.Equal(names, seen);
    }

    [Fact]
    public async Task InvocationsOfOneModelGoOnWhileOthersLoadAndUnload()
    {
        await using var host = StartMme();
        var port = host.Port;
        Assert.Equal(200, (await LoadAsync(port, "steady", ModelUrl("linear", "steady"))).Status);
        var churnUrl = ModelUrl("classifier", "churn");

        using var stop = new CancellationTokenSource();
        var churn = Task.Run(async () =>
        {
            var cycles = 0;
            while (!stop.IsCancellationRequested)
            {
                Assert.Equal(200, (await LoadAsync(port, "churn", churnUrl)).Status);
                Assert.Equal(200, (await SendAsync(port, "DELETE", "/models/churn")).Status);
                cycles++;
            }

            return cycles;
        });

        await using var client = await RawHttpClient.ConnectAsync(port);
        for (var i = 0; i < 300; i++)
        {
            await client.SendAsync($"POST /models/steady/invoke HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 8\r\n\r\n1,2,3,4\n");
            var response = await client.ReadResponseAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(200, response.Status);
            Assert.Equal("6.1,6.8,2.55\n", response.BodyText);
        }

        await stop.CancelAsync();
        Assert.True(await churn > 0);
    }

    [Fact]
    public async Task AnUnloadAnswersOnlyAfterTheModelsRequestInFlightHasFinished()
    {
        await using var host = StartMme();
        var port = host.Port;
        Assert.Equal(200, (await LoadAsync(port, "busy", ModelUrl("linear", "busy"))).Status);

        // A 12 MB body, taken as it arrives: the model is in use from its first piece to its answer.
        var body = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("1,2,3,4\n", 1_500_000)));
        await using var invoke = await RawHttpClient.ConnectAsync(port);
        await invoke.SendAsync($"POST /models/busy/invoke HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: {body.Length}\r\n\r\n");
        await invoke.SendAsync(body[..(10 * 1024 * 1024)]);
        await Task.Delay(300);

        var unload = SendAsync(port, "DELETE", "/models/busy");
        await Task.Delay(500);
        Assert.False(unload.IsCompleted, "the unload answered while a request was still using the model");
        Assert.Equal(404, (await InvokeAsync(port, "busy", "1,2,3,4\n")).Status); // no new requests meanwhile

        await invoke.SendAsync(body[(10 * 1024 * 1024)..]);
        var answer = await invoke.ReadResponseAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(200, answer.Status);
        Assert.Equal(1_500_000, answer.BodyText.Count(c => c == '\n'));
        Assert.Equal(200, (await unload.WaitAsync(TimeSpan.FromSeconds(30))).Status);
    }

    [Fact]
    public async Task TransformAndReplayDriveOneModelOfAMultiModelEndpoint()
    {
        await using var host = StartMme();
        var port = host.Port;
        Assert.Equal(200, (await LoadAsync(port, "lin", ModelUrl("linear", "lin"))).Status);
        var endpoint = new Uri($"http://127.0.0.1:{port}/");

        var input = Directory.CreateDirectory(Path.Combine(_root, "in")).FullName;
        File.WriteAllText(Path.Combine(input, "rows.csv"), "1,2,3,4\n0,0,0,0\n");
        var options = new Worker.Jobs.Transform.TransformOptions { Input = input, Output = Path.Combine(_root, "out"), Endpoint = endpoint, TargetModel = "lin" };
        var report = await new Worker.Jobs.Transform.TransformJob(options, new StringWriter(), Worker.Jobs.Transform.TransformDisplay.None).RunAsync(CancellationToken.None);
        Assert.True(report.Succeeded, report.JobError + string.Join("; ", report.Files.Select(f => f.Error)));
        Assert.Equal("6.1,6.8,2.55\n0.1,-0.2,0.3\n", File.ReadAllText(Path.Combine(_root, "out", "rows.csv.out")));

        var unknown = options with { Output = Path.Combine(_root, "out2"), TargetModel = "nope" };
        var failed = await new Worker.Jobs.Transform.TransformJob(unknown, new StringWriter(), Worker.Jobs.Transform.TransformDisplay.None).RunAsync(CancellationToken.None);
        Assert.Contains("HTTP 404", failed.Files.Single().Error);

        Assert.Throws<ConfigurationException>((options with { Endpoint = null }).Validate);

        // A recorded /invocations exchange of the linear model, replayed to the model by name.
        await using var runner = new Worker.Replay.ReplayRunner(endpoint, null, 1e-5, targetModel: "lin") { Log = JsonLog.Null };
        var replayCase = Worker.Replay.ReplayCase.Find(Path.Combine(AppContext.BaseDirectory, "formats", "samples", "types")).Single(c => c.Name.EndsWith("csv-to-csv", StringComparison.Ordinal));
        var result = await runner.RunAsync(replayCase, CancellationToken.None);
        Assert.Null(result.Difference);
        Assert.Equal(200, result.Status);
    }

    [Fact]
    public void ARecordedRequestIsRetargetedOnItsRequestLineOnly()
    {
        var request = Encoding.ASCII.GetBytes("POST /invocations?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
        Assert.Equal(
            "POST /models/a%20b/invoke?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
            Encoding.ASCII.GetString(Worker.Replay.ReplayRunner.Retarget(request, "a b")));
        var ping = Encoding.ASCII.GetBytes("GET /ping HTTP/1.1\r\n\r\n");
        Assert.Same(ping, Worker.Replay.ReplayRunner.Retarget(ping, "m"));
    }

    [Fact]
    public async Task WithoutMultiModelModeTheModelsApiIsOff()
    {
        await using var host = TestServers.Start();
        var response = await SendAsync(host.Port, "GET", "/models");
        Assert.Equal(404, response.Status);
        Assert.Contains("SAGEMAKER_MULTI_MODEL", response.BodyText);
    }

    [Fact]
    public async Task SigtermWithModelsLoadedStopsCleanly()
    {
        using var process = WorkerProcess.Start(["serve", "--port", "0", "--multi-model"], ("WORKER_WARMUP", "off"));
        var port = await WorkerProcess.ReadListeningPortAsync(process);
        Assert.Equal(200, (await SendAsync(port, "GET", "/ping")).Status);
        Assert.Equal(200, (await LoadAsync(port, "a", ModelUrl("linear", "a"))).Status);
        Assert.Equal(200, (await LoadAsync(port, "b", ModelUrl("classifier", "b"))).Status);
        Assert.Equal("6.1,6.8,2.55\n", (await InvokeAsync(port, "a", "1,2,3,4\n")).BodyText);

        Assert.Equal(0, Signals.Send(process.Id, Signals.Terminate));
        var rest = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("\"stopped\"", rest);
    }
}
