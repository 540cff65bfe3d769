using System.Buffers;
using System.IO.Pipelines;
using Worker.Http;
using Worker.Inference;
using Worker.Output;
using Worker.Records;

namespace Worker.Hosting;

/// <summary>
/// <c>POST /invocations</c>: body → records (by Content-Type and batch strategy) → input rows →
/// inference queue → one answer per record, in order, in the Accept type.
/// </summary>
public sealed class InvocationPipeline(InferenceEngine engine, WorkerSettings settings) : IStreamingInvocationHandler
{
    // A streamed body is decoded in pieces of about this many bytes of whole records; while the next
    // piece is decoded, earlier ones run and their answers are formatted on other threads, so decoding,
    // inference and answer text share the cores; each piece's rows are freed once its answers are out.
    private const int StreamedPieceBytes = 1024 * 1024;
    private const int StreamedPiecesInFlight = 4;

    private readonly AnswerWriter _answers = new(engine.Signature);
    private readonly ProtoRecordDecoder _framed = new(engine.Signature);

    // About 8 text bytes per value: a guess at rows per body byte that saves regrowing the row buffers.
    private readonly long _estimatedBytesPerRow = Math.Max(1, engine.Signature.Inputs.Sum(i => i.RowSize) * 8);

    public InferenceEngine Engine { get; } = engine;

    public async ValueTask InvokeAsync(HttpRequestHead head, ReadOnlySequence<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        if (!MediaTypes.TryGetRecordFormat(head.ContentType, out var format, out var csv, out var error))
        {
            response.SetError(415, error);
            return;
        }

        if (!MediaTypes.TryGetAnswerFormat(head.Accept, format, out var answer, out error))
        {
            response.SetError(406, error);
            return;
        }

        if (format == RecordFormat.Image && Engine.Signature.Image is null)
        {
            response.SetError(415, $"Content-Type '{head.ContentType}': this model's input is not an image input (one input of rank 4, 1 or 3 channels, float32, float16 or uint8): {Engine.Signature.Inputs[0].Name}{Engine.Signature.Inputs[0].ShapeText}");
            return;
        }

        if (body.IsEmpty)
        {
            response.SetError(400, "the request body is empty");
            return;
        }

        using var rows = new RowSet(Engine.Signature, EstimateRows(body.Length));
        try
        {
            Decode(body, format, csv, rows);
        }
        catch (RecordException e)
        {
            response.SetError(400, e.Message, e.Record, e.Offset);
            return;
        }

        if (rows.RowCount == 0)
        {
            response.SetError(400, "the request body holds no record");
            return;
        }

        if (!Engine.NeedsSlices(rows))
        {
            try
            {
                await Engine.RunAsync(rows, cancellationToken).ConfigureAwait(false);
            }
            catch (InferenceException e)
            {
                response.SetError(500, "inference failed: " + e.Message);
                return;
            }

            response.StatusCode = 200;
            response.ContentType = MediaTypes.ContentTypeOf(answer);
            _answers.Write(answer, rows, response.Body);
            return;
        }

        // A request larger than one batch (or of records of several shapes): its slices run while the
        // answers of those before them are written.
        var slices = await Engine.SubmitAsync(rows, cancellationToken).ConfigureAwait(false);
        response.StatusCode = 200;
        response.ContentType = MediaTypes.ContentTypeOf(answer);
        AnswerWriter.WriteStart(answer, response.Body);
        for (var s = 0; s < slices.Length; s++)
        {
            try
            {
                await slices[s].Completion.ConfigureAwait(false);
            }
            catch (InferenceException e)
            {
                await InferenceEngine.WhenAllSettled(slices.Select(slice => slice.Completion).ToArray()).ConfigureAwait(false);
                response.SetError(500, "inference failed: " + e.Message);
                return;
            }

            _answers.WriteRows(answer, rows, slices[s].FirstRow, slices[s].RowCount, response.Body);
        }

        AnswerWriter.WriteEnd(answer, response.Body);
    }

    /// <summary>
    /// Many records in a body whose framing splits it without decoding: CSV (no header to carry
    /// between pieces), JSON Lines, TFRecord and RecordIO, under MULTI_RECORD.
    /// </summary>
    public bool CanStream(HttpRequestHead head) =>
        settings.BatchStrategy == BatchStrategy.MultiRecord
        && MediaTypes.TryGetRecordFormat(head.ContentType, out var format, out var csv, out _)
        && format is RecordFormat.Csv or RecordFormat.JsonLines or RecordFormat.TfRecord or RecordFormat.RecordIO or RecordFormat.RecordIOProtobuf
        && !csv.HasHeader
        && MediaTypes.TryGetAnswerFormat(head.Accept, format, out _, out _);

    /// <summary>
    /// A large body decoded as it arrives: cut at record boundaries into pieces, each piece's rows
    /// queued for inference while the next is read, its answers written once it has run. Only the
    /// answers are held to the end (the status line comes first, and a bad record anywhere is a 400
    /// naming it), never the body or all of its rows.
    /// </summary>
    public async ValueTask InvokeStreamingAsync(HttpRequestHead head, RequestBodyReader body, HttpResponse response, CancellationToken cancellationToken)
    {
        MediaTypes.TryGetRecordFormat(head.ContentType, out var format, out var csv, out _);
        MediaTypes.TryGetAnswerFormat(head.Accept, format, out var answer, out _);
        var split = format switch
        {
            RecordFormat.Csv or RecordFormat.JsonLines => Jobs.Transform.SplitType.Line,
            RecordFormat.TfRecord => Jobs.Transform.SplitType.TFRecord,
            _ => Jobs.Transform.SplitType.RecordIO,
        };
        var splitter = new Jobs.Transform.InputSplitter(split, csvQuotes: format == RecordFormat.Csv);
        var joined = new ArrayBufferWriter<byte>();
        var pending = new Queue<Task<PooledBufferWriter>>();
        long records = 0;
        long offset = 0;
        var written = 0;
        AnswerWriter.WriteStart(answer, response.Body);
        try
        {
            while (true)
            {
                var (buffer, isFinal) = await body.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (buffer.Length < StreamedPieceBytes && !isFinal)
                {
                    body.AdvanceTo(buffer.Start, buffer.End); // not a piece yet: wait for more
                    continue;
                }

                SequencePosition end;
                try
                {
                    end = EndOfWholeRecords(splitter, buffer, isFinal, offset, records, joined);
                }
                catch (RecordException e)
                {
                    response.SetError(400, e.Message, e.Record, e.Offset); // a cut or damaged frame; already counted from the body's start
                    return;
                }

                var piece = buffer.Slice(0, end);
                if (piece.IsEmpty)
                {
                    if (isFinal)
                    {
                        break;
                    }

                    if (buffer.Length >= body.MaxHeldBytes)
                    {
                        response.SetError(413, $"record {records} (byte {offset} of the body) is over {body.MaxHeldBytes >> 20} MiB, the most one record of a chunked body may be", records, offset);
                        return;
                    }

                    body.AdvanceTo(buffer.Start, buffer.End); // one record larger than a piece: read on
                    continue;
                }

                var rows = new RowSet(Engine.Signature, EstimateRows(piece.Length));
                try
                {
                    Decode(piece, format, csv, rows);
                }
                catch (RecordException e)
                {
                    rows.Dispose();
                    var where = records + e.Record;
                    var message = e.Message.StartsWith($"record {e.Record}", StringComparison.Ordinal) ? $"record {where}" + e.Message[$"record {e.Record}".Length..] : e.Message;
                    response.SetError(400, message, where, offset + e.Offset);
                    return;
                }

                records += rows.RowCount;
                offset += piece.Length;
                body.AdvanceTo(piece.End, piece.End);
                InferenceEngine.Slice[] slices;
                try
                {
                    slices = await Engine.SubmitAsync(rows, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    rows.Dispose();
                    throw;
                }

                pending.Enqueue(Task.Run(() => FormatPieceAsync(rows, slices, answer), CancellationToken.None));
                while (pending.Count > StreamedPiecesInFlight || (pending.Count > 0 && pending.Peek().IsCompleted))
                {
                    written = await WritePieceAsync(pending.Dequeue(), answer, response, written).ConfigureAwait(false);
                }

                if (isFinal && body.IsComplete)
                {
                    break;
                }
            }

            while (pending.Count > 0)
            {
                written = await WritePieceAsync(pending.Dequeue(), answer, response, written).ConfigureAwait(false);
            }
        }
        catch (InferenceException e)
        {
            response.SetError(500, "inference failed: " + e.Message);
            return;
        }
        finally
        {
            // Pieces not written (a failure or a bad record on the way): each frees its rows once its
            // slices have settled; only the answers' buffers are left to return.
            while (pending.Count > 0)
            {
                var formatting = pending.Dequeue();
                await ((Task)formatting).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (formatting.IsCompletedSuccessfully)
                {
                    formatting.Result.Dispose();
                }
            }
        }

        if (records == 0)
        {
            response.SetError(400, "the request body holds no record");
            return;
        }

        AnswerWriter.WriteEnd(answer, response.Body);
        response.StatusCode = 200;
        response.ContentType = MediaTypes.ContentTypeOf(answer);
    }

    /// <summary>
    /// Where the whole records at the buffer's start end, taking about a piece's worth; the splitter
    /// keeps its place in a record that straddles reads.
    /// </summary>
    private static SequencePosition EndOfWholeRecords(Jobs.Transform.InputSplitter splitter, ReadOnlySequence<byte> buffer, bool isFinal, long offset, long records, ArrayBufferWriter<byte> joined)
    {
        var reader = new SequenceReader<byte>(buffer);
        var counted = 0L;
        while (reader.Consumed < StreamedPieceBytes)
        {
            if (splitter.TryReadLines(ref reader, StreamedPieceBytes - reader.Consumed, out _, out var lines))
            {
                counted += lines;
                continue;
            }

            if (!splitter.TryRead(ref reader, isFinal, offset, records + counted, joined, out _, out _))
            {
                break;
            }

            counted++;
        }

        return reader.Position;
    }

    /// <summary>
    /// Waits for a piece's slices, formats its answers into a buffer of their own and frees its rows:
    /// run beside the decoding of the pieces after it.
    /// </summary>
    private async Task<PooledBufferWriter> FormatPieceAsync(RowSet rows, InferenceEngine.Slice[] slices, AnswerFormat answer)
    {
        using (rows)
        {
            try
            {
                foreach (var slice in slices)
                {
                    await slice.Completion.ConfigureAwait(false);
                }
            }
            catch (InferenceException)
            {
                await InferenceEngine.WhenAllSettled(slices.Select(s => s.Completion).ToArray()).ConfigureAwait(false);
                throw;
            }

            var text = new PooledBufferWriter(64 * 1024);
            _answers.WriteRows(answer, rows, 0, rows.RowCount, text);
            return text;
        }
    }

    /// <summary>Writes a piece's formatted answers after those before it; returns the pieces written.</summary>
    private static async Task<int> WritePieceAsync(Task<PooledBufferWriter> formatting, AnswerFormat answer, HttpResponse response, int written)
    {
        using var text = await formatting.ConfigureAwait(false);
        if (written > 0 && answer == AnswerFormat.Json)
        {
            response.Body.Write(","u8); // the answers of each piece continue one JSON array
        }

        foreach (var segment in text.AsSequence())
        {
            response.Body.Write(segment.Span);
        }

        return written + 1;
    }

    /// <summary>
    /// Runs synthetic records (numbers as pandas and numpy write them, "a" for strings) through the
    /// text formats and every answer type a few times, pausing between rounds so the runtime can finish compiling
    /// what the first rounds made hot. A fresh process's first real requests then find the decoders,
    /// the engine, ORT's arena and its threads warm (BENCHMARKS.md, first requests). A model that
    /// refuses the synthetic records is simply not warmed: the error goes nowhere.
    /// </summary>
    /// <param name="requestPath">Also take a real request's path 175 times in five phases (about two seconds): for a server's start, not for a multi-model load that a caller waits on.</param>
    public int WarmUp(int rounds = 3, int rowsPerBody = 4096, bool requestPath = true)
    {
        var signature = Engine.Signature;

        // About a million values a body: an image model's rows hold 150,528 values each.
        var valuesPerRow = Math.Max(1, signature.Inputs.Sum(i => i.HasDynamicAxes ? i.FixedRowSize * 2 : i.RowSize));
        rowsPerBody = (int)Math.Clamp(1_000_000 / valuesPerRow, 1, rowsPerBody);
        var bodies = new List<(RecordFormat Format, byte[] Body)> { (RecordFormat.JsonLines, SyntheticJsonLines(rowsPerBody)) };
        if (signature.Image is not null)
        {
            bodies.Add((RecordFormat.Image, Records.Images.SyntheticImages.Jpeg(640, 480)));
        }

        if (!signature.HasDynamicInputs || (signature.Inputs.Count == 1 && signature.Inputs[0].Shape.Count(d => d < 0) == 2))
        {
            bodies.Add((RecordFormat.Csv, SyntheticCsv(rowsPerBody)));
        }

        var ran = 0;
        var secondsPerRow = double.MaxValue;
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (format, body) in bodies)
            {
                using var rows = new RowSet(signature, rowsPerBody);
                try
                {
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    Decode(new ReadOnlySequence<byte>(body), format, default, rows);
                    Engine.RunAsync(rows, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                    foreach (var answer in Enum.GetValues<AnswerFormat>())
                    {
                        using var output = new PooledBufferWriter();
                        _answers.Write(answer, rows, output);
                    }

                    secondsPerRow = Math.Min(secondsPerRow, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds / Math.Max(1, rows.RowCount));

                    ran++;
                }
                catch (Exception e) when (e is RecordException or InferenceException)
                {
                    return ran;
                }
            }

            Thread.Sleep(150); // tier-1 compilation of what just ran happens in the background
        }

        if (requestPath)
        {
            WarmRequestPath(bodies, secondsPerRow);
        }

        return ran;
    }

    /// <summary>
    /// Methods called once a request (the request handler, streamed or whole, its slices, the answer
    /// writers, the head parser) are promoted only after 30 calls, and with TieredPGO twice (precompiled, then an
    /// instrumented build that gathers the profile, then the optimised one): a real request's path,
    /// taken 30+ times on small bodies in each of three phases with pauses for the background
    /// compiler. Without it a fresh process's requests 2 to 30 ran about twice as slow as the
    /// fiftieth (BENCHMARKS.md, first requests). Its bodies shrink so that their inference, at
    /// <paramref name="secondsPerRow"/>, stays within <see cref="RequestPathBudgetSeconds"/>: 1,050 bodies of
    /// 600 rows took the 64→512→512→16 MLP 10 s on 2 cores, and an image model would take hours, while
    /// /ping says 503. A model too heavy for one row a body is not warmed this way: its own
    /// inference then outweighs cold code by far.
    /// </summary>
    /// <summary>The time the request path's warm-up may spend on its bodies (its pauses for the compiler come on top).</summary>
    internal const double RequestPathBudgetSeconds = 2.0;

    private static readonly string[] RequestPathAccepts = ["text/csv", "application/jsonlines", "application/json"];

    /// <summary>
    /// Rows a body for <paramref name="invocations"/> request-path calls at <paramref name="secondsPerRow"/>
    /// (a warm invocation's decode, Run and answers, per row): more than one slice where the budget
    /// allows, fewer where not, 0 where one row a body would overrun it.
    /// </summary>
    internal static int RequestPathRows(int maxBatchRows, int invocations, double secondsPerRow) =>
        (int)Math.Min(Math.Min(maxBatchRows + 88, 600), RequestPathBudgetSeconds / (Math.Max(1, invocations) * secondsPerRow));

    private int WarmRequestPath(List<(RecordFormat Format, byte[] Body)> bodies, double secondsPerRow)
    {
        const int Calls = 35;
        const int Phases = 5;
        var formats = bodies.Count(b => b.Format is RecordFormat.Csv or RecordFormat.JsonLines);
        var rowsPerBody = RequestPathRows(Engine.Options.MaxBatchRows, Calls * Phases * RequestPathAccepts.Length * formats, secondsPerRow);
        if (rowsPerBody < 1)
        {
            return 0;
        }

        var small = new List<(string ContentType, byte[] Body)>();
        foreach (var (format, _) in bodies)
        {
            if (format == RecordFormat.Csv)
            {
                small.Add(("text/csv", SyntheticCsv(rowsPerBody)));
            }
            else if (format == RecordFormat.JsonLines)
            {
                small.Add(("application/jsonlines", SyntheticJsonLines(rowsPerBody)));
            }
        }

        var headText = "POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\nAccept: text/csv\r\nContent-Length: 8\r\n\r\n"u8.ToArray();
        var head = new HttpRequestHead();
        using var response = new HttpResponse();
        var ran = 0;
        for (var call = 0; call < Calls * Phases; call++)
        {
            if (call > 0 && call % Calls == 0)
            {
                Thread.Sleep(300);
            }

            head.Reset();
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(headText));
            HttpRequestParser.TryParseHead(ref reader, head);
            foreach (var (contentType, body) in small)
            {
                foreach (var accept in RequestPathAccepts)
                {
                    head.ContentType = contentType;
                    head.Accept = accept;
                    response.Reset();
                    InvokeAsync(head, new ReadOnlySequence<byte>(body), response, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                    if (response.StatusCode != 200)
                    {
                        return ran; // a model that refuses synthetic records is simply not warmed
                    }

                    ran++;
                    if (CanStream(head))
                    {
                        // Bodies of 1 MiB or more take the decoded-as-it-arrives path: warm it too.
                        var pipe = new Pipe();
                        pipe.Writer.Write(body);
                        pipe.Writer.Complete();
                        response.Reset();
                        InvokeStreamingAsync(head, new RequestBodyReader(pipe.Reader, body.Length, _ => { }), response, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                        pipe.Reader.Complete();
                        if (response.StatusCode != 200)
                        {
                            return ran;
                        }
                    }
                }
            }
        }

        // A first real request rents megabyte buffers (its body, rows, answer) that no warm-up body
        // needed: the pool's first arrays of those sizes are allocated and zeroed then. Have them ready.
        var buffers = new List<byte[]>();
        for (var size = 1 << 20; size <= 8 << 20; size <<= 1)
        {
            buffers.Add(ArrayPool<byte>.Shared.Rent(size));
            buffers.Add(ArrayPool<byte>.Shared.Rent(size));
        }

        foreach (var buffer in buffers)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Thread.Sleep(300);
        return ran;
    }

    private byte[] SyntheticCsv(int rows)
    {
        var text = new System.Text.StringBuilder();
        for (var row = 0; row < rows; row++)
        {
            var first = true;
            foreach (var input in Engine.Signature.Inputs)
            {
                for (var i = 0; i < (input.HasDynamicAxes ? input.FixedRowSize * 2 : input.RowSize); i++)
                {
                    text.Append(first ? "" : ",").Append(SyntheticValue(input.ElementType, row + i, json: false));
                    first = false;
                }
            }

            text.Append('\n');
        }

        return System.Text.Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>
    /// A value of the type as users' tools write it: for floats, pandas' 17-digit text and numpy's
    /// shorter text with exponents in turn, so the warm-up takes every number path the real data will.
    /// </summary>
    private static string SyntheticValue(Inference.Ort.TensorElementType type, int seed, bool json)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        return type switch
        {
            Inference.Ort.TensorElementType.String => json ? "\"a\"" : "a",
            Inference.Ort.TensorElementType.Float or Inference.Ort.TensorElementType.Double =>
                (seed % 3) switch
                {
                    0 => ((seed * 0.7071067811865476 % 3) - 1.5).ToString("R", invariant),
                    1 => ((float)((seed % 97) * 1.234567e-5)).ToString("R", invariant),
                    _ => (seed % 100 * 0.25).ToString("0.0#", invariant),
                },
            Inference.Ort.TensorElementType.Float16 or Inference.Ort.TensorElementType.BFloat16 => (seed % 8 * 0.5).ToString(invariant),
            _ => "1",
        };
    }

    private byte[] SyntheticJsonLines(int rows)
    {
        string Tensor(Inference.Ort.TensorInfo input, int dimension)
        {
            if (dimension == input.Shape.Length)
            {
                return SyntheticValue(input.ElementType, dimension, json: true);
            }

            var size = input.Shape[dimension] < 0 ? 2 : (int)input.Shape[dimension];
            return "[" + string.Join(",", Enumerable.Repeat(Tensor(input, dimension + 1), size)) + "]";
        }

        var line = "{" + string.Join(",", Engine.Signature.Inputs.Select(input =>
            System.Text.Json.JsonSerializer.Serialize(input.Name) + ":" + (input.Shape.Length <= 1 ? Tensor(input, input.Shape.Length) : Tensor(input, 1)))) + "}\n";
        return System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(line, rows)));
    }

    private void Decode(ReadOnlySequence<byte> body, RecordFormat format, CsvOptions csv, RowSet rows)
    {
        var single = settings.BatchStrategy == BatchStrategy.SingleRecord;
        if (format is RecordFormat.TfRecord or RecordFormat.RecordIO or RecordFormat.RecordIOProtobuf)
        {
            FramedRecords.Decode(body, format, _framed, rows, single);
            return;
        }

        if (format == RecordFormat.Image && body.IsSingleSegment)
        {
            Records.Images.ImageRecords.Add(body.FirstSpan, rows, 0, 0);
            return;
        }

        // Parsers work on one span; a body spread over several pipe segments is copied once per request.
        byte[]? rented = null;
        ReadOnlySpan<byte> span;
        if (body.IsSingleSegment)
        {
            span = body.FirstSpan;
        }
        else
        {
            rented = ArrayPool<byte>.Shared.Rent(checked((int)body.Length));
            body.CopyTo(rented);
            span = rented.AsSpan(0, (int)body.Length);
        }

        try
        {
            switch (format)
            {
                case RecordFormat.Csv:
                    CsvRecordDecoder.Decode(span, csv, rows, single);
                    break;
                case RecordFormat.JsonLines:
                    JsonRecordDecoder.DecodeLines(span, rows, single);
                    break;
                case RecordFormat.Image:
                    Records.Images.ImageRecords.Add(span, rows, 0, 0);
                    break;
                default:
                    JsonRecordDecoder.DecodeDocument(span, rows, single);
                    break;
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private int EstimateRows(long bodyBytes) => (int)Math.Clamp(bodyBytes / _estimatedBytesPerRow, 1, 1 << 20);
}
