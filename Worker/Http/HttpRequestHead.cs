namespace Worker.Http;

public enum HttpMethod : byte
{
    Other,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
}

/// <summary>The routes the worker answers; anything else is <see cref="NotFound"/>.</summary>
public enum Route : byte
{
    NotFound,
    Ping,
    Invocations,
    ExecutionParameters,

    /// <summary>Multi-model endpoints: <c>/models</c> (list, load).</summary>
    Models,

    /// <summary><c>/models/{name}</c> (get, unload).</summary>
    Model,

    /// <summary><c>/models/{name}/invoke</c>.</summary>
    ModelInvoke,
}

/// <summary>
/// What the connection needs to know of one request's head. One instance per connection, reset per
/// request, so parsing allocates nothing except the rare header value kept as a string.
/// </summary>
public sealed class HttpRequestHead
{
    public HttpMethod Method { get; set; }
    public Route Route { get; set; }

    /// <summary>The request target as sent, kept only for logs of unknown routes; null for known ones.</summary>
    public string? UnknownTarget { get; set; }

    /// <summary>The percent-decoded <c>{name}</c> of a <c>/models/{name}</c> route.</summary>
    public string? ModelName { get; set; }

    /// <summary>The <c>next_page_token</c> query parameter of <c>GET /models</c>, decoded.</summary>
    public string? NextPageToken { get; set; }

    public bool IsHttp11 { get; set; }

    /// <summary>-1 when absent.</summary>
    public long ContentLength { get; set; } = -1;

    public bool IsChunked { get; set; }
    public bool HasTransferEncoding { get; set; }
    public bool ConnectionClose { get; set; }
    public bool ConnectionKeepAlive { get; set; }
    public bool ExpectContinue { get; set; }
    public bool HasHost { get; set; }
    public string? ContentType { get; set; }
    public string? Accept { get; set; }

    /// <summary>SageMaker's X-Amzn-SageMaker-Inference-Id: logged on the request's line, never echoed.</summary>
    public string? InferenceId { get; set; }

    /// <summary>X-Amzn-SageMaker-Custom-Attributes (the caller's opaque string): logged, never echoed.</summary>
    public string? CustomAttributes { get; set; }

    /// <summary>X-Amzn-SageMaker-Target-Model (multi-model endpoints): logged.</summary>
    public string? TargetModel { get; set; }

    /// <summary>X-Amzn-SageMaker-Target-Variant: logged.</summary>
    public string? TargetVariant { get; set; }

    /// <summary>Any of SageMaker's request headers arrived.</summary>
    public bool HasSageMakerHeaders => InferenceId is not null || CustomAttributes is not null || TargetModel is not null || TargetVariant is not null;

    /// <summary>Bytes of the request line and headers, including the blank line.</summary>
    public int HeadLength { get; set; }

    public bool HasBody => IsChunked || ContentLength > 0;

    /// <summary>HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked to keep it.</summary>
    public bool KeepAlive => IsHttp11 ? !ConnectionClose : ConnectionKeepAlive && !ConnectionClose;

    public string MethodName => Method switch
    {
        HttpMethod.Get => "GET",
        HttpMethod.Head => "HEAD",
        HttpMethod.Post => "POST",
        HttpMethod.Put => "PUT",
        HttpMethod.Delete => "DELETE",
        HttpMethod.Options => "OPTIONS",
        HttpMethod.Patch => "PATCH",
        _ => "OTHER",
    };

    public string PathName => Route switch
    {
        Route.Ping => "/ping",
        Route.Invocations => "/invocations",
        Route.ExecutionParameters => "/execution-parameters",
        Route.Models => "/models",
        Route.Model => "/models/" + ModelName,
        Route.ModelInvoke => "/models/" + ModelName + "/invoke",
        _ => UnknownTarget ?? "",
    };

    public void Reset()
    {
        Method = HttpMethod.Other;
        Route = Route.NotFound;
        UnknownTarget = null;
        ModelName = null;
        NextPageToken = null;
        IsHttp11 = false;
        ContentLength = -1;
        IsChunked = false;
        HasTransferEncoding = false;
        ConnectionClose = false;
        ConnectionKeepAlive = false;
        ExpectContinue = false;
        HasHost = false;
        ContentType = null;
        Accept = null;
        InferenceId = null;
        CustomAttributes = null;
        TargetModel = null;
        TargetVariant = null;
        HeadLength = 0;
    }
}
