using System.Buffers;
using Worker.Records;

namespace Worker.Jobs.Transform;

/// <summary>SageMaker's SplitType: how an input file is cut into records.</summary>
public enum SplitType
{
    None,
    Line,
    RecordIO,
    TFRecord,
}

/// <summary>
/// Cuts an input stream into records by SplitType, as SageMaker's data plane does before it packs
/// them into requests. Synchronous and restartable: false means "need more data" and consumes
/// nothing. Each record comes back twice: <c>wire</c>, its bytes as they stand in the file (line end
/// or framing included, for packing MultiRecord payloads), and <c>bare</c>, the record alone (what a
/// SingleRecord request carries: SageMaker strips TFRecord and RecordIO framing).
/// </summary>
public sealed class InputSplitter(SplitType splitType, bool csvQuotes)
{
    // A quoted CSV field may hold line ends: with csvQuotes a line ends only outside quotes, so one
    // RFC 4180 row is never cut in two (SageMaker's own Line splitter does cut it).
    private readonly bool _csvQuotes = csvQuotes;

    // The unfinished line at the reader's start: how many of its bytes earlier calls already looked at,
    // and whether that point is inside quotes. A file's one huge record then costs one pass, not one
    // pass per read buffer (which was quadratic in the record's size).
    private long _lineScanned;
    private bool _lineQuoted;

    public SplitType SplitType { get; } = splitType;

    /// <summary>
    /// Reads the next record. <paramref name="isFinalBlock"/>: nothing follows what the reader holds,
    /// so a last line without a line end is a record and a cut frame is an error.
    /// <paramref name="offsetBase"/> is where the reader's sequence starts in the file (for errors).
    /// A multi-part RecordIO record is joined into <paramref name="joined"/>, valid until the next call.
    /// After false (more data needed), the next call must start where this one started, with the same
    /// bytes and more after them: the pipe's contract when the caller consumes only whole records.
    /// </summary>
    public bool TryRead(ref SequenceReader<byte> reader, bool isFinalBlock, long offsetBase, long recordIndex, ArrayBufferWriter<byte> joined,
        out ReadOnlySequence<byte> wire, out ReadOnlySequence<byte> bare)
    {
        wire = default;
        bare = default;
        if (reader.End)
        {
            return false;
        }

        var start = reader.Position;
        switch (SplitType)
        {
            case SplitType.Line:
                return TryReadLine(ref reader, isFinalBlock, out wire, out bare);

            case SplitType.TFRecord:
                if (TfRecordReader.TryReadRecord(ref reader, recordIndex, out bare, offsetBase))
                {
                    wire = reader.Sequence.Slice(start, reader.Position);
                    return true;
                }

                break;

            case SplitType.RecordIO:
                joined.ResetWrittenCount();
                if (RecordIOReader.TryReadRecord(ref reader, recordIndex, joined, out var data, out var isJoined, offsetBase))
                {
                    wire = reader.Sequence.Slice(start, reader.Position);
                    bare = isJoined ? new ReadOnlySequence<byte>(joined.WrittenMemory) : data;
                    return true;
                }

                break;

            default:
                // None: the whole file is one record.
                if (!isFinalBlock)
                {
                    return false;
                }

                wire = bare = reader.UnreadSequence;
                reader.AdvanceToEnd();
                return true;
        }

        if (isFinalBlock)
        {
            var offset = offsetBase + reader.Consumed;
            var kind = SplitType == SplitType.TFRecord ? "TFRecord" : "RecordIO";
            throw new RecordException($"record {recordIndex}: {kind} frame at byte {offset} is truncated ({reader.Remaining} bytes left in the file)", recordIndex, offset);
        }

        return false;
    }

    /// <summary>
    /// Line splitting in bulk, for MultiRecord packing: the whole lines at the reader that lie in its
    /// current span and fit in <paramref name="maxBytes"/>, in one piece with their count: exactly the
    /// wire bytes <see cref="TryRead"/> would give one line at a time (a line of a CSV file ends only
    /// outside quotes, so with quotes the lines stop before the first quote). False, consuming nothing,
    /// when not one whole line is there; <see cref="TryRead"/> then takes the next line alone.
    /// </summary>
    public bool TryReadLines(ref SequenceReader<byte> reader, long maxBytes, out ReadOnlySpan<byte> lines, out int count)
    {
        lines = default;
        count = 0;
        if (SplitType != SplitType.Line || _lineScanned != 0 || _lineQuoted)
        {
            return false; // part way into a line: TryRead carries on with it
        }

        var span = reader.UnreadSpan;
        if (span.Length > maxBytes)
        {
            span = span[..(int)maxBytes];
        }

        if (_csvQuotes && span.IndexOf((byte)'"') is var quote and >= 0)
        {
            span = span[..quote];
        }

        var last = span.LastIndexOf((byte)'\n');
        if (last < 0)
        {
            return false;
        }

        lines = span[..(last + 1)];
        count = lines.Count((byte)'\n');
        reader.Advance(lines.Length);
        return true;
    }

    private bool TryReadLine(ref SequenceReader<byte> reader, bool isFinalBlock, out ReadOnlySequence<byte> wire, out ReadOnlySequence<byte> bare)
    {
        var start = reader.Position;
        var probe = reader;
        probe.Advance(_lineScanned);
        var quoted = _lineQuoted;
        bool found;
        if (!_csvQuotes)
        {
            found = probe.TryAdvanceTo((byte)'\n', advancePastDelimiter: true);
        }
        else
        {
            found = false;
            while (probe.TryAdvanceToAny("\"\n"u8, advancePastDelimiter: false))
            {
                probe.TryRead(out var b);
                if (b == (byte)'"')
                {
                    quoted = !quoted;
                }
                else if (!quoted)
                {
                    found = true;
                    break;
                }
            }
        }

        if (found)
        {
            _lineScanned = 0;
            _lineQuoted = false;
            wire = reader.Sequence.Slice(start, probe.Position);
            bare = TrimLineEnd(wire);
            reader = probe;
            return true;
        }

        if (!isFinalBlock)
        {
            // Every byte up to the end was looked at and holds no line end outside quotes.
            _lineScanned = reader.Remaining;
            _lineQuoted = quoted;
            wire = bare = default;
            return false;
        }

        // The last line has no line end.
        _lineScanned = 0;
        _lineQuoted = false;
        wire = reader.UnreadSequence;
        bare = TrimLineEnd(wire);
        reader.AdvanceToEnd();
        return true;
    }

    private static ReadOnlySequence<byte> TrimLineEnd(ReadOnlySequence<byte> line)
    {
        var length = line.Length;
        if (length > 0 && EndsWith(line, length, (byte)'\n'))
        {
            length--;
        }

        if (length > 0 && EndsWith(line, length, (byte)'\r'))
        {
            length--;
        }

        return line.Slice(0, length);
    }

    private static bool EndsWith(ReadOnlySequence<byte> sequence, long length, byte value)
    {
        Span<byte> last = stackalloc byte[1];
        sequence.Slice(length - 1, 1).CopyTo(last);
        return last[0] == value;
    }
}
