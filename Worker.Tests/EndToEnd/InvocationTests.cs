using System.Globalization;
using System.Text;
using System.Text.Json;
using Worker.Hosting;
using Worker.Tests.Support;

namespace Worker.Tests.EndToEnd;

/// <summary>/invocations over real sockets into real ONNX Runtime, answers checked against arithmetic done here.</summary>
public class InvocationTests
{
    private static readonly float[][] LinearRows = [[1, 2, 3, 4], [-5, 0.5f, 6, 7], [0, 0, 0, 0], [1e-3f, 1e3f, -2.25f, 8]];

    public static TheoryData<string, string?> ContentTypesAndAccepts()
    {
        var data = new TheoryData<string, string?>();
        foreach (var contentType in new[] { "text/csv", "application/jsonlines", "application/json" })
        {
            foreach (var accept in new[] { null, "text/csv", "application/jsonlines", "application/json" })
            {
                data.Add(contentType, accept);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ContentTypesAndAccepts))]
    public async Task LinearModelAnswersEveryPair(string contentType, string? accept)
    {
        await using var host = ModelServers.Start("linear");
        var response = await ModelServers.PostAsync(host.Port, contentType, Encode(contentType, LinearRows), accept);
        Assert.Equal(200, response.Status);

        var expectedType = accept ?? (contentType == "application/jsonlines" ? "application/jsonlines" : contentType);
        Assert.Equal(expectedType, response.Header("Content-Type"));
        var answers = ParseAnswers(expectedType, response.BodyText, "Y");
        Assert.Equal(LinearRows.Length, answers.Count);
        for (var r = 0; r < LinearRows.Length; r++)
        {
            Assert.Equal(Models.Linear(LinearRows[r]), answers[r], new Inference.ToleranceComparer(1e-5f));
        }
    }

    [Fact]
    public async Task ClassifierAnswersBothOutputsPerRecord()
    {
        await using var host = ModelServers.Start("classifier");
        float[][] rows = [[1, 0, 0], [0, 0, 1], [0.2f, -0.3f, 0.1f]];
        var csv = await ModelServers.PostAsync(host.Port, "text/csv", Encode("text/csv", rows));
        var lines = csv.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);

        var jsonl = await ModelServers.PostAsync(host.Port, "text/csv", Encode("text/csv", rows), "application/jsonlines");
        var objects = jsonl.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (var r = 0; r < rows.Length; r++)
        {
            var (p, label) = Models.Classifier(rows[r]);
            var values = lines[r].Split(',');
            Assert.Equal(3, values.Length);
            Assert.Equal(p, values[..2].Select(v => float.Parse(v, CultureInfo.InvariantCulture)), new Inference.ToleranceComparer(1e-5f));
            Assert.Equal(label.ToString(CultureInfo.InvariantCulture), values[2]);

            using var json = JsonDocument.Parse(objects[r]);
            Assert.Equal(label, json.RootElement.GetProperty("label").GetInt64());
            Assert.Equal(2, json.RootElement.GetProperty("probabilities").GetArrayLength());
        }
    }

    [Fact]
    public async Task TwoInputModelTakesObjectsByInputName()
    {
        await using var host = ModelServers.Start("two_inputs");
        var lines = await ModelServers.PostAsync(host.Port, "application/jsonlines", "{\"a\": [0.5, 1], \"b\": [2, 3]}\n{\"b\": [-1, 0], \"a\": [1, 1]}\n", "text/csv");
        Assert.Equal(200, lines.Status);
        Assert.Equal("2.5,4\n0,1\n", lines.BodyText);

        var columns = await ModelServers.PostAsync(host.Port, "application/json", "{\"inputs\": {\"a\": [[1, 2]], \"b\": [[10, 20]]}}");
        Assert.Equal("{\"predictions\":[{\"sum\":[11,22]}]}", columns.BodyText);

        // CSV fills the inputs in order, two values each (a's, then b's).
        var csv = await ModelServers.PostAsync(host.Port, "text/csv", "0.5,1,2,3\n1,1,-1,0\n");
        Assert.Equal(200, csv.Status);
        Assert.Equal("2.5,4\n0,1\n", csv.BodyText);
        var short_ = await ModelServers.PostAsync(host.Port, "text/csv", "1,2\n");
        Assert.Equal(400, short_.Status);
        Assert.Contains("expected 4 values, got 2", short_.BodyText);
    }

    [Fact]
    public async Task FixedBatchModelRunsRowByRow()
    {
        await using var host = ModelServers.Start("fixed_batch");
        Assert.Equal(1, host.Engine!.Options.MaxBatchRows);
        var response = await ModelServers.PostAsync(host.Port, "text/csv", "1,2\n3,4\n-1.5,0\n");
        Assert.Equal("2,4\n6,8\n-3,0\n", response.BodyText);
    }

    [Fact]
    public async Task BigRequestIsCutIntoSlicesAndReassembledInOrder()
    {
        await using var host = ModelServers.Start("linear", new WorkerSettings { MaxBatchRows = 7, InferenceWorkers = 2, IntraOpThreads = 1 });
        var rows = Enumerable.Range(0, 1000).Select(i => new float[] { i, -i, i % 7, 1 }).ToArray();
        var response = await ModelServers.PostAsync(host.Port, "text/csv", Encode("text/csv", rows));
        var answers = ParseAnswers("text/csv", response.BodyText, "Y");
        Assert.Equal(1000, answers.Count);
        for (var r = 0; r < rows.Length; r++)
        {
            Assert.Equal(Models.Linear(rows[r]), answers[r], new Inference.ToleranceComparer(1e-4f));
        }
    }

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/jsonlines")]
    [InlineData("application/json")]
    public async Task ASlicedRequestsAnswerIsByteForByteTheOneBatchAnswer(string accept)
    {
        // 1,000 rows in 7-row slices are written slice by slice as they finish; one 1,024-row batch
        // writes them in one go. Same bytes in every Accept type (JSON's commas and brackets included).
        var rows = Enumerable.Range(0, 1000).Select(i => new float[] { i, -i, i % 7, 0.25f }).ToArray();
        var body = Encode("text/csv", rows);
        await using var sliced = ModelServers.Start("linear", new WorkerSettings { MaxBatchRows = 7, InferenceWorkers = 2, IntraOpThreads = 1 });
        await using var whole = ModelServers.Start("linear", new WorkerSettings { MaxBatchRows = 1024, IntraOpThreads = 1 });
        var slicedAnswer = await ModelServers.PostAsync(sliced.Port, "text/csv", body, accept);
        var wholeAnswer = await ModelServers.PostAsync(whole.Port, "text/csv", body, accept);
        Assert.Equal(200, slicedAnswer.Status);
        Assert.Equal(wholeAnswer.BodyText, slicedAnswer.BodyText);
        Assert.Equal(1000, ParseAnswers(accept, slicedAnswer.BodyText, "Y").Count);
    }

    [Fact]
    public async Task SixtyFourConcurrentSingleRecordClientsEachGetTheirOwnAnswer()
    {
        await using var host = ModelServers.Start("linear", new WorkerSettings { BatchStrategy = BatchStrategy.SingleRecord, MaxQueueDelay = TimeSpan.FromMilliseconds(2) });
        var clients = Enumerable.Range(0, 64).Select(async c =>
        {
            await using var client = await RawHttpClient.ConnectAsync(host.Port);
            for (var i = 0; i < 20; i++)
            {
                float[] row = [c, i, c * i, 1];
                var body = string.Join(",", row.Select(v => v.ToString(CultureInfo.InvariantCulture)));
                await client.SendAsync($"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: {body.Length}\r\n\r\n{body}");
                var response = await client.ReadResponseAsync(TimeSpan.FromSeconds(60));
                Assert.Equal(200, response.Status);
                Assert.Equal(Models.Linear(row), ParseAnswers("text/csv", response.BodyText, "Y").Single(), new Inference.ToleranceComparer(1e-5f));
            }
        });
        await Task.WhenAll(clients);
    }

    [Fact]
    public async Task SingleRecordRefusesABodyOfManyRecords()
    {
        await using var host = ModelServers.Start("linear", new WorkerSettings { BatchStrategy = BatchStrategy.SingleRecord });
        var response = await ModelServers.PostAsync(host.Port, "text/csv", "1,2,3,4\n5,6,7,8\n");
        Assert.Equal(400, response.Status);
        Assert.Contains("SINGLE_RECORD", response.BodyText);
    }

    [Theory]
    [InlineData(512, "1\n7\n", "1\n", "20\n")]
    // 2-row slices: the first two run and their answers are written, the third asks for index 7 of a 4-row table.
    [InlineData(2, "0\n2\n0\n1\n1\n7\n0\n", "0\n2\n0\n1\n1\n", "10\n30\n10\n20\n20\n")]
    public async Task AFailedRunFailsItsRequestAndTheWorkerLivesOn(int maxBatchRows, string failing, string after, string afterAnswer)
    {
        await using var host = ModelServers.Start("gather", new WorkerSettings { MaxBatchRows = maxBatchRows, MaxQueueDelay = TimeSpan.Zero });
        var good = await ModelServers.PostAsync(host.Port, "text/csv", "0\n2\n");
        Assert.Equal("10\n30\n", good.BodyText);

        var bad = await ModelServers.PostAsync(host.Port, "text/csv", failing);
        Assert.Equal(500, bad.Status);
        using var error = JsonDocument.Parse(bad.Body);
        Assert.StartsWith("inference failed:", error.RootElement.GetProperty("error").GetString());

        var next = await ModelServers.PostAsync(host.Port, "text/csv", after);
        Assert.Equal(afterAnswer, next.BodyText);
    }

    [Fact]
    public async Task RecordErrorsAre400WithRecordAndOffset()
    {
        await using var host = ModelServers.Start("linear");
        var response = await ModelServers.PostAsync(host.Port, "text/csv", "1,2,3,4\n5,6,7,8\n9,10,11\n");
        Assert.Equal(400, response.Status);
        using var json = JsonDocument.Parse(response.Body);
        Assert.Equal("record 2: expected 4 values, got 3", json.RootElement.GetProperty("error").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("record").GetInt64());
        Assert.Equal(16, json.RootElement.GetProperty("offset").GetInt64());
    }

    [Theory]
    [InlineData("text/plain", null, 415)]
    [InlineData("text/csv; charset=utf-16", null, 415)]
    [InlineData("text/csv", "image/png", 406)]
    [InlineData("application/x-image", null, 415)]
    public async Task UnsupportedTypesAreRefused(string contentType, string? accept, int status)
    {
        await using var host = ModelServers.Start("linear");
        var response = await ModelServers.PostAsync(host.Port, contentType, "1,2,3,4\n", accept);
        Assert.Equal(status, response.Status);
        Assert.Contains("error", response.BodyText);
    }

    [Fact]
    public async Task EmptyBodyIs400()
    {
        await using var host = ModelServers.Start("linear");
        var response = await ModelServers.PostAsync(host.Port, "text/csv", "");
        Assert.Equal(400, response.Status);
        var blank = await ModelServers.PostAsync(host.Port, "text/csv", "\n\n");
        Assert.Equal(400, blank.Status);
        Assert.Contains("no record", blank.BodyText);
    }

    [Theory]
    [InlineData("missing", "does not exist")]
    [InlineData("", "expected exactly one")]
    public async Task WithoutOneUsableModelPingAndInvocationsAre503(string folder, string reason)
    {
        // "" is formats/models itself: several *.onnx below it.
        var settings = new WorkerSettings { ModelDirectory = folder == "" ? Path.Combine(AppContext.BaseDirectory, "formats", "models") : "/nonexistent/" + folder };
        await using var host = TestServers.Start(settings, ready: false);
        Assert.False(host.LoadModel());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
        var ping = await client.ReadResponseAsync();
        Assert.Equal(503, ping.Status);
        Assert.Contains(reason, ping.BodyText);
        var invocation = await ModelServers.PostAsync(host.Port, "text/csv", "1,2,3,4\n");
        Assert.Equal(503, invocation.Status);
    }

    [Fact]
    public async Task AnUnreadableModelFileIs503WithOrtsReason()
    {
        var folder = Directory.CreateTempSubdirectory("worker-model-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "model.onnx"), "not a model");
            await using var host = TestServers.Start(new WorkerSettings { ModelDirectory = folder.FullName }, ready: false);
            Assert.False(host.LoadModel());
            Assert.Contains("cannot load", host.Readiness.Reason);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    internal static string Encode(string contentType, float[][] rows)
    {
        string Row(float[] r) => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        return contentType switch
        {
            "text/csv" => string.Concat(rows.Select(r => Row(r) + "\n")),
            "application/jsonlines" => string.Concat(rows.Select(r => "[" + Row(r) + "]\n")),
            _ => "{\"instances\": [" + string.Join(",", rows.Select(r => "[" + Row(r) + "]")) + "]}",
        };
    }

    internal static List<float[]> ParseAnswers(string contentType, string body, string output)
    {
        switch (contentType)
        {
            case "text/csv":
                return body.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
                    .ToList();
            case "application/jsonlines":
                Assert.EndsWith("\n", body);
                return body.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Select(line => ReadValues(JsonDocument.Parse(line).RootElement.GetProperty(output)))
                    .ToList();
            default:
                using (var json = JsonDocument.Parse(body))
                {
                    return json.RootElement.GetProperty("predictions").EnumerateArray().Select(p => ReadValues(p.GetProperty(output))).ToList();
                }
        }
    }

    private static float[] ReadValues(JsonElement element) =>
        element.ValueKind == JsonValueKind.Array ? element.EnumerateArray().Select(v => v.GetSingle()).ToArray() : [element.GetSingle()];
}
