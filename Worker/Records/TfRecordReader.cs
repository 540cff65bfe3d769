using System.Buffers;
using System.Buffers.Binary;

namespace Worker.Records;

/// <summary>
/// TFRecord framing: <c>u64 length | u32 masked CRC32C(length bytes) | data | u32 masked CRC32C(data)</c>,
/// little-endian. Synchronous and restartable: false means "need more data" and consumes nothing.
/// Both CRCs are verified; a mismatch names the record and its byte offset.
/// </summary>
public static class TfRecordReader
{
    public const int HeaderLength = 12;
    public const int FooterLength = 4;

    /// <param name="offsetBase">Added to byte offsets in errors: where the reader's sequence starts in the whole stream.</param>
    public static bool TryReadRecord(ref SequenceReader<byte> reader, long recordIndex, out ReadOnlySequence<byte> data, long offsetBase = 0)
    {
        data = default;
        var start = offsetBase + reader.Consumed;
        if (reader.Remaining < HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        reader.TryCopyTo(header);
        var length = BinaryPrimitives.ReadUInt64LittleEndian(header);
        var lengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (Crc32C.Mask(Crc32C.Compute(header[..8])) != lengthCrc)
        {
            throw new RecordException($"record {recordIndex}: TFRecord length CRC mismatch at byte {start}", recordIndex, start);
        }

        if (length > (ulong)(long.MaxValue - HeaderLength - FooterLength))
        {
            throw new RecordException($"record {recordIndex}: TFRecord length {length} is impossible", recordIndex, start);
        }

        if (reader.Remaining < HeaderLength + (long)length + FooterLength)
        {
            return false;
        }

        var frame = reader.UnreadSequence.Slice(HeaderLength);
        data = frame.Slice(0, (long)length);
        Span<byte> footer = stackalloc byte[FooterLength];
        frame.Slice((long)length, FooterLength).CopyTo(footer);
        var state = ~0u;
        foreach (var segment in data)
        {
            state = Crc32C.Append(state, segment.Span);
        }

        if (Crc32C.Mask(~state) != BinaryPrimitives.ReadUInt32LittleEndian(footer))
        {
            throw new RecordException($"record {recordIndex}: TFRecord data CRC mismatch at byte {start}", recordIndex, start);
        }

        reader.Advance(HeaderLength + (long)length + FooterLength);
        return true;
    }

    // The same checks as TryReadRecord, on one span: no SequenceReader per frame.
    private static void ForEachInSpan<TState>(ReadOnlySequence<byte> body, ref TState state, RecordVisitor<TState> visit)
    {
        var span = body.FirstSpan;
        var position = 0;
        long index = 0;
        while (position < span.Length)
        {
            var rest = span[position..];
            if (rest.Length < HeaderLength)
            {
                throw new RecordException($"record {index}: TFRecord frame at byte {position} is truncated ({rest.Length} bytes left)", index, position);
            }

            var length = BinaryPrimitives.ReadUInt64LittleEndian(rest);
            if (Crc32C.Mask(Crc32C.Compute(rest[..8])) != BinaryPrimitives.ReadUInt32LittleEndian(rest[8..]))
            {
                throw new RecordException($"record {index}: TFRecord length CRC mismatch at byte {position}", index, position);
            }

            if (length > (ulong)(rest.Length - HeaderLength - FooterLength) || rest.Length < HeaderLength + FooterLength)
            {
                throw new RecordException($"record {index}: TFRecord frame at byte {position} is truncated ({rest.Length} bytes left)", index, position);
            }

            var data = rest.Slice(HeaderLength, (int)length);
            if (Crc32C.Mask(Crc32C.Compute(data)) != BinaryPrimitives.ReadUInt32LittleEndian(rest[(HeaderLength + (int)length)..]))
            {
                throw new RecordException($"record {index}: TFRecord data CRC mismatch at byte {position}", index, position);
            }

            visit(ref state, body.Slice(position + HeaderLength, (long)length), index, position);
            position += HeaderLength + (int)length + FooterLength;
            index++;
        }
    }

    /// <summary>Whole-body form: every frame, or a 400 for a truncated last one.</summary>
    public static void ForEach<TState>(ReadOnlySequence<byte> body, ref TState state, RecordVisitor<TState> visit)
    {
        if (body.IsSingleSegment)
        {
            ForEachInSpan(body, ref state, visit);
            return;
        }

        var reader = new SequenceReader<byte>(body);
        long index = 0;
        while (!reader.End)
        {
            var offset = reader.Consumed;
            if (!TryReadRecord(ref reader, index, out var record))
            {
                throw new RecordException($"record {index}: TFRecord frame at byte {offset} is truncated ({reader.Remaining} bytes left)", index, offset);
            }

            visit(ref state, record, index, offset);
            index++;
        }
    }
}

/// <summary>Called once per framed record with its data, index and byte offset in the body.</summary>
public delegate void RecordVisitor<TState>(ref TState state, ReadOnlySequence<byte> record, long index, long offset);
