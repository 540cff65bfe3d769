using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Worker.Hosting;
using Worker.Tests.Support;

namespace Worker.Tests.Http;

public class ServerTests
{
    private const string Ping = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";

    private static string Post(string body, string contentType = "text/csv", string extra = "") =>
        $"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: {contentType}\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n{extra}\r\n{body}";

    [Fact]
    public async Task PingIs200WithEmptyBodyWhenReady()
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync(Ping);
        var response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Empty(response.Body);
        Assert.Equal("0", response.Header("Content-Length"));
    }

    [Fact]
    public async Task PingAndInvocationsAre503WithReasonUntilReady()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler(), ready: false);
        host.Readiness.SetFailed("no *.onnx file in /opt/ml/model");
        await using var client = await RawHttpClient.ConnectAsync(host.Port);

        await client.SendAsync(Ping);
        var ping = await client.ReadResponseAsync();
        Assert.Equal(503, ping.Status);
        using var json = JsonDocument.Parse(ping.Body);
        Assert.Equal("failed", json.RootElement.GetProperty("status").GetString());
        Assert.Contains("no *.onnx file", json.RootElement.GetProperty("error").GetString());

        await client.SendAsync(Post("1,2"));
        var invocation = await client.ReadResponseAsync();
        Assert.Equal(503, invocation.Status);
        Assert.Contains("not ready", invocation.BodyText);

        host.Readiness.SetReady("loaded");
        await client.SendAsync(Ping);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task APingWhileTheModelBecomesReadyNeverSaysFailed()
    {
        // The model goes from loading to ready again and again while pings arrive: every answer is 200
        // or 503 "loading" with a loading reason, never "failed" (it was, when a ping read the state twice).
        await using var host = TestServers.Start(invocations: new EchoHandler(), ready: false);
        using var stop = new CancellationTokenSource();
        var flipper = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                host.Readiness.SetLoading("model is loading");
                host.Readiness.SetReady("cpu");
            }
        });
        try
        {
            await using var client = await RawHttpClient.ConnectAsync(host.Port);
            for (var i = 0; i < 3000; i++)
            {
                await client.SendAsync(Ping);
                var ping = await client.ReadResponseAsync();
                if (ping.Status == 503)
                {
                    using var json = JsonDocument.Parse(ping.Body);
                    Assert.Equal("loading", json.RootElement.GetProperty("status").GetString());
                    Assert.Equal("model is loading", json.RootElement.GetProperty("error").GetString());
                }
                else
                {
                    Assert.Equal(200, ping.Status);
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await flipper;
        }
    }

    [Fact]
    public async Task ExecutionParametersDescribeTheMachine()
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("GET /execution-parameters HTTP/1.1\r\nHost: t\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Equal("application/json", response.Header("Content-Type"));
        using var json = JsonDocument.Parse(response.Body);
        Assert.Equal(host.ExecutionParameters.MaxConcurrentTransforms, json.RootElement.GetProperty("MaxConcurrentTransforms").GetInt32());
        Assert.Equal("MULTI_RECORD", json.RootElement.GetProperty("BatchStrategy").GetString());
        Assert.Equal(6, json.RootElement.GetProperty("MaxPayloadInMB").GetInt32());
    }

    [Fact]
    public async Task UnknownPathIs404AndTheConnectionStaysOpen()
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("GET /models HTTP/1.1\r\nHost: t\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(404, response.Status);
        Assert.Contains("/models", response.BodyText);

        await client.SendAsync(Ping);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Theory]
    [InlineData("POST /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", "GET, HEAD")]
    [InlineData("GET /invocations HTTP/1.1\r\nHost: t\r\n\r\n", "POST")]
    [InlineData("DELETE /execution-parameters HTTP/1.1\r\nHost: t\r\n\r\n", "GET, HEAD")]
    public async Task WrongMethodIs405WithAllow(string request, string allow)
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync(request);
        var response = await client.ReadResponseAsync();
        Assert.Equal(405, response.Status);
        Assert.Equal(allow, response.Header("Allow"));
        Assert.Contains("error", response.BodyText);
    }

    [Fact]
    public async Task WrongMethodWithABodyIsRefusedWithoutReadingIt()
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("PUT /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(405, response.Status);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task InvocationsWithoutARecordPipelineAre415()
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync(Post("1,2,3\n"));
        var response = await client.ReadResponseAsync();
        Assert.Equal(415, response.Status);
        using var json = JsonDocument.Parse(response.Body);
        Assert.Equal("Content-Type 'text/csv' is not supported", json.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task BodyOverTheLimitIs413BeforeItIsSent()
    {
        await using var host = TestServers.Start(new WorkerSettings { MaxPayloadInMB = 1 }, new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync($"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: {(1024 * 1024) + 1}\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(413, response.Status);
        Assert.Contains("SAGEMAKER_MAX_PAYLOAD_IN_MB", response.BodyText);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task BodyExactlyAtTheLimitIsAccepted()
    {
        await using var host = TestServers.Start(new WorkerSettings { MaxPayloadInMB = 1 }, new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        var body = new string('7', 1024 * 1024);
        await client.SendAsync(Post(body));
        var response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Equal(body, response.BodyText);
    }

    [Fact]
    public async Task LargeBodyFollowedByAPipelinedRequestAreBothAnswered()
    {
        // 300 KB is read straight from the socket into one buffer; the request after it must stay intact.
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        var large = new string('x', 300_000) + "END";
        await client.SendAsync(Post(large) + Post("small") + Ping);
        Assert.Equal(large, (await client.ReadResponseAsync()).BodyText);
        Assert.Equal("small", (await client.ReadResponseAsync()).BodyText);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task LargeBodyArrivingInPiecesIsReadWhole()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        var body = string.Concat(Enumerable.Range(0, 20_000).Select(i => $"{i % 10}"));
        var request = Encoding.ASCII.GetBytes(Post(body));
        for (var offset = 0; offset < request.Length; offset += 7001)
        {
            await client.SendAsync(request[offset..Math.Min(request.Length, offset + 7001)]);
            await Task.Delay(2);
        }

        Assert.Equal(body, (await client.ReadResponseAsync()).BodyText);
        await client.SendAsync(Ping);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task ClientVanishingMidLargeBodyLeavesTheServerServing()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using (var client = await RawHttpClient.ConnectAsync(host.Port))
        {
            await client.SendAsync($"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: 500000\r\n\r\n{new string('1', 100_000)}");
            client.ShutdownSend();
            var response = await client.ReadResponseAsync();
            Assert.Equal(400, response.Status);
            Assert.True(await client.IsClosedByServerAsync());
        }

        await using var next = await RawHttpClient.ConnectAsync(host.Port);
        await next.SendAsync(Ping);
        Assert.Equal(200, (await next.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task StalledLargeBodyIsCutAtTheTimeout()
    {
        var settings = new WorkerSettings { KeepAliveTimeout = TimeSpan.FromMilliseconds(300) };
        await using var host = TestServers.Start(settings, new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync($"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: 500000\r\n\r\n{new string('1', 100_000)}");
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, await WaitForNoConnectionsAsync(host));
    }

    private static async Task<int> WaitForNoConnectionsAsync(Worker.Hosting.WorkerHost host)
    {
        for (var i = 0; i < 100 && host.ActiveConnections > 0; i++)
        {
            await Task.Delay(50);
        }

        return host.ActiveConnections;
    }

    [Fact]
    public async Task ChunkedBodyPassingTheLimitIs413()
    {
        await using var host = TestServers.Start(new WorkerSettings { MaxPayloadInMB = 1 }, new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n");
        var chunk = $"{512 * 1024:x}\r\n{new string('1', 512 * 1024)}\r\n";
        await client.SendAsync(chunk + chunk);
        await client.SendAsync("1\r\n1\r\n0\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(413, response.Status);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task ZeroPayloadLimitMeansUnlimited()
    {
        await using var host = TestServers.Start(new WorkerSettings { MaxPayloadInMB = 0 }, new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        var body = new string('5', (7 * 1024 * 1024) + 3);
        await client.SendAsync(Post(body));
        var response = await client.ReadResponseAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(200, response.Status);
        Assert.Equal(body.Length, response.Body.Length);
    }

    [Fact]
    public async Task HeaderSectionOver32KiBIs431()
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: " + new string('a', 33 * 1024) + "\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(431, response.Status);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task HeaderSectionJustUnder32KiBIsAccepted()
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        const string prefix = "GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: ";
        await client.SendAsync(prefix + new string('a', (32 * 1024) - prefix.Length - 4) + "\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task ExpectContinueGets100ThenTheAnswer()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        var interim = await client.ReadResponseAsync();
        Assert.Equal(100, interim.Status);
        await client.SendAsync("1,2,3");
        var response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Equal("1,2,3", response.BodyText);
    }

    [Fact]
    public async Task ExpectContinueOverTheLimitGets413InsteadOf100()
    {
        await using var host = TestServers.Start(new WorkerSettings { MaxPayloadInMB = 1 }, new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(413, response.Status);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task ChunkedBodyReachesTheHandlerWhole()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n");
        await client.SendAsync("6\r\n1,2,3\n\r\n");
        await Task.Delay(20);
        await client.SendAsync("6;ext=1\r\n4,5,6\n\r\n0\r\nX-Trailer: t\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Equal("1,2,3\n4,5,6\n", response.BodyText);

        await client.SendAsync(Ping);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task PipelinedRequestsAreAnsweredInOrder()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync(Post("first") + Ping + "POST /invocations HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n"
            + "GET /execution-parameters HTTP/1.1\r\nHost: t\r\n\r\n" + Post("third"));
        Assert.Equal("first", (await client.ReadResponseAsync()).BodyText);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        Assert.Equal("second", (await client.ReadResponseAsync()).BodyText);
        Assert.Contains("MaxConcurrentTransforms", (await client.ReadResponseAsync()).BodyText);
        Assert.Equal("third", (await client.ReadResponseAsync()).BodyText);
    }

    [Fact]
    public async Task KeepAliveServesManyRequestsOnOneConnection()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        for (var i = 0; i < 200; i++)
        {
            await client.SendAsync(Post($"row {i}"));
            var response = await client.ReadResponseAsync();
            Assert.Equal($"row {i}", response.BodyText);
            Assert.Null(response.Header("Connection"));
        }
    }

    [Fact]
    public async Task BodyTrickledByteByByteIsReadWhole()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        foreach (var b in Encoding.ASCII.GetBytes(Post("1,2,3,4,5,6,7,8")))
        {
            await client.SendAsync([b]);
        }

        Assert.Equal("1,2,3,4,5,6,7,8", (await client.ReadResponseAsync()).BodyText);
    }

    [Fact]
    public async Task ConnectionCloseIsHonoured()
    {
        await using var host = TestServers.Start();
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Http10ClosesUnlessAskedToKeepAlive()
    {
        await using var host = TestServers.Start();
        await using (var client = await RawHttpClient.ConnectAsync(host.Port))
        {
            await client.SendAsync("GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            var kept = await client.ReadResponseAsync();
            Assert.Equal("keep-alive", kept.Header("Connection"));
            await client.SendAsync("GET /ping HTTP/1.0\r\n\r\n");
            Assert.Equal(200, (await client.ReadResponseAsync()).Status);
            Assert.True(await client.IsClosedByServerAsync());
        }
    }

    [Theory]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n", 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n", 400)]
    [InlineData("GET /ping HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400)]
    [InlineData("\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003\r\n\r\n", 400)]
    [InlineData("GET /ping HTTP/3.0\r\nHost: t\r\n\r\n", 505)]
    public async Task MalformedRequestsGetAJsonErrorAndTheConnectionCloses(string request, int status)
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using (var client = await RawHttpClient.ConnectAsync(host.Port))
        {
            await client.SendAsync(request);
            var response = await client.ReadResponseAsync();
            Assert.Equal(status, response.Status);
            Assert.Equal("application/json", response.Header("Content-Type"));
            using var json = JsonDocument.Parse(response.Body);
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("error").GetString()));
            Assert.True(await client.IsClosedByServerAsync());
        }

        // The server is unharmed.
        await using var next = await RawHttpClient.ConnectAsync(host.Port);
        await next.SendAsync(Ping);
        Assert.Equal(200, (await next.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task ClientVanishingMidBodyLeavesTheServerServing()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        await using (var client = await RawHttpClient.ConnectAsync(host.Port))
        {
            await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly some");
            client.ShutdownSend();
            var response = await client.ReadResponseAsync();
            Assert.Equal(400, response.Status);
        }

        await using var next = await RawHttpClient.ConnectAsync(host.Port);
        await next.SendAsync(Ping);
        Assert.Equal(200, (await next.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task TricklingHeadersPastTheTimeoutIsCut()
    {
        var settings = new WorkerSettings { RequestHeadersTimeout = TimeSpan.FromMilliseconds(400) };
        await using var host = TestServers.Start(settings);
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync("GET /ping HTTP/1.1\r\n");
        var closed = Task.Run(async () =>
        {
            // Keep dribbling one header byte every 50 ms: each arrives before a keep-alive timeout would fire.
            for (var i = 0; i < 100; i++)
            {
                try
                {
                    await client.SendAsync("X"u8.ToArray());
                }
                catch (SocketException)
                {
                    return true;
                }

                await Task.Delay(50);
            }

            return false;
        });

        var response = await client.ReadResponseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(408, response.Status);
        Assert.True(await client.IsClosedByServerAsync());
        await closed;
    }

    [Fact]
    public async Task IdleKeepAliveConnectionIsClosed()
    {
        var settings = new WorkerSettings { KeepAliveTimeout = TimeSpan.FromMilliseconds(300) };
        await using var host = TestServers.Start(settings);
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync(Ping);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        Assert.False(client.HasUnreadBytes, "an idle close sends nothing");
    }

    [Fact]
    public async Task HandlerFailureIs500AndTheConnectionLivesOn()
    {
        await using var host = TestServers.Start(invocations: new ThrowingHandler());
        await using var client = await RawHttpClient.ConnectAsync(host.Port);
        await client.SendAsync(Post("1"));
        var response = await client.ReadResponseAsync();
        Assert.Equal(500, response.Status);
        Assert.Contains("handler bug", response.BodyText);
        await client.SendAsync(Ping);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task PingIsAnsweredWhileInvocationsAreBusy()
    {
        var gate = new GateHandler();
        await using var host = TestServers.Start(invocations: gate);
        await using var busy = await RawHttpClient.ConnectAsync(host.Port);
        await busy.SendAsync(Post("1,2"));
        await gate.Entered;

        await using var pinger = await RawHttpClient.ConnectAsync(host.Port);
        await pinger.SendAsync(Ping);
        Assert.Equal(200, (await pinger.ReadResponseAsync()).Status);

        gate.Release();
        Assert.Equal("released", (await busy.ReadResponseAsync()).BodyText);
    }

    [Fact]
    public async Task GracefulStopFinishesInFlightRequestsAndRefusesNewOnes()
    {
        var gate = new GateHandler();
        var host = TestServers.Start(invocations: gate);
        var port = host.Port;
        await using var busy = await RawHttpClient.ConnectAsync(port);
        await using var idle = await RawHttpClient.ConnectAsync(port);
        await idle.SendAsync(Ping);
        await idle.ReadResponseAsync();

        await busy.SendAsync(Post("1,2"));
        await gate.Entered;
        var stop = host.StopAsync();

        Assert.True(await idle.IsClosedByServerAsync(), "idle keep-alive connections close at once");
        await Assert.ThrowsAnyAsync<SocketException>(async () => await RawHttpClient.ConnectAsync(port));
        Assert.False(stop.IsCompleted);

        gate.Release();
        var response = await busy.ReadResponseAsync();
        Assert.Equal("released", response.BodyText);
        Assert.Equal("close", response.Header("Connection"));
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, host.ActiveConnections);
    }

    [Fact]
    public async Task GracefulStopGivesUpOnARequestThatOutlivesTheTimeout()
    {
        var gate = new GateHandler();
        var host = TestServers.Start(new WorkerSettings { ShutdownTimeout = TimeSpan.FromMilliseconds(200) }, gate);
        await using var busy = await RawHttpClient.ConnectAsync(host.Port);
        await busy.SendAsync(Post("1,2"));
        await gate.Entered;

        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await busy.IsClosedByServerAsync());
        Assert.Equal(0, host.ActiveConnections);
    }

    [Fact]
    public async Task ManyConcurrentConnectionsAllGetTheirOwnAnswers()
    {
        await using var host = TestServers.Start(invocations: new EchoHandler());
        var tasks = Enumerable.Range(0, 64).Select(async i =>
        {
            await using var client = await RawHttpClient.ConnectAsync(host.Port);
            for (var j = 0; j < 10; j++)
            {
                await client.SendAsync(Post($"{i}:{j}"));
                Assert.Equal($"{i}:{j}", (await client.ReadResponseAsync()).BodyText);
            }
        });
        await Task.WhenAll(tasks);
    }

    [Fact]
    public async Task SageMakersRequestHeadersAreLoggedOnTheRequestLineAndNeverEchoed()
    {
        var output = new MemoryStream();
        var log = new JsonLog(output, LogLevel.Information);
        var host = new WorkerHost(new WorkerSettings { Port = 0, WarmUp = false }, log, new EchoHandler(), TestServers.TwoCoreMachine);
        host.Start(System.Net.IPAddress.Loopback);
        host.Readiness.SetReady("test model");
        string answer;
        await using (var client = await RawHttpClient.ConnectAsync(host.Port))
        {
            await client.SendAsync(Post("1,2\n", extra: "X-Amzn-SageMaker-Inference-Id: req-42\r\nX-Amzn-SageMaker-Custom-Attributes: tenant=a\r\nX-Amzn-SageMaker-Target-Variant: blue\r\n"));
            var response = await client.ReadResponseAsync();
            Assert.Equal(200, response.Status);
            answer = response.BodyText + string.Join("\n", response.Headers.Select(h => h.Key + ": " + h.Value));
        }

        await host.StopAsync();
        await log.DisposeAsync();
        var line = Encoding.UTF8.GetString(output.ToArray()).Split('\n').Single(l => l.Contains("\"request\"", StringComparison.Ordinal));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("req-42", json.RootElement.GetProperty("inference_id").GetString());
        Assert.Equal("tenant=a", json.RootElement.GetProperty("custom_attributes").GetString());
        Assert.Equal("blue", json.RootElement.GetProperty("target_variant").GetString());
        Assert.DoesNotContain("req-42", answer);
        Assert.DoesNotContain("tenant=a", answer);
    }
}
