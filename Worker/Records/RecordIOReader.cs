using System.Buffers;
using System.Buffers.Binary;

namespace Worker.Records;

/// <summary>
/// dmlc RecordIO framing: <c>u32 magic 0xced7230a | u32 lrec | data | zero pad to 4</c>, where
/// <c>cflag = lrec &gt;&gt; 29</c> and <c>length = lrec &amp; (2^29 - 1)</c>. cflag 0 is a whole record;
/// 1, 2, 3 are the start, middle and end of one record that was cut where its data held the magic,
/// so the parts are joined with the magic bytes put back after each part of cflag 1 or 2.
/// </summary>
public static class RecordIOReader
{
    public const uint Magic = 0xced7230a;
    public const int HeaderLength = 8;
    private const uint LengthMask = (1u << 29) - 1;

    /// <summary>
    /// Reads one logical record. A whole record comes back as a slice of the input (no copy); a
    /// multi-part one is joined into <paramref name="joined"/>, which is written only once every part
    /// has arrived. False: need more data, nothing consumed, nothing written.
    /// </summary>
    /// <param name="offsetBase">Added to byte offsets in errors: where the reader's sequence starts in the whole stream.</param>
    public static bool TryReadRecord(ref SequenceReader<byte> reader, long recordIndex, IBufferWriter<byte> joined, out ReadOnlySequence<byte> data, out bool isJoined, long offsetBase = 0)
    {
        data = default;
        isJoined = false;

        // First pass: every part present and well formed?
        var probe = reader;
        var parts = 0;
        while (true)
        {
            if (!TryReadPart(ref probe, recordIndex, parts, offsetBase, out var cflag, out var part))
            {
                return false;
            }

            parts++;
            if (cflag == 0)
            {
                data = part;
                reader = probe;
                return true;
            }

            if (cflag == 3)
            {
                break;
            }
        }

        // Second pass: join the parts, putting back the magic that the writer cut at.
        Span<byte> magicBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magicBytes, Magic);
        for (var i = 0; i < parts; i++)
        {
            TryReadPart(ref reader, recordIndex, i, offsetBase, out var cflag, out var part);
            foreach (var segment in part)
            {
                joined.Write(segment.Span);
            }

            if (cflag != 3)
            {
                joined.Write(magicBytes);
            }
        }

        isJoined = true;
        return true;
    }

    private static bool TryReadPart(ref SequenceReader<byte> reader, long recordIndex, int partIndex, long offsetBase, out uint cflag, out ReadOnlySequence<byte> part)
    {
        cflag = 0;
        part = default;
        var offset = offsetBase + reader.Consumed;
        if (reader.Remaining < HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        reader.TryCopyTo(header);
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (magic != Magic)
        {
            throw new RecordException($"record {recordIndex}: bad RecordIO magic 0x{magic:x8} at byte {offset}", recordIndex, offset);
        }

        var lrec = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        cflag = lrec >> 29;
        var length = (long)(lrec & LengthMask);
        var inOrder = partIndex == 0 ? cflag is 0 or 1 : cflag is 2 or 3;
        if (!inOrder)
        {
            throw new RecordException($"record {recordIndex}: RecordIO part with cflag {cflag} out of order at byte {offset}", recordIndex, offset);
        }

        // dmlc's writer always pads to 4 bytes; requiring the padding keeps "need more" exact.
        var padded = (length + 3) & ~3L;
        if (reader.Remaining < HeaderLength + padded)
        {
            return false;
        }

        part = reader.UnreadSequence.Slice(HeaderLength, length);
        reader.Advance(HeaderLength + padded);
        return true;
    }

    /// <summary>Whole-body form: every logical record, or a 400 for a truncated or malformed frame.</summary>
    public static void ForEach<TState>(ReadOnlySequence<byte> body, ref TState state, RecordVisitor<TState> visit)
    {
        var reader = new SequenceReader<byte>(body);
        var joined = new ArrayBufferWriter<byte>();
        long index = 0;
        while (!reader.End)
        {
            var offset = reader.Consumed;
            joined.ResetWrittenCount();
            if (!TryReadRecord(ref reader, index, joined, out var record, out var isJoined))
            {
                throw new RecordException($"record {index}: RecordIO frame at byte {offset} is truncated ({reader.Remaining} bytes left)", index, offset);
            }

            visit(ref state, isJoined ? new ReadOnlySequence<byte>(joined.WrittenMemory) : record, index, offset);
            index++;
        }
    }
}
