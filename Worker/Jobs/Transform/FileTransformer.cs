using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Worker.Hosting;
using Worker.Records;

namespace Worker.Jobs.Transform;

/// <summary>One input file of a job and where its answers go.</summary>
public sealed record InputFile(string FullPath, string RelativePath, long Length);

/// <summary>How a file ended: its output, or the reason it has none.</summary>
public sealed record FileOutcome(InputFile File, string? OutputPath, string? Error, long Records);

/// <summary>A file that cannot be transformed as asked: a record over the limit, a bad frame, a type we cannot tell.</summary>
public sealed class TransformFileException(string message) : Exception(message);

/// <summary>The job's settings once the user, the container and SageMaker's defaults have had their say.</summary>
public sealed record ResolvedTransform(
    BatchStrategy BatchStrategy,
    int MaxPayloadInMB,
    int MaxConcurrentTransforms,
    string? ContentType,
    SplitType? SplitType,
    string? Accept,
    AssembleWith AssembleWith,
    CompressionType? CompressionType)
{
    public long MaxPayloadBytes => (long)MaxPayloadInMB * 1024 * 1024;
}

/// <summary>
/// Transforms one file: split it into records, pack them into requests, keep up to the job's
/// concurrency in flight, write the answers in input order to a temporary file and rename it to
/// <c>.out</c> only when every request succeeded.
/// </summary>
public sealed class FileTransformer(InvocationClient client, SemaphoreSlim requestSlots, ResolvedTransform job, TransformProgress progress)
{
    private const int ReadBufferBytes = 1 << 20;

    public async Task<FileOutcome> RunAsync(InputFile file, string outputDirectory, CancellationToken cancellationToken)
    {
        var outputPath = Path.Combine(outputDirectory, file.RelativePath + ".out");
        var partialPath = outputPath + ".partial";
        var counted = new RecordCount();
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(outputPath)!);
            var plan = Plan(file);
            await using (var output = new FileStream(partialPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await TransformAsync(file, plan, output, counted, cancellationToken).ConfigureAwait(false);
            }

            File.Move(partialPath, outputPath, overwrite: true);
            return new FileOutcome(file, outputPath, null, counted.Value);
        }
        catch (Exception e) when (e is TransformFileException or InvocationFailedException or RecordException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            TryDelete(partialPath);
            return new FileOutcome(file, null, e.Message, counted.Value);
        }
        catch
        {
            // Cancelled or worse: never leave a half-written answer behind.
            TryDelete(partialPath);
            throw;
        }
    }

    /// <summary>What to send for a file: its Content-Type, split and compression, from the job or the file's name.</summary>
    private sealed record FilePlan(string ContentType, SplitType Split, bool Gzip, bool SkipHeaderLine, bool CsvQuotes);

    private FilePlan Plan(InputFile file)
    {
        var contentType = job.ContentType ?? TransformOptions.ContentTypeFromName(file.RelativePath)
            ?? throw new TransformFileException("cannot tell the Content-Type from the file name; set --content-type");
        if (!MediaTypes.TryGetRecordFormat(contentType, out var format, out var csv, out var error))
        {
            throw new TransformFileException(error);
        }

        var split = job.SplitType ?? TransformOptions.SplitTypeFor(format);
        var gzip = job.CompressionType is { } compression
            ? compression == CompressionType.Gzip
            : file.FullPath.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

        // A CSV header is the file's, not every request's: drop it here and tell the container there is none.
        var skipHeader = csv.HasHeader && split == SplitType.Line;
        if (skipHeader)
        {
            contentType = string.Join(';', contentType.Split(';').Where(p => !p.Trim().StartsWith("header", StringComparison.OrdinalIgnoreCase)));
        }

        return new FilePlan(contentType, split, gzip, skipHeader, format == RecordFormat.Csv);
    }

    private async Task TransformAsync(InputFile file, FilePlan plan, FileStream output, RecordCount counted, CancellationToken cancellationToken)
    {
        using var fileCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pending = Channel.CreateUnbounded<PendingRequest>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = WriteAnswersAsync(pending.Reader, output, counted, fileCancel);
        Exception? produceError = null;
        try
        {
            var single = job.BatchStrategy == BatchStrategy.SingleRecord;
            if (plan.Split == SplitType.None || (!single && job.MaxPayloadInMB == 0))
            {
                await SendWholeFileAsync(file, plan, pending.Writer, fileCancel.Token).ConfigureAwait(false);
            }
            else
            {
                await SendRecordsAsync(file, plan, single, pending.Writer, fileCancel.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            produceError = e;
            await fileCancel.CancelAsync().ConfigureAwait(false);
        }
        finally
        {
            pending.Writer.Complete();
        }

        var writeError = await writer.ConfigureAwait(false);

        // The first real cause: a failed answer cancels the reader (and the reverse), whose
        // cancellation is not the story.
        var error = writeError is not null and not OperationCanceledException ? writeError
            : produceError is not null and not OperationCanceledException ? produceError
            : writeError ?? produceError;
        if (error is not null)
        {
            if (error is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }

            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>SplitType None, or MultiRecord with no payload limit: the whole (decompressed) file in one request.</summary>
    private async Task SendWholeFileAsync(InputFile file, FilePlan plan, ChannelWriter<PendingRequest> pending, CancellationToken cancellationToken)
    {
        Func<HttpContent> content;
        Payload? buffered = null;
        if (job.MaxPayloadInMB == 0)
        {
            // Streamed with chunked encoding, as SageMaker does for MaxPayloadInMB 0; reopened per attempt.
            content = () => new StreamContent(OpenInput(file.FullPath, plan.Gzip, out _), ReadBufferBytes);
        }
        else
        {
            buffered = await ReadWholeAsync(file, plan.Gzip, cancellationToken).ConfigureAwait(false);
            var memory = buffered.Memory;
            content = () => new ReadOnlyMemoryContent(memory);
        }

        progress.AddInputBytes(file.Length);
        await requestSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        var answer = InvokeAsync(content, plan, buffered, chunked: buffered is null, cancellationToken);
        await pending.WriteAsync(new PendingRequest(answer, 0, -1), CancellationToken.None).ConfigureAwait(false);
    }

    private async Task<Payload> ReadWholeAsync(InputFile file, bool gzip, CancellationToken cancellationToken)
    {
        var limit = job.MaxPayloadBytes;
        var payload = new Payload(0, (int)Math.Min(limit, Math.Max(file.Length, 4096)));
        try
        {
            await using var stream = OpenInput(file.FullPath, gzip, out _);
            while (true)
            {
                var space = payload.GetSpace(ReadBufferBytes, limit + 1);
                var read = await stream.ReadAsync(space, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                payload.Advance(read);
                if (payload.Length > limit)
                {
                    throw new TransformFileException(
                        $"the file is over MaxPayloadInMB ({job.MaxPayloadInMB} MiB) and SplitType is None: split it (--split-type) or raise the limit");
                }
            }

            return payload;
        }
        catch
        {
            payload.Dispose();
            throw;
        }
    }

    /// <summary>Split, pack up to MaxPayloadInMB (MultiRecord) or one record per request (SingleRecord), send in order.</summary>
    private async Task SendRecordsAsync(InputFile file, FilePlan plan, bool single, ChannelWriter<PendingRequest> pending, CancellationToken cancellationToken)
    {
        var splitter = new InputSplitter(plan.Split, plan.CsvQuotes);
        var state = new SplitState(splitter, single, job.MaxPayloadInMB, plan.SkipHeaderLine);
        await using var stream = OpenInput(file.FullPath, plan.Gzip, out var raw);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: ReadBufferBytes, minimumReadSize: ReadBufferBytes / 4, leaveOpen: true));
        var rawPosition = 0L;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = state.Split(buffer, result.IsCompleted, out var stoppedEarly);
                reader.AdvanceTo(consumed, stoppedEarly ? consumed : buffer.End);

                var position = raw.Position;
                progress.AddInputBytes(position - rawPosition);
                rawPosition = position;

                foreach (var payload in state.Ready)
                {
                    await SendAsync(payload, plan, pending, cancellationToken).ConfigureAwait(false);
                }

                state.Ready.Clear();
                if (result.IsCompleted && !stoppedEarly)
                {
                    break;
                }
            }

            if (state.TakeLast() is { } last)
            {
                await SendAsync(last, plan, pending, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            state.Dispose();
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task SendAsync(Payload payload, FilePlan plan, ChannelWriter<PendingRequest> pending, CancellationToken cancellationToken)
    {
        try
        {
            await requestSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            payload.Dispose();
            throw;
        }

        var memory = payload.Memory;
        var answer = InvokeAsync(() => new ReadOnlyMemoryContent(memory), plan, payload, chunked: false, cancellationToken);
        await pending.WriteAsync(new PendingRequest(answer, payload.FirstRecord, payload.Records), CancellationToken.None).ConfigureAwait(false);
    }

    private async Task<InvocationAnswer> InvokeAsync(Func<HttpContent> content, FilePlan plan, Payload? payload, bool chunked, CancellationToken cancellationToken)
    {
        try
        {
            Func<HttpContent> make = chunked
                ? () =>
                {
                    var c = content();
                    c.Headers.ContentLength = null;
                    return c;
                }
                : content;
            return await client.InvokeAsync(make, plan.ContentType, job.Accept, chunked, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            payload?.Dispose();
        }
    }

    /// <summary>
    /// Writes answers in the order the requests were made. Every pending request holds one of the
    /// job's request slots until its answer is written (or dropped after a failure), so the job never
    /// holds more than its concurrency in bodies and answers.
    /// </summary>
    private async Task<Exception?> WriteAnswersAsync(ChannelReader<PendingRequest> pending, FileStream output, RecordCount counted, CancellationTokenSource fileCancel)
    {
        Exception? failure = null;
        await foreach (var request in pending.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            try
            {
                if (failure is not null)
                {
                    // Drain: let the request finish (or see the cancellation) so its slot comes back.
                    await ((Task)request.Answer).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    continue;
                }

                InvocationAnswer answer;
                try
                {
                    answer = await request.Answer.ConfigureAwait(false);
                }
                catch (InvocationFailedException e)
                {
                    throw new InvocationFailedException(Where(request, e.Record) + e.Message, e.StatusCode, e.Record);
                }

                var records = CheckAnswer(request, answer);
                await output.WriteAsync(answer.Body, CancellationToken.None).ConfigureAwait(false);
                if (job.AssembleWith == AssembleWith.Line && answer.Body.Length > 0 && answer.Body[^1] != (byte)'\n')
                {
                    output.WriteByte((byte)'\n');
                }

                counted.Value += records;
                progress.AddRecords(records);
            }
            catch (Exception e)
            {
                failure = e;
                await fileCancel.CancelAsync().ConfigureAwait(false);
            }
            finally
            {
                requestSlots.Release();
            }
        }

        return failure;
    }

    private static string Where(PendingRequest request, long? recordInRequest)
    {
        if (recordInRequest is { } r && request.Records != 0)
        {
            return request.Records < 0 ? $"record {r}: " : $"record {request.FirstRecord + r} of the file: ";
        }

        return request.Records switch
        {
            < 0 => "",
            1 => $"record {request.FirstRecord}: ",
            _ => $"records {request.FirstRecord}-{request.FirstRecord + request.Records - 1}: ",
        };
    }

    /// <summary>Line answers must hold one line per record sent; returns the records answered.</summary>
    private long CheckAnswer(PendingRequest request, InvocationAnswer answer)
    {
        long? answered = answer.ContentType switch
        {
            "text/csv" or "application/jsonlines" or "application/x-jsonlines" or "application/jsonl" => CountLines(answer.Body),
            _ => null,
        };

        if (request.Records < 0)
        {
            // Not split here (SplitType None or one streamed request): the answer says how many.
            return answered ?? 1;
        }

        if (job.AssembleWith == AssembleWith.Line && answered is { } lines && lines != request.Records)
        {
            throw new TransformFileException(
                $"{Where(request, null)}the container answered {lines} line(s) for {request.Records} record(s); with AssembleWith Line every record needs exactly one");
        }

        return request.Records;
    }

    private static long CountLines(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return 0;
        }

        long lines = body.Count((byte)'\n');
        return body[^1] == (byte)'\n' ? lines : lines + 1;
    }

    private static Stream OpenInput(string path, bool gzip, out FileStream raw)
    {
        raw = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        return gzip ? new GZipStream(raw, CompressionMode.Decompress, leaveOpen: false) : raw;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private sealed record PendingRequest(Task<InvocationAnswer> Answer, long FirstRecord, int Records);

    private sealed class RecordCount
    {
        public long Value;
    }

    /// <summary>
    /// The synchronous half of splitting: records of one read buffer into payloads. It stops at a
    /// record boundary once a few payloads are ready, so a fast disk never runs far ahead of the
    /// container.
    /// </summary>
    private sealed class SplitState(InputSplitter splitter, bool single, int maxPayloadInMB, bool skipFirstRecord) : IDisposable
    {
        private const int MaxReady = 8;
        private readonly ArrayBufferWriter<byte> _joined = new();
        private readonly long _limit = maxPayloadInMB == 0 ? long.MaxValue : (long)maxPayloadInMB * 1024 * 1024;
        private Payload? _current;
        private long _offsetBase;
        private long _recordIndex;
        private bool _skip = skipFirstRecord;

        public List<Payload> Ready { get; } = [];

        public SequencePosition Split(ReadOnlySequence<byte> buffer, bool isFinalBlock, out bool stoppedEarly)
        {
            var reader = new SequenceReader<byte>(buffer);
            stoppedEarly = false;
            while (true)
            {
                if (Ready.Count >= MaxReady)
                {
                    stoppedEarly = !reader.End;
                    break;
                }

                // MultiRecord lines go in whole runs (the per-record path below packs them the same way,
                // at ~100 ns a record); a line that does not fit, straddles buffers or holds a quote goes alone.
                if (!single && !_skip && splitter.TryReadLines(ref reader, _limit - (_current?.Length ?? 0), out var lines, out var count))
                {
                    _current ??= new Payload(_recordIndex, (int)Math.Min(_limit, Math.Max(64 * 1024, lines.Length)));
                    _current.AppendLines(lines, count);
                    _recordIndex += count;
                    continue;
                }

                var offset = _offsetBase + reader.Consumed;
                if (!splitter.TryRead(ref reader, isFinalBlock, _offsetBase, _recordIndex, _joined, out var wire, out var bare))
                {
                    break;
                }

                if (_skip)
                {
                    _skip = false;
                    continue;
                }

                Add(single ? bare : wire, offset);
                _recordIndex++;
            }

            _offsetBase += reader.Consumed;
            if (!stoppedEarly && !isFinalBlock && reader.Remaining > _limit + MaxFramingBytes())
            {
                // The record being read is already over the limit: fail now, not after buffering the
                // rest of it (a 10 GB file with no line end would otherwise be held in memory whole).
                throw new TransformFileException(
                    $"record {_recordIndex} (byte {_offsetBase} of the file) is over MaxPayloadInMB ({maxPayloadInMB} MiB): {reader.Remaining:N0} bytes read and its end not reached");
            }

            return reader.Position;
        }

        /// <summary>How much longer than what is checked against the limit a record's pending bytes may be.</summary>
        private long MaxFramingBytes() => splitter.SplitType switch
        {
            // Single records are checked without their framing: a CR left before the LF still to come,
            // or a TFRecord frame's 16 bytes. A multi-part RecordIO record's framing has no bound.
            _ when !single => 0,
            SplitType.Line => 1,
            SplitType.TFRecord => 16,
            SplitType.RecordIO => long.MaxValue / 2,
            _ => 0,
        };

        private void Add(ReadOnlySequence<byte> record, long offset)
        {
            if (record.Length > _limit)
            {
                throw new TransformFileException(
                    $"record {_recordIndex} (byte {offset} of the file) is {record.Length:N0} bytes, over MaxPayloadInMB ({maxPayloadInMB} MiB)");
            }

            if (single)
            {
                var payload = new Payload(_recordIndex, (int)record.Length);
                payload.Append(record);
                Ready.Add(payload);
                return;
            }

            if (_current is not null && _current.Length + record.Length > _limit)
            {
                Ready.Add(_current);
                _current = null;
            }

            _current ??= new Payload(_recordIndex, (int)Math.Min(_limit, Math.Max(64 * 1024, record.Length)));
            _current.Append(record);
        }

        public Payload? TakeLast()
        {
            var last = _current;
            _current = null;
            return last;
        }

        public void Dispose()
        {
            _current?.Dispose();
            foreach (var payload in Ready)
            {
                payload.Dispose();
            }

            Ready.Clear();
        }
    }
}

/// <summary>One request body under construction: records packed into a pooled buffer that grows by doubling.</summary>
internal sealed class Payload(long firstRecord, int initialCapacity) : IDisposable
{
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 1));

    public long FirstRecord { get; } = firstRecord;
    public int Records { get; set; }
    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Memory => Buffer.AsMemory(0, Length);

    private byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(Payload));

    public void Append(ReadOnlySequence<byte> record)
    {
        record.CopyTo(GetSpace((int)record.Length, long.MaxValue).Span);
        Length += (int)record.Length;
        Records++;
    }

    /// <summary>Several whole records at once (a run of lines).</summary>
    public void AppendLines(ReadOnlySpan<byte> lines, int count)
    {
        lines.CopyTo(GetSpace(lines.Length, long.MaxValue).Span);
        Length += lines.Length;
        Records += count;
    }

    /// <summary>At least <paramref name="size"/> free bytes (growing, never past <paramref name="cap"/> when it can help it).</summary>
    public Memory<byte> GetSpace(int size, long cap)
    {
        var buffer = Buffer;
        if (buffer.Length - Length < size)
        {
            var wanted = (long)Length + size;
            var grown = Math.Max(wanted, Math.Min((long)buffer.Length * 2, Math.Max(cap, wanted)));
            var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(grown, Array.MaxLength));
            buffer.AsSpan(0, Length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(buffer);
            _buffer = buffer = larger;
        }

        return buffer.AsMemory(Length);
    }

    public void Advance(int count) => Length += count;

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
