using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Worker.Records;

namespace Worker.Inference.Ort;

/// <summary>
/// One inference worker's view of a session: pinned input and output buffers for up to
/// <see cref="MaxRows"/> rows that ORT reads and writes in place, the OrtValues over them (made
/// once per row count and kept, so a Run creates none), names and run options prepared once.
/// Not thread-safe: one per worker thread.
/// </summary>
public sealed class BatchRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly ModelSignature _signature;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly byte[][] _inputs;
    private readonly byte[][] _outputs;
    private readonly OrtValue[]?[] _inputValues;
    private readonly OrtValue[]?[] _outputValues;
    private readonly RunOptions _runOptions = new();
    private readonly StringArena _inputStrings = new();
    private readonly StringArena _outputStrings = new();
    private readonly bool _ortAllocatesOutputs;

    // Inputs with dynamic axes: each Run's shape (set by DynamicInput), over a buffer grown as needed.
    private readonly long[]?[] _dynamicShapes;

    internal BatchRunner(OnnxSession session, int maxRows)
    {
        _session = session.Session;
        _signature = session.Signature;
        MaxRows = maxRows;
        _inputNames = [.. _signature.Inputs.Select(i => i.Name)];
        _outputNames = [.. _signature.Outputs.Select(o => o.Name)];

        // Pinned for the life of the worker: ORT reads and writes them in place, no copy or pin per Run.
        _inputs = [.. _signature.InputRowBytes.Select(bytes => GC.AllocateUninitializedArray<byte>(Math.Max(bytes * maxRows, 1), pinned: true))];
        _outputs = [.. _signature.OutputRowBytes.Select(bytes => GC.AllocateUninitializedArray<byte>(Math.Max(bytes * maxRows, 1), pinned: true))];
        _inputValues = new OrtValue[]?[maxRows + 1];
        _outputValues = new OrtValue[]?[maxRows + 1];

        _dynamicShapes = [.. _signature.Inputs.Select(i => i.HasDynamicAxes ? new long[i.Shape.Length] : null)];

        // Sequences of maps and string tensors cannot be bound to a buffer the worker owns.
        _ortAllocatesOutputs = _signature.HasSequenceOutputs || _signature.Outputs.Any(o => o.ElementType == TensorElementType.String);
    }

    public int MaxRows { get; }

    /// <summary>Input <paramref name="input"/>'s buffer for <paramref name="rows"/> rows, to fill before <see cref="Run"/>.</summary>
    public Span<byte> Input(int input, int rows) => _inputs[input].AsSpan(0, rows * _signature.InputRowBytes[input]);

    /// <summary>
    /// An input with dynamic axes, for the next <see cref="Run"/>: <paramref name="rows"/> records of
    /// sizes <paramref name="dims"/> (one per dimension after the first); returns the buffer to fill.
    /// </summary>
    public Span<byte> DynamicInput(int input, int rows, ReadOnlySpan<long> dims)
    {
        var shape = _dynamicShapes[input]!;
        shape[0] = rows;
        dims.CopyTo(shape.AsSpan(1));
        var bytes = checked((int)(ShapeElements(shape) * _signature.Inputs[input].ElementSize));
        if (_inputs[input].Length < bytes)
        {
            _inputs[input] = GC.AllocateUninitializedArray<byte>(Math.Max(bytes, _inputs[input].Length * 2), pinned: true);
        }

        return _inputs[input].AsSpan(0, bytes);
    }

    private static long ShapeElements(long[] shape)
    {
        long elements = 1;
        foreach (var d in shape)
        {
            elements *= d;
        }

        return elements;
    }

    /// <summary>Sets value <paramref name="index"/> of row <paramref name="row"/> of a string input for the next <see cref="Run"/>.</summary>
    public void WriteInputString(int input, int row, int index, ReadOnlySpan<byte> utf8) =>
        MemoryMarshal.Cast<byte, StringSlot>(_inputs[input].AsSpan(row * _signature.InputRowBytes[input], _signature.InputRowBytes[input]))[index] = _inputStrings.Append(utf8);

    /// <summary>A string output's value from the last <see cref="Run"/>: its slot in <see cref="Output"/>'s row.</summary>
    public ReadOnlySpan<byte> OutputString(StringSlot slot) => _outputStrings[slot];

    /// <summary>Output <paramref name="output"/>'s rows of the last <see cref="Run"/>, valid until the next.</summary>
    public ReadOnlySpan<byte> Output(int output, int rows) => _outputs[output].AsSpan(0, rows * _signature.OutputRowBytes[output]);

    /// <summary>
    /// Runs the model on the first <paramref name="rows"/> rows of the input buffers. A model with a
    /// fixed batch always runs its N rows: the rows after <paramref name="rows"/> are zeroed padding,
    /// and their answers are never read.
    /// </summary>
    public void Run(int rows)
    {
        if ((uint)(rows - 1) >= (uint)MaxRows)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"1 to {MaxRows} rows");
        }

        if (!_signature.IsBatchable)
        {
            for (var i = 0; i < _inputs.Length; i++)
            {
                _inputs[i].AsSpan(rows * _signature.InputRowBytes[i], (MaxRows - rows) * _signature.InputRowBytes[i]).Clear();
            }

            rows = MaxRows;
        }

        if (_signature.HasDynamicInputs)
        {
            RunDynamic(rows);
            return;
        }

        RunOn(_inputValues[rows] ??= CreateValues(_signature.Inputs, _inputs, rows), rows);
    }

    /// <summary>One Run on these input values: string inputs filled, outputs into this runner's buffers.</summary>
    private void RunOn(OrtValue[] inputs, int rows)
    {
        FillStringInputs(inputs, rows);
        if (_ortAllocatesOutputs)
        {
            RunWithOrtOutputs(inputs, rows);
            return;
        }

        var outputs = _outputValues[rows] ??= CreateValues(_signature.Outputs, _outputs, rows);
        _session.Run(_runOptions, _inputNames, inputs, _outputNames, outputs);
    }

    /// <summary>A model with dynamic axes: the inputs' values are made for this Run's shapes and released after it.</summary>
    private void RunDynamic(int rows)
    {
        var inputs = CreateValues(_signature.Inputs, _inputs, rows);
        try
        {
            RunOn(inputs, rows);
        }
        finally
        {
            foreach (var value in inputs)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>
    /// ORT keeps string tensors as its own strings: the values made once per row count are
    /// overwritten in place from this batch's slots (a row that was never set is empty).
    /// </summary>
    private void FillStringInputs(OrtValue[] values, int rows)
    {
        for (var i = 0; i < _inputs.Length; i++)
        {
            if (_signature.Inputs[i].ElementType != TensorElementType.String)
            {
                continue;
            }

            var slots = MemoryMarshal.Cast<byte, StringSlot>(_inputs[i].AsSpan(0, rows * _signature.InputRowBytes[i]));
            for (var e = 0; e < slots.Length; e++)
            {
                values[i].StringTensorSetElementAt(_inputStrings[slots[e]], e);
            }
        }

        _inputStrings.Clear();
    }

    /// <summary>
    /// A sequence of maps (ZipMap) cannot be bound to a buffer: ORT allocates every output, and each
    /// is copied into this runner's output buffers, a map's values as a float row in key order. This
    /// costs two OrtValue wrappers per record (the map and its values), which ORT's API requires.
    /// </summary>
    private void RunWithOrtOutputs(OrtValue[] inputs, int rows)
    {
        using var results = _session.Run(_runOptions, _inputNames, inputs, _outputNames);
        _outputStrings.Clear();
        for (var o = 0; o < _outputs.Length; o++)
        {
            var info = _signature.Outputs[o];
            var rowBytes = _signature.OutputRowBytes[o];
            var destination = _outputs[o].AsSpan(0, rows * rowBytes);
            if (info.ElementType == TensorElementType.String)
            {
                var slots = MemoryMarshal.Cast<byte, StringSlot>(destination);
                if (results[o].GetTensorTypeAndShape().ElementCount != slots.Length)
                {
                    throw new InferenceException($"output {info.Name} has {results[o].GetTensorTypeAndShape().ElementCount} strings, expected {slots.Length} for {rows} rows");
                }

                for (var e = 0; e < slots.Length; e++)
                {
                    slots[e] = _outputStrings.Append(results[o].GetStringElementAsSpan(e));
                }

                continue;
            }

            if (info.IsPerRecordSequence)
            {
                var elements = results[o];
                if (elements.GetValueCount() != rows)
                {
                    throw new InferenceException($"output {info.Name} is a sequence of {elements.GetValueCount()} tensors, expected one per record ({rows})");
                }

                for (var r = 0; r < rows; r++)
                {
                    using var element = elements.GetValue(r, OrtAllocator.DefaultInstance);
                    var bytes = element.GetTensorDataAsSpan<byte>();
                    if (bytes.Length != rowBytes)
                    {
                        throw new InferenceException($"output {info.Name}: record {r}'s tensor has {bytes.Length} bytes, expected {rowBytes} ({info.ShapeText} after the batch)");
                    }

                    bytes.CopyTo(destination.Slice(r * rowBytes, rowBytes));
                }

                continue;
            }

            if (info.MapKeys is null)
            {
                var data = results[o].GetTensorDataAsSpan<byte>();
                if (data.Length != destination.Length)
                {
                    throw new InferenceException($"output {info.Name} has {data.Length} bytes, expected {destination.Length} for {rows} rows");
                }

                data.CopyTo(destination);
                continue;
            }

            var sequence = results[o];
            if (sequence.GetValueCount() != rows)
            {
                throw new InferenceException($"output {info.Name} has {sequence.GetValueCount()} maps, expected {rows}");
            }

            var floats = MemoryMarshal.Cast<byte, float>(destination);
            for (var r = 0; r < rows; r++)
            {
                using var map = sequence.GetValue(r, OrtAllocator.DefaultInstance);
                using var values = map.GetValue(1, OrtAllocator.DefaultInstance);
                var row = values.GetTensorDataAsSpan<float>();
                if (row.Length != info.MapKeys.Count)
                {
                    throw new InferenceException($"output {info.Name}: record {r}'s map has {row.Length} entries, expected {info.MapKeys.Count} ({string.Join(",", info.MapKeys)})");
                }

                row.CopyTo(floats.Slice(r * row.Length, row.Length));
            }
        }
    }

    public void Dispose()
    {
        foreach (var values in _inputValues.Concat(_outputValues))
        {
            foreach (var value in values ?? [])
            {
                value.Dispose();
            }
        }

        _runOptions.Dispose();
        _inputStrings.Dispose();
        _outputStrings.Dispose();
    }

    private OrtValue[] CreateValues(IReadOnlyList<TensorInfo> tensors, byte[][] buffers, int rows)
    {
        var values = new OrtValue[tensors.Count];
        for (var i = 0; i < values.Length; i++)
        {
            var tensor = tensors[i];
            if (tensor.HasDynamicAxes && ReferenceEquals(tensors, _signature.Inputs))
            {
                var dynamicShape = _dynamicShapes[i]!;
                values[i] = OrtValue.CreateTensorValueWithData(
                    OrtMemoryInfo.DefaultInstance,
                    (Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)(int)tensor.ElementType,
                    (long[])dynamicShape.Clone(),
                    Marshal.UnsafeAddrOfPinnedArrayElement(buffers[i], 0),
                    ShapeElements(dynamicShape) * tensor.ElementSize);
                continue;
            }

            var shape = (long[])tensor.Shape.Clone();
            if (_signature.IsBatchable && shape.Length > 0)
            {
                shape[0] = rows;
            }

            if (tensor.ElementType == TensorElementType.String)
            {
                values[i] = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
                continue;
            }

            var bytes = (long)tensor.RowSize * tensor.ElementSize * rows;
            values[i] = OrtValue.CreateTensorValueWithData(
                OrtMemoryInfo.DefaultInstance,
                (Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)(int)tensor.ElementType,
                shape,
                Marshal.UnsafeAddrOfPinnedArrayElement(buffers[i], 0),
                bytes);
        }

        return values;
    }
}
