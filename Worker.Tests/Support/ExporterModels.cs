namespace Worker.Tests.Support;

/// <summary>
/// The models formats/models/exporters/make_exporter_models.py writes in the exporters' shapes, and
/// the arithmetic each implements, computed here independently of ONNX Runtime.
/// </summary>
public static class ExporterModels
{
    public static string Directory(string name) => Path.Combine(AppContext.BaseDirectory, "formats", "models", "exporters", name);

    private static readonly double[] Coefficients =
    [
        0.5, -1.0, 0.25, 1.0,
        -0.5, 0.75, 1.0, -1.0,
        0.0, 0.5, -0.75, 0.5,
    ];

    private static readonly double[] Intercepts = [0.1, -0.2, 0.05];

    /// <summary>skl2onnx's LogisticRegression: LinearClassifier with SOFTMAX, then Normalizer L1 and ZipMap.</summary>
    public static (float[] Probabilities, int Label) LogisticRegression(ReadOnlySpan<float> x)
    {
        var scores = new double[3];
        for (var c = 0; c < 3; c++)
        {
            scores[c] = Intercepts[c];
            for (var j = 0; j < 4; j++)
            {
                scores[c] += Coefficients[(c * 4) + j] * x[j];
            }
        }

        var max = scores.Max();
        var exp = scores.Select(s => Math.Exp(s - max)).ToArray();
        var sum = exp.Sum();
        var p = exp.Select(e => (float)(e / sum)).ToArray();
        return (p, Array.IndexOf(p, p.Max()));
    }

    /// <summary>The DataFrame pipeline: 0.5*sepal_length - petal_count + 2*is_wild + 0.25.</summary>
    public static float DataFrame(float sepalLength, long petalCount, bool isWild) =>
        (float)((0.5 * sepalLength) - petalCount + (isWild ? 2 : 0) + 0.25);

    /// <summary>The DataFrame pipeline with a string column one-hot encoded (red 1.5, green -0.5, blue 0; any other 0).</summary>
    public static float DataFrameWithColor(float sepalLength, long petalCount, bool isWild, string color) =>
        DataFrame(sepalLength, petalCount, isWild) + color switch { "red" => 1.5f, "green" => -0.5f, _ => 0f };

    /// <summary>fixed_batch4: y = x @ w with w [3,2].</summary>
    public static float[] FixedBatch4(ReadOnlySpan<float> x)
    {
        float[,] w = { { 1.0f, -1.0f }, { 0.5f, 2.0f }, { -0.25f, 0.0f } };
        return [(x[0] * w[0, 0]) + (x[1] * w[1, 0]) + (x[2] * w[2, 0]), (x[0] * w[0, 1]) + (x[1] * w[1, 1]) + (x[2] * w[2, 1])];
    }
}
