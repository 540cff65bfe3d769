using System.Globalization;
using Worker.Hosting;
using Worker.Inference.Ort;

namespace Worker.Records.Images;

/// <summary>How an image reaches the model's size: straight to H×W, or its shorter side to N then a center crop.</summary>
public enum ResizeMode
{
    /// <summary>Straight to the input's H×W (or the image's own size where H and W are dynamic).</summary>
    ToInput,

    /// <summary>Straight to <see cref="ImagePreprocessing.Height"/>×<see cref="ImagePreprocessing.Width"/>.</summary>
    ToSize,

    /// <summary>The shorter side to <see cref="ImagePreprocessing.ShorterSide"/>, then a center crop to the input's H×W (torchvision's Resize(N) + CenterCrop).</summary>
    ShorterSideThenCrop,
}

/// <summary>
/// What is done to an image before the model sees it: WORKER_IMAGE_* from the environment (a
/// CreateModel's Environment), else the same keys in the model's metadata_props, else defaults.
/// </summary>
public sealed record ImagePreprocessing
{
    public const string ResizeKey = "WORKER_IMAGE_RESIZE";
    public const string MeanKey = "WORKER_IMAGE_MEAN";
    public const string StdKey = "WORKER_IMAGE_STD";
    public const string ScaleKey = "WORKER_IMAGE_SCALE";
    public const string ChannelsKey = "WORKER_IMAGE_CHANNELS";
    public const string MaxPixelsKey = "WORKER_IMAGE_MAX_PIXELS";
    public const string ReduceOnLoadKey = "WORKER_IMAGE_REDUCE_ON_LOAD";

    /// <summary>The decoded-pixel budget per image by default: 64 megapixels (a 256 MiB RGBA buffer at most).</summary>
    public const long DefaultMaxPixels = 64L * 1024 * 1024;

    public static readonly string[] Keys = [ResizeKey, MeanKey, StdKey, ScaleKey, ChannelsKey, MaxPixelsKey, ReduceOnLoadKey];

    public ResizeMode Resize { get; init; } = ResizeMode.ToInput;
    public int Height { get; init; }
    public int Width { get; init; }
    public int ShorterSide { get; init; }

    /// <summary>Per channel, in the model's channel order; applied after <see cref="Scale"/>. Null: none.</summary>
    public float[]? Mean { get; init; }

    public float[]? Std { get; init; }

    /// <summary>Multiplies each 0-255 pixel; null: 1/255 for float inputs, 1 for uint8.</summary>
    public float? Scale { get; init; }

    public bool Bgr { get; init; }

    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>Let JPEG decode at 1/2, 1/4 or 1/8 size when that is still twice the size needed (faster; pixels a little off Pillow's full decode).</summary>
    public bool ReduceOnLoad { get; init; } = true;

    /// <summary>Each key from <paramref name="environment"/> first, then <paramref name="metadata"/> (the model's metadata_props).</summary>
    public static ImagePreprocessing Parse(IReadOnlyDictionary<string, string> environment, IReadOnlyDictionary<string, string> metadata)
    {
        string? Get(string key) =>
            environment.TryGetValue(key, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim()
            : metadata.TryGetValue(key, out var fromModel) && !string.IsNullOrWhiteSpace(fromModel) ? fromModel.Trim()
            : null;

        var result = new ImagePreprocessing();
        if (Get(ResizeKey) is { } resize)
        {
            var parts = resize.ToLowerInvariant().Split('x');
            if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var h) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var w) && h > 0 && w > 0)
            {
                result = result with { Resize = ResizeMode.ToSize, Height = h, Width = w };
            }
            else if (parts.Length == 1 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var n) && n > 0)
            {
                result = result with { Resize = ResizeMode.ShorterSideThenCrop, ShorterSide = n };
            }
            else
            {
                throw new ConfigurationException(ResizeKey, $"must be HxW (height then width, e.g. 224x224) or N (the shorter side, then a center crop), got '{resize}'");
            }
        }

        if (Get(MeanKey) is { } mean)
        {
            result = result with { Mean = ParseFloats(MeanKey, mean) };
        }

        if (Get(StdKey) is { } std)
        {
            var values = ParseFloats(StdKey, std);
            if (values.Any(v => v == 0))
            {
                throw new ConfigurationException(StdKey, $"must not hold 0, got '{std}'");
            }

            result = result with { Std = values };
        }

        if (Get(ScaleKey) is { } scale)
        {
            result = result with { Scale = ParseNumberOrFraction(ScaleKey, scale) };
        }

        if (Get(ChannelsKey) is { } channels)
        {
            result = result with
            {
                Bgr = channels.ToLowerInvariant() switch
                {
                    "rgb" => false,
                    "bgr" => true,
                    _ => throw new ConfigurationException(ChannelsKey, $"must be rgb or bgr, got '{channels}'"),
                },
            };
        }

        if (Get(ReduceOnLoadKey) is { } reduce)
        {
            result = result with
            {
                ReduceOnLoad = reduce.ToLowerInvariant() switch
                {
                    "on" or "true" or "1" => true,
                    "off" or "false" or "0" => false,
                    _ => throw new ConfigurationException(ReduceOnLoadKey, $"must be on or off, got '{reduce}'"),
                },
            };
        }

        if (Get(MaxPixelsKey) is { } maxPixels)
        {
            result = result with
            {
                MaxPixels = long.TryParse(maxPixels, CultureInfo.InvariantCulture, out var pixels) && pixels > 0
                    ? pixels
                    : throw new ConfigurationException(MaxPixelsKey, $"must be a positive number of pixels, got '{maxPixels}'"),
            };
        }

        return result;
    }

    private static float[] ParseFloats(string key, string text) =>
        [.. text.Split(',').Select(part => float.TryParse(part.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && float.IsFinite(value)
            ? value
            : throw new ConfigurationException(key, $"must be numbers separated by commas, one per channel, got '{text}'"))];

    private static float ParseNumberOrFraction(string key, string text)
    {
        var slash = text.IndexOf('/');
        if (slash < 0)
        {
            return float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && float.IsFinite(value) && value != 0
                ? value
                : throw new ConfigurationException(key, $"must be a number or a fraction such as 1/255, got '{text}'");
        }

        return double.TryParse(text[..slash], NumberStyles.Float, CultureInfo.InvariantCulture, out var top)
            && double.TryParse(text[(slash + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var bottom) && bottom != 0 && top != 0
            ? (float)(top / bottom)
            : throw new ConfigurationException(key, $"must be a number or a fraction such as 1/255, got '{text}'");
    }
}

/// <summary>
/// A model whose single input is an image: rank 4, the channel axis (1 or 3 channels) second
/// (NCHW) or last (NHWC), of float32, float16 or uint8. H and W fixed (the target size) or dynamic
/// (each image keeps its size, or takes WORKER_IMAGE_RESIZE's).
/// </summary>
public sealed record ImageInput(bool ChannelsFirst, int Channels, int Height, int Width, TensorElementType ElementType, ImagePreprocessing Preprocessing)
{
    public bool HasDynamicSize => Height < 0 || Width < 0;

    /// <summary>Null when the model's input is not an image input.</summary>
    public static ImageInput? Find(ModelSignature signature, ImagePreprocessing preprocessing)
    {
        if (signature.Inputs.Count != 1)
        {
            return null;
        }

        var input = signature.Inputs[0];
        if (input.Shape.Length != 4 || input.ElementType is not (TensorElementType.Float or TensorElementType.Float16 or TensorElementType.UInt8))
        {
            return null;
        }

        var shape = input.Shape;
        var (channelsFirst, channels, height, width) = shape[1] is 1 or 3 ? (true, shape[1], shape[2], shape[3])
            : shape[3] is 1 or 3 ? (false, shape[3], shape[1], shape[2])
            : (false, 0L, 0L, 0L);
        if (channels == 0 || (height < 0) != (width < 0))
        {
            return null;
        }

        return new ImageInput(channelsFirst, (int)channels, (int)height, (int)width, input.ElementType, preprocessing);
    }

    /// <summary>The size a decoded image of <paramref name="imageHeight"/>×<paramref name="imageWidth"/> goes to before any crop, and the crop.</summary>
    public (int ResizeHeight, int ResizeWidth, int CropTop, int CropLeft, int Height, int Width) Plan(int imageHeight, int imageWidth)
    {
        var p = Preprocessing;
        switch (p.Resize)
        {
            case ResizeMode.ToSize:
                return (p.Height, p.Width, 0, 0, p.Height, p.Width);
            case ResizeMode.ShorterSideThenCrop:
                // torchvision's Resize(int): the shorter side to N, the longer to int(N * long / short).
                var (rh, rw) = imageHeight <= imageWidth
                    ? (p.ShorterSide, (int)((long)p.ShorterSide * imageWidth / imageHeight))
                    : ((int)((long)p.ShorterSide * imageHeight / imageWidth), p.ShorterSide);
                if (HasDynamicSize)
                {
                    return (rh, rw, 0, 0, rh, rw);
                }

                // CenterCrop: int(round((size - crop) / 2)), as torchvision rounds.
                var top = (int)Math.Round((rh - Height) / 2.0, MidpointRounding.ToEven);
                var left = (int)Math.Round((rw - Width) / 2.0, MidpointRounding.ToEven);
                return (rh, rw, top, left, Height, Width);
            default:
                return HasDynamicSize ? (imageHeight, imageWidth, 0, 0, imageHeight, imageWidth) : (Height, Width, 0, 0, Height, Width);
        }
    }
}
