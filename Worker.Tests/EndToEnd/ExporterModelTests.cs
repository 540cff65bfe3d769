using System.Globalization;
using System.Text.Json;
using Worker.Hosting;
using Worker.Tests.Inference;
using Worker.Tests.Support;

namespace Worker.Tests.EndToEnd;

/// <summary>
/// Models in the shapes the exporters write (skl2onnx, torch.onnx.export, tf2onnx), served end to end
/// over real sockets through the real runtime, answers checked against arithmetic done here.
/// </summary>
public class ExporterModelTests
{
    private static readonly float[][] Iris = [[5.1f, 3.5f, 1.4f, 0.2f], [6.7f, 3.0f, 5.2f, 2.3f], [0, 0, 0, 0], [-1, 2, -3, 4]];

    private static WorkerHost Start(string model, WorkerSettings? settings = null)
    {
        var host = TestServers.Start((settings ?? new WorkerSettings()) with { ModelDirectory = ExporterModels.Directory(model), Device = Worker.Inference.Ort.DevicePreference.Cpu }, ready: false);
        Assert.True(host.LoadModel(), host.Readiness.Reason);
        return host;
    }

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/jsonlines")]
    [InlineData("application/json")]
    public async Task ZipMapClassifierAnswersLabelAndProbabilitiesByClass(string contentType)
    {
        await using var host = Start("zipmap_int");
        Assert.Equal([["0", "1", "2"]], host.Engine!.Signature.Outputs.Where(o => o.MapKeys is not null).Select(o => o.MapKeys!.ToArray()));
        var body = InvocationTests.Encode(contentType, Iris);

        // JSON Lines: the map is an object keyed by class label, as skl2onnx's ZipMap gives it in Python.
        var lines = await ModelServers.PostAsync(host.Port, contentType, body, "application/jsonlines");
        Assert.Equal(200, lines.Status);
        var objects = lines.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Iris.Length, objects.Length);

        // CSV: the label, then each class's probability in label order.
        var csv = await ModelServers.PostAsync(host.Port, contentType, body, "text/csv");
        var csvLines = csv.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        // JSON: {"predictions": [{...}, ...]} with the same objects.
        var json = await ModelServers.PostAsync(host.Port, contentType, body, "application/json");
        using var document = JsonDocument.Parse(json.BodyText);
        var predictions = document.RootElement.GetProperty("predictions").EnumerateArray().ToArray();

        for (var r = 0; r < Iris.Length; r++)
        {
            var (p, label) = ExporterModels.LogisticRegression(Iris[r]);
            foreach (var answer in new[] { JsonDocument.Parse(objects[r]).RootElement, predictions[r] })
            {
                Assert.Equal(label, answer.GetProperty("output_label").GetInt64());
                var map = answer.GetProperty("output_probability");
                Assert.Equal(["0", "1", "2"], map.EnumerateObject().Select(e => e.Name));
                Assert.Equal(p, map.EnumerateObject().Select(e => e.Value.GetSingle()), new ToleranceComparer(1e-5f));
            }

            var values = csvLines[r].Split(',');
            Assert.Equal(label.ToString(CultureInfo.InvariantCulture), values[0]);
            Assert.Equal(p, values[1..].Select(v => float.Parse(v, CultureInfo.InvariantCulture)), new ToleranceComparer(1e-5f));
        }
    }

    [Fact]
    public async Task DataFrameModelTakesOneCsvColumnPerInput()
    {
        await using var host = Start("dataframe");
        Assert.Equal(3, host.Engine!.Signature.Inputs.Count);

        // Columns in input order (sepal_length float, petal_count int64, is_wild bool), as pandas writes them.
        var positional = await ModelServers.PostAsync(host.Port, "text/csv", "5.1,3,True\n-2.5,0,False\n0.125,7,1\n");
        Assert.Equal(200, positional.Status);
        Assert.Equal(
            [ExporterModels.DataFrame(5.1f, 3, true), ExporterModels.DataFrame(-2.5f, 0, false), ExporterModels.DataFrame(0.125f, 7, true)],
            positional.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(v => float.Parse(v, CultureInfo.InvariantCulture)),
            new ToleranceComparer(1e-6f));

        // header=present: the header's names choose the inputs, in any order.
        var named = await ModelServers.PostAsync(host.Port, "text/csv; header=present", "is_wild,sepal_length,petal_count\nTrue,5.1,3\nfalse,-2.5,0\n");
        Assert.Equal(200, named.Status);
        Assert.Equal(
            [ExporterModels.DataFrame(5.1f, 3, true), ExporterModels.DataFrame(-2.5f, 0, false)],
            named.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(v => float.Parse(v, CultureInfo.InvariantCulture)),
            new ToleranceComparer(1e-6f));

        // JSON objects keyed by input name, numbers and booleans mixed.
        var json = await ModelServers.PostAsync(host.Port, "application/jsonlines", "{\"petal_count\": 3, \"is_wild\": true, \"sepal_length\": 5.1}\n", "text/csv");
        Assert.Equal(positional.BodyText.Split('\n')[0] + "\n", json.BodyText);
    }

    [Theory]
    [InlineData("sepal_length,petal_count\n5.1,3\n", "no column for input is_wild")]
    [InlineData("sepal_length,petal_count,is_wild,color\n5.1,3,1,red\n", "'color' is not an input")]
    [InlineData("sepal_length,sepal_length,is_wild\n5.1,3,1\n", "a second time")]
    public async Task ADataFrameHeaderThatDoesNotFitIsA400NamingTheColumn(string body, string reason)
    {
        await using var host = Start("dataframe");
        var response = await ModelServers.PostAsync(host.Port, "text/csv; header=present", body);
        Assert.Equal(400, response.Status);
        Assert.Contains(reason, response.BodyText);
    }

    [Fact]
    public async Task AValueOfTheWrongTypeNamesTheInput()
    {
        await using var host = Start("dataframe");
        var response = await ModelServers.PostAsync(host.Port, "text/csv", "5.1,3,True\n5.1,3.5,True\n");
        Assert.Equal(400, response.Status);
        using var error = JsonDocument.Parse(response.BodyText);
        Assert.Equal(1, error.RootElement.GetProperty("record").GetInt64());
        Assert.Contains("petal_count", error.RootElement.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(11)]
    public async Task AFixedBatchOfFourRunsPaddedBatchesAndAnswersOnlyTheRecordsSent(int records)
    {
        await using var host = Start("fixed_batch4");
        Assert.Equal(4, host.Engine!.Options.MaxBatchRows);
        var rows = Enumerable.Range(0, records).Select(r => new float[] { r, -r * 0.5f, 1 + r }).ToArray();
        var response = await ModelServers.PostAsync(host.Port, "text/csv", InvocationTests.Encode("text/csv", rows));
        Assert.Equal(200, response.Status);
        var answers = InvocationTests.ParseAnswers("text/csv", response.BodyText, "y");
        Assert.Equal(records, answers.Count);
        for (var r = 0; r < records; r++)
        {
            Assert.Equal(ExporterModels.FixedBatch4(rows[r]), answers[r], new ToleranceComparer(1e-6f));
        }
    }

    [Fact]
    public async Task FixedBatchSingleRecordClientsShareBatches()
    {
        await using var host = Start("fixed_batch4", new WorkerSettings { BatchStrategy = BatchStrategy.SingleRecord, MaxQueueDelay = TimeSpan.FromMilliseconds(2) });
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(async r =>
        {
            var response = await ModelServers.PostAsync(host.Port, "text/csv", $"{r},1,-1\n");
            return (r, response.BodyText);
        }));
        foreach (var (r, body) in answers)
        {
            Assert.Equal(ExporterModels.FixedBatch4([r, 1, -1]), body.TrimEnd().Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)), new ToleranceComparer(1e-6f));
        }
    }

    [Fact]
    public async Task AUint8ImageInputTakesCsvJsonAndRawBytes()
    {
        await using var host = Start("image_uint8");
        byte[] pixels = [0, 10, 255, 20, 30, 255, 40, 50, 0, 60, 70, 0]; // 2x2 RGB
        float[] mean = [30, 40, 127.5f];
        var csv = await ModelServers.PostAsync(host.Port, "text/csv", string.Join(",", pixels) + "\n");
        Assert.Equal(200, csv.Status);
        Assert.Equal("30,40,127.5\n", csv.BodyText);

        var nested = "[[[0,10,255],[20,30,255]],[[40,50,0],[60,70,0]]]";
        var json = await ModelServers.PostAsync(host.Port, "application/jsonlines", nested + "\n", "application/jsonlines");
        Assert.Equal("{\"mean_rgb\":[30,40,127.5]}\n", json.BodyText);

        var raw = await ModelServers.PostAsync(host.Port, "application/x-recordio", FrameWriters.RecordIO(pixels), "text/csv");
        Assert.Equal(200, raw.Status);
        Assert.Equal(string.Join(",", mean.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "\n", raw.BodyText);

        var outOfRange = await ModelServers.PostAsync(host.Port, "text/csv", "0,10,256,20,30,255,40,50,0,60,70,0\n");
        Assert.Equal(400, outOfRange.Status);
        Assert.Contains("'256' is not a uint8", outOfRange.BodyText);
    }

    [Fact]
    public async Task AFloat16ModelTakesAndAnswersFloat16()
    {
        await using var host = Start("half");
        var response = await ModelServers.PostAsync(host.Port, "text/csv", "1.5,-0.1,65504\n0.0001,3,1e-8\n", "application/jsonlines");
        Assert.Equal(200, response.Status);
        var lines = response.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        // float16 rounding of the text, then 2x in float16 (65504 * 2 overflows to infinity: null in JSON).
        string Expected(params double[] xs) => "{\"y16\":[" + string.Join(",", xs.Select(x =>
        {
            var doubled = (float)(Half)(2 * (float)(Half)x);
            return float.IsFinite(doubled) ? doubled.ToString("R", CultureInfo.InvariantCulture) : "null";
        })) + "]}";
        Assert.Equal(Expected(1.5, -0.1, 65504), lines[0]);
        Assert.Equal(Expected(0.0001, 3, 1e-8), lines[1]);
    }

    /// <summary>Each type's edge values, as text, in the order make_exporter_models.py's TYPES lists the inputs.</summary>
    private static readonly (string Name, string[] Values)[] EveryType =
    [
        ("f16", ["0.5", "-65504"]), ("bf16", ["1.5", "-256"]), ("f32", ["0.1", "-1e-30"]), ("f64", ["0.1", "1e300"]),
        ("i8", ["-128", "127"]), ("i16", ["-32768", "32767"]), ("i32", ["-2147483648", "2147483647"]),
        ("i64", ["-9223372036854775808", "9223372036854775807"]), ("u8", ["0", "255"]), ("u16", ["0", "65535"]),
        ("u32", ["0", "4294967295"]), ("u64", ["0", "18446744073709551615"]), ("b", ["true", "false"]),
    ];

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/jsonlines")]
    public async Task EveryElementTypeGoesInAndComesBackOut(string contentType)
    {
        await using var host = Start("identity_types");
        Assert.Equal(13, host.Engine!.Signature.Inputs.Count);
        var body = contentType == "text/csv"
            ? string.Join(",", EveryType.SelectMany(t => t.Values)) + "\n"
            : "{" + string.Join(",", EveryType.Select(t => $"\"in_{t.Name}\": [{string.Join(",", t.Values)}]")) + "}\n";

        var json = await ModelServers.PostAsync(host.Port, contentType, body, "application/jsonlines");
        Assert.Equal(200, json.Status);
        using var answer = JsonDocument.Parse(json.BodyText);
        foreach (var (name, values) in EveryType)
        {
            var got = answer.RootElement.GetProperty("out_" + name).EnumerateArray().Select(v => v.GetRawText()).ToArray();
            for (var i = 0; i < 2; i++)
            {
                if (name is "f16" or "bf16" or "f32" or "f64")
                {
                    Assert.Equal(double.Parse(values[i], CultureInfo.InvariantCulture), double.Parse(got[i], CultureInfo.InvariantCulture), name == "f32" ? 1e-7 * Math.Abs(double.Parse(values[i], CultureInfo.InvariantCulture)) : 0);
                }
                else
                {
                    Assert.Equal(values[i], got[i]);
                }
            }
        }

        // CSV: every output's values in output order, the same text as JSON's (bool as true/false).
        var csv = await ModelServers.PostAsync(host.Port, contentType, body, "text/csv");
        Assert.Equal(
            string.Join(",", EveryType.SelectMany(t => answer.RootElement.GetProperty("out_" + t.Name).EnumerateArray().Select(v => v.GetRawText()))) + "\n",
            csv.BodyText);
    }

    [Theory]
    [InlineData("i8", "128")]
    [InlineData("u16", "-1")]
    [InlineData("u64", "18446744073709551616")]
    [InlineData("b", "yes")]
    [InlineData("i32", "1.5")]
    public async Task AValueOutsideItsTypeIsA400NamingIt(string name, string bad)
    {
        await using var host = Start("identity_types");
        var fields = EveryType.SelectMany(t => t.Values.Select((v, i) => t.Name == name && i == 1 ? bad : v));
        var response = await ModelServers.PostAsync(host.Port, "text/csv", string.Join(",", fields) + "\n");
        Assert.Equal(400, response.Status);
        Assert.Contains($"'{bad}'", response.BodyText);
        Assert.Contains("in_" + name, response.BodyText);
    }

    [Theory]
    [InlineData("bad_shapes/per_token_output", "logits", "per-token outputs are not served yet")]
    [InlineData("bad_shapes/dynamic_strings", "text", "not for strings")]
    public async Task AModelTheWorkerCannotFeedYetIsA503NamingTheInputAndTheReason(string model, string name, string reason)
    {
        await using var host = TestServers.Start(new WorkerSettings { ModelDirectory = ExporterModels.Directory(model), Device = Worker.Inference.Ort.DevicePreference.Cpu }, ready: false);
        Assert.False(host.LoadModel());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
        var ping = await client.ReadResponseAsync();
        Assert.Equal(503, ping.Status);
        Assert.Contains(name, ping.BodyText);
        Assert.Contains(reason, ping.BodyText);
    }

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/jsonlines")]
    [InlineData("application/json")]
    public async Task AClassifierWithStringLabelsAnswersThemAsStrings(string contentType)
    {
        string[] labels = ["setosa", "versicolor", "virginica"];
        await using var host = Start("zipmap_str");
        var body = InvocationTests.Encode(contentType, Iris);
        var lines = await ModelServers.PostAsync(host.Port, contentType, body, "application/jsonlines");
        Assert.Equal(200, lines.Status);
        var csv = await ModelServers.PostAsync(host.Port, contentType, body, "text/csv");
        var objects = lines.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var csvLines = csv.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (var r = 0; r < Iris.Length; r++)
        {
            var (p, label) = ExporterModels.LogisticRegression(Iris[r]);
            using var answer = JsonDocument.Parse(objects[r]);
            Assert.Equal(labels[label], answer.RootElement.GetProperty("output_label").GetString());
            var map = answer.RootElement.GetProperty("output_probability");
            Assert.Equal(labels, map.EnumerateObject().Select(e => e.Name));
            Assert.Equal(p, map.EnumerateObject().Select(e => e.Value.GetSingle()), new ToleranceComparer(1e-5f));
            Assert.Equal(labels[label], csvLines[r].Split(',')[0]);
        }
    }

    [Fact]
    public async Task ADataFrameWithAStringColumnTakesCsvJsonAndTfRecordBytes()
    {
        await using var host = Start("dataframe_str");
        var expected = new[]
        {
            ExporterModels.DataFrameWithColor(5.1f, 3, true, "red"),
            ExporterModels.DataFrameWithColor(-2.5f, 0, false, "green, light"),
            ExporterModels.DataFrameWithColor(1, 1, false, "green"),
        };

        // Columns as pandas writes them: the comma-holding category quoted.
        var csv = await ModelServers.PostAsync(host.Port, "text/csv", "5.1,3,True,red\n-2.5,0,False,\"green, light\"\n1,1,False,green\n");
        Assert.Equal(200, csv.Status);
        Assert.Equal(expected, ParseFloats(csv.BodyText), new ToleranceComparer(1e-6f));

        var named = await ModelServers.PostAsync(host.Port, "text/csv; header=present", "color,sepal_length,petal_count,is_wild\nred,5.1,3,True\n\"green, light\",-2.5,0,False\ngreen,1,1,False\n");
        Assert.Equal(csv.BodyText, named.BodyText);

        var json = await ModelServers.PostAsync(
            host.Port,
            "application/jsonlines",
            "{\"sepal_length\": 5.1, \"petal_count\": 3, \"is_wild\": true, \"color\": \"red\"}\n" +
            "{\"sepal_length\": -2.5, \"petal_count\": 0, \"is_wild\": false, \"color\": \"green, light\"}\n" +
            "{\"sepal_length\": 1, \"petal_count\": 1, \"is_wild\": false, \"color\": \"gr\\u0065en\"}\n",
            "text/csv");
        Assert.Equal(csv.BodyText, json.BodyText);

        var examples = new[] { (5.1f, 3L, 1L, "red"), (-2.5f, 0L, 0L, "green, light"), (1f, 1L, 0L, "green") }.Select(r =>
        {
            var example = new Worker.Formats.TensorFlow.Example { Features = new() };
            example.Features.Feature["sepal_length"] = new() { FloatList = new() { Value = { r.Item1 } } };
            example.Features.Feature["petal_count"] = new() { Int64List = new() { Value = { r.Item2 } } };
            example.Features.Feature["is_wild"] = new() { Int64List = new() { Value = { r.Item3 } } };
            example.Features.Feature["color"] = new() { BytesList = new() { Value = { Google.Protobuf.ByteString.CopyFromUtf8(r.Item4) } } };
            return Google.Protobuf.MessageExtensions.ToByteArray(example);
        }).ToArray();
        var tfrecord = await ModelServers.PostAsync(host.Port, "application/x-tfrecord", FrameWriters.TfRecord(examples), "text/csv");
        Assert.Equal(200, tfrecord.Status);
        Assert.Equal(csv.BodyText, tfrecord.BodyText);

        var wrongKind = await ModelServers.PostAsync(host.Port, "application/jsonlines", "{\"sepal_length\": 5.1, \"petal_count\": 3, \"is_wild\": true, \"color\": 7}\n");
        Assert.Equal(400, wrongKind.Status);
        Assert.Contains("color", wrongKind.BodyText);
    }

    [Fact]
    public async Task StringsRoundTripWithCsvQuotingAndJsonEscaping()
    {
        await using var host = Start("identity_str");
        string[][] rows = [["plain", "with, comma"], ["say \"hi\"", "two\nlines"], ["", "naïve ☕"]];
        var csvBody = string.Concat(rows.Select(r => string.Join(",", r.Select(Quote)) + "\n"));
        var csv = await ModelServers.PostAsync(host.Port, "text/csv", csvBody, "text/csv");
        Assert.Equal(200, csv.Status);
        Assert.Equal(csvBody, csv.BodyText);

        var json = await ModelServers.PostAsync(host.Port, "text/csv", csvBody, "application/json");
        using var document = JsonDocument.Parse(json.BodyText);
        Assert.Equal(rows, document.RootElement.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("same").EnumerateArray().Select(v => v.GetString()!).ToArray()));

        var back = await ModelServers.PostAsync(host.Port, "application/json", "{\"instances\": " + JsonSerializer.Serialize(rows) + "}", "text/csv");
        Assert.Equal(csvBody, back.BodyText);

        static string Quote(string field) => field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    private static float[] ParseFloats(string body) =>
        [.. body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(v => float.Parse(v, CultureInfo.InvariantCulture))];

    [Fact]
    public async Task TokenIdsOfVaryingLengthRunInShapeGroupsAndAnswerInOrder()
    {
        // input_ids and attention_mask [batch, sequence], both axes dynamic; id_sum = sum(ids * mask),
        // lengths = sum(mask). Records of lengths 3, 3, 5, 3, 1: four Runs (3,3 | 5 | 3 | 1), in order.
        await using var host = Start("tokens");
        long[][] ids = [[101, 7, 102], [101, 9, 102], [101, 5, 6, 7, 102], [1, 2, 3], [42]];
        long[][] masks = [[1, 1, 1], [1, 1, 0], [1, 1, 1, 1, 0], [0, 0, 1], [1]];
        var body = string.Concat(ids.Select((row, r) => $"{{\"input_ids\": [{string.Join(",", row)}], \"attention_mask\": [{string.Join(",", masks[r])}]}}\n"));
        var response = await ModelServers.PostAsync(host.Port, "application/jsonlines", body, "text/csv");
        Assert.Equal(200, response.Status);
        var expected = string.Concat(ids.Select((row, r) => $"{row.Zip(masks[r]).Sum(p => p.First * p.Second)},{masks[r].Sum()}\n"));
        Assert.Equal(expected, response.BodyText);

        // The same records as one JSON document, and one at a time under SINGLE_RECORD clients in parallel.
        var json = await ModelServers.PostAsync(host.Port, "application/json", "{\"instances\": [" + string.Join(",", body.TrimEnd().Split('\n')) + "]}", "text/csv");
        Assert.Equal(expected, json.BodyText);
        var one = await Task.WhenAll(body.TrimEnd().Split('\n').Select(line => ModelServers.PostAsync(host.Port, "application/jsonlines", line + "\n", "text/csv")));
        Assert.Equal(expected, string.Concat(one.Select(r => r.BodyText)));
    }

    [Fact]
    public async Task ManyRecordsOfFewLengthsShareBatches()
    {
        await using var host = Start("tokens", new WorkerSettings { MaxBatchRows = 4, InferenceWorkers = 2, IntraOpThreads = 1 });
        var random = new Random(3);
        var records = Enumerable.Range(0, 200).Select(_ => Enumerable.Range(0, random.Next(1, 4) * 2).Select(_ => (long)random.Next(0, 1000)).ToArray()).ToArray();
        var body = string.Concat(records.Select(row => $"{{\"input_ids\": [{string.Join(",", row)}], \"attention_mask\": [{string.Join(",", row.Select(_ => 1))}]}}\n"));
        var response = await ModelServers.PostAsync(host.Port, "application/jsonlines", body, "text/csv");
        Assert.Equal(200, response.Status);
        Assert.Equal(string.Concat(records.Select(row => $"{row.Sum()},{row.Length}\n")), response.BodyText);
    }

    [Theory]
    [InlineData("{\"input_ids\": [1, 2, 3], \"attention_mask\": [1, 1]}\n", "share the axis 'sequence' but have 3 and 2")]
    [InlineData("{\"input_ids\": [[1, 2], [3]], \"attention_mask\": [1, 1]}\n", "not a tensor of its shape")]
    [InlineData("{\"input_ids\": 5, \"attention_mask\": [1]}\n", "send an array")]
    [InlineData("{\"input_ids\": [], \"attention_mask\": []}\n", "has no values")]
    [InlineData("{\"input_ids\": [1, 2.5], \"attention_mask\": [1, 1]}\n", "is not a int64")]
    public async Task ARecordWhoseSizesDoNotFitIsA400NamingIt(string line, string reason)
    {
        await using var host = Start("tokens");
        var response = await ModelServers.PostAsync(host.Port, "application/jsonlines", "{\"input_ids\": [1], \"attention_mask\": [1]}\n" + line);
        Assert.Equal(400, response.Status);
        using var error = JsonDocument.Parse(response.BodyText);
        Assert.Equal(1, error.RootElement.GetProperty("record").GetInt64());
        Assert.Contains(reason, error.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task AOneInputModelWithADynamicAxisTakesCsvRowsOfAnyLength()
    {
        // sequence_mean: x float [batch, sequence, 2] -> the mean over the sequence, [batch, 2].
        await using var host = Start("sequence_mean");
        var csv = await ModelServers.PostAsync(host.Port, "text/csv", "1,2,3,4\n10,20\n1,1,2,2,3,3\n", "text/csv");
        Assert.Equal(200, csv.Status);
        Assert.Equal("2,3\n10,20\n2,2\n", csv.BodyText);

        var nested = await ModelServers.PostAsync(host.Port, "application/jsonlines", "[[1,2],[3,4]]\n[1,2,3,4]\n", "text/csv");
        Assert.Equal("2,3\n2,3\n", nested.BodyText);

        var odd = await ModelServers.PostAsync(host.Port, "text/csv", "1,2,3\n");
        Assert.Equal(400, odd.Status);
        Assert.Contains("a multiple of 2", odd.BodyText);

        var framed = await ModelServers.PostAsync(host.Port, "application/x-recordio", FrameWriters.RecordIO(new byte[8]));
        Assert.Equal(400, framed.Status);
        Assert.Contains("dynamic dimensions", framed.BodyText);
    }

    [Theory]
    [InlineData("zipmap_int", 2)]
    [InlineData("zipmap_str", 2)]
    [InlineData("dataframe_str", 2)]
    [InlineData("fixed_batch4", 2)]
    [InlineData("tokens", 1)]
    [InlineData("sequence_mean", 2)]
    [InlineData("image_uint8", 3)] // JSON Lines, CSV and a JPEG: its input is an image input
    [InlineData("half", 2)]
    [InlineData("identity_types", 2)]
    [InlineData("identity_str", 2)]
    public async Task TheWarmUpRunsEveryExporterShape(string model, int bodies)
    {
        // Synthetic JSON Lines (and CSV where rows can feed the model) through decode, Run and every answer type.
        await using var host = Start(model);
        var pipeline = new InvocationPipeline(host.Engine!, host.Settings);
        Assert.Equal(bodies, pipeline.WarmUp(rounds: 1, rowsPerBody: 9, requestPath: false));
    }

    [Fact]
    public void TheRequestPathWarmUpFitsItsBudgetWhateverTheModelCosts()
    {
        // 1,050 calls: the linear model's microsecond rows take whole bodies of more than a slice; the
        // MLP's (16 µs a row, warm-up rounds on 2 cores) fewer; an image model's none, where a body of
        // 600 rows would have kept /ping at 503 for hours.
        Assert.Equal(600, InvocationPipeline.RequestPathRows(512, 1050, 1e-7));
        Assert.Equal(119, InvocationPipeline.RequestPathRows(512, 1050, 16e-6));
        Assert.Equal(0, InvocationPipeline.RequestPathRows(512, 1050, 0.01));
        foreach (var secondsPerRow in new[] { 1e-6, 1e-5, 1e-4, 1e-3 })
        {
            var rows = InvocationPipeline.RequestPathRows(512, 1050, secondsPerRow);
            Assert.True(rows * 1050 * secondsPerRow <= InvocationPipeline.RequestPathBudgetSeconds, $"{rows} rows at {secondsPerRow} s a row");
        }
    }

    [Fact]
    public async Task TheRequestPathWarmUpLeavesThePipelineAnsweringAsBefore()
    {
        // The server's warm-up also takes a real request's path 175 times (for the tiered JIT); the pipeline then answers as it did.
        await using var host = Start("zipmap_str");
        var pipeline = new InvocationPipeline(host.Engine!, host.Settings);
        Assert.Equal(2, pipeline.WarmUp(rounds: 1, rowsPerBody: 9, requestPath: true));
        var head = new Worker.Http.HttpRequestHead { Method = Worker.Http.HttpMethod.Post, Route = Worker.Http.Route.Invocations, ContentType = "text/csv", Accept = "application/jsonlines" };
        using var response = new Worker.Http.HttpResponse();
        await pipeline.InvokeAsync(head, new System.Buffers.ReadOnlySequence<byte>("1,2,3,4\n"u8.ToArray()), response, CancellationToken.None);
        Assert.Equal(200, response.StatusCode);
        var direct = await ModelServers.PostAsync(host.Port, "text/csv", "1,2,3,4\n", "application/jsonlines");
        Assert.Equal(direct.BodyText, System.Text.Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(response.Body.AsSequence())));
    }

    [Fact]
    public async Task ASequenceOfTensorsAnswersEachRecordsElementAsAnArray()
    {
        await using var host = Start("split_sequence");
        var lines = await ModelServers.PostAsync(host.Port, "text/csv", "1,2,3\n4.5,-5,6\n", "application/jsonlines");
        Assert.Equal(200, lines.Status);
        Assert.Equal("{\"parts\":[1,2,3]}\n{\"parts\":[4.5,-5,6]}\n", lines.BodyText);
        var csv = await ModelServers.PostAsync(host.Port, "application/json", "[[1,2,3],[0,0,0.25]]", "text/csv");
        Assert.Equal("1,2,3\n0,0,0.25\n", csv.BodyText);
    }

    [Fact]
    public async Task ATreeEnsembleBehindTf2OnnxNamesAnswersFloatAndBoolOutputs()
    {
        await using var host = Start("tree_tf2onnx");
        var csv = await ModelServers.PostAsync(host.Port, "text/csv", "0.2,9\n1,1\n1,3\n", "text/csv");
        Assert.Equal(200, csv.Status);
        Assert.Equal("1.5,true\n-1,false\n4,true\n", csv.BodyText);
        var json = await ModelServers.PostAsync(host.Port, "application/jsonlines", "{\"input_1:0\": [0.2, 9]}\n", "application/jsonlines");
        Assert.Equal("{\"dense/BiasAdd:0\":[1.5],\"positive:0\":[true]}\n", json.BodyText);
    }
}
