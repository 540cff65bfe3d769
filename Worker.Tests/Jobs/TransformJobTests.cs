using System.Globalization;
using System.IO.Compression;
using System.Text;
using Google.Protobuf;
using Worker.Hosting;
using Worker.Jobs.Transform;
using Worker.Tests.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Jobs;

/// <summary>
/// <c>Worker transform</c> end to end: real files, the real server in-process (or a scripted
/// endpoint where ours would never misbehave), real HTTP, real ORT.
/// </summary>
public sealed class TransformJobTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("transform-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string In(string relative) => Path.Combine(_root, "in", relative);

    private string Out(string relative) => Path.Combine(_root, "out", relative);

    private string Write(string relative, byte[] bytes)
    {
        var path = In(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private TransformOptions Options(string? input = null) => new()
    {
        Input = input ?? Path.Combine(_root, "in"),
        Output = Path.Combine(_root, "out"),
        ModelDirectory = Models.Directory("linear"),
    };

    private static async Task<(TransformReport Report, string Console)> RunAsync(TransformOptions options)
    {
        var console = new StringWriter();
        var report = await new TransformJob(options, console, TransformDisplay.None).RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3));
        return (report, console.ToString());
    }

    /// <summary>Everything that says why a job failed: its own error, each failed file's, and what it printed.</summary>
    private static string Why(TransformReport report, string console) =>
        $"job error: {report.JobError ?? "none"}; failed files: {string.Join("; ", report.Files.Where(f => f.Error is not null).Select(f => $"{f.File.RelativePath}: {f.Error}"))}; console: {console}";

    /// <summary>Row i of the generated inputs: four floats that print exactly.</summary>
    private static float[] Row(int i) => [i % 97 * 0.5f, -(i % 13), i % 7 * 0.25f, 1 + i % 5];

    private static string CsvRow(int i) => string.Join(',', Row(i).Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static byte[] Csv(int rows) => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, rows).Select(i => CsvRow(i) + "\n")));

    /// <summary>Every CSV answer line is the model's output for row i.</summary>
    private static void AssertLinearAnswers(IReadOnlyList<string> lines, Func<int, float[]> row, int count)
    {
        Assert.Equal(count, lines.Count);
        for (var i = 0; i < count; i++)
        {
            var expected = Models.Linear(row(i));
            var actual = lines[i].Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(3, actual.Length);
            for (var j = 0; j < 3; j++)
            {
                Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-5 * Math.Max(1, Math.Abs(expected[j])), $"record {i}: expected {expected[j]}, got {actual[j]}");
            }
        }
    }

    private static string[] Lines(string path) => File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task TheBundledSamplesTransformAsTheReadmeSays()
    {
        var samples = Path.Combine(AppContext.BaseDirectory, "formats", "inputs", "linear");
        var (report, console) = await RunAsync(Options(samples));
        Assert.True(report.Succeeded, Why(report, console));
        Assert.Equal(4, report.Files.Count);

        // rows.jsonl is the plain truth: one array per line.
        var rows = File.ReadAllLines(Path.Combine(samples, "rows.jsonl"))
            .Select(l => l.Trim('[', ']').Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        AssertLinearAnswers(Lines(Out("rows.csv.out")), i => rows[i], rows.Length);

        // The three other types answer in JSON Lines, identically.
        var jsonl = File.ReadAllText(Out("rows.jsonl.out"));
        Assert.Equal(jsonl, File.ReadAllText(Out("rows.tfrecord.out")));
        Assert.Equal(jsonl, File.ReadAllText(Out("rows.rec.out")));
        var csvAsJson = Lines(Out("rows.csv.out")).Select(l => "{\"Y\":[" + l + "]}");
        Assert.Equal(csvAsJson, Lines(Out("rows.jsonl.out")));
        Assert.Contains("transform done: 4 of 4 file(s) written, 400 records", console);
    }

    public static TheoryData<SplitType, BatchStrategy> SplitsAndStrategies()
    {
        var data = new TheoryData<SplitType, BatchStrategy>();
        foreach (var split in Enum.GetValues<SplitType>())
        {
            foreach (var strategy in Enum.GetValues<BatchStrategy>())
            {
                data.Add(split, strategy);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SplitsAndStrategies))]
    public async Task EverySplitTypeUnderEveryBatchStrategyAnswersEveryRecordInOrder(SplitType split, BatchStrategy strategy)
    {
        // SplitType None sends the file whole: under SingleRecord it must hold one record.
        var count = split == SplitType.None && strategy == BatchStrategy.SingleRecord ? 1 : strategy == BatchStrategy.SingleRecord ? 150 : 3000;
        var (name, bytes) = split switch
        {
            SplitType.TFRecord => ("data.tfrecord", FrameWriters.TfRecord(Enumerable.Range(0, count)
                .Select(i => ProtoRecordDecoderTests.ExampleOf(("X", ProtoRecordDecoderTests.Floats(Row(i)))).ToByteArray()).ToArray())),
            SplitType.RecordIO => ("data.rec", FrameWriters.RecordIO(Enumerable.Range(0, count)
                .Select(i => ProtoRecordDecoderTests.DenseRecord("values", Row(i)).ToByteArray()).ToArray())),
            _ => ("data.csv", Csv(count)),
        };
        Write(name, bytes);

        var (report, console) = await RunAsync(Options() with { SplitType = split, BatchStrategy = strategy, Accept = "text/csv", MaxConcurrentTransforms = 4 });
        Assert.True(report.Succeeded, Why(report, console));
        AssertLinearAnswers(Lines(Out(name + ".out")), Row, count);
        Assert.Equal(count, report.Records);
    }

    [Fact]
    public async Task MultiRecordPacksWholeRecordsUpToThePayloadLimit()
    {
        var bodies = new List<byte[]>();
        await using var endpoint = new ScriptedEndpoint((_, body) =>
        {
            lock (bodies)
            {
                bodies.Add(body);
            }

            return ScriptedEndpoint.Echo(body);
        });

        var input = Csv(200_000); // about 2.9 MB
        Write("big.csv", input);
        var (report, console) = await RunAsync(Options() with { Endpoint = endpoint.Url, MaxPayloadInMB = 1, MaxConcurrentTransforms = 3 });
        Assert.True(report.Succeeded, Why(report, console));
        Assert.Equal(input, File.ReadAllBytes(Out("big.csv.out")));
        Assert.True(bodies.Count >= 3, $"{bodies.Count} requests");
        Assert.All(bodies, b => Assert.True(b.Length <= 1024 * 1024 && b[^1] == '\n', $"{b.Length} bytes"));
        Assert.Equal(200_000, report.Records);
    }

    [Fact]
    public async Task NoPayloadLimitStreamsEachFileAsOneChunkedRequest()
    {
        await using var endpoint = new ScriptedEndpoint((_, body) => ScriptedEndpoint.Echo(body));
        var input = Csv(50_000);
        Write("all.csv", input);
        var (report, console) = await RunAsync(Options() with { Endpoint = endpoint.Url, MaxPayloadInMB = 0 });
        Assert.True(report.Succeeded, Why(report, console));
        Assert.Equal(1, endpoint.Invocations);
        Assert.Equal(input, File.ReadAllBytes(Out("all.csv.out")));

        // And through our own server, which then takes any size.
        var (own, ownConsole) = await RunAsync(Options() with { MaxPayloadInMB = 0, Accept = "text/csv" });
        Assert.True(own.Succeeded, ownConsole);
        AssertLinearAnswers(Lines(Out("all.csv.out")), Row, 50_000);
    }

    [Fact]
    public async Task GzipInputIsDecompressedAndKeepsItsNameInTheOutput()
    {
        var csv = Csv(500);
        using (var compressed = new MemoryStream())
        {
            using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(csv);
            }

            Write("rows.csv.gz", compressed.ToArray());
        }

        // Named .gz: found out alone; and said explicitly.
        var (report, console) = await RunAsync(Options());
        Assert.True(report.Succeeded, Why(report, console));
        AssertLinearAnswers(Lines(Out("rows.csv.gz.out")), Row, 500);

        var (explicitReport, explicitConsole) = await RunAsync(Options() with { CompressionType = CompressionType.Gzip, ContentType = "text/csv", SplitType = SplitType.Line });
        Assert.True(explicitReport.Succeeded, explicitConsole);
        AssertLinearAnswers(Lines(Out("rows.csv.gz.out")), Row, 500);
    }

    [Fact]
    public async Task AFailingFileGetsNoOutputAndTheOthersGoOn()
    {
        Write("a/good.csv", Csv(100));
        var bad = Encoding.UTF8.GetString(Csv(100)).Split('\n');
        bad[57] = "1,2,3";
        Write("b/c/bad.csv", Encoding.UTF8.GetBytes(string.Join('\n', bad)));
        Write("b/z.csv", Csv(10));

        var (report, console) = await RunAsync(Options() with { Accept = "text/csv" });
        Assert.False(report.Succeeded);
        Assert.Equal(1, report.Failed);
        AssertLinearAnswers(Lines(Out("a/good.csv.out")), Row, 100);
        AssertLinearAnswers(Lines(Out("b/z.csv.out")), Row, 10);
        Assert.False(File.Exists(Out("b/c/bad.csv.out")));
        Assert.Empty(Directory.EnumerateFiles(Out(""), "*.partial", SearchOption.AllDirectories));

        var failure = Assert.Single(report.Files, f => f.Error is not null);
        Assert.Equal("b/c/bad.csv", failure.File.RelativePath);
        Assert.Contains("record 57 of the file", failure.Error);
        Assert.Contains("expected 4 values, got 3", failure.Error);
        Assert.Contains("failed: b/c/bad.csv", console);
    }

    [Fact]
    public async Task ARecordOverThePayloadLimitFailsItsFile()
    {
        var huge = string.Join(',', Enumerable.Repeat("1.25", 300_000)); // 1.5 MB on one line
        Write("huge.csv", Encoding.UTF8.GetBytes("1,2,3,4\n" + huge + "\n"));
        var (report, _) = await RunAsync(Options() with { MaxPayloadInMB = 1 });
        var failure = Assert.Single(report.Files);
        Assert.Contains("record 1 (byte 8 of the file)", failure.Error);
        Assert.Contains("over MaxPayloadInMB (1 MiB)", failure.Error);
        Assert.False(File.Exists(Out("huge.csv.out")));

        // No line end at all: the file fails once more than the limit is read, not after all of it.
        Write("huge.csv", Encoding.UTF8.GetBytes(string.Join(',', Enumerable.Repeat("1.25", 1_500_000)))); // 7.5 MB, no LF
        var (endless, _) = await RunAsync(Options() with { MaxPayloadInMB = 1 });
        var endlessFailure = Assert.Single(endless.Files).Error;
        Assert.Contains("record 0 (byte 0 of the file) is over MaxPayloadInMB (1 MiB)", endlessFailure);
        Assert.Contains("its end not reached", endlessFailure);
        var read = long.Parse(System.Text.RegularExpressions.Regex.Match(endlessFailure!, @"([\d,]+) bytes read").Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(read, (1 << 20) + 1, 4 << 20); // stopped within the first few MB of 7.5

        // SplitType None: the whole file is the record.
        var (whole, _) = await RunAsync(Options() with { MaxPayloadInMB = 1, SplitType = SplitType.None });
        Assert.Contains("SplitType is None", Assert.Single(whole.Files).Error);
    }

    [Fact]
    public async Task RequestsThatMayPassAreRetried()
    {
        await using var endpoint = new ScriptedEndpoint((n, body) => n < 2 ? (503, "application/json", "{\"error\": \"busy\"}"u8.ToArray()) : ScriptedEndpoint.Echo(body));
        Write("rows.csv", Csv(20));
        var (report, console) = await RunAsync(Options() with { Endpoint = endpoint.Url });
        Assert.True(report.Succeeded, Why(report, console));
        Assert.Equal(3, endpoint.Invocations);
        Assert.Equal(Csv(20), File.ReadAllBytes(Out("rows.csv.out")));
    }

    [Fact]
    public async Task AfterTheRetriesTheFileFails()
    {
        await using var endpoint = new ScriptedEndpoint((_, _) => (500, "text/plain", "boom"u8.ToArray()));
        Write("rows.csv", Csv(20));
        var (report, _) = await RunAsync(Options() with { Endpoint = endpoint.Url, InvocationsMaxRetries = 1 });
        var failure = Assert.Single(report.Files);
        Assert.Contains("HTTP 500: boom (after 2 attempts)", failure.Error);
        Assert.Equal(2, endpoint.Invocations);
        Assert.False(File.Exists(Out("rows.csv.out")));
    }

    [Fact]
    public async Task AClientErrorIsNotRetriedAndNamesTheRecordInTheFile()
    {
        // One record per request, one at a time: the sixth request is the file's record 5.
        await using var endpoint = new ScriptedEndpoint((n, body) => n == 5 ? (400, "application/json", "{\"error\": \"record 0: no good\", \"record\": 0}"u8.ToArray()) : ScriptedEndpoint.Echo(body));
        Write("rows.csv", Csv(20));
        var (report, _) = await RunAsync(Options() with { Endpoint = endpoint.Url, BatchStrategy = BatchStrategy.SingleRecord, MaxConcurrentTransforms = 1 });
        Assert.Equal(6, endpoint.Invocations);
        Assert.Contains("record 5 of the file: HTTP 400: record 0: no good", Assert.Single(report.Files).Error);
    }

    [Fact]
    public async Task ALineAnswerWithTheWrongNumberOfLinesFailsTheFile()
    {
        // A container that loses the last record of every request.
        await using var endpoint = new ScriptedEndpoint((_, body) =>
        {
            var lines = Encoding.UTF8.GetString(body).TrimEnd('\n').Split('\n');
            return (200, "text/csv", Encoding.UTF8.GetBytes(string.Concat(lines.SkipLast(1).Select(l => l + "\n"))));
        });
        Write("rows.csv", Csv(3));
        var (report, _) = await RunAsync(Options() with { Endpoint = endpoint.Url, AssembleWith = AssembleWith.Line });
        Assert.Contains("answered 2 line(s) for 3 record(s)", Assert.Single(report.Files).Error);
        Assert.False(File.Exists(Out("rows.csv.out")));
    }

    [Fact]
    public async Task AssembleWithLinePutsANewlineAfterEveryAnswer()
    {
        Write("rows.csv", Csv(3));
        var (report, console) = await RunAsync(Options() with { BatchStrategy = BatchStrategy.SingleRecord, Accept = "application/json", AssembleWith = AssembleWith.Line });
        Assert.True(report.Succeeded, Why(report, console));
        var lines = File.ReadAllText(Out("rows.csv.out")).Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal("", lines[3]);
        Assert.All(lines[..3], l => Assert.StartsWith("{\"predictions\":[", l));
    }

    [Fact]
    public async Task ACsvHeaderIsTheFilesNotEveryRequests()
    {
        Write("rows.csv", [.. "a,b,c,d\n"u8, .. Csv(2000)]);
        var (report, console) = await RunAsync(Options() with { ContentType = "text/csv; header=present", Accept = "text/csv", MaxConcurrentTransforms = 2 });
        Assert.True(report.Succeeded, Why(report, console));
        AssertLinearAnswers(Lines(Out("rows.csv.out")), Row, 2000);
    }

    [Fact]
    public async Task AnEndpointIsDrivenWithItsOwnExecutionParameters()
    {
        await using var host = ModelServers.Start("linear");
        Write("rows.csv", Csv(300));
        var (report, console) = await RunAsync(Options() with { Endpoint = new Uri($"http://127.0.0.1:{host.Port}"), ModelDirectory = null });
        Assert.True(report.Succeeded, Why(report, console));
        AssertLinearAnswers(Lines(Out("rows.csv.out")), Row, 300);

        // The test server sizes itself for two cores: two requests in flight (see ExecutionParameters).
        Assert.Contains($"MaxConcurrentTransforms {host.ExecutionParameters.MaxConcurrentTransforms}", console);
        Assert.Contains($"MaxPayloadInMB {host.ExecutionParameters.MaxPayloadInMB}", console);
    }

    [Fact]
    public async Task AModelThatCannotLoadEndsTheJobWithItsReason()
    {
        Write("rows.csv", Csv(3));
        var empty = Directory.CreateDirectory(Path.Combine(_root, "no-model")).FullName;
        var (report, _) = await RunAsync(Options() with { ModelDirectory = empty });
        Assert.False(report.Succeeded);
        Assert.Contains("no *.onnx", report.JobError);
    }

    [Fact]
    public async Task ExporterShapedModelsTransformWithCorrectAnswers()
    {
        // A pandas DataFrame written with to_csv(index=False, header=False) and as JSON Lines records,
        // through skl2onnx's DataFrame pipeline with a string column; and iris rows through the
        // string-labelled ZipMap classifier, both as a transform job runs them (MultiRecord, Line).
        var frame = new[] { (5.1f, 3L, true, "red"), (-2.5f, 0L, false, "green, light"), (0.75f, 12L, true, "blue") };
        Write("frame/part-0.csv", Encoding.UTF8.GetBytes(string.Concat(frame.Select(r =>
            $"{r.Item1.ToString("R", CultureInfo.InvariantCulture)},{r.Item2},{(r.Item3 ? "True" : "False")},{(r.Item4.Contains(',') ? $"\"{r.Item4}\"" : r.Item4)}\n"))));
        Write("frame/part-1.jsonl", Encoding.UTF8.GetBytes(string.Concat(frame.Select(r =>
            $"{{\"sepal_length\": {r.Item1.ToString("R", CultureInfo.InvariantCulture)}, \"petal_count\": {r.Item2}, \"is_wild\": {(r.Item3 ? "true" : "false")}, \"color\": \"{r.Item4}\"}}\n"))));
        var (frameReport, frameConsole) = await RunAsync(Options(Path.Combine(_root, "in", "frame")) with
        {
            ModelDirectory = ExporterModels.Directory("dataframe_str"),
            Accept = "text/csv",
            AssembleWith = AssembleWith.Line,
        });
        Assert.True(frameReport.Succeeded, Why(frameReport, frameConsole));
        var expected = frame.Select(r => ExporterModels.DataFrameWithColor(r.Item1, r.Item2, r.Item3, r.Item4)).ToArray();
        foreach (var file in new[] { "part-0.csv.out", "part-1.jsonl.out" })
        {
            var answers = Lines(Out(file)).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(expected, answers, new Inference.ToleranceComparer(1e-6f));
        }

        float[][] iris = [[5.1f, 3.5f, 1.4f, 0.2f], [6.7f, 3.0f, 5.2f, 2.3f], [4.9f, 2.4f, 3.3f, 1.0f]];
        Write("iris/iris.csv", Encoding.UTF8.GetBytes(string.Concat(iris.Select(r => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "\n"))));
        var (irisReport, irisConsole) = await RunAsync(Options(Path.Combine(_root, "in", "iris")) with
        {
            Output = Path.Combine(_root, "out-iris"),
            ModelDirectory = ExporterModels.Directory("zipmap_str"),
            Accept = "application/jsonlines",
            AssembleWith = AssembleWith.Line,
        });
        Assert.True(irisReport.Succeeded, Why(irisReport, irisConsole));
        var lines = Lines(Path.Combine(_root, "out-iris", "iris.csv.out"));
        string[] labels = ["setosa", "versicolor", "virginica"];
        for (var r = 0; r < iris.Length; r++)
        {
            var (p, label) = ExporterModels.LogisticRegression(iris[r]);
            using var answer = System.Text.Json.JsonDocument.Parse(lines[r]);
            Assert.Equal(labels[label], answer.RootElement.GetProperty("output_label").GetString());
            Assert.Equal(p, answer.RootElement.GetProperty("output_probability").EnumerateObject().Select(e => e.Value.GetSingle()), new Inference.ToleranceComparer(1e-5f));
        }
    }
}
