using System.Buffers;
using System.Runtime.InteropServices;
using SkiaSharp;
using Worker.Inference.Ort;

namespace Worker.Records.Images;

/// <summary>
/// One encoded image (JPEG, PNG, WebP; the format sniffed from its bytes) into one row of the
/// model's image input: decoded by Skia (reduced on load where JPEG allows and the image is at least
/// twice the size needed), turned upright by its EXIF orientation, alpha dropped, gray expanded (or
/// kept for a one-channel input), resized as Pillow resizes, cropped, scaled, normalised, written in
/// the input's layout and type. Pixel buffers are pooled: no managed allocation per image.
/// </summary>
public static class ImageRecords
{
    /// <summary>Writes the image as the next row of <paramref name="rows"/>; a bad image is a <see cref="RecordException"/> naming <paramref name="record"/>.</summary>
    public static void Add(ReadOnlySpan<byte> encoded, RowSet rows, long record, long offset)
    {
        var row = rows.AddRow();
        try
        {
            WriteRow(encoded, rows, row, record, offset);
        }
        catch
        {
            rows.RemoveLastRow();
            throw;
        }
    }

    /// <summary>Writes the image into row <paramref name="row"/> (already added).</summary>
    public static void WriteRow(ReadOnlySpan<byte> encoded, RowSet rows, int row, long record, long offset)
    {
        var image = rows.Signature.Image ?? throw new RecordException($"record {record}: the model's input is not an image input (rank 4, 1 or 3 channels, float32, float16 or uint8)", record, offset);
        byte[]? decoded = null;
        byte[]? packed = null;
        byte[]? resized = null;
        try
        {
            // The plan comes from the header's size, as Pillow's comes from the full image: a JPEG decoded
            // at reduced size has rounded dimensions, whose ratio could shift the resize and the crop.
            var (width, height, plan) = Decode(encoded, image, record, offset, out decoded, out var origin);
            var channels = image.Channels;

            // Upright, and one byte a channel: RGB, or luminance (Pillow's "L") for a one-channel input.
            var (uprightWidth, uprightHeight) = Transposes(origin) ? (height, width) : (width, height);
            packed = ArrayPool<byte>.Shared.Rent(uprightWidth * uprightHeight * channels);
            Pack(decoded, width, height, origin, channels, packed);

            // Only the crop's window of the resized image is computed (a crop past its edges is padded by Write).
            var window = Window(plan);
            resized = ArrayPool<byte>.Shared.Rent(Math.Max(1, window.Width * window.Height * channels));
            if (window.Width > 0 && window.Height > 0)
            {
                PilResize.Resize(packed, uprightWidth, uprightHeight, uprightWidth * channels, channels, resized, plan.ResizeWidth, plan.ResizeHeight, window.Left, window.Top, window.Width, window.Height);
            }

            var values = plan.Height * plan.Width * channels;
            if (image.HasDynamicSize)
            {
                var bytes = ArrayPool<byte>.Shared.Rent(values * TensorInfo.SizeOf(image.ElementType));
                try
                {
                    var length = values * TensorInfo.SizeOf(image.ElementType);
                    Write(image, resized, plan, window, bytes.AsSpan(0, length));
                    rows.BeginDynamic(0);
                    rows.AppendDynamicValue(0, bytes.AsSpan(0, length));
                    Span<long> dims = image.ChannelsFirst ? [channels, plan.Height, plan.Width] : [plan.Height, plan.Width, channels];
                    rows.EndDynamic(0, row, dims);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(bytes);
                }
            }
            else
            {
                Write(image, resized, plan, window, rows.InputRow(0, row));
            }
        }
        finally
        {
            Return(decoded);
            Return(packed);
            Return(resized);
        }
    }

    private static void Return(byte[]? buffer)
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Decodes to unpremultiplied RGBA in a pooled buffer; the budget is checked on the header, before any pixel is decoded.</summary>
    private static unsafe (int Width, int Height, (int ResizeHeight, int ResizeWidth, int CropTop, int CropLeft, int Height, int Width) Plan) Decode(ReadOnlySpan<byte> encoded, ImageInput image, long record, long offset, out byte[]? pixels, out SKEncodedOrigin origin)
    {
        pixels = null;
        fixed (byte* start = encoded)
        {
            using var data = SKData.Create((IntPtr)start, encoded.Length);
            using var codec = data is null ? null : SKCodec.Create(data);
            if (codec is null)
            {
                throw new RecordException($"record {record}: not an image this worker decodes (JPEG, PNG, WebP, GIF, BMP), or its header is damaged", record, offset);
            }

            var info = codec.Info;
            origin = codec.EncodedOrigin;
            if ((long)info.Width * info.Height > image.Preprocessing.MaxPixels || info.Width <= 0 || info.Height <= 0)
            {
                throw new RecordException(
                    $"record {record}: the image is {info.Width}x{info.Height} pixels, over the decoded-pixel budget of {image.Preprocessing.MaxPixels} ({ImagePreprocessing.MaxPixelsKey})", record, offset);
            }

            // JPEG decodes at 1/2, 1/4 or 1/8 size for little more than the cost of reading it: take the
            // smallest that is still twice the size the resize needs, so the resize's antialiasing
            // still averages the pixels it would have.
            var swap = Transposes(origin);
            var (uprightWidth, uprightHeight) = swap ? (info.Height, info.Width) : (info.Width, info.Height);
            var plan = image.Plan(uprightHeight, uprightWidth);
            var (needWidth, needHeight) = swap ? (plan.ResizeHeight, plan.ResizeWidth) : (plan.ResizeWidth, plan.ResizeHeight);
            var size = new SKSizeI(info.Width, info.Height);
            if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg && !image.HasDynamicSize && image.Preprocessing.ReduceOnLoad)
            {
                foreach (var scale in new[] { 0.125f, 0.25f, 0.5f })
                {
                    var scaled = codec.GetScaledDimensions(scale);
                    if (scaled.Width >= 2 * needWidth && scaled.Height >= 2 * needHeight)
                    {
                        size = scaled;
                        break;
                    }
                }
            }

            var target = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            pixels = ArrayPool<byte>.Shared.Rent(size.Width * size.Height * 4);
            SKCodecResult result;
            fixed (byte* into = pixels)
            {
                result = codec.GetPixels(target, (IntPtr)into);
            }

            return result switch
            {
                SKCodecResult.Success => (size.Width, size.Height, plan),
                SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput =>
                    throw new RecordException($"record {record}: the image is truncated or damaged ({result})", record, offset),
                _ => throw new RecordException($"record {record}: the image cannot be decoded ({result})", record, offset),
            };
        }
    }

    /// <summary>EXIF orientations 5-8 store the image on its side: width and height swap when it is turned upright.</summary>
    private static bool Transposes(SKEncodedOrigin origin) =>
        origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>RGBA in the stored orientation to upright RGB (or luminance), one byte a channel.</summary>
    private static void Pack(ReadOnlySpan<byte> rgba, int width, int height, SKEncodedOrigin origin, int channels, Span<byte> into)
    {
        if (origin == SKEncodedOrigin.TopLeft && channels == 3)
        {
            // Already upright (nearly every photo): RGBA to RGB in one pass.
            var pixels = width * height;
            for (var i = 0; i < pixels; i++)
            {
                into[3 * i] = rgba[4 * i];
                into[(3 * i) + 1] = rgba[(4 * i) + 1];
                into[(3 * i) + 2] = rgba[(4 * i) + 2];
            }

            return;
        }

        var swap = Transposes(origin);
        var outWidth = swap ? height : width;
        var outHeight = swap ? width : height;
        for (var y = 0; y < outHeight; y++)
        {
            for (var x = 0; x < outWidth; x++)
            {
                // Where upright pixel (x, y) is stored (EXIF orientations 1-8, as Pillow's exif_transpose turns them).
                var (sx, sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (width - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (width - 1 - x, height - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, height - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, height - 1 - x),
                    SKEncodedOrigin.RightBottom => (width - 1 - y, height - 1 - x),
                    SKEncodedOrigin.LeftBottom => (width - 1 - y, x),
                    _ => (x, y),
                };
                var source = rgba.Slice(((sy * width) + sx) * 4, 3);
                var at = ((y * outWidth) + x) * channels;
                if (channels == 3)
                {
                    into[at] = source[0];
                    into[at + 1] = source[1];
                    into[at + 2] = source[2];
                }
                else
                {
                    // Pillow's RGB -> L: ITU-R 601-2 luma in 16-bit fixed point.
                    into[at] = (byte)(((source[0] * 19595) + (source[1] * 38470) + (source[2] * 7471) + 0x8000) >> 16);
                }
            }
        }
    }

    /// <summary>The part of the resized image the crop takes.</summary>
    private static (int Left, int Top, int Width, int Height) Window((int ResizeHeight, int ResizeWidth, int CropTop, int CropLeft, int Height, int Width) plan)
    {
        var left = Math.Max(0, plan.CropLeft);
        var top = Math.Max(0, plan.CropTop);
        var right = Math.Min(plan.ResizeWidth, plan.CropLeft + plan.Width);
        var bottom = Math.Min(plan.ResizeHeight, plan.CropTop + plan.Height);
        return (left, top, Math.Max(0, right - left), Math.Max(0, bottom - top));
    }

    /// <summary>
    /// The crop, scaled and normalised, in the input's layout and type; outside the resized image (a
    /// crop larger than it) is 0 before normalising, as torchvision pads. Each channel's 256 possible
    /// values are computed once (scale, mean, std), so a pixel costs a table read.
    /// </summary>
    private static void Write(
        ImageInput image, ReadOnlySpan<byte> window,
        (int ResizeHeight, int ResizeWidth, int CropTop, int CropLeft, int Height, int Width) plan,
        (int Left, int Top, int Width, int Height) bounds, Span<byte> row)
    {
        var p = image.Preprocessing;
        var channels = image.Channels;
        var scale = p.Scale ?? (image.ElementType == TensorElementType.UInt8 ? 1f : 1f / 255f);
        Span<float> table = stackalloc float[channels * 256];
        for (var c = 0; c < channels; c++)
        {
            var mean = p.Mean?[c] ?? 0f;
            var std = p.Std?[c] ?? 1f;
            for (var v = 0; v < 256; v++)
            {
                table[(c * 256) + v] = ((v * scale) - mean) / std;
            }
        }

        var floats = image.ElementType == TensorElementType.Float ? MemoryMarshal.Cast<byte, float>(row) : default;
        var halves = image.ElementType == TensorElementType.Float16 ? MemoryMarshal.Cast<byte, Half>(row) : default;
        var plane = plan.Height * plan.Width;
        var offsetX = bounds.Left - plan.CropLeft;
        var offsetY = bounds.Top - plan.CropTop;
        for (var c = 0; c < channels; c++)
        {
            // Mean and std are in the model's channel order: after the BGR swap.
            var sourceChannel = p.Bgr && channels == 3 ? 2 - c : c;
            var values = table.Slice(c * 256, 256);
            for (var y = 0; y < plan.Height; y++)
            {
                var wy = y - offsetY;
                var rowInside = wy >= 0 && wy < bounds.Height;
                for (var x = 0; x < plan.Width; x++)
                {
                    var wx = x - offsetX;
                    var value = rowInside && wx >= 0 && wx < bounds.Width ? values[window[(((wy * bounds.Width) + wx) * channels) + sourceChannel]] : values[0];
                    var at = image.ChannelsFirst ? (c * plane) + (y * plan.Width) + x : (((y * plan.Width) + x) * channels) + c;
                    switch (image.ElementType)
                    {
                        case TensorElementType.Float:
                            floats[at] = value;
                            break;
                        case TensorElementType.Float16:
                            halves[at] = (Half)value;
                            break;
                        default:
                            row[at] = (byte)Math.Clamp(MathF.Round(value), 0f, 255f);
                            break;
                    }
                }
            }
        }
    }
}
