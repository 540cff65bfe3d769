using System.Globalization;
using System.Text;
using Worker.Output;

namespace Worker.Tests.Output;

/// <summary>
/// FloatText must write exactly what float.TryFormat writes. Every positive float was compared once
/// (BENCHMARKS.md names the run); here a fixed-seed sample of bit patterns and the edges.
/// </summary>
public sealed class FloatTextTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    [InlineData(-1f)]
    [InlineData(0.1f)]
    [InlineData(1f / 3)]
    [InlineData(1e-4f)]
    [InlineData(1e-5f)]
    [InlineData(0.00012345678f)]
    [InlineData(123456789f)]
    [InlineData(1e8f)]
    [InlineData(1e9f)]
    [InlineData(3e9f)]
    [InlineData(16777216f)]
    [InlineData(16777215f)]
    [InlineData(1e20f)]
    [InlineData(float.MaxValue)]
    [InlineData(-float.MaxValue)]
    [InlineData(1.17549435E-38f)] // the smallest normal
    [InlineData(1.1754942E-38f)]  // the largest subnormal
    [InlineData(float.Epsilon)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Edges_match_the_BCL(float value) => AssertSameAsBcl(BitConverter.SingleToUInt32Bits(value));

    [Fact]
    public void Negative_zero_matches_the_BCL() => AssertSameAsBcl(0x8000_0000); // "-0"

    [Fact]
    public void Every_power_of_two_matches_the_BCL()
    {
        // At a power of two the rounding interval is asymmetric: Schubfach's separate branch.
        for (uint exponent = 0; exponent < 256; exponent++)
        {
            AssertSameAsBcl(exponent << 23);
            AssertSameAsBcl((exponent << 23) | 1);
            AssertSameAsBcl((exponent << 23) - 1);
        }
    }

    [Fact]
    public void A_million_random_bit_patterns_match_the_BCL()
    {
        var random = new Random(20261121);
        for (var i = 0; i < 1_000_000; i++)
        {
            AssertSameAsBcl((uint)random.NextInt64(0, 1L << 32));
        }
    }

    [Fact]
    public void Every_value_in_a_dense_range_of_answers_matches_the_BCL()
    {
        // Model outputs cluster in [-10, 10]: every float between 0.5 and 0.5 + 2^18 ulps.
        var start = BitConverter.SingleToUInt32Bits(0.5f);
        for (var bits = start; bits < start + (1u << 18); bits++)
        {
            AssertSameAsBcl(bits);
            AssertSameAsBcl(bits | 0x8000_0000);
        }
    }

    private static void AssertSameAsBcl(uint bits)
    {
        var value = BitConverter.UInt32BitsToSingle(bits);
        Span<byte> expected = stackalloc byte[32];
        value.TryFormat(expected, out var expectedLength, default, CultureInfo.InvariantCulture);

        // A destination of exactly MaxBytes takes the digit-at-a-time layout after a '-' (the vector
        // layout stores 16 bytes); a roomy one takes the vector layout. Both must be the BCL's bytes.
        Span<byte> room = stackalloc byte[FloatText.MaxBytes + 8];
        foreach (var size in new[] { FloatText.MaxBytes, room.Length })
        {
            var actual = room[..size];
            var actualLength = FloatText.Format(value, actual);
            if (!actual[..actualLength].SequenceEqual(expected[..expectedLength]))
            {
                Assert.Fail($"0x{bits:X8} ({actual.Length} bytes of room): BCL {Encoding.ASCII.GetString(expected[..expectedLength])}, FloatText {Encoding.ASCII.GetString(actual[..actualLength])}");
            }
        }
    }
}
