using System.Globalization;
using BenchmarkDotNet.Attributes;
using Worker.Output;

namespace Benchmarks.Output;

/// <summary>
/// Shortest round-trip float text, the largest single cost of an answer: the BCL's
/// <c>float.TryFormat</c> against <see cref="FloatText"/> on the same 65,536 model-like outputs.
/// </summary>
[MemoryDiagnoser]
public class FloatTextBenchmarks
{
    public const int Values = 65536;
    private readonly float[] _values = new float[Values];
    private readonly byte[] _buffer = new byte[64];

    [GlobalSetup]
    public void Setup()
    {
        // What an MLP or a regressor answers: full-precision floats around zero, some large, some tiny.
        var random = new Random(11);
        for (var i = 0; i < Values; i++)
        {
            _values[i] = (float)(((random.NextDouble() * 2) - 1) * Math.Pow(10, random.Next(-3, 4)));
        }
    }

    [Benchmark(Baseline = true, Description = "float.TryFormat (BCL), 65,536 values")]
    public int Bcl()
    {
        var total = 0;
        foreach (var value in _values)
        {
            value.TryFormat(_buffer, out var written, default, CultureInfo.InvariantCulture);
            total += written;
        }

        return total;
    }

    [Benchmark(Description = "FloatText.Format, 65,536 values")]
    public int Schubfach()
    {
        var total = 0;
        foreach (var value in _values)
        {
            total += FloatText.Format(value, _buffer);
        }

        return total;
    }
}
