using System.Buffers;
using System.Net;
using Worker.Hosting;
using Worker.Http;

namespace Worker.Tests.Support;

public static class TestServers
{
    public static readonly MachineInfo TwoCoreMachine = new(2, 0, 24L * 1024 * 1024 * 1024);

    /// <summary>Starts the real server on an ephemeral loopback port.</summary>
    public static WorkerHost Start(WorkerSettings? settings = null, IInvocationHandler? invocations = null, bool ready = true, bool warmUp = false)
    {
        // No warm-up unless asked: hundreds of test servers start; the warm-up has tests of its own.
        var host = new WorkerHost((settings ?? new WorkerSettings()) with { Port = 0, WarmUp = warmUp }, JsonLog.Null, invocations, TwoCoreMachine);
        host.Start(IPAddress.Loopback);
        if (ready)
        {
            host.Readiness.SetReady("test model");
        }

        return host;
    }
}

/// <summary>
/// Stands where the record pipeline will: answers with the body it got, so the HTTP layer's body
/// handling (Content-Length, chunked, pipelining) is visible on the wire.
/// </summary>
public sealed class EchoHandler : IInvocationHandler
{
    public ValueTask InvokeAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = head.ContentType ?? "application/octet-stream";
        foreach (var segment in body)
        {
            response.Body.Write(segment.Span);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>Holds each request until released (or until the server's stopping token fires).</summary>
public sealed class GateHandler : IInvocationHandler
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Entered => _entered.Task;

    public void Release() => _release.TrySetResult();

    public async ValueTask InvokeAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        _entered.TrySetResult();
        await _release.Task.WaitAsync(cancellationToken);
        response.ContentType = "text/plain";
        response.Body.Write("released"u8);
    }
}

public sealed class ThrowingHandler : IInvocationHandler
{
    public ValueTask InvokeAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("handler bug");
}
