using System.Buffers;

namespace Worker.Http;

/// <summary>
/// What <c>POST /invocations</c> hands a request to. The body is only valid until the returned task
/// completes: the connection's buffer is released right after.
/// </summary>
public interface IInvocationHandler
{
    ValueTask InvokeAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken);
}

/// <summary>
/// A handler that can also decode a body while it arrives. The connection asks <see cref="CanStream"/>
/// from the head alone, for bodies too large to want in memory whole.
/// </summary>
public interface IStreamingInvocationHandler : IInvocationHandler
{
    bool CanStream(HttpRequestHead head);

    ValueTask InvokeStreamingAsync(HttpRequestHead head, RequestBodyReader body, HttpResponse response, CancellationToken cancellationToken);
}

/// <summary>The multi-model endpoint routes (<c>/models</c>...), attached in multi-model mode.</summary>
public interface IMultiModelHandler
{
    ValueTask LoadAsync(ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken);

    void List(string? nextPageToken, HttpResponse response);

    void Get(string name, HttpResponse response);

    ValueTask UnloadAsync(string name, HttpResponse response, CancellationToken cancellationToken);

    ValueTask InvokeAsync(string name, HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken);

    IStreamingInvocationHandler? StreamingHandlerFor(string name, HttpRequestHead head);
}

/// <summary>The handler before any record pipeline is attached: every Content-Type is unsupported.</summary>
public sealed class UnsupportedMediaTypeHandler : IInvocationHandler
{
    public ValueTask InvokeAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        response.SetError(415, $"Content-Type '{head.ContentType ?? "(none)"}' is not supported");
        return ValueTask.CompletedTask;
    }
}
