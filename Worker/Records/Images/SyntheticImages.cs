using SkiaSharp;

namespace Worker.Records.Images;

/// <summary>Images made here, for the warm-up (and the tests and benchmarks): smooth gradients with some detail, as a photo has.</summary>
public static class SyntheticImages
{
    public static byte[] Jpeg(int width, int height, int quality = 90, int seed = 1) => Encode(width, height, SKEncodedImageFormat.Jpeg, quality, seed);

    public static byte[] Png(int width, int height, int seed = 1) => Encode(width, height, SKEncodedImageFormat.Png, 100, seed);

    public static byte[] Encode(int width, int height, SKEncodedImageFormat format, int quality, int seed, SKColorType colorType = SKColorType.Rgba8888, SKAlphaType alphaType = SKAlphaType.Unpremul)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, colorType, alphaType));
        var random = new Random(seed);
        var (fx, fy) = (random.Next(2, 9), random.Next(2, 9));
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var r = (byte)(127 + (127 * Math.Sin(fx * Math.PI * x / width)));
                var g = (byte)(255 * y / Math.Max(1, height - 1));
                var b = (byte)((x * 7 + y * 13 + random.Next(32)) & 0xFF);
                bitmap.SetPixel(x, y, new SKColor(r, g, b, (byte)(alphaType == SKAlphaType.Opaque ? 255 : 200 + ((x + y) % 56))));
            }
        }

        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }
}
