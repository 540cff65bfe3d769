namespace Worker.Records.Images;

/// <summary>
/// Pillow's BILINEAR resize of 8-bit pixels, step for step (libImaging/Resample.c): a triangle filter
/// whose support widens with the reduction (the antialiasing torchvision gets through PIL),
/// coefficients normalised then held in 22-bit fixed point, the horizontal pass rounded to 8 bits,
/// then the vertical pass. Models trained on PIL-resized images see the same pixels here.
/// </summary>
public static class PilResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>
    /// Resizes <paramref name="source"/> (<paramref name="sourceWidth"/>×<paramref name="sourceHeight"/>,
    /// <paramref name="channels"/> interleaved bytes a pixel, rows of <paramref name="sourceStride"/>
    /// bytes) into <paramref name="target"/> (tightly packed). <paramref name="scratch"/> holds the
    /// horizontal pass; it is grown as needed.
    /// </summary>
    public static void Resize(
        ReadOnlySpan<byte> source, int sourceWidth, int sourceHeight, int sourceStride, int channels,
        Span<byte> target, int targetWidth, int targetHeight, ref byte[]? scratch)
    {
        if (sourceWidth == targetWidth && sourceHeight == targetHeight)
        {
            for (var y = 0; y < targetHeight; y++)
            {
                source.Slice(y * sourceStride, targetWidth * channels).CopyTo(target.Slice(y * targetWidth * channels));
            }

            return;
        }

        var (xBounds, xWeights, xTaps) = Coefficients(sourceWidth, targetWidth);
        var (yBounds, yWeights, yTaps) = Coefficients(sourceHeight, targetHeight);

        // Only the source rows the vertical pass reads go through the horizontal one.
        var firstRow = yBounds[0];
        var lastRow = yBounds[(2 * (targetHeight - 1))] + yBounds[(2 * (targetHeight - 1)) + 1];
        var rows = lastRow - firstRow;
        var middleStride = targetWidth * channels;
        var needed = rows * middleStride;
        if (scratch is null || scratch.Length < needed)
        {
            scratch = new byte[Math.Max(needed, 4096)];
        }

        var middle = scratch.AsSpan(0, needed);
        for (var y = 0; y < rows; y++)
        {
            var line = source.Slice((y + firstRow) * sourceStride, sourceWidth * channels);
            var into = middle.Slice(y * middleStride, middleStride);
            for (var x = 0; x < targetWidth; x++)
            {
                var start = xBounds[2 * x];
                var count = xBounds[(2 * x) + 1];
                var weights = xWeights.AsSpan(x * xTaps, count);
                for (var c = 0; c < channels; c++)
                {
                    var sum = 1 << (PrecisionBits - 1);
                    for (var k = 0; k < count; k++)
                    {
                        sum += line[((start + k) * channels) + c] * weights[k];
                    }

                    into[(x * channels) + c] = Clip8(sum);
                }
            }
        }

        for (var y = 0; y < targetHeight; y++)
        {
            var start = yBounds[2 * y] - firstRow;
            var count = yBounds[(2 * y) + 1];
            var weights = yWeights.AsSpan(y * yTaps, count);
            var into = target.Slice(y * middleStride, middleStride);
            for (var i = 0; i < middleStride; i++)
            {
                var sum = 1 << (PrecisionBits - 1);
                for (var k = 0; k < count; k++)
                {
                    sum += middle[((start + k) * middleStride) + i] * weights[k];
                }

                into[i] = Clip8(sum);
            }
        }
    }

    private static byte Clip8(int value)
    {
        var shifted = value >> PrecisionBits;
        return shifted < 0 ? (byte)0 : shifted > 255 ? (byte)255 : (byte)shifted;
    }

    /// <summary>Per output pixel: the first input pixel and how many, and their fixed-point weights (Pillow's precompute_coeffs + normalize_coeffs_8bpc).</summary>
    private static (int[] Bounds, int[] Weights, int Taps) Coefficients(int inSize, int outSize)
    {
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = 1.0 * filterScale; // the bilinear (triangle) filter's support is 1
        var taps = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * taps];
        var k = new double[taps];
        for (var x = 0; x < outSize; x++)
        {
            var center = (x + 0.5) * scale;
            var ss = 1.0 / filterScale;
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
                weights[(x * taps) + i] = (int)(w < 0 ? -0.5 + (w * (1 << PrecisionBits)) : 0.5 + (w * (1 << PrecisionBits)));
            }

            bounds[2 * x] = min;
            bounds[(2 * x) + 1] = max;
        }

        return (bounds, weights, taps);
    }

    private static double Triangle(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }
}
