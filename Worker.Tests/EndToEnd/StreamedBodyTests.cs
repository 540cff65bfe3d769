using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Worker.Hosting;
using Worker.Tests.Support;

namespace Worker.Tests.EndToEnd;

/// <summary>
/// Real-time and async inference: with SAGEMAKER_BATCH unset, bodies up to 1 GiB, and a large body
/// decoded as it arrives. The oracle is the same body answered whole under a batch job's settings.
/// </summary>
public class StreamedBodyTests
{
    /// <summary>Rows as pandas writes float64: up to 17 significant digits.</summary>
    private static string PandasCsv(int rows, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder(rows * 80);
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < 4; j++)
            {
                text.Append(j == 0 ? "" : ",").Append(((random.NextDouble() * 20) - 10).ToString("R", CultureInfo.InvariantCulture));
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The batch-job server: the whole body buffered, then decoded (the path the streamed one must agree with).</summary>
    private static WorkerHost BufferingServer() => ModelServers.Start("linear", new WorkerSettings { IsBatchJob = true, MaxPayloadInMB = 100 });

    private static WorkerHost RealTimeServer() => ModelServers.Start("linear", new WorkerSettings());

    /// <summary>Sends the head, then the body in uneven pieces with pauses, so the server sees it arrive in many reads.</summary>
    private static async Task<RawResponse> PostInPiecesAsync(RawHttpClient client, string contentType, byte[] body, string? accept = null)
    {
        await client.SendAsync($"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: {contentType}\r\n{(accept is null ? "" : $"Accept: {accept}\r\n")}Content-Length: {body.Length}\r\n\r\n");
        var random = new Random(7);
        for (var at = 0; at < body.Length;)
        {
            var size = Math.Min(body.Length - at, random.Next(1, 3 * 1024 * 1024));
            await client.SendAsync(body[at..(at + size)]);
            at += size;
            if (random.Next(4) == 0)
            {
                await Task.Delay(5);
            }
        }

        return await client.ReadResponseAsync(TimeSpan.FromSeconds(120));
    }

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/jsonlines")]
    [InlineData("application/json")]
    public async Task ALargeCsvBodyStreamedGivesTheAnswersOfTheWholeBody(string accept)
    {
        var body = Encoding.ASCII.GetBytes(PandasCsv(260_000, seed: 1)); // about 20 MB: several pieces
        Assert.True(body.Length > 16 * 1024 * 1024);
        await using var buffering = BufferingServer();
        var expected = await ModelServers.PostAsync(buffering.Port, "text/csv", body, accept);
        Assert.Equal(200, expected.Status);

        await using var streaming = RealTimeServer();
        await using var client = await RawHttpClient.ConnectAsync(streaming.Port);
        var streamed = await PostInPiecesAsync(client, "text/csv", body, accept);
        Assert.Equal(200, streamed.Status);
        Assert.Equal(expected.Header("content-type"), streamed.Header("content-type"));
        Assert.Equal(expected.BodyText, streamed.BodyText);
        if (accept == "application/json")
        {
            using var json = JsonDocument.Parse(streamed.Body);
            Assert.Equal(260_000, json.RootElement.GetProperty("predictions").GetArrayLength());
        }

        // The connection carries on with the next request.
        var next = await PostInPiecesAsync(client, "text/csv", "1,2,3,4\n"u8.ToArray());
        Assert.Equal("6.1,6.8,2.55\n", next.BodyText);
    }

    [Theory]
    [InlineData("application/jsonlines")]
    [InlineData("application/x-tfrecord")]
    [InlineData("application/x-recordio-protobuf")]
    public async Task OtherSplittableTypesStreamToTheSameAnswers(string contentType)
    {
        var random = new Random(3);
        var rows = Enumerable.Range(0, 250_000).Select(_ => Enumerable.Range(0, 4).Select(_ => (float)((random.NextDouble() * 20) - 10)).ToArray()).ToArray();
        var body = contentType == "application/jsonlines"
            ? Encoding.ASCII.GetBytes(string.Concat(rows.Select(r => "[" + string.Join(',', r.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]\n")))
            : FramedInvocationTests.Frame(contentType, rows.Select(r => FramedInvocationTests.Payload(contentType, r)).ToArray());
        Assert.True(body.Length > 8 * 1024 * 1024, $"{body.Length} bytes");

        await using var buffering = BufferingServer();
        var expected = await ModelServers.PostAsync(buffering.Port, contentType, body, "text/csv");
        Assert.Equal(200, expected.Status);
        await using var streaming = RealTimeServer();
        await using var client = await RawHttpClient.ConnectAsync(streaming.Port);
        var streamed = await PostInPiecesAsync(client, contentType, body, "text/csv");
        Assert.Equal(200, streamed.Status);
        Assert.Equal(expected.BodyText, streamed.BodyText);
    }

    [Fact]
    public async Task ABadRecordDeepInAStreamedBodyIsA400NamingItsIndexAndOffset()
    {
        var text = PandasCsv(200_000, seed: 2);
        var lines = text.Split('\n');
        const int bad = 150_123;
        lines[bad] = lines[bad].Replace(",", ",x", StringComparison.Ordinal);
        var body = Encoding.ASCII.GetBytes(string.Join('\n', lines));
        var offset = lines.Take(bad).Sum(l => l.Length + 1);

        await using var streaming = RealTimeServer();
        await using var client = await RawHttpClient.ConnectAsync(streaming.Port);
        var response = await PostInPiecesAsync(client, "text/csv", body);
        Assert.Equal(400, response.Status);
        using var json = JsonDocument.Parse(response.Body);
        Assert.Equal(bad, json.RootElement.GetProperty("record").GetInt64());
        Assert.Equal(offset, json.RootElement.GetProperty("offset").GetInt64());
        Assert.StartsWith($"record {bad}: value 1", json.RootElement.GetProperty("error").GetString());

        // The rest of the body was read and dropped: the connection is still in step.
        var next = await PostInPiecesAsync(client, "text/csv", "1,2,3,4\n"u8.ToArray());
        Assert.Equal(200, next.Status);
    }

    [Fact]
    public async Task AFailedRunDeepInAStreamedBodyIsA500AndTheWorkerServesOn()
    {
        // The gather model looks each record up in a 4-row table: index 7 fails its Run. The body is
        // decoded in pieces whose answers are formatted on other threads; the failing piece's 500 must
        // come back once, after the pieces before it, and leave the connection and the worker in step.
        var records = Enumerable.Range(0, 900_000).Select(i => (i % 4).ToString(CultureInfo.InvariantCulture)).ToArray();
        records[812_345] = "7";
        var body = Encoding.ASCII.GetBytes(string.Join('\n', records) + "\n");
        Assert.True(body.Length > 1024 * 1024);

        await using var streaming = ModelServers.Start("gather", new WorkerSettings());
        await using var client = await RawHttpClient.ConnectAsync(streaming.Port);
        var response = await PostInPiecesAsync(client, "text/csv", body);
        Assert.Equal(500, response.Status);
        using var json = JsonDocument.Parse(response.Body);
        Assert.StartsWith("inference failed:", json.RootElement.GetProperty("error").GetString());

        var next = await PostInPiecesAsync(client, "text/csv", "0\n2\n"u8.ToArray());
        Assert.Equal(200, next.Status);
        Assert.Equal("10\n30\n", next.BodyText);
    }

    [Fact]
    public async Task ATruncatedFrameAtTheEndOfAStreamedBodyIsA400()
    {
        var rows = Enumerable.Range(0, 150_000).Select(i => new float[] { i, 1, 2, 3 }).ToArray();
        var body = FrameWriters.TfRecord(rows.Select(r => FramedInvocationTests.Payload("application/x-tfrecord", r)).ToArray());
        await using var streaming = RealTimeServer();
        await using var client = await RawHttpClient.ConnectAsync(streaming.Port);
        var response = await PostInPiecesAsync(client, "application/x-tfrecord", body[..^5]);
        Assert.Equal(400, response.Status);
        Assert.Contains("truncated", response.BodyText);
        Assert.Contains("record 149999", response.BodyText);
    }

    [Fact]
    public async Task AClientThatStopsSendingMidBodyLeavesTheServerServing()
    {
        await using var streaming = RealTimeServer();
        await using (var client = await RawHttpClient.ConnectAsync(streaming.Port))
        {
            await client.SendAsync($"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: {64 * 1024 * 1024}\r\n\r\n");
            await client.SendAsync(Encoding.ASCII.GetBytes(PandasCsv(200_000, seed: 4)));
            client.ShutdownSend();
            var response = await client.ReadResponseAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(400, response.Status);
            Assert.Contains("closed before the body was complete", response.BodyText);
        }

        var after = await ModelServers.PostAsync(streaming.Port, "text/csv", "1,2,3,4\n");
        Assert.Equal(200, after.Status);
    }

    /// <summary>The body in chunks of uneven sizes, sent with pauses: the server dechunks it as it arrives.</summary>
    private static async Task<RawResponse> PostChunkedAsync(RawHttpClient client, string contentType, byte[] body, string? accept = null, string? damage = null)
    {
        await client.SendAsync($"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: {contentType}\r\n{(accept is null ? "" : $"Accept: {accept}\r\n")}Transfer-Encoding: chunked\r\n\r\n");
        var random = new Random(9);
        for (var at = 0; at < body.Length;)
        {
            var size = Math.Min(body.Length - at, random.Next(1, 2 * 1024 * 1024));
            await client.SendAsync([.. Encoding.ASCII.GetBytes($"{size:x}\r\n"), .. body.AsSpan(at, size), .. "\r\n"u8]);
            at += size;
            if (damage is not null && at > body.Length / 2)
            {
                await client.SendAsync(damage);
                return await client.ReadResponseAsync(TimeSpan.FromSeconds(120));
            }

            if (random.Next(4) == 0)
            {
                await Task.Delay(5);
            }
        }

        await client.SendAsync("0\r\n\r\n");
        return await client.ReadResponseAsync(TimeSpan.FromSeconds(120));
    }

    [Theory]
    [InlineData("text/csv", "text/csv")]
    [InlineData("text/csv", "application/json")]
    [InlineData("application/jsonlines", "application/jsonlines")]
    public async Task AChunkedBodyIsDecodedAsItArrivesToTheAnswersOfTheWholeBody(string contentType, string accept)
    {
        var csv = PandasCsv(260_000, seed: 12);
        var body = Encoding.ASCII.GetBytes(contentType == "text/csv" ? csv : string.Concat(csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => "[" + l + "]\n")));
        await using var buffering = BufferingServer();
        var expected = await ModelServers.PostAsync(buffering.Port, contentType, body, accept);
        Assert.Equal(200, expected.Status);

        // A batch job with no payload limit (SageMaker then sends each file chunked), and a real-time server.
        foreach (var settings in new[] { new WorkerSettings { IsBatchJob = true, MaxPayloadInMB = 0 }, new WorkerSettings() })
        {
            await using var streaming = ModelServers.Start("linear", settings);
            await using var client = await RawHttpClient.ConnectAsync(streaming.Port);
            var streamed = await PostChunkedAsync(client, contentType, body, accept);
            Assert.Equal(200, streamed.Status);
            Assert.Equal(expected.BodyText, streamed.BodyText);

            // The connection carries on.
            var next = await PostChunkedAsync(client, "text/csv", "1,2,3,4\n"u8.ToArray());
            Assert.Equal("6.1,6.8,2.55\n", next.BodyText);
        }
    }

    [Fact]
    public async Task ABadRecordInAChunkedBodyIsA400AndTheRestOfTheBodyIsDropped()
    {
        var lines = PandasCsv(200_000, seed: 13).Split('\n');
        const int bad = 123_456;
        lines[bad] = "1,2,three,4";
        var body = Encoding.ASCII.GetBytes(string.Join('\n', lines));
        var offset = lines.Take(bad).Sum(l => l.Length + 1);

        await using var streaming = ModelServers.Start("linear", new WorkerSettings { IsBatchJob = true, MaxPayloadInMB = 0 });
        await using var client = await RawHttpClient.ConnectAsync(streaming.Port);
        var response = await PostChunkedAsync(client, "text/csv", body);
        Assert.Equal(400, response.Status);
        using (var json = JsonDocument.Parse(response.Body))
        {
            Assert.Equal(bad, json.RootElement.GetProperty("record").GetInt64());
            Assert.Equal(offset, json.RootElement.GetProperty("offset").GetInt64());
        }

        Assert.Equal(200, (await PostChunkedAsync(client, "text/csv", "1,2,3,4\n"u8.ToArray())).Status);
    }

    [Fact]
    public async Task AChunkedBodyPastTheLimitOrWithBrokenFramingStopsItsHandlerAndIsRefused()
    {
        var body = Encoding.ASCII.GetBytes(PandasCsv(100_000, seed: 14)); // ~7 MB
        await using var limited = ModelServers.Start("linear", new WorkerSettings { IsBatchJob = true, MaxPayloadInMB = 2 });
        await using (var client = await RawHttpClient.ConnectAsync(limited.Port))
        {
            // Just past the limit, then nothing more: what a client that is refused has sent.
            await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (var at = 0; at <= 2 * 1024 * 1024; at += 256 * 1024)
            {
                await client.SendAsync([.. Encoding.ASCII.GetBytes($"{256 * 1024:x}\r\n"), .. body.AsSpan(at, 256 * 1024), .. "\r\n"u8]);
            }

            var tooLarge = await client.ReadResponseAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(413, tooLarge.Status);
            Assert.True(await client.IsClosedByServerAsync());
        }

        await using (var client = await RawHttpClient.ConnectAsync(limited.Port))
        {
            var broken = await PostChunkedAsync(client, "text/csv", body[..(1024 * 1024)], damage: "zz\r\n");
            Assert.Equal(400, broken.Status);
            Assert.True(await client.IsClosedByServerAsync());
        }

        Assert.Equal("6.1,6.8,2.55\n", (await ModelServers.PostAsync(limited.Port, "text/csv", "1,2,3,4\n")).BodyText);
    }

    [Fact]
    public async Task AHalfGigabyteCsvBodyIsAnsweredInLessThanOneAndAHalfTimesItsSizeOfMemory()
    {
        // The real program with SAGEMAKER_BATCH unset, as a real-time or async endpoint starts it.
        using var worker = WorkerProcess.Start(["serve", "--port", "0", "--model-dir", Models.Directory("linear")]);
        try
        {
            var port = await WorkerProcess.ReadListeningPortAsync(worker);
            _ = worker.StandardOutput.ReadToEndAsync();
            await using (var ping = await RawHttpClient.ConnectAsync(port))
            {
                Assert.Equal(200, await WorkerProcess.WaitUntilReadyAsync(ping));
            }

            // 500 MB of pandas-style rows, written to the socket as they are made (the test holds 2 MB).
            var block = Encoding.ASCII.GetBytes(PandasCsv(25_000, seed: 5));
            var blocks = (int)(500_000_000L / block.Length) + 1;
            var length = (long)block.Length * blocks;
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, port);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: {length}\r\n\r\n"));
            for (var i = 0; i < blocks; i++)
            {
                await stream.WriteAsync(block);
            }

            // Count the answer's lines as it arrives, without keeping it.
            using var reader = new StreamReader(stream, Encoding.ASCII);
            var status = await reader.ReadLineAsync();
            Assert.Equal("HTTP/1.1 200 OK", status);
            long contentLength = 0;
            while (await reader.ReadLineAsync() is { Length: > 0 } header)
            {
                if (header.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                {
                    contentLength = long.Parse(header[15..].Trim(), CultureInfo.InvariantCulture);
                }
            }

            var buffer = new char[1 << 16];
            long read = 0;
            long lines = 0;
            while (read < contentLength)
            {
                var n = await reader.ReadAsync(buffer);
                Assert.True(n > 0, "the answer ended early");
                read += n;
                lines += buffer.AsSpan(0, n).Count('\n');
            }

            Assert.Equal(25_000L * blocks, lines);

            var peak = PeakResidentBytes(worker.Id);
            Assert.True(peak <= length * 3 / 2, $"peak RSS {peak >> 20} MB for a {length >> 20} MB body");
        }
        finally
        {
            worker.Kill();
        }
    }

    private static long PeakResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }
}
