using System.Buffers;
using Worker.Hosting;

namespace Worker.Http;

/// <summary>
/// The three routes of SageMaker's container contract. /ping and /execution-parameters are answered
/// on the connection's own thread from state held in memory: they never wait for inference.
/// </summary>
public sealed class RequestRoutes(ModelReadiness readiness, ExecutionParameters executionParameters, IInvocationHandler invocations)
{
    private volatile IInvocationHandler _invocations = invocations;

    public ModelReadiness Readiness { get; } = readiness;
    public ExecutionParameters ExecutionParameters { get; } = executionParameters;

    /// <summary>Replaced once the model has loaded; read by every request.</summary>
    public IInvocationHandler Invocations
    {
        get => _invocations;
        set => _invocations = value;
    }

    public ValueTask HandleAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        if (RouteTable.Check(head, out var allow) is var status and not 0)
        {
            RouteTable.SetRouteError(response, head, status, allow);
            return ValueTask.CompletedTask;
        }

        switch (head.Route)
        {
            case Route.Ping:
                WritePing(response);
                return ValueTask.CompletedTask;
            case Route.ExecutionParameters:
                WriteExecutionParameters(response);
                return ValueTask.CompletedTask;
            default:
                if (Readiness.Current is { State: not ReadinessState.Ready } notReady)
                {
                    response.SetError(503, "model is not ready: " + notReady.Reason);
                    return ValueTask.CompletedTask;
                }

                return Invocations.InvokeAsync(head, body, response, cancellationToken);
        }
    }

    /// <summary>
    /// The handler to take this request's body as it arrives, or null: an invocation, the model
    /// ready, and a handler that decodes this Content-Type as it comes.
    /// </summary>
    public IStreamingInvocationHandler? StreamingHandlerFor(HttpRequestHead head) =>
        head.Route == Route.Invocations && head.Method == HttpMethod.Post
        && Readiness.Current.State == ReadinessState.Ready
        && Invocations is IStreamingInvocationHandler streaming && streaming.CanStream(head)
            ? streaming
            : null;

    private void WritePing(HttpResponse response)
    {
        var readiness = Readiness.Current; // once: the state may change while this answer is written
        if (readiness.State == ReadinessState.Ready)
        {
            response.StatusCode = 200;
            return;
        }

        var json = response.StartJson(503);
        json.WriteStartObject();
        json.WriteString("status"u8, readiness.State == ReadinessState.Loading ? "loading" : "failed");
        json.WriteString("error"u8, readiness.Reason);
        json.WriteEndObject();
        json.Flush();
    }

    private void WriteExecutionParameters(HttpResponse response)
    {
        var json = response.StartJson(200);
        json.WriteStartObject();
        json.WriteNumber("MaxConcurrentTransforms"u8, ExecutionParameters.MaxConcurrentTransforms);
        json.WriteString("BatchStrategy"u8, ExecutionParameters.BatchStrategy);
        json.WriteNumber("MaxPayloadInMB"u8, ExecutionParameters.MaxPayloadInMB);
        json.WriteEndObject();
        json.Flush();
    }
}
