using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using Worker.Hosting;

namespace Worker.Http;

/// <summary>
/// One client connection: a single loop that reads, parses every complete request in the buffer,
/// answers them in order, advances the reader once and flushes once per read.
/// </summary>
internal sealed class HttpConnection
{
    private enum ParseState
    {
        Head,
        FixedBody,
        ChunkedBody,
    }

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly HttpServer _server;
    private readonly WorkerSettings _settings;
    private readonly HttpRequestHead _head = new();
    private readonly HttpResponse _response = new();
    private readonly ChunkedBodyDecoder _chunked = new();
    private readonly PooledBufferWriter _chunkedBody = new(16 * 1024);

    // serve --record: the request's head and chunked framing as received (null when not recording).
    private readonly Replay.ExchangeRecorder? _recorder;
    private readonly ArrayBufferWriter<byte>? _recordedChunks;
    private byte[]? _recordedHead;

    // Bodies at least this large are read into one rented buffer of exactly their length instead of
    // piling up as pipe segments: one contiguous span for the parsers, no per-segment allocation.
    // Answers at least this large are written from their own pooled segments, for the same reason.
    private const int DirectBodyThreshold = 64 * 1024;

    // Bodies at least this large go to a handler that decodes them as they arrive, when it can
    // (real-time and async inference take up to 1 GiB): only the decoded rows and the answers are held.
    private const int StreamedBodyThreshold = 1024 * 1024;

    // A chunked body streamed to its handler goes through this pipe, dechunked: the connection's loop
    // writes what arrives, waiting once this much is unread (the handler holds pieces of 1 MiB, and at
    // most RequestBodyReader.MaxHeldBytes while it looks for a record's end).
    private static readonly PipeOptions StreamedChunkedPipe = new(pauseWriterThreshold: 96L * 1024 * 1024, resumeWriterThreshold: 48L * 1024 * 1024, useSynchronizationContext: false);

    // The chunked body being streamed to its handler, and the handler's run (null when none).
    private Pipe? _streamedPipe;
    private Task? _streamedHandler;
    private bool _streamedDiscard;
    private DiscardingBufferWriter? _discard;

    // Environment.TickCount64 after which the heartbeat cancels the pending read.
    private long _deadline = long.MaxValue;
    private volatile bool _timedOut;
    private volatile bool _draining;
    private volatile bool _idle;
    private volatile bool _readingDirect;
    private long _requestStarted;

    public HttpConnection(Socket socket, HttpServer server)
    {
        _socket = socket;
        _server = server;
        _settings = server.Settings;
        _recorder = server.Recorder;
        _recordedChunks = _recorder is null ? null : new ArrayBufferWriter<byte>();
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true));
        _writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 4 * 1024, leaveOpen: true));
    }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = Task.Run(RunAsync);

    /// <summary>Called by the server's heartbeat; cancels a read that waited past its deadline.</summary>
    public void OnHeartbeat(long now)
    {
        if (now >= Volatile.Read(ref _deadline))
        {
            _timedOut = true;
            if (_readingDirect)
            {
                Abort();
            }
            else
            {
                _reader.CancelPendingRead();
            }
        }
    }

    /// <summary>Graceful stop: an idle connection closes now, a busy one after its current response.</summary>
    public void BeginDrain()
    {
        _draining = true;
        if (_idle)
        {
            _reader.CancelPendingRead();
        }
    }

    public void Abort()
    {
        try
        {
            _socket.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task RunAsync()
    {
        try
        {
            await ProcessRequestsAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away or the server aborted us: nothing left to answer.
            _server.Log.Debug("connection closed", ("reason", e.Message));
        }
        catch (Exception e)
        {
            _server.Log.Error("connection failed", ("error", e.ToString()));
        }
        finally
        {
            await StopStreamedChunkedBodyAsync(new IOException("the connection closed")).ConfigureAwait(false);
            await _reader.CompleteAsync().ConfigureAwait(false);
            try
            {
                await _writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
            }

            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _stream.Dispose();
            _response.Dispose();
            _chunkedBody.Dispose();
            _server.Remove(this);
        }
    }

    private async Task ProcessRequestsAsync()
    {
        var state = ParseState.Head;
        var headBuffered = false;
        long headStartedAt = 0;

        while (true)
        {
            var now = Environment.TickCount64;
            if (state == ParseState.Head && !headBuffered)
            {
                _idle = true;
                if (_draining)
                {
                    return;
                }

                Volatile.Write(ref _deadline, now + (long)_settings.KeepAliveTimeout.TotalMilliseconds);
            }
            else if (state == ParseState.Head)
            {
                Volatile.Write(ref _deadline, headStartedAt + (long)_settings.RequestHeadersTimeout.TotalMilliseconds);
            }
            else
            {
                Volatile.Write(ref _deadline, now + (long)_settings.KeepAliveTimeout.TotalMilliseconds);
            }

            var result = await _reader.ReadAsync().ConfigureAwait(false);
            _idle = false;
            Volatile.Write(ref _deadline, long.MaxValue);

            if (result.IsCanceled)
            {
                if (_timedOut)
                {
                    await StopStreamedChunkedBodyAsync(HttpRejectException.Create(RequestRejectionReason.RequestBodyTimeout)).ConfigureAwait(false);
                    if (state != ParseState.Head || headBuffered)
                    {
                        // A request was under way: tell the client why before closing.
                        _response.Reset();
                        _response.SetError(408, "request was not received in time");
                        _response.WriteTo(_writer, keepAlive: false, isHttp11Client: true, omitBody: false);
                        await _writer.FlushAsync().ConfigureAwait(false);
                    }

                    return;
                }

                _reader.AdvanceTo(result.Buffer.Start);
                continue;
            }

            var buffer = result.Buffer;
            var wrote = false;
            var close = false;
            IStreamingInvocationHandler? streamTo = null;
            byte[]? directBody = null;
            var directFilled = 0;
            try
            {
                while (!close)
                {
                    if (state == ParseState.Head)
                    {
                        if (buffer.IsEmpty)
                        {
                            break;
                        }

                        if (headStartedAt == 0)
                        {
                            headStartedAt = Environment.TickCount64;
                        }

                        // Limit by slicing before parsing: the parser never sees more than the header limit.
                        var limited = buffer.Length > _settings.MaxHeaderBytes ? buffer.Slice(0, _settings.MaxHeaderBytes) : buffer;
                        var reader = new SequenceReader<byte>(limited);
                        if (!HttpRequestParser.TryParseHead(ref reader, _head))
                        {
                            if (limited.Length >= _settings.MaxHeaderBytes)
                            {
                                HttpRejectException.Throw(RequestRejectionReason.HeadersTooLarge);
                            }

                            break;
                        }

                        if (_recorder is not null)
                        {
                            _recordedHead = buffer.Slice(0, reader.Position).ToArray();
                            _recordedChunks!.ResetWrittenCount();
                        }

                        buffer = buffer.Slice(reader.Position);
                        headStartedAt = 0;
                        _requestStarted = Stopwatch.GetTimestamp();

                        if (TryRejectBeforeBody())
                        {
                            wrote = true;
                            close = true;
                            break;
                        }

                        if (!_head.HasBody)
                        {
                            close = !await CompleteRequestAsync(ReadOnlySequence<byte>.Empty).ConfigureAwait(false);
                            wrote = true;
                            continue;
                        }

                        if (_head.ExpectContinue && _head.IsHttp11 && buffer.IsEmpty)
                        {
                            _writer.Write("HTTP/1.1 100 Continue\r\n\r\n"u8);
                            await _writer.FlushAsync().ConfigureAwait(false);
                        }

                        if (_head.IsChunked)
                        {
                            _chunked.Reset();
                            _chunkedBody.Reset();
                            state = ParseState.ChunkedBody;
                            if (_recorder is null && _server.Routes.StreamingHandlerFor(_head) is { } chunkedHandler)
                            {
                                // No length to judge it by: every chunked body a handler can decode as it comes is streamed.
                                StartStreamedChunkedBody(chunkedHandler);
                            }
                        }
                        else
                        {
                            state = ParseState.FixedBody;
                        }
                    }

                    if (state == ParseState.FixedBody)
                    {
                        if (buffer.Length < _head.ContentLength)
                        {
                            if (_head.ContentLength >= StreamedBodyThreshold && !result.IsCompleted && _recorder is null
                                && _server.Routes.StreamingHandlerFor(_head) is { } handler)
                            {
                                // The body's bytes stay in the pipe: the handler reads them from here on.
                                streamTo = handler;
                                break;
                            }

                            if (_head.ContentLength >= DirectBodyThreshold && !result.IsCompleted)
                            {
                                // Take what has arrived; the rest is read straight from the socket below.
                                directBody = ArrayPool<byte>.Shared.Rent(checked((int)_head.ContentLength));
                                buffer.CopyTo(directBody);
                                directFilled = (int)buffer.Length;
                                buffer = buffer.Slice(buffer.End);
                            }

                            break;
                        }

                        close = !await CompleteRequestAsync(buffer.Slice(0, _head.ContentLength)).ConfigureAwait(false);
                        buffer = buffer.Slice(_head.ContentLength);
                        state = ParseState.Head;
                        wrote = true;
                        continue;
                    }

                    if (state == ParseState.ChunkedBody)
                    {
                        var reader = new SequenceReader<byte>(buffer);
                        IBufferWriter<byte> into = _streamedPipe is null ? _chunkedBody : _streamedDiscard ? _discard ??= new DiscardingBufferWriter() : _streamedPipe.Writer;
                        var complete = _chunked.TryDecode(ref reader, into, _settings.MaxBodyBytes);
                        if (_recordedChunks is not null)
                        {
                            foreach (var segment in buffer.Slice(0, reader.Position))
                            {
                                _recordedChunks.Write(segment.Span);
                            }
                        }

                        buffer = buffer.Slice(reader.Position);
                        if (_streamedPipe is not null && !_streamedDiscard)
                        {
                            // Backpressure: wait while the handler is behind; it stopped reading if it completed its side.
                            var flushed = await _streamedPipe.Writer.FlushAsync().ConfigureAwait(false);
                            _streamedDiscard = flushed.IsCompleted;
                        }

                        if (!complete)
                        {
                            break;
                        }

                        if (_streamedPipe is not null)
                        {
                            close = !await CompleteStreamedChunkedRequestAsync().ConfigureAwait(false);
                            state = ParseState.Head;
                            wrote = true;
                            continue;
                        }

                        close = !await CompleteRequestAsync(_chunkedBody.AsSequence()).ConfigureAwait(false);
                        _chunkedBody.Reset();
                        state = ParseState.Head;
                        wrote = true;
                    }
                }

                if (!close && result.IsCompleted && (state != ParseState.Head || !buffer.IsEmpty))
                {
                    // The client half-closed with a request unfinished.
                    HttpRejectException.Throw(RequestRejectionReason.UnexpectedEndOfBody);
                }
            }
            catch (HttpRejectException rejection)
            {
                // A streamed body's handler is told the body failed, and has ended, before its response is taken over.
                await StopStreamedChunkedBodyAsync(rejection).ConfigureAwait(false);
                _response.Reset();
                _response.SetError(rejection.StatusCode, rejection.Message);
                _response.WriteTo(_writer, keepAlive: false, isHttp11Client: true, omitBody: false);
                LogRequest(rejection.StatusCode, 0);
                wrote = true;
                close = true;
            }

            headBuffered = state == ParseState.Head && !buffer.IsEmpty;
            _reader.AdvanceTo(buffer.Start, streamTo is null ? result.Buffer.End : buffer.Start);

            if (wrote)
            {
                await _writer.FlushAsync().ConfigureAwait(false);
            }

            if (streamTo is not null)
            {
                close = !await CompleteStreamedRequestAsync(streamTo).ConfigureAwait(false);
                await _writer.FlushAsync().ConfigureAwait(false);
                state = ParseState.Head;
                headBuffered = false;
            }

            if (directBody is not null)
            {
                try
                {
                    close = !await ReadBodyDirectAndCompleteAsync(directBody, directFilled).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(directBody);
                }

                await _writer.FlushAsync().ConfigureAwait(false);
                state = ParseState.Head;
                headBuffered = false;
            }

            if (close || result.IsCompleted)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Reads the rest of a large Content-Length body from the socket into <paramref name="body"/>,
    /// exactly its length (a pipelined next request stays in the socket for the pipe), then answers it.
    /// </summary>
    /// <returns>Whether the connection stays open.</returns>
    private async Task<bool> ReadBodyDirectAndCompleteAsync(byte[] body, int filled)
    {
        var length = (int)_head.ContentLength;
        _readingDirect = true;
        try
        {
            while (filled < length)
            {
                Volatile.Write(ref _deadline, Environment.TickCount64 + (long)_settings.KeepAliveTimeout.TotalMilliseconds);
                var read = await _stream.ReadAsync(body.AsMemory(filled, length - filled)).ConfigureAwait(false);
                Volatile.Write(ref _deadline, long.MaxValue);
                if (read == 0)
                {
                    var rejection = HttpRejectException.Create(RequestRejectionReason.UnexpectedEndOfBody);
                    _response.Reset();
                    _response.SetError(rejection.StatusCode, rejection.Message);
                    _response.WriteTo(_writer, keepAlive: false, isHttp11Client: true, omitBody: false);
                    LogRequest(rejection.StatusCode, filled);
                    return false;
                }

                filled += read;
            }
        }
        finally
        {
            _readingDirect = false;
            Volatile.Write(ref _deadline, long.MaxValue);
        }

        return await CompleteRequestAsync(new ReadOnlySequence<byte>(body, 0, length)).ConfigureAwait(false);
    }

    /// <summary>Answers at once, without reading the body, a request that will be refused anyway (413, 404, 405).</summary>
    private bool TryRejectBeforeBody()
    {
        if (_head.ContentLength > _settings.MaxBodyBytes)
        {
            _response.Reset();
            _response.SetError(413, $"request body of {_head.ContentLength} bytes is larger than the payload limit of {_settings.BodyLimitInMB} MiB ({WorkerSettings.MaxPayloadVariable})");
        }
        else if (_head.HasBody && RouteTable.Check(_head, out var allow) is var status and not 0)
        {
            _response.Reset();
            RouteTable.SetRouteError(_response, _head, status, allow);
        }
        else
        {
            return false;
        }

        _response.WriteTo(_writer, keepAlive: false, _head.IsHttp11, omitBody: false);
        Record(ReadOnlySequence<byte>.Empty, keepAlive: false, omitBody: false);
        LogRequest(_response.StatusCode, 0);
        return true;
    }

    /// <summary>Hands the exchange to the recorder; recording can never fail the request.</summary>
    private void Record(ReadOnlySequence<byte> body, bool keepAlive, bool omitBody)
    {
        if (_recorder is null || _recordedHead is null)
        {
            return;
        }

        // SageMaker pings for the whole life of a job: a healthy ping is not worth a file.
        if (_head.Route == Route.Ping && _response.StatusCode == 200)
        {
            _recordedHead = null;
            return;
        }

        try
        {
            var rawBody = _head.IsChunked ? new ReadOnlySequence<byte>(_recordedChunks!.WrittenMemory) : body;
            var response = new ArrayBufferWriter<byte>(256 + (int)Math.Min(_response.Body.Length, int.MaxValue / 2));
            _response.WriteTo(response, keepAlive, _head.IsHttp11, omitBody);
            _recorder.TryRecord(new ReadOnlySequence<byte>(_recordedHead), rawBody, response.WrittenSpan);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _server.Log.Warn("exchange not recorded", ("error", e.Message));
        }
        finally
        {
            _recordedHead = null;
        }
    }

    /// <summary>
    /// An invocation whose handler reads the body from the pipe as it arrives. A handler that stops
    /// early (a bad record) has the rest read and dropped, so its answer reaches a client still sending.
    /// </summary>
    /// <returns>Whether the connection stays open.</returns>
    private async ValueTask<bool> CompleteStreamedRequestAsync(IStreamingInvocationHandler handler)
    {
        _response.Reset();
        var body = new RequestBodyReader(_reader, _head.ContentLength, SetBodyDeadline);
        try
        {
            await handler.InvokeStreamingAsync(_head, body, _response, _server.StoppingToken).ConfigureAwait(false);
            await body.DrainAsync(_server.StoppingToken).ConfigureAwait(false);
        }
        catch (HttpRejectException rejection)
        {
            // The body itself failed (cut short, or too slow): answer and close.
            _response.SetError(rejection.StatusCode, rejection.Message);
            _response.CloseConnection = true;
        }
        catch (Exception e) when (e is not OutOfMemoryException and not IOException and not System.Net.Sockets.SocketException and not ObjectDisposedException and not OperationCanceledException)
        {
            _server.Log.Error("request failed", ("path", _head.PathName), ("error", e.ToString()));
            _response.SetError(500, "internal error: " + e.Message);
            _response.CloseConnection = !body.IsComplete;
        }

        return await WriteResponseAsync(ReadOnlySequence<byte>.Empty, body.Consumed).ConfigureAwait(false);
    }

    /// <summary>Starts the handler on a chunked body, dechunked into a pipe as it arrives; the connection's loop feeds it.</summary>
    private void StartStreamedChunkedBody(IStreamingInvocationHandler handler)
    {
        _response.Reset();
        _streamedPipe = new Pipe(StreamedChunkedPipe);
        _streamedDiscard = false;
        var body = new RequestBodyReader(_streamedPipe.Reader, -1, static _ => { });
        _streamedHandler = RunStreamedHandlerAsync(handler, body);
    }

    private async Task RunStreamedHandlerAsync(IStreamingInvocationHandler handler, RequestBodyReader body)
    {
        await Task.Yield();
        try
        {
            await handler.InvokeStreamingAsync(_head, body, _response, _server.StoppingToken).ConfigureAwait(false);
        }
        catch (HttpRejectException rejection)
        {
            _response.SetError(rejection.StatusCode, rejection.Message);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The body failed under it (the connection answers that) or the server is stopping.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _server.Log.Error("request failed", ("path", _head.PathName), ("error", e.ToString()));
            _response.SetError(500, "internal error: " + e.Message);
        }
        finally
        {
            // What it did not read is dropped: the connection's loop reads the rest of the body and discards it.
            await body.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The chunked body is complete: the handler sees its end, and its answer is written.</summary>
    private async ValueTask<bool> CompleteStreamedChunkedRequestAsync()
    {
        var bytesIn = _chunked.BodyLength;
        await _streamedPipe!.Writer.CompleteAsync().ConfigureAwait(false);
        await _streamedHandler!.ConfigureAwait(false);
        _streamedPipe = null;
        _streamedHandler = null;
        return await WriteResponseAsync(ReadOnlySequence<byte>.Empty, bytesIn).ConfigureAwait(false);
    }

    /// <summary>Ends a streamed chunked body that failed (bad framing, too large, too slow, the peer gone) and waits for its handler.</summary>
    private async ValueTask StopStreamedChunkedBodyAsync(Exception reason)
    {
        if (_streamedPipe is not { } pipe || _streamedHandler is not { } handler)
        {
            return;
        }

        _streamedPipe = null;
        _streamedHandler = null;
        await pipe.Writer.CompleteAsync(reason).ConfigureAwait(false);
        await handler.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private void SetBodyDeadline(bool waiting) =>
        Volatile.Write(ref _deadline, waiting ? Environment.TickCount64 + (long)_settings.KeepAliveTimeout.TotalMilliseconds : long.MaxValue);

    /// <returns>Whether the connection stays open.</returns>
    private async ValueTask<bool> CompleteRequestAsync(ReadOnlySequence<byte> body)
    {
        _response.Reset();
        try
        {
            await _server.Routes.HandleAsync(_head, body, _response, _server.StoppingToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A handler bug fails this request only; the stream is still in step, so the connection lives.
            _server.Log.Error("request failed", ("path", _head.PathName), ("error", e.ToString()));
            _response.SetError(500, "internal error: " + e.Message);
        }

        return await WriteResponseAsync(body, body.Length).ConfigureAwait(false);
    }

    /// <returns>Whether the connection stays open.</returns>
    private async ValueTask<bool> WriteResponseAsync(ReadOnlySequence<byte> body, long bytesIn)
    {
        var keepAlive = _head.KeepAlive && !_draining && !_response.CloseConnection;
        var omitBody = _head.Method == HttpMethod.Head;
        Record(body, keepAlive, omitBody);
        if (!omitBody && _response.Body.Length >= DirectBodyThreshold)
        {
            // A large answer goes from its pooled segments straight to the socket, after the head
            // (and any earlier pipelined answers) are flushed: no copy into pipe segments.
            _response.WriteTo(_writer, keepAlive, _head.IsHttp11, omitBody: true);
            await _writer.FlushAsync().ConfigureAwait(false);
            foreach (var segment in _response.Body.AsSequence())
            {
                await _stream.WriteAsync(segment).ConfigureAwait(false);
            }
        }
        else
        {
            _response.WriteTo(_writer, keepAlive, _head.IsHttp11, omitBody);
        }

        LogRequest(_response.StatusCode, bytesIn);
        return keepAlive;
    }

    private void LogRequest(int status, long bytesIn)
    {
        // Invocations are the job's unit of work and are logged at Information; pings arrive every
        // few seconds for the life of the job and only show at Debug.
        var level = _head.Route is Route.Invocations or Route.ModelInvoke || status >= 400 || (_head.Route is Route.Models or Route.Model && _head.Method is not (HttpMethod.Get or HttpMethod.Head))
            ? LogLevel.Information
            : LogLevel.Debug;
        var log = _server.Log;
        if (!log.IsEnabled(level))
        {
            return;
        }

        var elapsed = Stopwatch.GetElapsedTime(_requestStarted).TotalMilliseconds;

        // SageMaker's per-request headers go on the request's own line (CloudWatch), never into the answer.
        JsonLog.SageMakerFields? sageMaker = _head.HasSageMakerHeaders
            ? new JsonLog.SageMakerFields(_head.InferenceId, _head.CustomAttributes, _head.TargetModel, _head.TargetVariant)
            : null;
        log.WriteRequest(level, new JsonLog.RequestLine(_head.MethodName, _head.PathName, status, bytesIn, _response.Body.Length, elapsed, _response.ErrorMessage, sageMaker));
    }
}
