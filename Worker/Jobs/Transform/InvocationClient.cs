using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Worker.Jobs.Transform;

/// <summary>A request that failed for good: after the retries, or at once for an answer that cannot change (4xx).</summary>
public sealed class InvocationFailedException(string message, int? statusCode, long? record) : Exception(message)
{
    public int? StatusCode { get; } = statusCode;

    /// <summary>The failing record's index within its request, when the container named one.</summary>
    public long? Record { get; } = record;
}

/// <summary>
/// The answer to one <c>POST /invocations</c>, read into a pooled buffer: answers of megabytes each
/// would otherwise leave a large-object-heap array behind per request, and a job's memory would
/// grow with its input between full collections. Dispose once written.
/// </summary>
public sealed class InvocationAnswer(byte[] rented, int length, string? contentType) : IDisposable
{
    private byte[]? _rented = rented;

    public ReadOnlyMemory<byte> Body => (_rented ?? throw new ObjectDisposedException(nameof(InvocationAnswer))).AsMemory(0, length);

    public string? ContentType { get; } = contentType;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _rented, null) is { } buffer)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the whole body, growing by doubling where no Content-Length says its size.</summary>
    public static async Task<InvocationAnswer> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var declared = response.Content.Headers.ContentLength;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Clamp(declared ?? 64 * 1024, 1, Array.MaxLength));
        var length = 0;
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                if (length == buffer.Length)
                {
                    var bigger = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, Array.MaxLength));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            return new InvocationAnswer(buffer, length, response.Content.Headers.ContentType?.MediaType);
        }
        catch
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }
}

/// <summary>
/// SageMaker's side of the container contract over real HTTP: wait for <c>/ping</c>, ask
/// <c>/execution-parameters</c>, send <c>/invocations</c> with ModelClientConfig's retries and timeout.
/// </summary>
public sealed class InvocationClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _invocations;
    private readonly int _maxRetries;
    private readonly TimeSpan _timeout;

    private readonly string? _targetModel;

    /// <param name="targetModel">A multi-model endpoint's model: requests go to <c>/models/{name}/invoke</c>, as SageMaker sends InvokeEndpoint's TargetModel.</param>
    public InvocationClient(Uri endpoint, int maxConnections, int maxRetries, TimeSpan timeout, string? targetModel = null)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConnections,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        };
        _http = new HttpClient(handler) { BaseAddress = endpoint, Timeout = Timeout.InfiniteTimeSpan };
        _targetModel = targetModel;
        _invocations = targetModel is null ? new Uri(endpoint, "invocations") : new Uri(endpoint, "models/" + Uri.EscapeDataString(targetModel) + "/invoke");
        _maxRetries = maxRetries;
        _timeout = timeout;
    }

    /// <summary>Polls <c>/ping</c> until 200. A container that says its model failed is not waited for.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + limit;
        var lastReason = "no answer";
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                using var response = await _http.GetAsync("ping", timeout.Token).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                lastReason = $"/ping answered {(int)response.StatusCode} {body}".TrimEnd();
                if (body.Contains("\"failed\"", StringComparison.Ordinal))
                {
                    throw new InvocationFailedException("the container is not ready: " + lastReason, (int)response.StatusCode, null);
                }
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                lastReason = e.Message;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvocationFailedException($"the container did not become ready within {limit.TotalSeconds:0} s: {lastReason}", null, null);
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The container's <c>/execution-parameters</c>, or null when it has none (404) or answers nonsense.</summary>
    public async Task<(int? MaxConcurrentTransforms, string? BatchStrategy, int? MaxPayloadInMB)?> GetExecutionParametersAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync("execution-parameters", cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return null;
            }

            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            return (
                root.TryGetProperty("MaxConcurrentTransforms", out var c) && c.TryGetInt32(out var ci) && ci > 0 ? ci : null,
                root.TryGetProperty("BatchStrategy", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null,
                root.TryGetProperty("MaxPayloadInMB", out var p) && p.TryGetInt32(out var pi) && pi >= 0 ? pi : null);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Sends one request, retrying what may pass (no connection, timeout, 5xx, 408, 429) with a growing
    /// pause. <paramref name="content"/> makes a fresh body per attempt (a streamed file is reopened).
    /// </summary>
    public async Task<InvocationAnswer> InvokeAsync(Func<HttpContent> content, string contentType, string? accept, bool chunked, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            string failure;
            int? status = null;
            long? record = null;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(_timeout);
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, _invocations) { Content = content() };
                    request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
                    request.Headers.TransferEncodingChunked = chunked;
                    if (accept is not null)
                    {
                        request.Headers.TryAddWithoutValidation("Accept", accept);
                    }

                    if (_targetModel is not null)
                    {
                        request.Headers.TryAddWithoutValidation("X-Amzn-SageMaker-Target-Model", _targetModel);
                    }

                    using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return await InvocationAnswer.ReadAsync(response, timeout.Token).ConfigureAwait(false);
                    }

                    var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                    status = (int)response.StatusCode;
                    (failure, record) = Describe(status.Value, body);
                    var mayPass = status >= 500 || status is 408 or 429;
                    if (!mayPass)
                    {
                        throw new InvocationFailedException(failure, status, record);
                    }
                }
                catch (HttpRequestException e)
                {
                    failure = "the request failed: " + e.Message;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = $"no answer within InvocationsTimeoutInSeconds ({_timeout.TotalSeconds:0} s)";
                }
            }

            if (attempt >= _maxRetries)
            {
                var tries = attempt + 1;
                throw new InvocationFailedException($"{failure} (after {tries} attempt{(tries == 1 ? "" : "s")})", status, record);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 200 << attempt)), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The container's error: our own servers answer <c>{"error": "...", "record": n}</c>; others anything.</summary>
    private static (string Message, long? Record) Describe(int status, byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("error", out var error))
            {
                long? record = json.RootElement.TryGetProperty("record", out var r) && r.TryGetInt64(out var ri) ? ri : null;
                return ($"HTTP {status}: {error}", record);
            }
        }
        catch (JsonException)
        {
        }

        // Not ours: a short, printable excerpt.
        var text = System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 200)).ReplaceLineEndings(" ").Trim();
        return (text.Length == 0 ? $"HTTP {status}" : $"HTTP {status}: {text}", null);
    }

    public void Dispose() => _http.Dispose();
}
