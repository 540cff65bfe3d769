using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Worker.Http;

namespace Benchmarks.Http;

/// <summary>Cost of parsing the heads SageMaker sends: a ping, and an invocation with its usual headers.</summary>
[MemoryDiagnoser]
public class HttpRequestParserBenchmarks
{
    private readonly HttpRequestHead _head = new();
    private ReadOnlySequence<byte> _ping;
    private ReadOnlySequence<byte> _invocation;

    [GlobalSetup]
    public void Setup()
    {
        _ping = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("GET /ping HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n"));
        _invocation = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(
            "POST /invocations HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 6291456\r\n" +
            "Accept: text/csv\r\nContent-Type: text/csv\r\nX-Amzn-Sagemaker-Custom-Attributes: none\r\nAccept-Encoding: gzip\r\n\r\n"));
    }

    [Benchmark]
    public bool Ping()
    {
        var reader = new SequenceReader<byte>(_ping);
        return HttpRequestParser.TryParseHead(ref reader, _head);
    }

    [Benchmark]
    public bool Invocation()
    {
        var reader = new SequenceReader<byte>(_invocation);
        return HttpRequestParser.TryParseHead(ref reader, _head);
    }
}
