using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Worker.Records.Images;

/// <summary>
/// Pillow's BILINEAR resize of 8-bit pixels, step for step (libImaging/Resample.c): a triangle filter
/// whose support widens with the reduction (the antialiasing torchvision gets through PIL),
/// coefficients normalised then held in 22-bit fixed point, the horizontal pass rounded to 8 bits,
/// then the vertical pass. Models trained on PIL-resized images see the same pixels here. Only a
/// window of the resized image is computed (a center crop needs no more): each output pixel depends
/// on its own row's and column's coefficients only, so the window's pixels are those of the full
/// resize.
/// </summary>
public static class PilResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>The whole resized image.</summary>
    public static void Resize(
        ReadOnlySpan<byte> source, int sourceWidth, int sourceHeight, int sourceStride, int channels,
        Span<byte> target, int targetWidth, int targetHeight) =>
        Resize(source, sourceWidth, sourceHeight, sourceStride, channels, target, targetWidth, targetHeight, 0, 0, targetWidth, targetHeight);

    /// <summary>
    /// The window [<paramref name="left"/>, +<paramref name="width"/>) × [<paramref name="top"/>,
    /// +<paramref name="height"/>) of <paramref name="source"/> resized to
    /// <paramref name="targetWidth"/>×<paramref name="targetHeight"/>, tightly packed into
    /// <paramref name="target"/>. Buffers come from the shared pools.
    /// </summary>
    public static void Resize(
        ReadOnlySpan<byte> source, int sourceWidth, int sourceHeight, int sourceStride, int channels,
        Span<byte> target, int targetWidth, int targetHeight, int left, int top, int width, int height)
    {
        if (sourceWidth == targetWidth && sourceHeight == targetHeight)
        {
            for (var y = 0; y < height; y++)
            {
                source.Slice(((y + top) * sourceStride) + (left * channels), width * channels).CopyTo(target.Slice(y * width * channels));
            }

            return;
        }

        var xTaps = Taps(sourceWidth, targetWidth);
        var yTaps = Taps(sourceHeight, targetHeight);
        var xBounds = ArrayPool<int>.Shared.Rent(2 * width);
        var xWeights = ArrayPool<int>.Shared.Rent(width * xTaps);
        var yBounds = ArrayPool<int>.Shared.Rent(2 * height);
        var yWeights = ArrayPool<int>.Shared.Rent(height * yTaps);
        byte[]? middleBuffer = null;
        try
        {
            Coefficients(sourceWidth, targetWidth, left, width, xTaps, xBounds, xWeights);
            Coefficients(sourceHeight, targetHeight, top, height, yTaps, yBounds, yWeights);

            // Only the source rows the vertical pass reads go through the horizontal one.
            var firstRow = yBounds[0];
            var lastRow = yBounds[2 * (height - 1)] + yBounds[(2 * (height - 1)) + 1];
            var rows = lastRow - firstRow;
            var middleStride = width * channels;
            middleBuffer = ArrayPool<byte>.Shared.Rent(rows * middleStride);
            var middle = middleBuffer.AsSpan(0, rows * middleStride);
            for (var y = 0; y < rows; y++)
            {
                var line = source.Slice((y + firstRow) * sourceStride, sourceWidth * channels);
                var into = middle.Slice(y * middleStride, middleStride);
                if (channels == 3)
                {
                    Horizontal3(line, into, width, xBounds, xWeights, xTaps);
                }
                else
                {
                    Horizontal(line, into, width, channels, xBounds, xWeights, xTaps);
                }
            }

            for (var y = 0; y < height; y++)
            {
                var start = yBounds[2 * y] - firstRow;
                var count = yBounds[(2 * y) + 1];
                Vertical(middle, middleStride, start, count, yWeights.AsSpan(y * yTaps, count), target.Slice(y * middleStride, middleStride));
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(xBounds);
            ArrayPool<int>.Shared.Return(xWeights);
            ArrayPool<int>.Shared.Return(yBounds);
            ArrayPool<int>.Shared.Return(yWeights);
            if (middleBuffer is not null)
            {
                ArrayPool<byte>.Shared.Return(middleBuffer);
            }
        }
    }

    private static void Horizontal3(ReadOnlySpan<byte> line, Span<byte> into, int width, int[] bounds, int[] weights, int taps)
    {
        for (var x = 0; x < width; x++)
        {
            var start = bounds[2 * x] * 3;
            var count = bounds[(2 * x) + 1];
            var w = weights.AsSpan(x * taps, count);
            var pixels = line.Slice(start, count * 3);
            int r = 1 << (PrecisionBits - 1), g = r, b = r;
            for (var k = 0; k < w.Length; k++)
            {
                var weight = w[k];
                r += pixels[3 * k] * weight;
                g += pixels[(3 * k) + 1] * weight;
                b += pixels[(3 * k) + 2] * weight;
            }

            into[3 * x] = Clip8(r);
            into[(3 * x) + 1] = Clip8(g);
            into[(3 * x) + 2] = Clip8(b);
        }
    }

    private static void Horizontal(ReadOnlySpan<byte> line, Span<byte> into, int width, int channels, int[] bounds, int[] weights, int taps)
    {
        for (var x = 0; x < width; x++)
        {
            var start = bounds[2 * x];
            var count = bounds[(2 * x) + 1];
            var w = weights.AsSpan(x * taps, count);
            for (var c = 0; c < channels; c++)
            {
                var sum = 1 << (PrecisionBits - 1);
                for (var k = 0; k < count; k++)
                {
                    sum += line[((start + k) * channels) + c] * w[k];
                }

                into[(x * channels) + c] = Clip8(sum);
            }
        }
    }

    /// <summary>One output row: the weighted sum of <paramref name="count"/> rows of the horizontal pass, eight bytes at a time with AVX2.</summary>
    private static unsafe void Vertical(ReadOnlySpan<byte> middle, int stride, int start, int count, ReadOnlySpan<int> weights, Span<byte> into)
    {
        var i = 0;
        if (Avx2.IsSupported && stride >= 8)
        {
            fixed (byte* rows = middle)
            fixed (byte* output = into)
            {
                var half = Vector256.Create(1 << (PrecisionBits - 1));
                var zero = Vector256<int>.Zero;
                var max = Vector256.Create(255);
                for (; i + 8 <= stride; i += 8)
                {
                    var sum = half;
                    for (var k = 0; k < count; k++)
                    {
                        var pixels = Avx2.ConvertToVector256Int32(rows + ((start + k) * stride) + i);
                        sum = Avx2.Add(sum, Avx2.MultiplyLow(pixels, Vector256.Create(weights[k])));
                    }

                    // 0-255 already: narrow to bytes; each 128-bit lane keeps its four in its first dword.
                    var clipped = Avx2.Min(Avx2.Max(Avx2.ShiftRightArithmetic(sum, PrecisionBits), zero), max);
                    var shorts = Avx2.PackSignedSaturate(clipped, clipped);
                    var bytes = Avx2.PackUnsignedSaturate(shorts, shorts).AsUInt32();
                    *(uint*)(output + i) = bytes.GetElement(0);
                    *(uint*)(output + i + 4) = bytes.GetElement(4);
                }
            }
        }

        for (; i < stride; i++)
        {
            var sum = 1 << (PrecisionBits - 1);
            for (var k = 0; k < count; k++)
            {
                sum += middle[((start + k) * stride) + i] * weights[k];
            }

            into[i] = Clip8(sum);
        }
    }

    private static byte Clip8(int value)
    {
        var shifted = value >> PrecisionBits;
        return shifted < 0 ? (byte)0 : shifted > 255 ? (byte)255 : (byte)shifted;
    }

    private static int Taps(int inSize, int outSize) => ((int)Math.Ceiling(Math.Max((double)inSize / outSize, 1.0)) * 2) + 1;

    /// <summary>Per output pixel of the window: the first input pixel and how many, and their fixed-point weights (Pillow's precompute_coeffs + normalize_coeffs_8bpc).</summary>
    private static void Coefficients(int inSize, int outSize, int first, int count, int taps, int[] bounds, int[] weights)
    {
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = 1.0 * filterScale; // the bilinear (triangle) filter's support is 1
        var ss = 1.0 / filterScale;
        Span<double> k = stackalloc double[taps];
        for (var o = 0; o < count; o++)
        {
            var x = first + o;
            var center = (x + 0.5) * scale;
            var min = Math.Max((int)(center - support + 0.5), 0);
            var max = Math.Min((int)(center + support + 0.5), inSize) - min;
            var total = 0.0;
            for (var i = 0; i < max; i++)
            {
                var w = Triangle((i + min - center + 0.5) * ss);
                k[i] = w;
                total += w;
            }

            for (var i = 0; i < max; i++)
            {
                var w = total != 0 ? k[i] / total : 0;
                weights[(o * taps) + i] = (int)(w < 0 ? -0.5 + (w * (1 << PrecisionBits)) : 0.5 + (w * (1 << PrecisionBits)));
            }

            bounds[2 * o] = min;
            bounds[(2 * o) + 1] = max;
        }
    }

    private static double Triangle(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }
}
