using Worker.Inference.Ort;
using Worker.Records;

namespace Worker.Tests.Support;

/// <summary>Model signatures given directly, for decoder tests that need no model.</summary>
public static class Signatures
{
    public static ModelSignature SingleInput(long rowSize, TensorElementType type = TensorElementType.Float) =>
        new([new TensorInfo("X", type, [-1, rowSize])], [new TensorInfo("Y", TensorElementType.Float, [-1, 1])]);

    public static ModelSignature Shaped(params long[] shape) =>
        new([new TensorInfo("X", TensorElementType.Float, shape)], [new TensorInfo("Y", TensorElementType.Float, [-1, 1])]);

    public static ModelSignature TwoInputs() =>
        new(
            [new TensorInfo("a", TensorElementType.Float, [-1, 2]), new TensorInfo("b", TensorElementType.Int64, [-1, 2])],
            [new TensorInfo("sum", TensorElementType.Float, [-1, 2])]);

    /// <summary>skl2onnx's DataFrame shape: one [N,1] input per column (float x, int64 count, bool flag).</summary>
    public static ModelSignature DataFrame() =>
        new(
            [new TensorInfo("x", TensorElementType.Float, [-1, 1]), new TensorInfo("count", TensorElementType.Int64, [-1, 1]), new TensorInfo("flag", TensorElementType.Bool, [-1, 1])],
            [new TensorInfo("variable", TensorElementType.Float, [-1, 1])]);

    /// <summary>The two-input signature for the object-keyed format, else one input of four floats.</summary>
    public static ModelSignature TwoInputsOr(string format) => format == "jsonl-object" ? TwoInputs() : SingleInput(4);

    public static float[][] FloatRows(RowSet rows, int input = 0) =>
        Enumerable.Range(0, rows.RowCount)
            .Select(r => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(rows.InputRow(input, r)).ToArray())
            .ToArray();
}
