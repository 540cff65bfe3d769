using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Text.RegularExpressions;
using Worker.Records;

namespace Worker.Tests.Records;

/// <summary>The fast number path must give exactly what the BCL gives: same success, same bits.</summary>
public class NumberTextTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-0")]
    [InlineData("1")]
    [InlineData("-12.3456")]
    [InlineData("+7.5")]
    [InlineData(".5")]
    [InlineData("5.")]
    [InlineData("1e10")]
    [InlineData("1E-10")]
    [InlineData("16777216")]
    [InlineData("16777217")]
    [InlineData("0.1")]
    [InlineData("3.4028235E+38")]
    [InlineData("1.401298E-45")]
    [InlineData("123456789012345678901234567890")]
    [InlineData("0.000000000000000000000000000001")]
    [InlineData("1e")]
    [InlineData("e5")]
    [InlineData(".")]
    [InlineData("-")]
    [InlineData("")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("NaN")]
    [InlineData("-Infinity")]
    [InlineData("1,5")]
    [InlineData("0x10")]
    [InlineData("1e999999999")]
    [InlineData("00000000000000000000000001.5")]
    public void AgreesWithTheBclOnEdgeCases(string text) => AssertAgrees(text);

    [Fact]
    public void AgreesWithTheBclOnRandomNumbers()
    {
        var random = new Random(754);
        for (var i = 0; i < 200_000; i++)
        {
            var text = random.Next(6) switch
            {
                0 => ((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-12, 12)))).ToString("R", CultureInfo.InvariantCulture),
                1 => ((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-30, 30))).ToString("R", CultureInfo.InvariantCulture),
                2 => random.Next(-100_000_000, 100_000_000).ToString(CultureInfo.InvariantCulture) + "." + random.Next(0, 1_000_000).ToString("D6", CultureInfo.InvariantCulture),
                3 => random.NextInt64().ToString(CultureInfo.InvariantCulture) + "e" + random.Next(-25, 25).ToString(CultureInfo.InvariantCulture),
                4 => ((random.NextDouble() - 0.5) * 200).ToString("F" + random.Next(0, 9).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                _ => RandomJunk(random),
            };
            AssertAgrees(text);
        }
    }

    [Fact]
    public void AgreesWithTheBclOnTextAsPandasNumpyAndSparkWriteIt()
    {
        // pandas to_csv of float64 (shortest round trip, up to 17 digits: -8.287016868591309), numpy
        // and Spark float32 (up to 9 digits, exponents such as 1.5e-05 or 1.0E-7), exact decimal
        // expansions near the halfway points between two floats, and 19- to 30-digit mantissas.
        var random = new Random(2025);
        for (var i = 0; i < 300_000; i++)
        {
            var scale = Math.Pow(10, random.Next(-40, 40));
            var d = (random.NextDouble() - 0.5) * scale;
            var f = (float)d;
            var text = random.Next(8) switch
            {
                0 => d.ToString("R", CultureInfo.InvariantCulture),
                1 => d.ToString("G17", CultureInfo.InvariantCulture),
                2 => f.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal),
                3 => f.ToString("E8", CultureInfo.InvariantCulture),
                4 => MidpointText(f, random),
                5 => d.ToString("E" + random.Next(18, 30).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                6 => ((double)f).ToString("0.0###################", CultureInfo.InvariantCulture),
                _ => (random.Next(2) == 0 ? "+" : "") + (random.Next(2) == 0 ? "." : "0.") + random.NextInt64().ToString(CultureInfo.InvariantCulture) + "E" + random.Next(-50, 50).ToString("+0;-0", CultureInfo.InvariantCulture),
            };
            AssertAgrees(text);
        }
    }

    /// <summary>The exact midpoint between a float and the next one, in decimal: the case a double-rounding parser gets wrong.</summary>
    private static string MidpointText(float f, Random random)
    {
        if (!float.IsFinite(f) || f == 0)
        {
            return "0.5";
        }

        var midpoint = ((double)f + (double)MathF.BitIncrement(f)) / 2; // exact in double
        return midpoint.ToString("E" + random.Next(8, 40).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    private static string RandomJunk(Random random)
    {
        const string alphabet = "0123456789.-+eE ";
        var chars = new char[random.Next(0, 8)];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = alphabet[random.Next(alphabet.Length)];
        }

        return new string(chars);
    }

    private static void AssertAgrees(string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        var expectedSingleOk = float.TryParse(bytes, NumberStyles.Float, CultureInfo.InvariantCulture, out var expectedSingle);
        Assert.Equal(expectedSingleOk, NumberText.TryParseSingle(bytes, out var single));
        Assert.True(BitConverter.SingleToInt32Bits(expectedSingle) == BitConverter.SingleToInt32Bits(single), $"'{text}': {expectedSingle:R} vs {single:R}");

        var expectedDoubleOk = double.TryParse(bytes, NumberStyles.Float, CultureInfo.InvariantCulture, out var expectedDouble);
        Assert.Equal(expectedDoubleOk, NumberText.TryParseDouble(bytes, out var value));
        Assert.True(BitConverter.DoubleToInt64Bits(expectedDouble) == BitConverter.DoubleToInt64Bits(value), $"'{text}': {expectedDouble:R} vs {value:R}");
    }
}

/// <summary>The one-pass parser inside CSV rows and JSON arrays: where it takes a number it must equal the BCL, and stop where the number ends.</summary>
public partial class NumberTextInlineTests
{
    [Fact]
    public void AgreesWithTheBclAndStopsAtTheDelimiter()
    {
        var random = new Random(99);
        string[] delimiters = [",", "\n", "\r\n", "]", " "];
        for (var i = 0; i < 200_000; i++)
        {
            var number = random.Next(5) switch
            {
                0 => ((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-12, 12)))).ToString("R", CultureInfo.InvariantCulture),
                1 => random.Next(-100_000_000, 100_000_000).ToString(CultureInfo.InvariantCulture) + "." + random.Next(0, 100_000_000).ToString("D8", CultureInfo.InvariantCulture)[..random.Next(1, 9)],
                2 => new string('0', random.Next(0, 12)) + random.Next(0, 99999).ToString(CultureInfo.InvariantCulture),
                3 => random.NextInt64(0, 99999999999).ToString(CultureInfo.InvariantCulture) + "e" + random.Next(-12, 12).ToString(CultureInfo.InvariantCulture),
                _ => ((random.NextDouble() - 0.5) * 200).ToString("F" + random.Next(0, 10).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
            };
            var delimiter = delimiters[random.Next(delimiters.Length)];
            var text = Encoding.ASCII.GetBytes(number + delimiter + "9,9");
            var position = 0;
            if (NumberText.TryParseSingleInline(text, ref position, strictJson: false, out var value))
            {
                Assert.Equal(number.Length, position);
                var expected = float.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(value), $"'{number}': {expected:R} vs {value:R}");
            }
            else
            {
                Assert.Equal(0, position);
            }
        }
    }

    [Fact]
    public void TheWordPathEqualsTheBytePathOnEveryInputItTakes()
    {
        // Random fields (mostly the word path's shape, some not) in random contexts, padded so the
        // word path may run; whatever the word path takes must equal the byte path: value and end.
        var random = new Random(2611);
        string[] pieces = ["0", "1", "5", "9", "-", "+", ".", "e", "E", ",", "\n", " ", "]", "00", "12345678", "\u00e9"];
        var taken = 0;
        for (var trial = 0; trial < 300_000; trial++)
        {
            var field = random.Next(3) switch
            {
                0 => (random.Next(2) == 0 ? "-" : "") + random.NextInt64(0, 100_000_000).ToString("D8", CultureInfo.InvariantCulture)[..random.Next(1, 9)]
                    + (random.Next(4) == 0 ? "" : "." + random.NextInt64(0, 100_000_000).ToString("D8", CultureInfo.InvariantCulture)[..random.Next(0, 9)]),
                1 => ((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-9, 9)))).ToString("R", CultureInfo.InvariantCulture),
                _ => string.Concat(Enumerable.Range(0, random.Next(1, 8)).Select(_ => pieces[random.Next(pieces.Length)])),
            };
            var text = Encoding.UTF8.GetBytes(field + pieces[random.Next(pieces.Length)] + "1234567890123456789012");
            foreach (var strict in new[] { false, true })
            {
                var wordEnd = 0;
                if (!NumberText.TryParseSingleWords(text, ref wordEnd, strict, out var word))
                {
                    Assert.Equal(0, wordEnd);
                    continue;
                }

                taken++;
                var byteEnd = 0;
                Assert.True(NumberText.TryParseSingleBytes(text, ref byteEnd, strict, out var bytes), $"'{field}' (strict {strict}): the byte path refused it");
                Assert.True(wordEnd == byteEnd && BitConverter.SingleToInt32Bits(word) == BitConverter.SingleToInt32Bits(bytes),
                    $"'{field}' (strict {strict}): words {word:R} to {wordEnd}, bytes {bytes:R} to {byteEnd}");
            }
        }

        Assert.True(taken > 50_000, $"the word path took only {taken} fields");
    }

    [Fact]
    public void TheFieldPathsEqualTheBclOnEveryFieldTheyTake()
    {
        // Fields whose end a caller already knows (the CSV row's delimiter mask): whatever a field path
        // takes must be the BCL's value bit for bit; every plain [-]d{1,7}[.d{1,7}] exact in float32 must be taken.
        var random = new Random(1604);
        string[] pieces = ["0", "1", "5", "9", "-", "+", ".", "e", "E", " ", "00", "12345678", "\u00e9", "/", ":"];
        var taken = 0;
        for (var trial = 0; trial < 300_000; trial++)
        {
            var kind = random.Next(4);
            var field = kind switch
            {
                0 => (random.Next(2) == 0 ? "-" : "") + Digits(random, random.Next(1, 8)) + (random.Next(4) == 0 ? "" : "." + Digits(random, random.Next(1, 8))),
                1 => (random.Next(2) == 0 ? "-" : "") + Digits(random, random.Next(0, 17)) + (random.Next(2) == 0 ? "" : "." + Digits(random, random.Next(0, 17))),
                2 => ((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-12, 12)))).ToString("R", CultureInfo.InvariantCulture),
                _ => string.Concat(Enumerable.Range(0, random.Next(1, 8)).Select(_ => pieces[random.Next(pieces.Length)])),
            };
            var text = Encoding.UTF8.GetBytes(field + ",1234567890123456789012");
            var end = Encoding.UTF8.GetByteCount(field);
            var isJson = JsonNumber().IsMatch(field);
            foreach (var strict in new[] { false, true })
            {
                var paths = Ssse3.IsSupported && Sse41.IsSupported
                    ? new[] { ("vector", NumberText.TryParseSingleFieldVector(text, 0, end, strict, out var vector), vector), ("scalar", NumberText.TryParseSingleFieldScalar(text, 0, end, strict, out var scalar), scalar) }
                    : [("scalar", NumberText.TryParseSingleFieldScalar(text, 0, end, strict, out scalar), scalar)];
                foreach (var (path, ok, value) in paths)
                {
                    if (!ok)
                    {
                        Assert.False(kind == 0 && (isJson || !strict) && long.Parse(field.Replace("-", "").Replace(".", ""), CultureInfo.InvariantCulture) <= 1 << 24, $"'{field}': the {path} path (strict {strict}) refused a plain field");
                        continue;
                    }

                    taken++;
                    Assert.True(isJson || !strict, $"'{field}': the {path} path took it as JSON");
                    var expected = float.Parse(field, NumberStyles.Float, CultureInfo.InvariantCulture);
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(value), $"'{field}' ({path}, strict {strict}): BCL {expected:R}, field path {value:R}");
                }
            }
        }

        Assert.True(taken > 100_000, $"the field paths took only {taken} fields");
    }

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")]
    private static partial Regex JsonNumber();

    private static string Digits(Random random, int count) =>
        string.Concat(Enumerable.Range(0, count).Select(_ => (char)('0' + random.Next(10))));

    [Theory]
    [InlineData("12345678,", 8)]
    [InlineData("123456789012,", 12)]
    [InlineData("0000000000000000001.5,", 21)]
    [InlineData("-0.000000001,", 12)]
    [InlineData("99999999.99999999,", 17)]
    public void LongDigitRunsAcrossWordBoundaries(string text, int numberLength)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        var position = 0;
        var number = text[..numberLength];
        var expected = float.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (NumberText.TryParseSingleInline(bytes, ref position, strictJson: false, out var value))
        {
            Assert.Equal(numberLength, position);
            Assert.Equal(expected, value);
        }
        else
        {
            // Outside the exact fast domain (too many digits or too large a mantissa): the general path takes it.
            Assert.True(number.Replace("-", "").Replace(".", "").Length > 19 || Math.Abs((double)expected) > 16777216 || number.Replace("-", "").Replace(".", "").TrimStart('0').Length > 7);
        }
    }
}

/// <summary>
/// Lemire's conversion of a mantissa and exponent already read, and the word parser that reads them
/// out of a field: the BCL is the oracle, bit for bit, and every normal float32 must be taken.
/// </summary>
public partial class DecimalToSingleTests
{
    [Fact]
    public void AgreesWithTheBclOverEveryPowerAndMantissaLength()
    {
        var random = new Random(3119);
        var taken = 0;
        for (var trial = 0; trial < 400_000; trial++)
        {
            var digits = random.Next(1, 20);
            var w = (ulong)random.NextInt64(1, long.MaxValue) % Pow10(digits);
            if (random.Next(4) == 0)
            {
                w = Pow10(random.Next(0, 19)) * (ulong)random.Next(1, 10); // round numbers, exact powers
            }

            var q = random.Next(-72, 46);
            var negative = random.Next(2) == 0;
            AssertConverts(w, q, negative, ref taken);
        }

        Assert.True(taken > 240_000, $"only {taken} conversions were taken"); // the rest are zero, subnormal or infinite
    }

    [Fact]
    public void ExactTiesGoToEven()
    {
        // Odd integers halfway between two floats (floats from 2^24 on are at least 2 apart): the cases a
        // round-half-up conversion gets wrong; and the integers either side of each.
        var random = new Random(24);
        var taken = 0;
        for (var trial = 0; trial < 100_000; trial++)
        {
            var f = BitConverter.Int32BitsToSingle(random.Next(BitConverter.SingleToInt32Bits(16777216f), BitConverter.SingleToInt32Bits(9.2e18f)));
            var midpoint = ((ulong)f / 2) + ((ulong)MathF.BitIncrement(f) / 2);
            foreach (var w in new[] { midpoint - 1, midpoint, midpoint + 1 })
            {
                var q = 0;
                var scaled = w;
                while (scaled % 10 == 0)
                {
                    scaled /= 10;
                    q++;
                }

                AssertConverts(w, 0, negative: false, ref taken);
                AssertConverts(scaled, q, negative: true, ref taken);
            }
        }
    }

    [Fact]
    public void TheDoubleRoundingAgreesWithTheBclAndDeclinesOnlyNearAMidpoint()
    {
        // Random decimals of 1 to 19 digits over float32's range; then decimals at, and one unit of
        // their last digit either side of, a float32 midpoint (exact: floats from 2^20 to 2^40 are
        // multiples of 2^-3 and up, so the midpoints have at most 4 fraction digits), where a double's
        // rounding could tip the float the wrong way. Taken: the BCL's value bit for bit; declined
        // only within 8 of the double's ulps of a midpoint, or outside float32's normal range.
        var random = new Random(5309);
        var taken = 0;
        var normal = 0;
        for (var trial = 0; trial < 400_000; trial++)
        {
            var w = (ulong)random.NextInt64(1, long.MaxValue) % Pow10(random.Next(1, 20));
            var q = random.Next(-64, 39);
            var negative = random.Next(2) == 0;
            var expected = float.Parse($"{(negative ? "-" : "")}{w}e{q}", NumberStyles.Float, CultureInfo.InvariantCulture);
            var isNormal = float.IsNormal(expected) && Math.Abs(expected) < BitConverter.Int32BitsToSingle(0x7F000000);
            normal += isNormal ? 1 : 0;
            if (DecimalToSingle.TryConvertByDouble(w, q, negative, out var value))
            {
                taken++;
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(value), $"{w}e{q}: BCL {expected:R}, by double {value:R}");
            }
            else if (isNormal)
            {
                // Declined: the double must sit within 8 of its ulps of a midpoint beside the BCL's float
                // (round numbers such as 6e10 are exact midpoints more often than random digits would be).
                var magnitude = Math.Abs(expected);
                var product = (double)w * double.Parse($"1e{q}", CultureInfo.InvariantCulture);
                var below = ((double)MathF.BitDecrement(magnitude) + magnitude) / 2;
                var above = ((double)MathF.BitIncrement(magnitude) + magnitude) / 2;
                var ulp = Math.BitIncrement(product) - product;
                Assert.True(Math.Min(Math.Abs(product - below), Math.Abs(product - above)) <= 8 * ulp, $"{w}e{q} ({expected:R}) was declined, the double {product:R} is not next to a midpoint");
            }
        }

        Assert.True(taken > normal * 0.99, $"by double took {taken} of {normal} normal values");

        var midpoints = 0;
        for (var trial = 0; trial < 100_000; trial++)
        {
            var f = BitConverter.Int32BitsToSingle(random.Next(BitConverter.SingleToInt32Bits(1048576f), BitConverter.SingleToInt32Bits(1.0995e12f)));
            var sixteenths = (ulong)(((double)f + MathF.BitIncrement(f)) * 8); // the midpoint × 16, exact in a double
            var fractionDigits = random.Next(4, 8);
            var w = sixteenths * 625 * Pow10(fractionDigits - 4); // the midpoint × 10^fractionDigits
            // And a few of the double's ulps either side, where the two roundings may carry it across.
            var midpoint = ((double)f + MathF.BitIncrement(f)) / 2;
            var ulps = (ulong)Math.Max(1, (Math.BitIncrement(midpoint) - midpoint) * Pow10(fractionDigits));
            foreach (var candidate in new[] { w - 1, w, w + 1, w - ulps, w + ulps, w - (2 * ulps), w + (2 * ulps), w - (3 * ulps), w + (3 * ulps) })
            {
                var text = $"{candidate}e-{fractionDigits}";
                var expected = float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
                if (DecimalToSingle.TryConvertByDouble(candidate, -fractionDigits, negative: false, out var value))
                {
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(value), $"{text}: BCL {expected:R}, by double {value:R}");
                }
                else
                {
                    midpoints++;
                }
            }
        }

        Assert.True(midpoints >= 100_000, $"only {midpoints} decimals at or next to a midpoint were declined"); // every exact midpoint at least
        Assert.True(midpoints < 900_000, "every decimal near a midpoint was declined");
    }

    [Theory]
    [InlineData(0UL, 0)]
    [InlineData(0UL, -80)]
    [InlineData(1UL, -38)]
    [InlineData(1UL, -45)]
    [InlineData(11754943UL, -45)] // just under float's least normal
    [InlineData(11754944UL, -45)]
    [InlineData(34028235UL, 31)] // float.MaxValue
    [InlineData(34028236UL, 31)] // rounds to float.MaxValue
    [InlineData(34028237UL, 31)] // rounds past it: infinity, left to the full parser
    [InlineData(9999999999999999999UL, 19)]
    [InlineData(9999999999999999999UL, -64)]
    [InlineData(16777217UL, 0)]
    [InlineData(16777219UL, 0)]
    public void EdgesAgreeWithTheBclOrAreLeftToTheFullParser(ulong w, int q)
    {
        var taken = 0;
        AssertConverts(w, q, negative: false, ref taken);
        AssertConverts(w, q, negative: true, ref taken);
    }

    [Theory]
    [InlineData("delimited", 400_000)]
    [InlineData("long", 400_000)]
    [InlineData("wide", 150_000)]
    [InlineData("vector", 150_000)]
    [InlineData("lean", 100_000)]
    public void EveryFieldPathReadsWhatItTakesAsTheBclDoes(string path, int leastTaken)
    {
        // Fields as pandas, numpy and Spark write them, hand-made forms ('+', '.5', '5.', 'E+07',
        // leading zeros, 19 and 20 digits) and junk, in a CSV row and as JSON; wherever a path takes
        // one, the BCL's value; the paths together (and the long path alone) must take every plain
        // number of at most 19 significant digits whose value is a normal float (JSON's grammar, when strict).
        if (path == "lean" && !NumberText.Vectorized)
        {
            return; // the lean path is x64's (SSSE3); other machines take the delimited one
        }

        var random = new Random(1729);
        var taken = 0;
        string[] pieces = ["0", "1", "5", "9", "-", "+", ".", "e", "E", " ", "00", "12345678", "/", ":", "e-05", "E+1", "e-0:", "e+/5", "e*05", "f-05"];
        for (var trial = 0; trial < 300_000; trial++)
        {
            var scale = Math.Pow(10, random.Next(-44, 39));
            var d = (random.NextDouble() - 0.5) * scale;
            var field = random.Next(9) switch
            {
                0 => d.ToString("R", CultureInfo.InvariantCulture),
                1 => ((float)d).ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal),
                2 => d.ToString("E" + random.Next(0, 20).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                3 => d.ToString("F" + random.Next(0, 25).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                4 => (random.Next(3) == 0 ? "+" : "") + new string('0', random.Next(0, 12)) + Digits(random, random.Next(1, 20)).TrimStart('0').PadLeft(1, '7') + (random.Next(2) == 0 ? "." : "") + (random.Next(2) == 0 ? "e" + random.Next(-50, 50).ToString(CultureInfo.InvariantCulture) : ""),
                5 => "." + random.Next(0, 1_000_000).ToString(CultureInfo.InvariantCulture) + "E+0" + random.Next(0, 9).ToString(CultureInfo.InvariantCulture),
                6 => "-0.0" + new string('0', random.Next(0, 30)) + random.NextInt64().ToString(CultureInfo.InvariantCulture),
                7 => Math.Round(d, 4).ToString("0.0###", CultureInfo.InvariantCulture),
                _ => string.Concat(Enumerable.Range(0, random.Next(1, 10)).Select(_ => pieces[random.Next(pieces.Length)])),
            };
            var text = Encoding.ASCII.GetBytes(field + "," + new string('7', 64));
            var end = field.Length;
            var expectedOk = float.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var expected);
            var significant = field.TrimStart('+', '-').Split('e', 'E')[0].Replace(".", "").TrimStart('0').Length;
            var mustTake = path is "delimited" or "long"
                && expectedOk && float.IsNormal(expected) && Math.Abs(expected) > MinNormal && significant <= 19 && !field.Contains(' ');
            foreach (var strict in new[] { false, true })
            {
                var isJson = JsonNumber().IsMatch(field);
                float value;
                var ok = path switch
                {
                    "delimited" => NumberText.TryParseSingleDelimited(text, 0, end, strict, out value),
                    "long" => NumberText.TryParseSingleLongField(text, 0, end, strict, out value),
                    "wide" => NumberText.TryParseSingleFieldWide(text, 0, end, strict, out value),
                    "lean" when !strict && NumberText.Vectorized => NumberText.TryParseSingleFieldLean(ref MemoryMarshal.GetArrayDataReference(text), 0, end, out value),
                    "lean" => (value = 0) != 0, // CSV's path: no JSON grammar
                    _ => NumberText.TryParseSingleField(text, 0, end, strict, out value),
                };
                if (ok)
                {
                    taken++;
                    Assert.True(expectedOk && (isJson || !strict), $"'{field}' (strict {strict}) was taken by the {path} path");
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(value), $"'{field}' (strict {strict}): BCL {expected:R}, {path} path {value:R}");
                }
                else
                {
                    Assert.False(mustTake && (isJson || !strict), $"'{field}' (strict {strict}) was refused by the {path} path");
                }

                var decomposed = NumberText.TryDecomposeField(text, 0, end, strict, out _, out _, out _);
                Assert.False(decomposed && !(isJson || !strict), $"'{field}' decomposed as JSON");
            }
        }

        Assert.True(taken > leastTaken, $"the {path} path took only {taken} fields");
    }

    [Fact]
    public void TheLeanPathsUncheckedPowersAreCorrectlyRounded()
    {
        // The lean path reads 10^-k from the double conversion's table with no range check; the
        // conversion's error bound holds for correctly rounded powers, and only them.
        for (var k = 0; k <= 16; k++)
        {
            var expected = double.Parse($"1e-{k}", CultureInfo.InvariantCulture);
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(DecimalToSingle.PowerOfTenUnchecked(-k)));
        }
    }

    [Fact]
    public void BothMantissaConversionsOfTheWidePathReadTheDigitsPastThePoint()
    {
        // Mantissas of 1 to 32 bytes (a point anywhere or none, leading zeros, at most 19 significant
        // digits): the 32-byte permutation (where the CPU has VBMI) and the two 16-byte vectors (every
        // other x86 machine) must both give the digits' value; the field tests above reach only the one
        // this machine takes.
        var random = new Random(3232);
        for (var trial = 0; trial < 100_000; trial++)
        {
            var zeros = random.Next(0, 14);
            var significant = Digits(random, random.Next(1, 20)).TrimStart('0').PadLeft(1, '5');
            var digitText = (new string('0', zeros) + significant)[..Math.Min(32, zeros + significant.Length)];
            if (digitText.Length == 32 && random.Next(2) == 0)
            {
                digitText = digitText[1..];
            }

            var withPoint = digitText.Length < 32 && random.Next(4) != 0;
            var point = withPoint ? random.Next(0, digitText.Length + 1) : digitText.Length;
            var mantissaText = withPoint ? digitText[..point] + "." + digitText[point..] : digitText;
            var bytes = Encoding.ASCII.GetBytes(mantissaText + new string(',', 48));
            var expected = ulong.Parse(digitText, CultureInfo.InvariantCulture);
            var digitCount = digitText.Length;
            Assert.True(expected == NumberText.MantissaBySixteens(bytes, 0, mantissaText.Length, digitCount, withPoint, point), $"'{mantissaText}' by sixteens");
            if (System.Runtime.Intrinsics.X86.Avx512Vbmi.VL.IsSupported)
            {
                var digits = System.Runtime.Intrinsics.Vector256.Create(bytes.AsSpan(0, 32)) - System.Runtime.Intrinsics.Vector256.Create((byte)'0');
                Assert.True(expected == NumberText.ThirtyTwoDigits(digits, digitCount, point), $"'{mantissaText}' by thirty-two");
            }
        }
    }

    private static void AssertConverts(ulong w, int q, bool negative, ref int taken)
    {
        var text = (negative ? "-" : "") + w.ToString(CultureInfo.InvariantCulture) + "e" + q.ToString(CultureInfo.InvariantCulture);
        var expected = float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (DecimalToSingle.TryConvert(w, q, negative, out var value))
        {
            taken++;
            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(value), $"{text}: BCL {expected:R}, Lemire {value:R}");
        }
        else
        {
            // What rounds up to the least normal float starts out subnormal, and is left too.
            Assert.False(float.IsNormal(expected) && Math.Abs(expected) > MinNormal, $"{text} ({expected:R}) was left to the full parser");
        }
    }

    private static readonly float MinNormal = BitConverter.Int32BitsToSingle(0x00800000);

    private static string Digits(Random random, int count) =>
        string.Concat(Enumerable.Range(0, count).Select(_ => (char)('0' + random.Next(10))));

    private static ulong Pow10(int n)
    {
        var p = 1UL;
        for (var i = 0; i < n; i++)
        {
            p *= 10;
        }

        return p;
    }

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")]
    private static partial Regex JsonNumber();
}
