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
}

/// <summary>One model input or output as the model declares it. A dimension of -1 is dynamic.</summary>
public sealed record TensorInfo(string Name, TensorElementType ElementType, long[] Shape)
{
    /// <summary>A dynamic first dimension: rows of many records can share one Run.</summary>
    public bool IsBatchable => Shape.Length > 0 && Shape[0] < 0;

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
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 or TensorElementType.Float16 => 2,
        _ => 0,
    };

    public static string TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Double => "float64",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int64 => "int64",
        _ => type.ToString().ToLowerInvariant(),
    };
}

/// <summary>A model's inputs and outputs, read from the model itself.</summary>
public sealed record ModelSignature(IReadOnlyList<TensorInfo> Inputs, IReadOnlyList<TensorInfo> Outputs)
{
    /// <summary>Bytes of one row of each input, computed once per model (every request's row set reads them; do not write).</summary>
    public int[] InputRowBytes { get; } = [.. Inputs.Select(i => checked((int)i.RowSize * i.ElementSize))];

    /// <summary>Bytes of one row of each output, computed once per model (do not write).</summary>
    public int[] OutputRowBytes { get; } = [.. Outputs.Select(o => checked((int)o.RowSize * o.ElementSize))];

    /// <summary>Every input has a dynamic first dimension.</summary>
    public bool IsBatchable => Inputs.All(i => i.IsBatchable);

    public override string ToString() =>
        $"inputs {string.Join(", ", Inputs.Select(i => $"{i.Name} {TensorInfo.TypeName(i.ElementType)}{i.ShapeText}"))}; " +
        $"outputs {string.Join(", ", Outputs.Select(o => $"{o.Name} {TensorInfo.TypeName(o.ElementType)}{o.ShapeText}"))}";
}
