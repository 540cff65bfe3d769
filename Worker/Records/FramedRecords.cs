using System.Buffers;

namespace Worker.Records;

/// <summary>
/// TFRecord and RecordIO bodies: split by their framing (no copy), each record decoded into a row.
/// Under SINGLE_RECORD SageMaker sends the bare payload with the framing stripped; a body that is
/// exactly one frame whose framing checks out is accepted too.
/// </summary>
public static class FramedRecords
{
    public static void Decode(ReadOnlySequence<byte> body, RecordFormat format, ProtoRecordDecoder decoder, RowSet rows, bool singleRecord)
    {
        var state = new State(decoder, rows, format);
        try
        {
            if (singleRecord)
            {
                Visit(ref state, UnwrapSingle(body, format), 0, 0);
            }
            else if (format == RecordFormat.TfRecord)
            {
                TfRecordReader.ForEach(body, ref state, Visit);
            }
            else
            {
                RecordIOReader.ForEach(body, ref state, Visit);
            }
        }
        finally
        {
            if (state.Scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(state.Scratch);
            }
        }
    }

    private static ReadOnlySequence<byte> UnwrapSingle(ReadOnlySequence<byte> body, RecordFormat format)
    {
        if (!TryReadFrame(body, format, 0, out var data, out var consumed))
        {
            return body; // the bare payload
        }

        if (consumed == body.Length)
        {
            return data;
        }

        if (TryReadFrame(body.Slice(consumed), format, 1, out _, out _))
        {
            throw new RecordException("the body holds more than one framed record, but the batch strategy is SINGLE_RECORD", 1, consumed);
        }

        return body;
    }

    private static bool TryReadFrame(ReadOnlySequence<byte> body, RecordFormat format, long index, out ReadOnlySequence<byte> data, out long consumed)
    {
        var reader = new SequenceReader<byte>(body);
        try
        {
            bool complete;
            if (format == RecordFormat.TfRecord)
            {
                complete = TfRecordReader.TryReadRecord(ref reader, index, out data);
            }
            else
            {
                var joined = new ArrayBufferWriter<byte>();
                complete = RecordIOReader.TryReadRecord(ref reader, index, joined, out data, out var isJoined);
                if (complete && isJoined)
                {
                    data = new ReadOnlySequence<byte>(joined.WrittenMemory);
                }
            }

            consumed = reader.Consumed;
            return complete;
        }
        catch (RecordException)
        {
            // Not a frame that checks out: the caller treats the body as the bare record.
            data = default;
            consumed = 0;
            return false;
        }
    }

    private static void Visit(ref State state, ReadOnlySequence<byte> record, long index, long offset)
    {
        ReadOnlySpan<byte> span;
        if (record.IsSingleSegment)
        {
            span = record.FirstSpan;
        }
        else
        {
            // A record spread over pipe segments: copied once into a scratch buffer reused for the request.
            if (state.Scratch is null || state.Scratch.Length < record.Length)
            {
                if (state.Scratch is not null)
                {
                    ArrayPool<byte>.Shared.Return(state.Scratch);
                }

                state.Scratch = ArrayPool<byte>.Shared.Rent((int)record.Length);
            }

            record.CopyTo(state.Scratch);
            span = state.Scratch.AsSpan(0, (int)record.Length);
        }

        switch (state.Format)
        {
            case RecordFormat.TfRecord:
                state.Decoder.DecodeExample(span, state.Rows, index, offset);
                break;
            case RecordFormat.RecordIOProtobuf:
                state.Decoder.DecodeSageMakerRecord(span, state.Rows, index, offset);
                break;
            default:
                state.Decoder.DecodeRawTensor(span, state.Rows, index, offset);
                break;
        }
    }

    private struct State(ProtoRecordDecoder decoder, RowSet rows, RecordFormat format)
    {
        public readonly ProtoRecordDecoder Decoder = decoder;
        public readonly RowSet Rows = rows;
        public readonly RecordFormat Format = format;
        public byte[]? Scratch;
    }
}
