using System.Globalization;
using System.Text;
using System.Text.Json;
using Worker.Hosting;
using Worker.Jobs.Transform;
using Worker.Tests.Support;

namespace Worker.Tests.Jobs;

/// <summary>
/// DataProcessing through a whole <c>transform</c>: the real server in-process, real HTTP, real ORT,
/// the filters and joins applied in the data plane only.
/// </summary>
public sealed class TransformDataProcessingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("transform-dp-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string In(string relative) => Path.Combine(_root, "in", relative);

    private string Out(string relative) => Path.Combine(_root, "out", relative);

    private void Write(string relative, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(In(relative))!);
        File.WriteAllText(In(relative), text);
    }

    private TransformOptions Options(string? inputFilter, JoinSource join, string? outputFilter) => new()
    {
        Input = Path.Combine(_root, "in"),
        Output = Path.Combine(_root, "out"),
        ModelDirectory = Models.Directory("linear"),
        DataProcessing = new DataProcessing(
            inputFilter is null ? null : JsonPathFilter.Parse("--input-filter", inputFilter),
            join,
            outputFilter is null ? null : JsonPathFilter.Parse("--output-filter", outputFilter)),
    };

    private static async Task<TransformReport> RunAsync(TransformOptions options)
    {
        var console = new StringWriter();
        var report = await new TransformJob(options, console, TransformDisplay.None).RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3));
        return report;
    }

    private static string Why(TransformReport report) =>
        $"job error: {report.JobError ?? "none"}; failed: {string.Join("; ", report.Files.Where(f => f.Error is not null).Select(f => $"{f.File.RelativePath}: {f.Error}"))}";

    private static float[] Row(int i) => [i % 97 * 0.5f, -(i % 13), i % 7 * 0.25f, 1 + i % 5];

    private static string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>An ID column first (quoted, holding a comma, as pandas quotes it), then the four features.</summary>
    private static string IdCsv(int rows) =>
        string.Concat(Enumerable.Range(0, rows).Select(i => $"\"user, {i}\"," + string.Join(',', Row(i).Select(Number)) + "\n"));

    private static void AssertClose(float expected, string actual, int record)
    {
        var value = float.Parse(actual, CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(expected - value) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"record {record}: expected {expected}, got {actual}");
    }

    [Theory]
    [InlineData(BatchStrategy.MultiRecord, 6)]
    [InlineData(BatchStrategy.MultiRecord, 0)]
    [InlineData(BatchStrategy.SingleRecord, 6)]
    public async Task TheIssuesCsvJobGivesTheIdAndThePrediction(BatchStrategy strategy, int maxPayloadInMB)
    {
        var rows = strategy == BatchStrategy.SingleRecord ? 600 : 5000; // many single requests: the file's reader and writer filter at once
        Write("users.csv", IdCsv(rows));
        var options = Options("$[1:]", JoinSource.Input, "$[0,-1]") with { BatchStrategy = strategy, MaxPayloadInMB = maxPayloadInMB, AssembleWith = AssembleWith.Line };
        var report = await RunAsync(options);
        Assert.True(report.Succeeded, Why(report));
        Assert.Equal(rows, report.Records);

        var lines = File.ReadAllLines(Out("users.csv.out"));
        Assert.Equal(rows, lines.Length);
        for (var i = 0; i < rows; i++)
        {
            // Joined: "user, i",f0..f3,y0,y1,y2; $[0,-1] keeps the ID and the last output.
            var prefix = $"\"user, {i}\",";
            Assert.StartsWith(prefix, lines[i]);
            AssertClose(Models.Linear(Row(i))[2], lines[i][prefix.Length..], i);
        }
    }

    [Fact]
    public async Task AJoinWithoutFiltersAppendsEveryOutputToTheWholeRecord()
    {
        Write("plain.csv", "1,2,3,4\n0,0,0,0\n");
        var report = await RunAsync(Options(null, JoinSource.Input, null));
        Assert.True(report.Succeeded, Why(report));
        Assert.Equal(["1,2,3,4,6.1,6.8,2.55", "0,0,0,0,0.1,-0.2,0.3"], File.ReadAllLines(Out("plain.csv.out")));
    }

    [Fact]
    public async Task JsonLinesRecordsJoinUnderSageMakerOutputAndKeepWhatTheOutputFilterNames()
    {
        var lines = Enumerable.Range(0, 300).Select(i =>
            JsonSerializer.Serialize(new { id = $"r{i}", features = Row(i), note = "ignored" })).ToList();
        Write("rows.jsonl", string.Join('\n', lines) + "\n");
        var options = Options("$.features", JoinSource.Input, "$['id','SageMakerOutput']") with { Accept = "application/jsonlines" };
        var report = await RunAsync(options);
        Assert.True(report.Succeeded, Why(report));

        var output = File.ReadAllLines(Out("rows.jsonl.out"));
        Assert.Equal(300, output.Length);
        for (var i = 0; i < output.Length; i++)
        {
            using var json = JsonDocument.Parse(output[i]);
            var root = json.RootElement;
            Assert.Equal(["id", "SageMakerOutput"], root.EnumerateObject().Select(p => p.Name));
            Assert.Equal($"r{i}", root.GetProperty("id").GetString());
            var y = root.GetProperty("SageMakerOutput").GetProperty("Y").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            var expected = Models.Linear(Row(i));
            for (var j = 0; j < 3; j++)
            {
                AssertClose(expected[j], Number(y[j]), i);
            }
        }
    }

    [Fact]
    public async Task AJsonDocumentIsOneRecordFilteredAndJoinedWhole()
    {
        Write("one.json", """{"id": 9, "instances": [[1,2,3,4],[0,0,0,0]]}""");
        var options = Options("$.instances", JoinSource.Input, "$['id','SageMakerOutput']") with { SplitType = SplitType.None, Accept = "application/json" };
        var report = await RunAsync(options);
        Assert.True(report.Succeeded, Why(report));
        using var json = JsonDocument.Parse(File.ReadAllText(Out("one.json.out")));
        Assert.Equal(9, json.RootElement.GetProperty("id").GetInt32());
        var predictions = json.RootElement.GetProperty("SageMakerOutput").GetProperty("predictions");
        Assert.Equal(2, predictions.GetArrayLength());
        AssertClose(6.8f, Number(predictions[0].GetProperty("Y")[1].GetSingle()), 0);
    }

    [Fact]
    public async Task JsonLinesAnsweredAsOneJsonDocumentAreSplitByPrediction()
    {
        Write("rows.jsonl", "{\"k\":1,\"x\":[1,2,3,4]}\n{\"k\":2,\"x\":[0,0,0,0]}\n");
        var options = Options("$.x", JoinSource.Input, "$.SageMakerOutput.Y") with { Accept = "application/json" };
        var report = await RunAsync(options);
        Assert.True(report.Succeeded, Why(report));
        Assert.Equal(["[6.1,6.8,2.55]", "[0.1,-0.2,0.3]"], File.ReadAllLines(Out("rows.jsonl.out")));
    }

    [Fact]
    public async Task AnIndexOutsideARecordFailsTheFileNamingTheRecordAndLeavesNoOutput()
    {
        Write("short.csv", "1,2,3,4,5\n1,2,3,4,5\n1,2,3\n1,2,3,4,5\n");
        var report = await RunAsync(Options("$[0,1,2,4]", JoinSource.None, null));
        Assert.False(report.Succeeded);
        var error = Assert.Single(report.Files).Error!;
        Assert.Contains("record 2", error);
        Assert.Contains("index 4 is outside the record's 3 field(s)", error);
        Assert.False(File.Exists(Out("short.csv.out")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "out"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task AnOutputFilterIndexOutsideTheJoinedRecordIsAnError()
    {
        Write("a.csv", "1,2,3,4\n");
        var report = await RunAsync(Options(null, JoinSource.Input, "$[7]"));
        Assert.False(report.Succeeded);
        Assert.Contains("index 7 is outside the record's 7 field(s)", Assert.Single(report.Files).Error);
    }

    [Fact]
    public void ANamedPathOnCsvIsAConfigurationError()
    {
        var options = Options("$.features", JoinSource.None, null) with { ContentType = "text/csv" };
        var e = Assert.Throws<ConfigurationException>(options.Validate);
        Assert.Contains("--input-filter", e.Message);
        Assert.Contains("only index paths", e.Message);
    }

    [Fact]
    public async Task ANamedPathOnACsvFileFoundByItsExtensionFailsThatFile()
    {
        Write("a.csv", "1,2,3,4\n");
        var report = await RunAsync(Options(null, JoinSource.Input, "$.id"));
        Assert.False(report.Succeeded);
        Assert.Contains("only index paths", Assert.Single(report.Files).Error);
    }

    [Fact]
    public void FiltersTakeCsvAndJsonOnly()
    {
        var options = Options("$[1:]", JoinSource.None, null) with { ContentType = "application/x-tfrecord" };
        var e = Assert.Throws<ConfigurationException>(options.Validate);
        Assert.Contains("CSV, JSON and JSON Lines input only", e.Message);
        var accept = Options(null, JoinSource.Input, null) with { Accept = "application/x-recordio-protobuf" };
        Assert.Contains("--accept", Assert.Throws<ConfigurationException>(accept.Validate).Message);
    }

    [Fact]
    public async Task TheContainerNeverSeesTheFilters()
    {
        // A stand-in container that keeps what it is sent: the filtered records, nothing else.
        var bodies = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var endpoint = new ScriptedEndpoint((_, body) =>
        {
            var text = Encoding.UTF8.GetString(body);
            bodies.Enqueue(text);
            return (200, "text/csv", Encoding.UTF8.GetBytes(string.Concat(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(_ => "0.5\n"))));
        });
        Write("ids.csv", "a,1,2\nb,3,4\n");
        var options = Options("$[1:]", JoinSource.Input, null) with { Endpoint = endpoint.Url, MaxConcurrentTransforms = 1, BatchStrategy = BatchStrategy.MultiRecord, MaxPayloadInMB = 6 };
        var report = await RunAsync(options);
        Assert.True(report.Succeeded, Why(report));
        Assert.Equal("1,2\n3,4\n", Assert.Single(bodies));
        Assert.Equal(["a,1,2,0.5", "b,3,4,0.5"], File.ReadAllLines(Out("ids.csv.out")));
    }
}
