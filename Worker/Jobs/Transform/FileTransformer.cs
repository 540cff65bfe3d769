using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Worker.Hosting;
using Worker.Records;

namespace Worker.Jobs.Transform;

/// <summary>
/// One input of a job: a local file's full path or an S3 object's <c>s3://</c> URI, its path relative
/// to the job's input (its output is that path + <c>.out</c>), and its stored length.
/// </summary>
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
    CompressionType? CompressionType,
    DataProcessing? Processing = null)
{
    public long MaxPayloadBytes => (long)MaxPayloadInMB * 1024 * 1024;
}

/// <summary>
/// Transforms one file: split it into records, pack them into requests, keep up to the job's
/// concurrency in flight, write the answers in input order to a temporary file and rename it to
/// <c>.out</c> only when every request succeeded.
/// </summary>
public sealed class FileTransformer(InvocationClient client, SemaphoreSlim requestSlots, ResolvedTransform job, TransformProgress progress, JobStorage storage)
{
    private const int ReadBufferBytes = 1 << 20;

    private static readonly ReadOnlyMemory<byte> LineEnd = "\n"u8.ToArray();

    // SplitType None with filters: the document is filtered whole, so it is read whole even when
    // MaxPayloadInMB is 0 (unlimited): at most this much.
    private const long MaxFilteredDocumentBytes = 100L * 1024 * 1024;

    private readonly DataProcessing _processing = job.Processing ?? DataProcessing.None;

    public async Task<FileOutcome> RunAsync(InputFile file, CancellationToken cancellationToken)
    {
        var counted = new RecordCount();
        OutputObject? output = null;
        try
        {
            var plan = Plan(file);
            output = await storage.CreateOutputAsync(file.RelativePath + ".out", cancellationToken).ConfigureAwait(false);
            await TransformAsync(file, plan, output.Stream, counted, cancellationToken).ConfigureAwait(false);
            await output.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new FileOutcome(file, output.Location, null, counted.Value);
        }
        catch (Exception e) when (e is TransformFileException or InvocationFailedException or RecordException or FilterException or IOException or UnauthorizedAccessException or InvalidDataException or StorageException)
        {
            await AbortAsync(output).ConfigureAwait(false);
            return new FileOutcome(file, null, e.Message, counted.Value);
        }
        catch
        {
            // Cancelled or worse: never leave a half-written answer behind.
            await AbortAsync(output).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task AbortAsync(OutputObject? output)
    {
        if (output is not null)
        {
            await output.AbortAsync().ConfigureAwait(false);
        }
    }

    /// <summary>What to send for a file: its Content-Type, split and compression, from the job or the file's name.</summary>
    private sealed record FilePlan(string ContentType, SplitType Split, bool Gzip, bool SkipHeaderLine, bool CsvQuotes, RecordProcessor? Processor);

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

        RecordProcessor? processor = null;
        if (_processing.IsActive)
        {
            try
            {
                _processing.CheckFormat("--content-type", format);
            }
            catch (ConfigurationException e)
            {
                throw new TransformFileException(e.Message);
            }

            processor = new RecordProcessor(_processing, format == RecordFormat.Csv);
        }

        return new FilePlan(contentType, split, gzip, skipHeader, format == RecordFormat.Csv, processor);
    }

    private async Task TransformAsync(InputFile file, FilePlan plan, Stream output, RecordCount counted, CancellationToken cancellationToken)
    {
        using var fileCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pending = Channel.CreateUnbounded<PendingRequest>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = WriteAnswersAsync(pending.Reader, output, plan.Processor, counted, fileCancel);
        Exception? produceError = null;
        try
        {
            var single = job.BatchStrategy == BatchStrategy.SingleRecord;
            if (plan.Split == SplitType.None || (!single && job.MaxPayloadInMB == 0 && plan.Processor is null))
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
        RecordOriginals? originals = null;
        if (job.MaxPayloadInMB == 0 && plan.Processor is null)
        {
            // Streamed with chunked encoding, as SageMaker does for MaxPayloadInMB 0; reopened per attempt.
            content = () => new OpenedStreamContent(token => OpenInputAsync(file, plan.Gzip, null, token), ReadBufferBytes);
        }
        else
        {
            buffered = await ReadWholeAsync(file, plan.Gzip, cancellationToken).ConfigureAwait(false);
            if (plan.Processor is { } processor)
            {
                // The document is the one record: filtered whole, and kept whole for the join.
                (buffered, originals) = FilterWhole(buffered, processor);
            }

            var memory = buffered.Memory;
            content = () => new ReadOnlyMemoryContent(memory);
        }

        progress.AddInputBytes(file.Length);
        await requestSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        var answer = InvokeAsync(content, plan, buffered, chunked: buffered is null, cancellationToken);
        await pending.WriteAsync(new PendingRequest(answer, 0, -1, originals), CancellationToken.None).ConfigureAwait(false);
    }

    private (Payload Filtered, RecordOriginals? Originals) FilterWhole(Payload whole, RecordProcessor processor)
    {
        using (whole)
        {
            RecordOriginals? originals = null;
            if (processor.Processing.JoinSource == JoinSource.Input)
            {
                originals = new RecordOriginals();
                originals.Add(whole.Memory.Span);
            }

            if (!processor.Processing.FiltersInput)
            {
                var copy = new Payload(0, whole.Length);
                copy.Append(new ReadOnlySequence<byte>(whole.Memory));
                return (copy, originals);
            }

            var scratch = new ArrayBufferWriter<byte>();
            try
            {
                processor.FilterInput(whole.Memory.Span, scratch);
            }
            catch (FilterException e)
            {
                throw new TransformFileException("record 0: " + e.Message);
            }

            var filtered = new Payload(0, scratch.WrittenCount);
            filtered.Append(new ReadOnlySequence<byte>(scratch.WrittenMemory));
            return (filtered, originals);
        }
    }

    private async Task<Payload> ReadWholeAsync(InputFile file, bool gzip, CancellationToken cancellationToken)
    {
        var limit = job.MaxPayloadInMB == 0 ? MaxFilteredDocumentBytes : job.MaxPayloadBytes;
        var payload = new Payload(0, (int)Math.Min(limit, Math.Max(file.Length, 4096)));
        try
        {
            await using var stream = await OpenInputAsync(file, gzip, null, cancellationToken).ConfigureAwait(false);
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
                    throw new TransformFileException(job.MaxPayloadInMB == 0
                        ? $"the file is over {MaxFilteredDocumentBytes >> 20} MiB, the most a filtered or joined SplitType None document may be"
                        : $"the file is over MaxPayloadInMB ({job.MaxPayloadInMB} MiB) and SplitType is None: split it (--split-type) or raise the limit");
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

        // Filtered records are packed here, not streamed: with no payload limit they still go in pieces.
        var maxPayloadInMB = job.MaxPayloadInMB == 0 && plan.Processor is not null ? (int)(MaxFilteredDocumentBytes >> 20) : job.MaxPayloadInMB;
        var state = new SplitState(splitter, single, maxPayloadInMB, plan.SkipHeaderLine, plan.Processor);
        var raw = new ByteCount();
        await using var stream = await OpenInputAsync(file, plan.Gzip, raw, cancellationToken).ConfigureAwait(false);
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

                var position = raw.Value;
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
        await pending.WriteAsync(new PendingRequest(answer, payload.FirstRecord, payload.Records, payload.Originals), CancellationToken.None).ConfigureAwait(false);
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
    private async Task<Exception?> WriteAnswersAsync(ChannelReader<PendingRequest> pending, Stream output, RecordProcessor? processor, RecordCount counted, CancellationTokenSource fileCancel)
    {
        Exception? failure = null;
        var rewritten = processor is { Processing.RewritesAnswers: true } ? new ArrayBufferWriter<byte>() : null;
        var pieces = new List<Range>();
        await foreach (var request in pending.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            try
            {
                if (failure is not null)
                {
                    // Drain: let the request finish (or see the cancellation) so its slot comes back.
                    await ((Task)request.Answer).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    if (request.Answer.IsCompletedSuccessfully)
                    {
                        request.Answer.Result.Dispose();
                    }

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

                using var owned = answer;
                long records;
                if (rewritten is not null)
                {
                    // Joined and filtered record by record: one output line each, whatever AssembleWith says.
                    records = Rewrite(request, answer, processor!, pieces, rewritten);
                    await output.WriteAsync(rewritten.WrittenMemory, CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    records = CheckAnswer(request, answer);
                    await output.WriteAsync(answer.Body, CancellationToken.None).ConfigureAwait(false);
                    if (job.AssembleWith == AssembleWith.Line && answer.Body.Length > 0 && answer.Body.Span[^1] != (byte)'\n')
                    {
                        await output.WriteAsync(LineEnd, CancellationToken.None).ConfigureAwait(false);
                    }
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

    private static long Rewrite(PendingRequest request, InvocationAnswer answer, RecordProcessor processor, List<Range> pieces, ArrayBufferWriter<byte> into)
    {
        into.ResetWrittenCount();
        var expected = request.Records < 0 ? 1 : request.Records;
        var body = answer.Body.Span;
        try
        {
            AnswerRecords.Split(body, answer.ContentType, expected, pieces);
        }
        catch (FilterException e)
        {
            throw new TransformFileException(Where(request, null) + e.Message);
        }

        var isCsv = AnswerRecords.IsCsv(answer.ContentType);
        var isJson = AnswerRecords.IsJson(answer.ContentType);
        for (var i = 0; i < pieces.Count; i++)
        {
            try
            {
                processor.WriteAnswer(request.Originals is { } originals ? originals[i] : default, body[pieces[i]], isCsv, isJson, into);
            }
            catch (FilterException e)
            {
                throw new TransformFileException(Where(request, i) + e.Message);
            }

            into.Write("\n"u8);
        }

        return expected;
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
            "text/csv" or "application/jsonlines" or "application/x-jsonlines" or "application/jsonl" => CountLines(answer.Body.Span),
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

    /// <summary>The input's bytes, decompressed when asked; <paramref name="raw"/> counts the stored bytes read (progress).</summary>
    private async Task<Stream> OpenInputAsync(InputFile file, bool gzip, ByteCount? raw, CancellationToken cancellationToken)
    {
        Stream stream = await storage.OpenInputAsync(file, cancellationToken).ConfigureAwait(false);
        if (raw is not null)
        {
            stream = new CountingReadStream(stream, raw);
        }

        return gzip ? new GZipStream(stream, CompressionMode.Decompress, leaveOpen: false) : stream;
    }

    private sealed record PendingRequest(Task<InvocationAnswer> Answer, long FirstRecord, int Records, RecordOriginals? Originals = null);

    private sealed class RecordCount
    {
        public long Value;
    }

    /// <summary>
    /// The synchronous half of splitting: records of one read buffer into payloads. It stops at a
    /// record boundary once a few payloads are ready, so a fast disk never runs far ahead of the
    /// container.
    /// </summary>
    private sealed class SplitState(InputSplitter splitter, bool single, int maxPayloadInMB, bool skipFirstRecord, RecordProcessor? processor) : IDisposable
    {
        private const int MaxReady = 8;
        private readonly ArrayBufferWriter<byte> _joined = new();
        private readonly ArrayBufferWriter<byte> _filtered = new();
        private readonly bool _keepOriginals = processor?.Processing.JoinSource == JoinSource.Input;
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
                if (!single && !_skip && processor is null && splitter.TryReadLines(ref reader, _limit - (_current?.Length ?? 0), out var lines, out var count))
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

                if (processor is not null)
                {
                    AddProcessed(bare, offset);
                }
                else
                {
                    Add(single ? bare : wire, offset);
                }

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

        /// <summary>A record through the input filter (one line each in MultiRecord), its original kept for the join.</summary>
        private void AddProcessed(ReadOnlySequence<byte> bare, long offset)
        {
            var record = bare.IsSingleSegment ? bare.FirstSpan : bare.ToArray();
            _filtered.ResetWrittenCount();
            if (processor!.Processing.FiltersInput)
            {
                try
                {
                    processor.FilterInput(record, _filtered);
                }
                catch (FilterException e)
                {
                    throw new TransformFileException($"record {_recordIndex} (byte {offset} of the file): {e.Message}");
                }
            }
            else
            {
                _filtered.Write(record);
            }

            if (!single)
            {
                _filtered.Write("\n"u8);
            }

            Add(new ReadOnlySequence<byte>(_filtered.WrittenMemory), offset);
            var payload = single ? Ready[^1] : _current!;
            if (_keepOriginals)
            {
                (payload.Originals ??= new RecordOriginals()).Add(record);
            }
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

    /// <summary>The records as they stand in the input, for JoinSource Input; outlives the payload until its answer is written.</summary>
    public RecordOriginals? Originals { get; set; }

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
