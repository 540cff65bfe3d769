using System.Buffers;
using System.IO.Pipelines;

namespace Worker.Http;

/// <summary>
/// A Content-Length body read as it arrives, for handlers that decode records while the rest is
/// still on the wire (real-time and async inference take bodies up to 1 GiB). It is the
/// connection's own pipe, limited to the body: the handler reads, consumes whole records with
/// <see cref="AdvanceTo"/>, and reads again, the one-loop-owns-AdvanceTo rule moved into the handler
/// for the length of the body.
/// </summary>
public sealed class RequestBodyReader
{
    private readonly PipeReader _reader;
    private readonly Action<bool> _waiting;
    private ReadOnlySequence<byte> _last;
    private bool _holding;

    private bool _ended;

    /// <param name="length">The Content-Length; -1 for a chunked body, dechunked into <paramref name="reader"/>'s pipe, which completes at its end.</param>
    internal RequestBodyReader(PipeReader reader, long length, Action<bool> waiting)
    {
        _reader = reader;
        Length = length;
        _waiting = waiting;
        MaxHeldBytes = length < 0 ? 64L * 1024 * 1024 : long.MaxValue;
    }

    /// <summary>The body's length (its Content-Length), or -1 for a chunked body.</summary>
    public long Length { get; }

    /// <summary>Bytes consumed so far.</summary>
    public long Consumed { get; private set; }

    public bool IsComplete => Length < 0 ? _ended && !_holding : Consumed == Length;

    /// <summary>
    /// How much a handler may leave unconsumed while it looks for the end of a record: a chunked
    /// body's pipe stops taking bytes past about this, so one record may not be larger.
    /// </summary>
    public long MaxHeldBytes { get; }

    /// <summary>
    /// The unconsumed part of the body that has arrived (never past its end) and whether it is the
    /// rest of the body. A client that stops sending is a 400 (the connection then closes); one that
    /// stalls past the keep-alive timeout, a 408.
    /// </summary>
    public async ValueTask<(ReadOnlySequence<byte> Buffer, bool IsFinal)> ReadAsync(CancellationToken cancellationToken)
    {
        if (_holding)
        {
            throw new InvalidOperationException("AdvanceTo must be called after each read");
        }

        var remaining = Length < 0 ? long.MaxValue : Length - Consumed;
        _waiting(true);
        ReadResult result;
        try
        {
            result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _waiting(false);
        }

        if (result.IsCanceled)
        {
            _reader.AdvanceTo(result.Buffer.Start);
            throw HttpRejectException.Create(RequestRejectionReason.RequestBodyTimeout);
        }

        var buffer = result.Buffer;
        if (Length < 0 && result.IsCompleted)
        {
            // (AdvanceTo clears _ended again while part of this buffer stays unconsumed.)
            // The chunked body's end (a failed body completes the pipe with its reason, thrown by ReadAsync above).
            _ended = true;
            _last = buffer;
            _holding = true;
            return (buffer, true);
        }

        if (buffer.Length >= remaining)
        {
            _last = buffer.Slice(0, remaining);
            _holding = true;
            return (_last, true);
        }

        if (result.IsCompleted)
        {
            _reader.AdvanceTo(buffer.Start, buffer.End);
            throw HttpRejectException.Create(RequestRejectionReason.UnexpectedEndOfBody);
        }

        _last = buffer;
        _holding = true;
        return (buffer, false);
    }

    /// <summary>Consumes the body up to <paramref name="consumed"/>; <paramref name="examined"/> at the buffer's end waits for more bytes.</summary>
    public void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        // A chunked body has ended only once what its last read returned is all consumed.
        _ended = _ended && _last.Slice(consumed).IsEmpty;
        Consumed += _last.Slice(0, consumed).Length;
        _holding = false;
        _reader.AdvanceTo(consumed, examined);
    }

    /// <summary>A chunked body's reader side is done: the connection then drops what else arrives.</summary>
    internal ValueTask CompleteAsync()
    {
        if (_holding)
        {
            AdvanceTo(_last.End, _last.End);
        }

        return _reader.CompleteAsync();
    }

    /// <summary>Reads and drops what is left of the body, so a refusal mid-body still reaches a client that is sending.</summary>
    public async ValueTask DrainAsync(CancellationToken cancellationToken)
    {
        if (_holding)
        {
            AdvanceTo(_last.End, _last.End); // the handler stopped without consuming its last read
        }

        if (Length < 0)
        {
            return; // a chunked body: the connection's loop drops the rest once the handler's side is complete
        }

        while (!IsComplete)
        {
            var (buffer, _) = await ReadAsync(cancellationToken).ConfigureAwait(false);
            AdvanceTo(buffer.End, buffer.End);
        }
    }
}
