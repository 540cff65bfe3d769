using System.Text;
using System.Text.Json;
using SkiaSharp;
using Worker.Hosting;
using Worker.Records.Images;
using Worker.Tests.Support;

namespace Worker.Tests.EndToEnd;

/// <summary>
/// Images in, predictions out: every image Content-Type and the JSON {"b64": ...} records, through
/// the real server and real ORT, with answers checked against a preprocessing reference computed
/// here (Pillow's resize is checked against Pillow's own output, formats/images/).
/// </summary>
public sealed class ImageTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("images-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "formats", "images", name);

    private static string ImageModel(string name) => Path.Combine("images", name);

    /// <summary>Decodes with Skia to packed RGB, unpremultiplied, no orientation applied: the test's own view of an image's pixels.</summary>
    private static (byte[] Rgb, int Width, int Height) Pixels(byte[] encoded)
    {
        using var codec = SKCodec.Create(new MemoryStream(encoded)) ?? throw new InvalidOperationException("not an image");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, rgba));
        var rgb = new byte[info.Width * info.Height * 3];
        for (var i = 0; i < info.Width * info.Height; i++)
        {
            (rgb[i * 3], rgb[(i * 3) + 1], rgb[(i * 3) + 2]) = (rgba[i * 4], rgba[(i * 4) + 1], rgba[(i * 4) + 2]);
        }

        return (rgb, info.Width, info.Height);
    }

    private static byte[] Resized(byte[] rgb, int width, int height, int toWidth, int toHeight)
    {
        var into = new byte[toWidth * toHeight * 3];
        PilResize.Resize(rgb, width, height, width * 3, 3, into, toWidth, toHeight);
        return into;
    }

    private static float[] Floats(JsonElement array) => [.. Flatten(array)];

    private static IEnumerable<float> Flatten(JsonElement element) =>
        element.ValueKind == JsonValueKind.Array ? element.EnumerateArray().SelectMany(Flatten) : [element.GetSingle()];

    private static async Task<JsonElement[]> PredictionsAsync(int port, string contentType, byte[] body, string output)
    {
        var response = await ModelServers.PostAsync(port, contentType, body, "application/json");
        Assert.True(response.Status == 200, response.BodyText);
        using var json = JsonDocument.Parse(response.Body);
        return [.. json.RootElement.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty(output).Clone())];
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(16, 5)]
    [InlineData(50, 40)]
    [InlineData(37, 11)]
    [InlineData(3, 23)]
    public void TheResizeGivesPillowsPixels(int width, int height)
    {
        var (source, sw, sh) = Pixels(File.ReadAllBytes(Fixture("gradient.png")));
        var (pillow, pw, ph) = Pixels(File.ReadAllBytes(Fixture($"gradient_pil_{width}x{height}.png")));
        Assert.Equal((width, height), (pw, ph));
        var ours = Resized(source, sw, sh, width, height);
        var largest = ours.Zip(pillow, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(largest == 0, $"largest difference from Pillow: {largest}");
    }

    [Theory]
    [InlineData("image/png")]
    [InlineData("image/jpeg")]
    [InlineData("image/webp")]
    [InlineData("application/x-image")]
    public async Task EveryImageTypeIsOneRecordResizedToTheInput(string contentType)
    {
        var format = contentType switch { "image/jpeg" => SKEncodedImageFormat.Jpeg, "image/webp" => SKEncodedImageFormat.Webp, _ => SKEncodedImageFormat.Png };
        var encoded = SyntheticImages.Encode(64, 48, format, 100, seed: 3, alphaType: SKAlphaType.Opaque);
        foreach (var strategy in Enum.GetValues<BatchStrategy>())
        {
            await using var host = ModelServers.Start(ImageModel("nchw_float"), new WorkerSettings { BatchStrategy = strategy });
            var prediction = Assert.Single(await PredictionsAsync(host.Port, contentType, encoded, "pixels"));
            var pixels = Floats(prediction);
            Assert.Equal(3 * 8 * 8, pixels.Length);

            // The reference: the image decoded whole, resized as Pillow does, scaled by 1/255, NCHW.
            var (rgb, w, h) = Pixels(encoded);
            var expected = Resized(rgb, w, h, 8, 8);
            var tolerance = format == SKEncodedImageFormat.Png ? 0.5f / 255 : 6f / 255; // lossy codecs decoded at 1/2 size differ a little
            for (var c = 0; c < 3; c++)
            {
                for (var i = 0; i < 64; i++)
                {
                    Assert.True(Math.Abs(pixels[(c * 64) + i] - (expected[(i * 3) + c] / 255f)) <= tolerance, $"{contentType} channel {c} pixel {i}: {pixels[(c * 64) + i] * 255} vs {expected[(i * 3) + c]}");
                }
            }
        }
    }

    [Fact]
    public async Task AUint8NhwcInputTakesThePixelsAsTheyAre()
    {
        var encoded = SyntheticImages.Encode(20, 30, SKEncodedImageFormat.Png, 100, seed: 4, alphaType: SKAlphaType.Opaque);
        await using var host = ModelServers.Start(ImageModel("nhwc_uint8"));
        var pixels = Floats(Assert.Single(await PredictionsAsync(host.Port, "image/png", encoded, "pixels")));
        var (rgb, w, h) = Pixels(encoded);
        Assert.Equal(Resized(rgb, w, h, 8, 8).Select(b => (float)b), pixels);
    }

    [Fact]
    public async Task AlphaIsDroppedAndGrayIsExpandedOrKept()
    {
        // Alpha: the color channels as stored (unpremultiplied), whatever the alpha.
        var translucent = SyntheticImages.Encode(8, 8, SKEncodedImageFormat.Png, 100, seed: 5, alphaType: SKAlphaType.Unpremul);
        await using (var host = ModelServers.Start(ImageModel("nhwc_uint8")))
        {
            var (rgb, _, _) = Pixels(translucent);
            Assert.Equal(rgb.Select(b => (float)b), Floats(Assert.Single(await PredictionsAsync(host.Port, "image/png", translucent, "pixels"))));

            // A grayscale PNG to a three-channel input: R = G = B.
            var gray = GrayPng(8, 8);
            var pixels = Floats(Assert.Single(await PredictionsAsync(host.Port, "image/png", gray, "pixels")));
            for (var i = 0; i < 64; i++)
            {
                Assert.Equal(pixels[i * 3], pixels[(i * 3) + 1]);
                Assert.Equal(pixels[i * 3], pixels[(i * 3) + 2]);
            }
        }

        // An RGB image to a one-channel input: Pillow's luminance, then the resize.
        await using (var host = ModelServers.Start(ImageModel("gray")))
        {
            var encoded = SyntheticImages.Encode(12, 12, SKEncodedImageFormat.Png, 100, seed: 6, alphaType: SKAlphaType.Opaque);
            var (rgb, w, h) = Pixels(encoded);
            var luma = new byte[w * h];
            for (var i = 0; i < luma.Length; i++)
            {
                luma[i] = (byte)(((rgb[i * 3] * 19595) + (rgb[(i * 3) + 1] * 38470) + (rgb[(i * 3) + 2] * 7471) + 0x8000) >> 16);
            }

            var expected = new byte[16];
            PilResize.Resize(luma, w, h, w, 1, expected, 4, 4);
            var pixels = Floats(Assert.Single(await PredictionsAsync(host.Port, "image/png", encoded, "pixels")));
            Assert.Equal(expected.Select(b => b / 255f), pixels, new Inference.ToleranceComparer(1e-6f));
        }
    }

    private static byte[] GrayPng(int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var v = (byte)((x * 30) + (y * 2));
                bitmap.SetPixel(x, y, new SKColor(v, v, v));
            }
        }

        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [Fact]
    public async Task ExifOrientationTurnsTheImageUprightAsPillowDoes()
    {
        // rotated6.jpg is stored 40x24 with Orientation 6; Pillow's exif_transpose gives 24x40.
        await using var host = ModelServers.Start(ImageModel("dynamic_half"), new WorkerSettings { ImageVariables = new Dictionary<string, string>() });
        var response = await ModelServers.PostAsync(host.Port, "image/jpeg", File.ReadAllBytes(Fixture("rotated6.jpg")), "application/json");
        Assert.Equal(200, response.Status);

        // Through a model that keeps the image's own size, compare the channel means with Pillow's upright image.
        var (upright, w, h) = Pixels(File.ReadAllBytes(Fixture("rotated6_upright.png")));
        Assert.Equal((24, 40), (w, h));
        using var json = JsonDocument.Parse(response.Body);
        var means = Floats(json.RootElement.GetProperty("predictions")[0].GetProperty("mean"));
        for (var c = 0; c < 3; c++)
        {
            var expected = Enumerable.Range(0, w * h).Average(i => upright[(i * 3) + c] / 255.0);
            Assert.True(Math.Abs(means[c] - expected) < 0.01, $"channel {c}: {means[c]} vs {expected}");
        }

        // And pixel by pixel, through the fixed-size model: the same as resizing Pillow's upright image.
        await using var fixedSize = ModelServers.Start(ImageModel("nhwc_uint8"));
        var pixels = Floats(Assert.Single(await PredictionsAsync(fixedSize.Port, "image/jpeg", File.ReadAllBytes(Fixture("rotated6.jpg")), "pixels")));
        var reference = Resized(upright, w, h, 8, 8);
        var largest = pixels.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(largest <= 3, $"largest difference from Pillow's upright image: {largest}");
    }

    [Fact]
    public async Task ImagesOfAnySizeFeedADynamicInputInOneJsonRequest()
    {
        var images = new[] { (30, 20), (7, 9), (30, 20), (64, 64) }.Select((size, i) => SyntheticImages.Encode(size.Item1, size.Item2, SKEncodedImageFormat.Png, 100, seed: 10 + i, alphaType: SKAlphaType.Opaque)).ToArray();
        var body = "{\"instances\": [" + string.Join(",", images.Select(b => $"{{\"b64\": \"{Convert.ToBase64String(b)}\"}}")) + "]}";
        await using var host = ModelServers.Start(ImageModel("dynamic_half"));
        var predictions = await PredictionsAsync(host.Port, "application/json", Encoding.ASCII.GetBytes(body), "mean");
        Assert.Equal(images.Length, predictions.Length);
        for (var i = 0; i < images.Length; i++)
        {
            var (rgb, w, h) = Pixels(images[i]);
            var means = Floats(predictions[i]);
            for (var c = 0; c < 3; c++)
            {
                var expected = Enumerable.Range(0, w * h).Average(p => rgb[(p * 3) + c] / 255.0);
                Assert.True(Math.Abs(means[c] - expected) < 0.005, $"image {i} channel {c}: {means[c]} vs {expected}");
            }
        }
    }

    [Fact]
    public async Task JsonLinesAndNamedB64RecordsCarryManyImages()
    {
        var images = Enumerable.Range(0, 3).Select(i => SyntheticImages.Encode(16, 16, SKEncodedImageFormat.Png, 100, seed: 20 + i, alphaType: SKAlphaType.Opaque)).ToArray();
        await using var host = ModelServers.Start(ImageModel("nchw_float"));
        var lines = string.Concat(images.Select((b, i) => i == 1
            ? $"{{\"image\": {{\"b64\": \"{Convert.ToBase64String(b)}\"}}}}\n"
            : $"{{\"b64\": \"{Convert.ToBase64String(b).Replace("/", "\\/", StringComparison.Ordinal)}\"}}\n"));
        var response = await ModelServers.PostAsync(host.Port, "application/jsonlines", lines, "application/jsonlines");
        Assert.Equal(200, response.Status);
        var answers = response.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, answers.Length);
        for (var i = 0; i < 3; i++)
        {
            using var json = JsonDocument.Parse(answers[i]);
            var (rgb, w, h) = Pixels(images[i]);
            var expected = Resized(rgb, w, h, 8, 8);
            var mean = Floats(json.RootElement.GetProperty("mean"));
            Assert.Equal(Enumerable.Range(0, 64).Average(p => expected[p * 3] / 255.0), mean[0], 4);
        }
    }

    [Fact]
    public async Task PreprocessingComesFromTheModelsMetadataUnlessTheEnvironmentSaysOtherwise()
    {
        var encoded = SyntheticImages.Encode(9, 12, SKEncodedImageFormat.Png, 100, seed: 30, alphaType: SKAlphaType.Opaque);
        var (rgb, w, h) = Pixels(encoded);

        // metadata_props: shorter side 6 (9x12 -> 6x8), center crop 4x4, BGR, ImageNet mean and std in BGR order.
        var resized = Resized(rgb, w, h, 6, 8);
        float[] mean = [0.406f, 0.456f, 0.485f];
        float[] std = [0.225f, 0.224f, 0.229f];
        var (top, left) = ((int)Math.Round((8 - 4) / 2.0), (int)Math.Round((6 - 4) / 2.0));
        await using (var host = ModelServers.Start(ImageModel("with_metadata")))
        {
            var pixels = Floats(Assert.Single(await PredictionsAsync(host.Port, "image/png", encoded, "pixels")));
            for (var c = 0; c < 3; c++)
            {
                for (var y = 0; y < 4; y++)
                {
                    for (var x = 0; x < 4; x++)
                    {
                        var source = resized[((((y + top) * 6) + x + left) * 3) + (2 - c)];
                        var expected = ((source / 255f) - mean[c]) / std[c];
                        Assert.Equal(expected, pixels[(c * 16) + (y * 4) + x], 4);
                    }
                }
            }
        }

        // The environment wins, key by key: RGB, no mean or std, straight to 4x4.
        var variables = new Dictionary<string, string>
        {
            [ImagePreprocessing.ChannelsKey] = "rgb", [ImagePreprocessing.MeanKey] = "0,0,0", [ImagePreprocessing.StdKey] = "1,1,1", [ImagePreprocessing.ResizeKey] = "4x4",
        };
        await using (var host = ModelServers.Start(ImageModel("with_metadata"), new WorkerSettings { ImageVariables = variables }))
        {
            var pixels = Floats(Assert.Single(await PredictionsAsync(host.Port, "image/png", encoded, "pixels")));
            var straight = Resized(rgb, w, h, 4, 4);
            Assert.Equal(straight[0] / 255f, pixels[0], 5);
            Assert.Equal(straight[(15 * 3) + 2] / 255f, pixels[(2 * 16) + 15], 5);
        }
    }

    [Theory]
    [InlineData("WORKER_IMAGE_RESIZE", "big")]
    [InlineData("WORKER_IMAGE_MEAN", "0.5,x")]
    [InlineData("WORKER_IMAGE_STD", "1,0,1")]
    [InlineData("WORKER_IMAGE_SCALE", "1/0")]
    [InlineData("WORKER_IMAGE_CHANNELS", "rgba")]
    [InlineData("WORKER_IMAGE_MEAN", "0.5,0.5")]
    public async Task ABadPreprocessingSettingKeepsTheModelFromLoadingAndSaysWhich(string key, string value)
    {
        await using var host = TestServers.Start(new WorkerSettings { ModelDirectory = Models.Directory(ImageModel("nchw_float")), ImageVariables = new Dictionary<string, string> { [key] = value } }, ready: false);
        Assert.False(host.LoadModel());
        Assert.Contains(key, host.Readiness.Reason);
    }

    [Fact]
    public async Task BadImagesAre400sNamingTheRecordAndTheWorkerLivesOn()
    {
        await using var host = ModelServers.Start(ImageModel("nchw_float"), new WorkerSettings { ImageVariables = new Dictionary<string, string> { [ImagePreprocessing.MaxPixelsKey] = "10000" } });
        var good = SyntheticImages.Jpeg(64, 48);

        var truncated = await ModelServers.PostAsync(host.Port, "image/jpeg", good[..(good.Length / 2)]);
        Assert.Equal(400, truncated.Status);
        Assert.Contains("truncated", truncated.BodyText);

        var notAnImage = await ModelServers.PostAsync(host.Port, "image/png", "this is text, not a picture"u8.ToArray());
        Assert.Equal(400, notAnImage.Status);
        Assert.Contains("not an image", notAnImage.BodyText);

        var tooLarge = await ModelServers.PostAsync(host.Port, "image/png", SyntheticImages.Png(200, 100));
        Assert.Equal(400, tooLarge.Status);
        Assert.Contains("200x100 pixels, over the decoded-pixel budget of 10000", tooLarge.BodyText);

        // A header that claims 100,000 x 100,000 pixels is refused from the header, before any pixel is decoded.
        var claims = await ModelServers.PostAsync(host.Port, "image/png", PngClaiming(100_000, 100_000));
        Assert.Equal(400, claims.Status);
        Assert.Contains("100000x100000", claims.BodyText);

        // In a JSON request: the record's index.
        var body = "{\"instances\": [{\"b64\": \"" + Convert.ToBase64String(good) + "\"}, {\"b64\": \"" + Convert.ToBase64String(good[..100]) + "\"}]}";
        var second = await ModelServers.PostAsync(host.Port, "application/json", body);
        Assert.Equal(400, second.Status);
        using (var json = JsonDocument.Parse(second.Body))
        {
            Assert.Equal(1, json.RootElement.GetProperty("record").GetInt64());
        }

        var badBase64 = await ModelServers.PostAsync(host.Port, "application/jsonlines", "{\"b64\": \"***\"}\n");
        Assert.Equal(400, badBase64.Status);
        Assert.Contains("base64", badBase64.BodyText);

        Assert.Equal(200, (await ModelServers.PostAsync(host.Port, "image/jpeg", good)).Status);
    }

    [Fact]
    public async Task AnImageToAModelWithoutAnImageInputIsA415()
    {
        await using var host = ModelServers.Start("linear");
        var response = await ModelServers.PostAsync(host.Port, "image/png", SyntheticImages.Png(8, 8));
        Assert.Equal(415, response.Status);
        Assert.Contains("not an image input", response.BodyText);
    }

    /// <summary>A PNG whose IHDR (its CRC right) claims the size, with one small IDAT and IEND: a header any decoder reads.</summary>
    private static byte[] PngClaiming(int width, int height)
    {
        var png = new List<byte>([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        void Chunk(string type, byte[] data)
        {
            var body = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
            png.AddRange([(byte)(data.Length >> 24), (byte)(data.Length >> 16), (byte)(data.Length >> 8), (byte)data.Length]);
            png.AddRange(body);
            var crc = Crc32(body);
            png.AddRange([(byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc]);
        }

        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        Chunk("IHDR", ihdr);
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Fastest))
        {
            zlib.Write(new byte[64]);
        }

        Chunk("IDAT", compressed.ToArray());
        Chunk("IEND", []);
        return [.. png];
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }

    [Fact]
    public async Task AFolderOfJpegAndPngPhotosRunsThroughTransform()
    {
        var input = Directory.CreateDirectory(Path.Combine(_root, "photos")).FullName;
        var files = new Dictionary<string, byte[]>
        {
            ["a.jpg"] = SyntheticImages.Jpeg(320, 240, seed: 1),
            ["b.jpeg"] = SyntheticImages.Jpeg(200, 300, seed: 2),
            ["sub/c.png"] = SyntheticImages.Png(50, 60, seed: 3),
            ["d.webp"] = SyntheticImages.Encode(40, 40, SKEncodedImageFormat.Webp, 100, seed: 4, alphaType: SKAlphaType.Opaque),
        };
        foreach (var (name, bytes) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(input, name))!);
            File.WriteAllBytes(Path.Combine(input, name), bytes);
        }

        var options = new Worker.Jobs.Transform.TransformOptions
        {
            Input = input,
            Output = Path.Combine(_root, "out"),
            ModelDirectory = Models.Directory(ImageModel("nchw_float")),
            Accept = "application/jsonlines",
        };
        var report = await new Worker.Jobs.Transform.TransformJob(options, new StringWriter(), Worker.Jobs.Transform.TransformDisplay.None).RunAsync(CancellationToken.None);
        Assert.True(report.Succeeded, report.JobError + string.Join("; ", report.Files.Select(f => f.Error)));
        Assert.Equal(4, report.Records);
        foreach (var (name, bytes) in files)
        {
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_root, "out", name + ".out")));
            var (rgb, w, h) = Pixels(bytes);
            var expected = Resized(rgb, w, h, 8, 8);
            var mean = Floats(json.RootElement.GetProperty("mean"));
            Assert.True(Math.Abs(mean[1] - Enumerable.Range(0, 64).Average(p => expected[(p * 3) + 1] / 255.0)) < 0.02, $"{name}: {mean[1]}");
        }
    }
}
