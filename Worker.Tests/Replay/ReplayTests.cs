using System.Text;
using Worker.Hosting;
using Worker.Jobs;
using Worker.Replay;
using Worker.Tests.Support;

namespace Worker.Tests.Replay;

/// <summary>One in-process server per settings group, shared by every corpus case of the run.</summary>
public sealed class CorpusRunner : IAsyncLifetime
{
    public static string Corpus => Path.Combine(AppContext.BaseDirectory, "formats", "samples");

    public ReplayRunner Runner { get; } = new(endpoint: null, modelDirectory: null, tolerance: 1e-5) { Log = JsonLog.Null };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Runner.DisposeAsync();
}

/// <summary>The replay corpus in formats/samples: every case there is a test, so a capture dropped in becomes one.</summary>
public class CorpusTests(CorpusRunner corpus) : IClassFixture<CorpusRunner>
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var replayCase in ReplayCase.Find(CorpusRunner.Corpus))
        {
            data.Add(replayCase.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ReplaysAsRecorded(string name)
    {
        var replayCase = ReplayCase.Find(CorpusRunner.Corpus).Single(c => c.Name == name);
        var result = await corpus.Runner.RunAsync(replayCase, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(result.Difference is null, $"{name}: {result.Difference}");
    }

    [Fact]
    public void TheCorpusCoversWhatIssueSixAsks()
    {
        var names = ReplayCase.Find(CorpusRunner.Corpus).Select(c => c.Name).ToHashSet();
        foreach (var type in new[] { "csv", "jsonl", "json", "tfrecord", "recordio-protobuf", "recordio" })
        {
            foreach (var accept in new[] { "csv", "jsonl", "json" })
            {
                Assert.Contains($"types/{type}-to-{accept}", names);
            }
        }

        Assert.Contains(names, n => n.StartsWith("single-record/", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("chunked/", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("parameters/", StringComparison.Ordinal));
        foreach (var error in new[] { "tfrecord-crc-mismatch", "tfrecord-truncated", "csv-ragged-row", "jsonl-bad-line", "unsupported-type", "oversize" })
        {
            Assert.Contains($"errors/{error}", names);
        }
    }
}

/// <summary><c>serve --record</c> and <c>replay</c> together, and the comparison's rules.</summary>
public sealed class RecordReplayTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("record-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task ACaptureOfALiveServerReplaysClean()
    {
        var settings = new WorkerSettings { ModelDirectory = Models.Directory("linear"), Device = Worker.Inference.Ort.DevicePreference.Cpu, Port = 0 };
        await using (var host = new WorkerHost(settings, JsonLog.Null, machine: TestServers.TwoCoreMachine))
        {
            host.RecordTo(_directory);
            host.Start(System.Net.IPAddress.Loopback);
            Assert.True(host.LoadModel());
            await using var client = await RawHttpClient.ConnectAsync(host.Port);
            await client.SendAsync("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
            Assert.Equal(200, (await client.ReadResponseAsync()).Status);
            await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nAuthorization: AWS4-HMAC-SHA256 Credential=SECRET\r\nX-Amz-Security-Token: SECRET\r\nContent-Length: 16\r\n\r\n1,2,3,4\n5,6,7,8\n");
            Assert.Equal(200, (await client.ReadResponseAsync()).Status);
            await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: application/jsonlines\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2,\r\n5\r\n3,4]\n\r\n0\r\n\r\n");
            Assert.Equal(200, (await client.ReadResponseAsync()).Status);
            await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 6\r\n\r\n1,2,3\n");
            Assert.Equal(400, (await client.ReadResponseAsync()).Status);
        }

        // A healthy ping is not recorded; three invocations are, with their settings.
        var cases = ReplayCase.Find(_directory);
        Assert.Equal(3, cases.Count);
        Assert.All(cases, c => Assert.True(File.Exists(c.ResponsePath) && File.Exists(c.SettingsPath)));

        var first = File.ReadAllText(cases[0].RequestPath);
        Assert.DoesNotContain("SECRET", first);
        Assert.Contains("Authorization: [redacted]\r\n", first);
        Assert.Contains("X-Amz-Security-Token: [redacted]\r\n", first);
        Assert.EndsWith("\r\n\r\n1,2,3,4\n5,6,7,8\n", first);

        // The chunked body is kept as it came, framing and all.
        Assert.EndsWith("5\r\n[1,2,\r\n5\r\n3,4]\n\r\n0\r\n\r\n", File.ReadAllText(cases[1].RequestPath));

        // Replayed through the command, against a fresh server started from the recorded settings.
        var console = new StringWriter();
        Assert.Equal(0, await ReplayCommand.RunAsync(_directory, null, null, 1e-5, writeMissing: false, console));
        Assert.EndsWith("3 passed, 0 failed" + Environment.NewLine, console.ToString());
    }

    [Fact]
    public async Task AMismatchFailsTheReplayWithTheFirstDifferingRecord()
    {
        await using var host = ModelServers.Start("linear");
        var request = "POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 24\r\n\r\n1,2,3,4\n5,6,7,8\n0,0,0,0\n"u8.ToArray();
        await File.WriteAllBytesAsync(Path.Combine(_directory, "case.request"), request);

        // What the linear model answers, with record 1 changed by much more than the tolerance.
        var wrong = "6.1,6.8,2.55\n14.1,99,5.55\n0.1,-0.2,0.3\n";
        await File.WriteAllTextAsync(Path.Combine(_directory, "case.response"), $"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {wrong.Length}\r\n\r\n{wrong}");

        var console = new StringWriter();
        Assert.Equal(1, await ReplayCommand.RunAsync(_directory, new Uri($"http://127.0.0.1:{host.Port}/"), null, 1e-5, writeMissing: false, console));
        var output = console.ToString();
        Assert.Contains("FAIL case: record 1: value 1: expected 99, got 14.8", output);
        Assert.Contains("expected: 14.1,99,5.55", output);
        Assert.Contains("actual:   14.1,14.8,5.55", output);
        Assert.Contains("0 passed, 1 failed", output);
    }

    [Fact]
    public void NumbersAgreeWithinTheToleranceAndNothingElseDoes()
    {
        var comparer = new ResponseComparer(1e-5);
        HttpMessage Csv(string body) => new(200, [("Content-Type", "text/csv")], Encoding.UTF8.GetBytes(body));
        HttpMessage Json(string body) => new(200, [("Content-Type", "application/json")], Encoding.UTF8.GetBytes(body));

        Assert.Null(comparer.Compare(Csv("1000,0\n"), Csv("1000.005,0.000001\n")));
        Assert.Equal("record 0: value 0: expected 1000, got 1000.1", comparer.Compare(Csv("1000,0\n"), Csv("1000.1,0\n"))?.Split('\n')[0]);
        Assert.Contains("expected 2 records, got 1", comparer.Compare(Csv("1\n2\n"), Csv("1\n")));
        Assert.Null(comparer.Compare(Json("{\"predictions\":[{\"Y\":[1.0]}]}"), Json("{\"predictions\":[{\"Y\":[1.000001]}]}")));
        Assert.Equal("at $.predictions[0].label: expected 1, got 2", comparer.Compare(Json("{\"predictions\":[{\"label\":1}]}"), Json("{\"predictions\":[{\"label\":2}]}")));
        Assert.Contains("status: expected 200, got 400", comparer.Compare(Csv("1\n"), new HttpMessage(400, [("Content-Type", "application/json")], "{}"u8.ToArray())));
        Assert.Contains("Content-Type", comparer.Compare(Csv("1\n"), Json("[1]")));
        Assert.NotNull(comparer.Compare(Json("{\"error\":\"record 1: a\"}"), Json("{\"error\":\"record 1: b\"}")));
    }

    [Fact]
    public async Task ARecorderThatCannotWriteNeverFailsARequest()
    {
        var settings = new WorkerSettings { ModelDirectory = Models.Directory("linear"), Device = Worker.Inference.Ort.DevicePreference.Cpu, Port = 0 };
        await using var host = new WorkerHost(settings, JsonLog.Null, machine: TestServers.TwoCoreMachine);
        host.RecordTo(_directory);

        // The folder goes away under the recorder: every write fails.
        Directory.Delete(_directory);
        await File.WriteAllTextAsync(_directory, "a file where the folder was");
        try
        {
            host.Start(System.Net.IPAddress.Loopback);
            Assert.True(host.LoadModel());
            for (var i = 0; i < 20; i++)
            {
                var response = await ModelServers.PostAsync(host.Port, "text/csv", "1,2,3,4\n");
                Assert.Equal(200, response.Status);
                Assert.Equal("6.1,6.8,2.55\n", response.BodyText);
            }
        }
        finally
        {
            await host.StopAsync();
            File.Delete(_directory);
            Directory.CreateDirectory(_directory);
        }
    }
}
