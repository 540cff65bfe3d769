namespace Worker.Inference;

/// <summary>Finds the model SageMaker unpacked from model.tar.gz: exactly one *.onnx under the model directory.</summary>
public static class ModelLocator
{
    /// <returns>The model's path, or null with <paramref name="reason"/> saying why there is none.</returns>
    public static string? Find(string modelDirectory, out string reason)
    {
        if (!Directory.Exists(modelDirectory))
        {
            reason = $"model directory {modelDirectory} does not exist";
            return null;
        }

        string[] models;
        try
        {
            models = Directory.GetFiles(modelDirectory, "*.onnx", new EnumerationOptions { RecurseSubdirectories = true, MatchCasing = MatchCasing.CaseInsensitive });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"model directory {modelDirectory} cannot be read: {e.Message}";
            return null;
        }

        switch (models.Length)
        {
            case 0:
                reason = $"no *.onnx file in {modelDirectory}";
                return null;
            case 1:
                reason = "";
                return models[0];
            default:
                Array.Sort(models, StringComparer.Ordinal);
                reason = $"{models.Length} *.onnx files in {modelDirectory} ({string.Join(", ", models.Select(Path.GetFileName).Take(5))}); expected exactly one";
                return null;
        }
    }
}
