using System.Buffers;
using BenchmarkDotNet.Attributes;
using SkiaSharp;
using Worker.Inference.Ort;
using Worker.Records;
using Worker.Records.Images;

namespace Benchmarks.Records;

/// <summary>
/// A typical photo (1024x768 JPEG) to a 224x224 ImageNet input: decode, Resize(256) + CenterCrop(224),
/// scale, mean/std, CHW float32, as the worker does it per image (<see cref="ImageRecords"/>), with and
/// without JPEG's reduced decode; and the decoders alone, Skia against ImageSharp. The photos come from
/// <c>IMAGE_BENCH_DIR</c> (Benchmarks/images/make-photos.py makes them), else synthetic ones are made.
/// Images/s = files ÷ median per operation (one core). Pillow + numpy on the same files:
/// Benchmarks/images/pil-preprocess.py.
/// </summary>
[MemoryDiagnoser]
public class ImageBenchmarks
{
    private byte[][] _files = [];
    private RowSet? _reduced;
    private RowSet? _full;
    private byte[] _pixels = [];

    public static ModelSignature Signature(bool reduceOnLoad, TensorElementType type = TensorElementType.Float, bool channelsFirst = true)
    {
        var preprocessing = new ImagePreprocessing
        {
            Resize = ResizeMode.ShorterSideThenCrop,
            ShorterSide = 256,
            Mean = type == TensorElementType.Float ? [0.485f, 0.456f, 0.406f] : null,
            Std = type == TensorElementType.Float ? [0.229f, 0.224f, 0.225f] : null,
            ReduceOnLoad = reduceOnLoad,
        };
        var shape = channelsFirst ? new long[] { -1, 3, 224, 224 } : [-1, 224, 224, 3];
        var signature = new ModelSignature([new TensorInfo("image", type, shape)], [new TensorInfo("y", TensorElementType.Float, [-1, 1])]);
        return signature with { Image = ImageInput.Find(signature, preprocessing) };
    }

    public static byte[][] Photos()
    {
        var directory = Environment.GetEnvironmentVariable("IMAGE_BENCH_DIR") ?? Path.Combine("artifacts", "photos");
        var files = Directory.Exists(directory) ? Directory.GetFiles(directory, "*.jpg").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray() : [];
        return files.Length > 0 ? files : [.. Enumerable.Range(0, 4).Select(i => SyntheticImages.Jpeg(1024, 768, seed: i))];
    }

    [GlobalSetup]
    public void Setup()
    {
        _files = Photos();
        _reduced = new RowSet(Signature(reduceOnLoad: true), 1);
        _full = new RowSet(Signature(reduceOnLoad: false), 1);
        _pixels = new byte[_files.Max(f =>
        {
            using var codec = SKCodec.Create(new SKMemoryStream(f));
            return codec.Info.Width * codec.Info.Height * 4;
        })];
        Console.WriteLine($"// {_files.Length} photo(s), {_files.Sum(f => f.Length) / _files.Length / 1024} KiB on average");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _reduced?.Dispose();
        _full?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "worker: decode (reduced) + resize + crop + normalise")]
    public int WorkerReducedDecode() => Run(_reduced!);

    [Benchmark(Description = "worker: full decode + resize + crop + normalise")]
    public int WorkerFullDecode() => Run(_full!);

    private int Run(RowSet rows)
    {
        foreach (var file in _files)
        {
            ImageRecords.Add(file, rows, 0, 0);
            rows.RemoveLastRow();
        }

        return _files.Length;
    }

    [Benchmark(Description = "decode only: SkiaSharp (libjpeg-turbo)")]
    public unsafe int SkiaDecode()
    {
        var total = 0;
        foreach (var file in _files)
        {
            using var codec = SKCodec.Create(new SKMemoryStream(file));
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            fixed (byte* into = _pixels)
            {
                codec.GetPixels(info, (IntPtr)into);
            }

            total += info.Width;
        }

        return total;
    }

    [Benchmark(Description = "decode only: ImageSharp 2.1 (managed)")]
    public int ImageSharpDecode()
    {
        var total = 0;
        foreach (var file in _files)
        {
            using var image = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgb24>(file);
            total += image.Width;
        }

        return total;
    }
}

/// <summary>`image-diff DIR`: the worker's 224x224 uint8 pixels against Pillow's (make-photos.py's *.pil224.rgb), per photo.</summary>
public static class ImageDiff
{
    public static int Run(string directory)
    {
        foreach (var reduce in new[] { false, true })
        {
            var signature = ImageBenchmarks.Signature(reduce, TensorElementType.UInt8, channelsFirst: false);
            var largest = 0;
            long sum = 0;
            long count = 0;
            var files = Directory.GetFiles(directory, "*.jpg").Order(StringComparer.Ordinal).ToList();
            foreach (var path in files)
            {
                using var rows = new RowSet(signature, 1);
                ImageRecords.Add(File.ReadAllBytes(path), rows, 0, 0);
                var ours = rows.InputRow(0, 0);
                var pillow = File.ReadAllBytes(path + ".pil224.rgb");
                for (var i = 0; i < pillow.Length; i++)
                {
                    var d = Math.Abs(ours[i] - pillow[i]);
                    largest = Math.Max(largest, d);
                    sum += d;
                    count++;
                }
            }

            Console.WriteLine($"reduce on load {(reduce ? "on " : "off")}: {files.Count} photos, largest |worker - Pillow| {largest} of 255, mean {(double)sum / count:F3}");
        }

        return 0;
    }
}
