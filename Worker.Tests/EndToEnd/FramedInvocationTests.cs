using System.Runtime.InteropServices;
using System.Text.Json;
using Google.Protobuf;
using Worker.Hosting;
using Worker.Tests.Records;
using Worker.Tests.Support;

namespace Worker.Tests.EndToEnd;

/// <summary>TFRecord, RecordIO-protobuf and raw RecordIO through /invocations into the real linear model.</summary>
public class FramedInvocationTests
{
    private static readonly float[][] Rows = [[1, 2, 3, 4], [-5, 0.5f, 6, 7], [0, 0, 0, 1]];

    public static TheoryData<string, string?> FramedTypesAndAccepts()
    {
        var data = new TheoryData<string, string?>();
        foreach (var contentType in new[] { "application/x-tfrecord", "application/x-recordio-protobuf", "application/x-recordio" })
        {
            foreach (var accept in new[] { null, "text/csv", "application/jsonlines", "application/json" })
            {
                data.Add(contentType, accept);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FramedTypesAndAccepts))]
    public async Task EveryFramedTypeAnswersInEveryAcceptType(string contentType, string? accept)
    {
        await using var host = ModelServers.Start("linear");
        var response = await ModelServers.PostAsync(host.Port, contentType, Frame(contentType, Rows.Select(r => Payload(contentType, r)).ToArray()), accept);
        Assert.Equal(200, response.Status);
        var answerType = accept ?? "application/jsonlines";
        Assert.Equal(answerType, response.Header("Content-Type"));
        var answers = InvocationTests.ParseAnswers(answerType, response.BodyText, "Y");
        Assert.Equal(Rows.Length, answers.Count);
        for (var r = 0; r < Rows.Length; r++)
        {
            Assert.Equal(Models.Linear(Rows[r]), answers[r], new Inference.ToleranceComparer(1e-5f));
        }
    }

    [Theory]
    [InlineData("application/x-tfrecord")]
    [InlineData("application/x-recordio-protobuf")]
    [InlineData("application/x-recordio")]
    public async Task SingleRecordTakesTheBarePayloadOrOneFrame(string contentType)
    {
        await using var host = ModelServers.Start("linear", new WorkerSettings { BatchStrategy = BatchStrategy.SingleRecord });
        var payload = Payload(contentType, Rows[1]);
        var expected = Models.Linear(Rows[1]);

        var bare = await ModelServers.PostAsync(host.Port, contentType, payload, "text/csv");
        Assert.Equal(200, bare.Status);
        Assert.Equal(expected, InvocationTests.ParseAnswers("text/csv", bare.BodyText, "Y").Single(), new Inference.ToleranceComparer(1e-5f));

        var framed = await ModelServers.PostAsync(host.Port, contentType, Frame(contentType, [payload]), "text/csv");
        Assert.Equal(200, framed.Status);
        Assert.Equal(expected, InvocationTests.ParseAnswers("text/csv", framed.BodyText, "Y").Single(), new Inference.ToleranceComparer(1e-5f));

        var two = await ModelServers.PostAsync(host.Port, contentType, Frame(contentType, [payload, payload]), "text/csv");
        Assert.Equal(400, two.Status);
        Assert.Contains("SINGLE_RECORD", two.BodyText);
    }

    [Fact]
    public async Task CrcMismatchIs400NamingRecordAndOffset()
    {
        await using var host = ModelServers.Start("linear");
        var records = Rows.Select(r => Payload("application/x-tfrecord", r)).ToArray();
        var body = FrameWriters.TfRecord(records);
        var secondStart = 12 + records[0].Length + 4;
        body[secondStart + 12 + 3] ^= 0x40;
        var response = await ModelServers.PostAsync(host.Port, "application/x-tfrecord", body);
        Assert.Equal(400, response.Status);
        using var json = JsonDocument.Parse(response.Body);
        Assert.Equal(1, json.RootElement.GetProperty("record").GetInt64());
        Assert.Equal(secondStart, json.RootElement.GetProperty("offset").GetInt64());
        Assert.Contains("CRC mismatch", json.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task TruncatedFrameIs400()
    {
        await using var host = ModelServers.Start("linear");
        var body = FrameWriters.RecordIO(Rows.Select(r => Payload("application/x-recordio-protobuf", r)).ToArray());
        var response = await ModelServers.PostAsync(host.Port, "application/x-recordio-protobuf", body[..^6]);
        Assert.Equal(400, response.Status);
        Assert.Contains("truncated", response.BodyText);
    }

    internal static byte[] Payload(string contentType, float[] row) => contentType switch
    {
        "application/x-tfrecord" => ProtoRecordDecoderTests.ExampleOf(("X", ProtoRecordDecoderTests.Floats(row))).ToByteArray(),
        "application/x-recordio-protobuf" => ProtoRecordDecoderTests.DenseRecord("values", row).ToByteArray(),
        _ => MemoryMarshal.AsBytes(row.AsSpan()).ToArray(),
    };

    internal static byte[] Frame(string contentType, byte[][] payloads) =>
        contentType == "application/x-tfrecord" ? FrameWriters.TfRecord(payloads) : FrameWriters.RecordIO(payloads);
}
