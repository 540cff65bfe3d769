using System.Buffers;
using System.Text;
using Worker.Http;
using Worker.Tests.Support;
using HttpMethod = Worker.Http.HttpMethod;

namespace Worker.Tests.Http;

public class HttpRequestParserTests
{
    public static TheoryData<string> ValidRequests() => new()
    {
        "GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "POST /invocations HTTP/1.1\r\nHost: a\r\nContent-Type: text/csv\r\nAccept: application/json\r\nContent-Length: 5\r\n\r\n",
        "POST /invocations?x=1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        "GET /execution-parameters HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET http://example/ping HTTP/1.1\r\nhost: a\r\nX-Long: " + new string('v', 3000) + "\r\n\r\n",
        "\r\nGET /other/path HTTP/1.1\r\nHost:a\r\nConnection: close\r\n\r\n",
        SageMakerHeaders,
        "POST /models HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n",
        "GET /models?next_page_token=m%2B2 HTTP/1.1\r\nHost: a\r\n\r\n",
        "DELETE /models/my%20model HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /models/m1/invoke HTTP/1.1\r\nHost: a\r\nX-Amzn-SageMaker-Target-Model: m1.tar.gz\r\nContent-Length: 0\r\n\r\n",
    };

    private const string SageMakerHeaders =
        "POST /invocations HTTP/1.1\r\nHost: a\r\nX-Amzn-SageMaker-Inference-Id: 7f3c\r\nx-amzn-sagemaker-custom-attributes: c000b4f9-df62,trace=1\r\n" +
        "X-Amzn-SageMaker-Target-Model: m1.tar.gz\r\nX-Amzn-SageMaker-Target-Variant: AllTraffic\r\nContent-Length: 0\r\n\r\n";

    [Fact]
    public void SageMakersRequestHeadersAreKeptForTheLog()
    {
        var head = new HttpRequestHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(SageMakerHeaders)));
        Assert.True(HttpRequestParser.TryParseHead(ref reader, head));
        Assert.Equal(("7f3c", "c000b4f9-df62,trace=1", "m1.tar.gz", "AllTraffic"), (head.InferenceId, head.CustomAttributes, head.TargetModel, head.TargetVariant));
        head.Reset();
        Assert.False(head.HasSageMakerHeaders);
    }

    [Theory]
    [MemberData(nameof(ValidRequests))]
    public void EveryPrefixNeedsMoreData(string request)
    {
        var bytes = Encoding.ASCII.GetBytes(request);
        for (var length = 0; length < bytes.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, length));
            Assert.False(HttpRequestParser.TryParseHead(ref reader, new HttpRequestHead()), $"prefix of {length} bytes parsed as complete");
        }
    }

    [Theory]
    [MemberData(nameof(ValidRequests))]
    public void OneByteSegmentsAndEverySplitParseLikeOneSegment(string request)
    {
        var bytes = Encoding.ASCII.GetBytes(request);
        var expected = Parse(new ReadOnlySequence<byte>(bytes));

        Assert.Equal(expected, Parse(Segments.OneBytePerSegment(bytes)));
        for (var at = 1; at < bytes.Length; at++)
        {
            Assert.Equal(expected, Parse(Segments.SplitAt(bytes, at)));
        }
    }

    [Fact]
    public void ReadsWhatTheConnectionNeeds()
    {
        var head = ParseHead("POST /invocations?a=b HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nACCEPT: application/jsonlines\r\nContent-Length: 42\r\nExpect: 100-Continue\r\n\r\nBODY");
        Assert.Equal(HttpMethod.Post, head.Method);
        Assert.Equal(Route.Invocations, head.Route);
        Assert.True(head.IsHttp11);
        Assert.Equal(42, head.ContentLength);
        Assert.Equal("text/csv", head.ContentType);
        Assert.Equal("application/jsonlines", head.Accept);
        Assert.True(head.ExpectContinue);
        Assert.True(head.KeepAlive);
        Assert.Equal(Encoding.ASCII.GetByteCount(
            "POST /invocations?a=b HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nACCEPT: application/jsonlines\r\nContent-Length: 42\r\nExpect: 100-Continue\r\n\r\n"), head.HeadLength);
    }

    [Theory]
    [InlineData("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", true)]
    [InlineData("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false)]
    [InlineData("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, Close\r\n\r\n", false)]
    [InlineData("GET /ping HTTP/1.0\r\n\r\n", false)]
    [InlineData("GET /ping HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true)]
    public void KeepAliveFollowsVersionAndConnectionHeader(string request, bool keepAlive) =>
        Assert.Equal(keepAlive, ParseHead(request).KeepAlive);

    [Theory]
    [InlineData("/ping", Route.Ping)]
    [InlineData("/ping?x", Route.Ping)]
    [InlineData("/invocations", Route.Invocations)]
    [InlineData("/execution-parameters", Route.ExecutionParameters)]
    [InlineData("http://host:8080/invocations", Route.Invocations)]
    [InlineData("/Ping", Route.NotFound)]
    [InlineData("/pings", Route.NotFound)]
    [InlineData("*", Route.NotFound)]
    public void RoutesByPath(string target, Route route) =>
        Assert.Equal(route, ParseHead($"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").Route);

    [Theory]
    [InlineData("/models", Route.Models, null, null)]
    [InlineData("/models/", Route.Models, null, null)]
    [InlineData("/models?next_page_token=abc%2Fd", Route.Models, null, "abc/d")]
    [InlineData("/models?a=1&next_page_token=m3", Route.Models, null, "m3")]
    [InlineData("/models/m1", Route.Model, "m1", null)]
    [InlineData("/models/my%20model", Route.Model, "my model", null)]
    [InlineData("/models/m1/invoke", Route.ModelInvoke, "m1", null)]
    [InlineData("/models/invoke", Route.Model, "invoke", null)]
    [InlineData("http://host/models/m1/invoke?x=1", Route.ModelInvoke, "m1", null)]
    [InlineData("/models/a/b", Route.NotFound, null, null)]
    [InlineData("/models/a%2Fb", Route.NotFound, null, null)]
    [InlineData("/models//invoke", Route.NotFound, null, null)]
    [InlineData("/modelsx", Route.NotFound, null, null)]
    [InlineData("/models/%", Route.Model, "%", null)] // a stray % stays itself, as Uri.UnescapeDataString leaves it
    public void MultiModelRoutesCarryTheNameAndThePageToken(string target, Route route, string? name, string? token)
    {
        var head = ParseHead($"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(route, head.Route);
        Assert.Equal(name, head.ModelName);
        Assert.Equal(token, head.NextPageToken);
    }

    [Theory]
    [InlineData("GET /ping HTTP/1.1\nHost: x\r\n\r\n", RequestRejectionReason.BareLineFeed, 400)]
    [InlineData("GET /ping HTTP/1.1\r\nHost: x\n\r\n", RequestRejectionReason.BareLineFeed, 400)]
    [InlineData("GET  /ping HTTP/1.1\r\nHost: x\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400)]
    [InlineData("GET /ping\r\nHost: x\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400)]
    [InlineData("G(T /ping HTTP/1.1\r\nHost: x\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400)]
    [InlineData("GET ping HTTP/1.1\r\nHost: x\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400)]
    [InlineData("GET /ping HTTQ/1.1\r\nHost: x\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400)]
    [InlineData("GET /ping HTTP/2.0\r\nHost: x\r\n\r\n", RequestRejectionReason.UnsupportedHttpVersion, 505)]
    [InlineData("GET /ping HTTP/1.1\r\nHost x\r\n\r\n", RequestRejectionReason.InvalidHeaderLine, 400)]
    [InlineData("GET /ping HTTP/1.1\r\nHost : x\r\n\r\n", RequestRejectionReason.InvalidHeaderLine, 400)]
    [InlineData("GET /ping HTTP/1.1\r\nHost: x\r\nX: a\u0001b\r\n\r\n", RequestRejectionReason.InvalidHeaderLine, 400)]
    [InlineData("GET /ping HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", RequestRejectionReason.HeaderFolding, 400)]
    [InlineData("GET /ping HTTP/1.1\r\n\r\n", RequestRejectionReason.MissingHost, 400)]
    [InlineData("GET /ping HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", RequestRejectionReason.InvalidHeaderLine, 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 12a\r\n\r\n", RequestRejectionReason.InvalidContentLength, 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", RequestRejectionReason.InvalidContentLength, 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 1234567890123456789\r\n\r\n", RequestRejectionReason.InvalidContentLength, 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", RequestRejectionReason.DuplicateContentLength, 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", RequestRejectionReason.ContentLengthWithTransferEncoding, 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", RequestRejectionReason.ContentLengthWithTransferEncoding, 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", RequestRejectionReason.UnsupportedTransferEncoding, 501)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", RequestRejectionReason.UnsupportedTransferEncoding, 501)]
    [InlineData("POST /invocations HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", RequestRejectionReason.ChunkedOnHttp10, 400)]
    [InlineData("POST /invocations HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", RequestRejectionReason.UnsupportedExpectation, 417)]
    [InlineData("\r\n\r\n\r\n\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400)]
    public void RejectsWithReasonAndStatus(string request, RequestRejectionReason reason, int status)
    {
        var bytes = Encoding.Latin1.GetBytes(request);
        foreach (var sequence in new[] { new ReadOnlySequence<byte>(bytes), Segments.OneBytePerSegment(bytes) })
        {
            var error = Assert.Throws<HttpRejectException>(() =>
            {
                var reader = new SequenceReader<byte>(sequence);
                HttpRequestParser.TryParseHead(ref reader, new HttpRequestHead());
            });
            Assert.Equal(reason, error.Reason);
            Assert.Equal(status, error.StatusCode);
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
    }

    private static HttpRequestHead ParseHead(string request)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(request)));
        var head = new HttpRequestHead();
        Assert.True(HttpRequestParser.TryParseHead(ref reader, head));
        return head;
    }

    private static string Parse(ReadOnlySequence<byte> sequence)
    {
        var reader = new SequenceReader<byte>(sequence);
        var head = new HttpRequestHead();
        Assert.True(HttpRequestParser.TryParseHead(ref reader, head));
        return $"{head.Method} {head.Route} {head.UnknownTarget} {head.IsHttp11} {head.ContentLength} {head.IsChunked} {head.KeepAlive} {head.ExpectContinue} {head.ContentType} {head.Accept} {head.InferenceId} {head.CustomAttributes} {head.TargetModel} {head.TargetVariant} {head.HeadLength} consumed={reader.Consumed}";
    }
}
