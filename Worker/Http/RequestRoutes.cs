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
    private volatile IMultiModelHandler? _multiModel;

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
            case Route.Models or Route.Model or Route.ModelInvoke:
                return HandleModelsAsync(head, body, response, cancellationToken);
            default:
                if (MultiModel is not null)
                {
                    response.SetError(404, "this worker is a multi-model endpoint: POST /models/{model_name}/invoke");
                    return ValueTask.CompletedTask;
                }

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
    public IStreamingInvocationHandler? StreamingHandlerFor(HttpRequestHead head)
    {
        if (head.Method != HttpMethod.Post)
        {
            return null;
        }

        if (head.Route == Route.ModelInvoke)
        {
            return MultiModel?.StreamingHandlerFor(head.ModelName!, head);
        }

        return head.Route == Route.Invocations && MultiModel is null
            && Readiness.Current.State == ReadinessState.Ready
            && Invocations is IStreamingInvocationHandler streaming && streaming.CanStream(head)
                ? streaming
                : null;
    }

    /// <summary>Set in multi-model mode: the /models routes, and /invocations refused (there is no single model).</summary>
    public IMultiModelHandler? MultiModel
    {
        get => _multiModel;
        set => _multiModel = value;
    }

    private ValueTask HandleModelsAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        if (MultiModel is not { } models)
        {
            response.SetError(404, $"no route {head.PathName}: the multi-model API is off (serve --multi-model, or SAGEMAKER_MULTI_MODEL=true)");
            return ValueTask.CompletedTask;
        }

        switch (head.Route)
        {
            case Route.Models when head.Method == HttpMethod.Post:
                return models.LoadAsync(body, response, cancellationToken);
            case Route.Models:
                models.List(head.NextPageToken, response);
                return ValueTask.CompletedTask;
            case Route.Model when head.Method == HttpMethod.Delete:
                return models.UnloadAsync(head.ModelName!, response, cancellationToken);
            case Route.Model:
                models.Get(head.ModelName!, response);
                return ValueTask.CompletedTask;
            default:
                return models.InvokeAsync(head.ModelName!, head, body, response, cancellationToken);
        }
    }

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
