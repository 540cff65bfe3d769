namespace Worker.Inference.Ort;

/// <summary>ONNXTensorElementDataType values (C int).</summary>
public enum TensorElementType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    BFloat16 = 16,
}

/// <summary>One model input or output as the model declares it. A dimension of -1 is dynamic.</summary>
public sealed record TensorInfo(string Name, TensorElementType ElementType, long[] Shape)
{
    /// <summary>
    /// For an output that is a sequence of maps (skl2onnx's ZipMap: one map per record from class
    /// label to probability), the labels as text in the maps' order; the output is then read as a
    /// float row of one value per label. Null for a tensor.
    /// </summary>
    public IReadOnlyList<string>? MapKeys { get; init; }

    /// <summary>A sequence of maps whose keys are not known yet (they are read from a first Run at load).</summary>
    public bool IsSequenceOfMaps { get; init; }

    /// <summary>A sequence of tensors whose element shape is not known yet (read from a first Run at load).</summary>
    public bool IsSequenceOfTensors { get; init; }

    /// <summary>
    /// A sequence of tensors with one element per record (e.g. SplitToSequence along the batch): each
    /// record's answer is its element, read as a row of this output's shape after the first dimension.
    /// </summary>
    public bool IsPerRecordSequence { get; init; }

    /// <summary>The model's name for each dimension ("batch", "sequence"), "" where it gives none.</summary>
    public IReadOnlyList<string> DimNames { get; init; } = [];

    /// <summary>A dynamic first dimension: rows of many records can share one Run.</summary>
    public bool IsBatchable => Shape.Length > 0 && Shape[0] < 0;

    /// <summary>
    /// A dimension after the batch is dynamic (token ids [batch, sequence], images of any size): each
    /// record brings its own sizes, and only records of equal sizes share a Run.
    /// </summary>
    public bool HasDynamicAxes { get; } = Shape.Skip(1).Any(d => d < 0);

    /// <summary>The product of the fixed dimensions after the first (values per step of the dynamic ones).</summary>
    public long FixedRowSize { get; } = Shape.Skip(1).Where(d => d >= 0).Aggregate(1L, (a, b) => a * b);

    /// <summary>
    /// Bytes of this input in one record's fixed-width row: its values, or for dynamic axes a slot
    /// (offset, length) into the row set's value arena followed by the record's size of each
    /// dimension after the first.
    /// </summary>
    public int RowBytes => HasDynamicAxes ? Records.StringSlot.Size + (8 * (Shape.Length - 1)) : checked((int)RowSize * ElementSize);

    /// <summary>Values per row (the product of the dimensions after the first), or -1 when one of them is dynamic.</summary>
    public long RowSize
    {
        get
        {
            long size = 1;
            for (var i = 1; i < Shape.Length; i++)
            {
                if (Shape[i] < 0)
                {
                    return -1;
                }

                size *= Shape[i];
            }

            return size;
        }
    }

    public int ElementSize => SizeOf(ElementType);

    public string ShapeText => "[" + string.Join(",", Shape.Select(d => d < 0 ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    public static int SizeOf(TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,

        // A string's place in a row: a slot (offset, length) into its row set's UTF-8 arena.
        TensorElementType.String => Records.StringSlot.Size,
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        _ => 0,
    };

    public static string TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Double => "float64",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int64 => "int64",
        TensorElementType.String => "string",
        _ => type.ToString().ToLowerInvariant(),
    };
}

/// <summary>A model's inputs and outputs, read from the model itself.</summary>
public sealed record ModelSignature(IReadOnlyList<TensorInfo> Inputs, IReadOnlyList<TensorInfo> Outputs)
{
    /// <summary>The single input is an image input, with how images become its rows; null otherwise.</summary>
    public Records.Images.ImageInput? Image { get; init; }

    /// <summary>Bytes of one row of each input, computed once per model (every request's row set reads them; do not write).</summary>
    public int[] InputRowBytes { get; } = [.. Inputs.Select(i => i.RowBytes)];

    /// <summary>Bytes of one row of each output, computed once per model (do not write).</summary>
    public int[] OutputRowBytes { get; } = [.. Outputs.Select(o => checked((int)o.RowSize * o.ElementSize))];

    /// <summary>
    /// Where each value of a flat record (a CSV row) goes: the model's inputs in order, each taking
    /// its row size of values (skl2onnx's one [N,1] input per DataFrame column takes one each).
    /// Computed once per model (do not write).
    /// </summary>
    public int[] FieldInputs { get; } = [.. Inputs.SelectMany((input, i) => Enumerable.Repeat(i, (int)Math.Max(0, input.RowSize)))];

    /// <summary>The value's index within its input's row, beside <see cref="FieldInputs"/> (do not write).</summary>
    public int[] FieldIndices { get; } = [.. Inputs.SelectMany(input => Enumerable.Range(0, (int)Math.Max(0, input.RowSize)))];

    /// <summary>Every input has a dynamic first dimension.</summary>
    public bool IsBatchable { get; } = Inputs.All(i => i.IsBatchable);

    /// <summary>Some input has dynamic dimensions after the batch: records are batched by their sizes.</summary>
    public bool HasDynamicInputs { get; } = Inputs.Any(i => i.HasDynamicAxes);

    /// <summary>
    /// Rows in every Run of a model without a dynamic batch dimension: the inputs' fixed first
    /// dimension N (torch.onnx.export without dynamic_axes writes the example's batch), 1 for inputs
    /// with no dimensions. The worker pads the last batch to N and drops the padded rows' answers.
    /// 0 for a batchable model; -1 when the inputs disagree.
    /// </summary>
    public int FixedBatch
    {
        get
        {
            if (IsBatchable)
            {
                return 0;
            }

            var batches = Inputs.Select(i => i.Shape.Length == 0 ? 1 : i.Shape[0]).Distinct().ToArray();
            return batches.Length == 1 && batches[0] is > 0 and <= int.MaxValue ? (int)batches[0] : -1;
        }
    }

    /// <summary>Some output is a sequence (of maps or of tensors), which ORT allocates itself (it cannot be bound to a buffer).</summary>
    public bool HasSequenceOutputs => Outputs.Any(o => o.MapKeys is not null || o.IsSequenceOfMaps || o.IsSequenceOfTensors || o.IsPerRecordSequence);

    // Read per record and per Run: computed once (above), never through LINQ on a hot path.

    public override string ToString() =>
        $"inputs {string.Join(", ", Inputs.Select(i => $"{i.Name} {TensorInfo.TypeName(i.ElementType)}{i.ShapeText}"))}; " +
        $"outputs {string.Join(", ", Outputs.Select(Describe))}";

    private static string Describe(TensorInfo output) =>
        output.MapKeys is { } keys ? $"{output.Name} seq(map({string.Join(",", keys)} -> float32))"
        : output.IsSequenceOfMaps ? $"{output.Name} seq(map)"
        : output.IsSequenceOfTensors ? $"{output.Name} seq(tensor)"
        : output.IsPerRecordSequence ? $"{output.Name} seq({TensorInfo.TypeName(output.ElementType)}{output.ShapeText})"
        : $"{output.Name} {TensorInfo.TypeName(output.ElementType)}{output.ShapeText}";
}
