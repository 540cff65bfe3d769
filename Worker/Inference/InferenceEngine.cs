using System.Runtime.InteropServices;
using System.Threading.Channels;
using Worker.Hosting;
using Worker.Inference.Ort;
using Worker.Records;

namespace Worker.Inference;

/// <summary>How inference is sized; chosen from the machine unless overridden (see <see cref="InferenceSizing"/>).</summary>
public sealed record InferenceOptions
{
    public int MaxBatchRows { get; init; } = 512;
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.FromMilliseconds(1);
    public int Workers { get; init; } = 1;

    /// <summary>Work items (request slices) that may wait in the queue before producers block.</summary>
    public int QueueCapacity { get; init; } = 256;
}

/// <summary>A Run failed; the requests in that batch get a 500 with ORT's message.</summary>
public sealed class InferenceException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Rows of many requests go through one bounded channel to inference workers that batch them
/// dynamically: a worker takes what is queued up to the max batch, waits up to the max delay only
/// while the batch is not full (Triton's rule), copies the rows into its pinned input buffers, runs
/// once, and copies each output row back to its request. A request larger than the max batch is cut
/// into slices that run concurrently and land in order because each owns its rows.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private readonly OnnxSession[] _sessions;
    private readonly Channel<WorkItem> _queue;
    private readonly Thread[] _workers;
    private readonly JsonLog _log;

    public InferenceEngine(OnnxSession session, InferenceOptions options, JsonLog log)
        : this([session], options, log)
    {
    }

    /// <summary>One session per device (GPU); worker i feeds session i mod count.</summary>
    public InferenceEngine(IReadOnlyList<OnnxSession> sessions, InferenceOptions options, JsonLog log)
    {
        _sessions = [.. sessions];
        _log = log;
        Signature = _sessions[0].Signature;
        var batchable = Signature.IsBatchable;
        // Fixed-shape models run batches of exactly their own batch size, padded (BatchRunner).
        Options = batchable ? options : options with { MaxBatchRows = Signature.FixedBatch };
        _queue = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(Options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = false,
            SingleReader = Options.Workers == 1,
        });

        _workers = new Thread[Math.Max(1, Options.Workers)];
        for (var i = 0; i < _workers.Length; i++)
        {
            var session = _sessions[i % _sessions.Length];
            _workers[i] = new Thread(() => WorkerLoop(session)) { IsBackground = true, Name = $"inference-{i}-{session.Device}" };
            _workers[i].Start();
        }
    }

    public ModelSignature Signature { get; }
    public InferenceOptions Options { get; }
    /// <summary>"cpu", "cuda:0", or the devices joined ("cuda:0,cuda:1").</summary>
    public string Device => string.Join(",", _sessions.Select(s => s.Device));

    /// <summary>Runs every row of <paramref name="rows"/> and fills its outputs. Waits (backpressure) while the queue is full.</summary>
    public async ValueTask RunAsync(RowSet rows, CancellationToken cancellationToken)
    {
        if (rows.RowCount <= Options.MaxBatchRows && !Signature.HasDynamicInputs)
        {
            rows.PrepareOutputs();
            var item = new WorkItem(rows, 0, rows.RowCount);
            await _queue.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
            await item.Completion.Task.ConfigureAwait(false);
            return;
        }

        var slices = await SubmitAsync(rows, cancellationToken).ConfigureAwait(false);
        foreach (var slice in slices)
        {
            await slice.Completion.ConfigureAwait(false);
        }
    }

    /// <summary>Whether <see cref="RunAsync"/> would cut the rows into several slices (the caller may then write each slice's answers as it finishes).</summary>
    public bool NeedsSlices(RowSet rows) => rows.RowCount > Options.MaxBatchRows || Signature.HasDynamicInputs;

    /// <summary>
    /// Queues the rows as slices of at most max batch rows, in order, and returns each slice's
    /// completion, so that a caller can write slice k's answers while later slices run. A model with
    /// dynamic axes also cuts a slice where a record's sizes change: one Run takes one shape. Waits
    /// (backpressure) while the queue is full. Cancelled part-way, it waits for the slices already
    /// queued before it throws: they read and write the row set, which the caller then frees.
    /// </summary>
    public async ValueTask<Slice[]> SubmitAsync(RowSet rows, CancellationToken cancellationToken)
    {
        rows.PrepareOutputs();
        var maxBatch = Options.MaxBatchRows;
        var slices = new List<Slice>((rows.RowCount + maxBatch - 1) / maxBatch);
        var dynamic = Signature.HasDynamicInputs;
        for (var first = 0; first < rows.RowCount;)
        {
            var count = Math.Min(maxBatch, rows.RowCount - first);
            if (dynamic)
            {
                var end = first + 1;
                while (end < first + count && RowSet.SameShape(rows, first, rows, end))
                {
                    end++;
                }

                count = end - first;
            }

            var item = new WorkItem(rows, first, count);
            try
            {
                await _queue.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                await WhenAllSettled(slices.Select(s => s.Completion).ToArray()).ConfigureAwait(false);
                throw;
            }

            slices.Add(new Slice(item.Completion.Task, first, count));
            first += count;
        }

        return [.. slices];
    }

    /// <summary>Waits until every task has ended, failed or not (their failures are the caller's to read).</summary>
    public static async Task WhenAllSettled(ReadOnlyMemory<Task> tasks)
    {
        for (var i = 0; i < tasks.Length; i++)
        {
            var task = tasks.Span[i];
            await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        foreach (var worker in _workers)
        {
            worker.Join(TimeSpan.FromSeconds(10));
        }

        foreach (var session in _sessions)
        {
            session.Dispose();
        }
    }

    private void WorkerLoop(OnnxSession session)
    {
        var reader = _queue.Reader;
        var inputRowBytes = Signature.InputRowBytes;
        var outputRowBytes = Signature.OutputRowBytes;
        var maxBatch = Options.MaxBatchRows;

        using var runner = session.CreateRunner(maxBatch);
        var batch = new List<WorkItem>();
        using var delay = new CancellationTokenSource();

        while (true)
        {
            if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                return;
            }

            var rows = Gather(reader, batch, 0, maxBatch);
            if (rows < maxBatch && Options.MaxQueueDelay > TimeSpan.Zero && rows > 0)
            {
                var deadline = Environment.TickCount64 + (long)Math.Ceiling(Options.MaxQueueDelay.TotalMilliseconds);
                while (rows < maxBatch)
                {
                    var remaining = deadline - Environment.TickCount64;
                    if (remaining <= 0 || !WaitForMore(reader, delay, remaining))
                    {
                        break;
                    }

                    var before = rows;
                    rows = Gather(reader, batch, rows, maxBatch);
                    if (rows == before)
                    {
                        break; // the next item does not fit: run what we have
                    }
                }
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                RunBatch(runner, batch, rows, inputRowBytes, outputRowBytes);
                foreach (var item in batch)
                {
                    item.Completion.TrySetResult();
                }
            }
            catch (Exception e)
            {
                _log.Error("inference failed", ("rows", rows), ("error", e.Message));
                var failure = e as InferenceException ?? new InferenceException(e.Message, e);
                foreach (var item in batch)
                {
                    item.Completion.TrySetException(failure);
                }
            }

            batch.Clear();
        }
    }

    private static int Gather(ChannelReader<WorkItem> reader, List<WorkItem> batch, int rows, int maxBatch)
    {
        while (rows < maxBatch && reader.TryPeek(out var next))
        {
            // Only records of one shape share a Run (models with dynamic axes).
            if (rows > 0 && (rows + next.RowCount > maxBatch
                || next.Rows.Signature.HasDynamicInputs && !RowSet.SameShape(batch[0].Rows, batch[0].FirstRow, next.Rows, next.FirstRow)))
            {
                break;
            }

            if (!reader.TryRead(out var item))
            {
                break;
            }

            batch.Add(item);
            rows += item.RowCount;
        }

        return rows;
    }

    private static bool WaitForMore(ChannelReader<WorkItem> reader, CancellationTokenSource delay, long milliseconds)
    {
        if (!delay.TryReset())
        {
            return false;
        }

        delay.CancelAfter(TimeSpan.FromMilliseconds(milliseconds));
        try
        {
            return reader.WaitToReadAsync(delay.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void RunBatch(BatchRunner runner, List<WorkItem> batch, int rows, int[] inputRowBytes, int[] outputRowBytes)
    {
        for (var i = 0; i < inputRowBytes.Length; i++)
        {
            if (Signature.Inputs[i].ElementType == TensorElementType.String)
            {
                CopyInputStrings(runner, batch, i);
                continue;
            }

            if (Signature.Inputs[i].HasDynamicAxes)
            {
                CopyDynamicInput(runner, batch, i, rows);
                continue;
            }

            var destination = runner.Input(i, rows);
            var offset = 0;
            foreach (var item in batch)
            {
                var source = item.Rows.InputRows(i, item.FirstRow, item.RowCount);
                source.CopyTo(destination[offset..]);
                offset += source.Length;
            }
        }

        runner.Run(rows);
        for (var o = 0; o < outputRowBytes.Length; o++)
        {
            var data = runner.Output(o, rows);
            if (Signature.Outputs[o].ElementType == TensorElementType.String)
            {
                CopyOutputStrings(runner, batch, o, data);
                continue;
            }

            var offset = 0;
            foreach (var item in batch)
            {
                var length = item.RowCount * outputRowBytes[o];
                data.Slice(offset, length).CopyTo(item.Rows.OutputRows(o, item.FirstRow, item.RowCount));
                offset += length;
            }
        }
    }

    /// <summary>Every record in the batch has the first one's sizes (Gather makes sure), so their values stack into one tensor.</summary>
    private static void CopyDynamicInput(BatchRunner runner, List<WorkItem> batch, int input, int rows)
    {
        var first = batch[0];
        var destination = runner.DynamicInput(input, rows, first.Rows.DynamicDims(input, first.FirstRow));
        var offset = 0;
        foreach (var item in batch)
        {
            for (var r = 0; r < item.RowCount; r++)
            {
                var values = item.Rows.DynamicValues(input, item.FirstRow + r);
                values.CopyTo(destination[offset..]);
                offset += values.Length;
            }
        }
    }

    /// <summary>A string input's values go by content: each request's row set has its own arena.</summary>
    private void CopyInputStrings(BatchRunner runner, List<WorkItem> batch, int input)
    {
        var batchRow = 0;
        foreach (var item in batch)
        {
            for (var r = 0; r < item.RowCount; r++, batchRow++)
            {
                var slots = MemoryMarshal.Cast<byte, StringSlot>(item.Rows.InputRow(input, item.FirstRow + r));
                for (var v = 0; v < slots.Length; v++)
                {
                    runner.WriteInputString(input, batchRow, v, item.Rows.InputString(slots[v]));
                }
            }
        }
    }

    private void CopyOutputStrings(BatchRunner runner, List<WorkItem> batch, int output, ReadOnlySpan<byte> data)
    {
        var slots = MemoryMarshal.Cast<byte, StringSlot>(data);
        var perRow = (int)Signature.Outputs[output].RowSize;
        var next = 0;
        foreach (var item in batch)
        {
            for (var r = 0; r < item.RowCount; r++)
            {
                for (var v = 0; v < perRow; v++)
                {
                    item.Rows.WriteOutputString(output, item.FirstRow + r, v, runner.OutputString(slots[next++]));
                }
            }
        }
    }

    /// <summary>One queued slice of a request: its rows, and the task that completes when they have run.</summary>
    public readonly record struct Slice(Task Completion, int FirstRow, int RowCount);

    private sealed class WorkItem(RowSet rows, int firstRow, int rowCount)
    {
        public RowSet Rows { get; } = rows;
        public int FirstRow { get; } = firstRow;
        public int RowCount { get; } = rowCount;
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
