namespace Worker.Tests.Support;

/// <summary>The tiny models in formats/models (built by make_models.py), and the arithmetic they implement.</summary>
public static class Models
{
    public static string Directory(string name) => Path.Combine(AppContext.BaseDirectory, "formats", "models", name);

    public static string File(string name) => Path.Combine(Directory(name), "model.onnx");

    // linear: Y = X @ W + B with X [N,4], W [4,3], B [3].
    public static readonly float[,] LinearWeights =
    {
        { 0.5f, -1.0f, 0.25f },
        { 1.0f, 2.0f, -0.5f },
        { -1.5f, 0.0f, 1.0f },
        { 2.0f, 1.0f, 0.0f },
    };

    public static readonly float[] LinearBias = [0.1f, -0.2f, 0.3f];

    public static float[] Linear(ReadOnlySpan<float> x)
    {
        var y = new float[3];
        for (var j = 0; j < 3; j++)
        {
            double sum = LinearBias[j];
            for (var i = 0; i < 4; i++)
            {
                sum += x[i] * LinearWeights[i, j];
            }

            y[j] = (float)sum;
        }

        return y;
    }

    // classifier: probabilities = softmax(X @ W + B), label = argmax, X [N,3].
    private static readonly double[,] ClassifierWeights = { { 1.0, -1.0 }, { 0.5, 0.5 }, { -2.0, 2.0 } };
    private static readonly double[] ClassifierBias = [0.0, 0.1];

    public static (float[] Probabilities, long Label) Classifier(ReadOnlySpan<float> x)
    {
        var logits = new double[2];
        for (var j = 0; j < 2; j++)
        {
            logits[j] = ClassifierBias[j];
            for (var i = 0; i < 3; i++)
            {
                logits[j] += x[i] * ClassifierWeights[i, j];
            }
        }

        var max = Math.Max(logits[0], logits[1]);
        var e0 = Math.Exp(logits[0] - max);
        var e1 = Math.Exp(logits[1] - max);
        var p = new[] { (float)(e0 / (e0 + e1)), (float)(e1 / (e0 + e1)) };
        return (p, p[1] > p[0] ? 1 : 0);
    }
}
