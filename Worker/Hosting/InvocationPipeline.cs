using System.Buffers;
using Worker.Http;
using Worker.Inference;
using Worker.Output;
using Worker.Records;

namespace Worker.Hosting;

/// <summary>
/// <c>POST /invocations</c>: body → records (by Content-Type and batch strategy) → input rows →
/// inference queue → one answer per record, in order, in the Accept type.
/// </summary>
public sealed class InvocationPipeline(InferenceEngine engine, WorkerSettings settings) : IInvocationHandler
{
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

    private void Decode(ReadOnlySequence<byte> body, RecordFormat format, CsvOptions csv, RowSet rows)
    {
        var single = settings.BatchStrategy == BatchStrategy.SingleRecord;
        if (format is RecordFormat.TfRecord or RecordFormat.RecordIO or RecordFormat.RecordIOProtobuf)
        {
            FramedRecords.Decode(body, format, _framed, rows, single);
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
