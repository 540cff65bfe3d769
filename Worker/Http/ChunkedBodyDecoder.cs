using System.Buffers;

namespace Worker.Http;

/// <summary>
/// Decodes a chunked request body (RFC 9112 §7.1) as bytes arrive. It consumes what it can, copies
/// chunk data into the output, and returns true once the last chunk and the trailer section are read.
/// Unlike the head parser it keeps state between calls, so the caller advances past what it consumed.
/// </summary>
public sealed class ChunkedBodyDecoder
{
    // A chunk-size line with extensions; generous, but bounded so a client cannot make us buffer forever.
    public const int MaxChunkLineLength = 4096;
    public const int MaxTrailerBytes = 16 * 1024;

    private enum Mode
    {
        SizeLine,
        Data,
        DataEnd,
        Trailer,
        Complete,
    }

    private Mode _mode;
    private long _chunkRemaining;
    private int _trailerBytes;

    /// <summary>Body bytes decoded so far.</summary>
    public long BodyLength { get; private set; }

    public void Reset()
    {
        _mode = Mode.SizeLine;
        _chunkRemaining = 0;
        _trailerBytes = 0;
        BodyLength = 0;
    }

    public bool TryDecode(ref SequenceReader<byte> reader, IBufferWriter<byte> body, long maxBodyBytes)
    {
        while (true)
        {
            switch (_mode)
            {
                case Mode.SizeLine:
                    if (!TryReadLine(ref reader, MaxChunkLineLength, RequestRejectionReason.ChunkLineTooLong, out var line))
                    {
                        return false;
                    }

                    var size = ParseChunkSize(line);
                    if (size == 0)
                    {
                        _mode = Mode.Trailer;
                        break;
                    }

                    if (size > maxBodyBytes - BodyLength)
                    {
                        HttpRejectException.Throw(RequestRejectionReason.BodyTooLarge);
                    }

                    _chunkRemaining = size;
                    _mode = Mode.Data;
                    break;

                case Mode.Data:
                    if (reader.End)
                    {
                        return false;
                    }

                    var available = reader.UnreadSpan;
                    var take = (int)Math.Min(available.Length, _chunkRemaining);
                    body.Write(available[..take]);
                    reader.Advance(take);
                    _chunkRemaining -= take;
                    BodyLength += take;
                    if (_chunkRemaining == 0)
                    {
                        _mode = Mode.DataEnd;
                    }

                    break;

                case Mode.DataEnd:
                    if (reader.Remaining < 2)
                    {
                        // A lone byte that is already wrong need not wait for the second.
                        if (reader.TryPeek(out var first) && first != (byte)'\r')
                        {
                            HttpRejectException.Throw(RequestRejectionReason.InvalidChunkLine);
                        }

                        return false;
                    }

                    if (!reader.IsNext("\r\n"u8, advancePast: true))
                    {
                        HttpRejectException.Throw(RequestRejectionReason.InvalidChunkLine);
                    }

                    _mode = Mode.SizeLine;
                    break;

                case Mode.Trailer:
                    var before = reader.Consumed;
                    if (!TryReadLine(ref reader, MaxTrailerBytes - _trailerBytes, RequestRejectionReason.InvalidChunkLine, out var trailer))
                    {
                        return false;
                    }

                    _trailerBytes += (int)(reader.Consumed - before);
                    if (trailer.IsEmpty)
                    {
                        _mode = Mode.Complete;
                        return true;
                    }

                    // Trailer fields are read and dropped: nothing the worker does depends on them.
                    break;

                case Mode.Complete:
                    return true;
            }
        }
    }

    private static bool TryReadLine(scoped ref SequenceReader<byte> reader, int maxLength, RequestRejectionReason tooLong, out ReadOnlySpan<byte> line)
    {
        line = default;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> sequence, (byte)'\n', advancePastDelimiter: true))
        {
            if (reader.Remaining >= maxLength)
            {
                HttpRejectException.Throw(tooLong);
            }

            return false;
        }

        // A line split across segments is copied (rare); one in a single segment is not.
        var span = sequence.IsSingleSegment ? sequence.FirstSpan : sequence.ToArray();
        if (span.Length > maxLength)
        {
            HttpRejectException.Throw(tooLong);
        }

        if (span.IsEmpty || span[^1] != (byte)'\r')
        {
            // A bare LF in chunk framing is how request smuggling starts (CVE-2025-55315).
            HttpRejectException.Throw(RequestRejectionReason.BareLineFeed);
        }

        line = span[..^1];
        foreach (var b in line)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
            {
                HttpRejectException.Throw(RequestRejectionReason.InvalidChunkLine);
            }
        }

        return true;
    }

    private static long ParseChunkSize(ReadOnlySpan<byte> line)
    {
        long size = 0;
        var digits = 0;
        var i = 0;
        for (; i < line.Length; i++)
        {
            var value = HexValue(line[i]);
            if (value < 0)
            {
                break;
            }

            // 15 hex digits keep the size below 2^60: no overflow, and far past any payload limit.
            if (++digits > 15)
            {
                HttpRejectException.Throw(RequestRejectionReason.InvalidChunkSize);
            }

            size = (size << 4) | (uint)value;
        }

        if (digits == 0)
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidChunkSize);
        }

        // What follows the size may only be optional whitespace and chunk extensions (";name[=value]").
        var rest = line[i..].TrimStart(" \t"u8);
        if (!rest.IsEmpty && rest[0] != (byte)';')
        {
            HttpRejectException.Throw(RequestRejectionReason.InvalidChunkSize);
        }

        return size;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
