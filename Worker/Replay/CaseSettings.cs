using System.Text.Json;
using System.Text.Json.Serialization;
using Worker.Hosting;

namespace Worker.Replay;

/// <summary>
/// The server settings an exchange depends on, kept next to it as <c>NAME.json</c> so a replay
/// starts a server set the same way. Every member is optional; a missing file means the defaults.
/// </summary>
public sealed record CaseSettings
{
    /// <summary>MULTI_RECORD or SINGLE_RECORD.</summary>
    [JsonPropertyName("batch_strategy")]
    public string? BatchStrategy { get; init; }

    [JsonPropertyName("max_payload_in_mb")]
    public int? MaxPayloadInMB { get; init; }

    /// <summary>The model folder, relative to the case's own folder or absolute; <c>--model-dir</c> overrides it.</summary>
    [JsonPropertyName("model_dir")]
    public string? ModelDirectory { get; init; }

    /// <summary>Why the case exists, for people reading the corpus.</summary>
    [JsonPropertyName("description")]
    public string? Description { get; init; }

    private static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static CaseSettings FromServer(WorkerSettings settings) => new()
    {
        BatchStrategy = settings.BatchStrategy == Hosting.BatchStrategy.SingleRecord ? "SINGLE_RECORD" : "MULTI_RECORD",
        MaxPayloadInMB = settings.MaxPayloadInMB,
        ModelDirectory = Path.GetFullPath(settings.ModelDirectory),
    };

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions);

    public static CaseSettings Read(string path)
    {
        if (!File.Exists(path))
        {
            return new CaseSettings();
        }

        try
        {
            return JsonSerializer.Deserialize<CaseSettings>(File.ReadAllBytes(path), JsonOptions) ?? new CaseSettings();
        }
        catch (JsonException e)
        {
            throw new ConfigurationException(path, "is not valid case settings JSON: " + e.Message);
        }
    }

    /// <summary>The server settings for this case: the defaults with this case's values on top.</summary>
    public WorkerSettings Apply(WorkerSettings settings, string caseDirectory, string? modelDirectoryOverride)
    {
        var model = modelDirectoryOverride
            ?? (ModelDirectory is null ? settings.ModelDirectory : Path.GetFullPath(Path.Combine(caseDirectory, ModelDirectory)));
        return settings with
        {
            BatchStrategy = BatchStrategy is null ? settings.BatchStrategy : WorkerSettings.ParseBatchStrategy("batch_strategy", BatchStrategy),
            MaxPayloadInMB = MaxPayloadInMB ?? settings.MaxPayloadInMB,
            MaxPayloadIsExplicit = MaxPayloadInMB is not null || settings.MaxPayloadIsExplicit,
            ModelDirectory = model,
        };
    }

    /// <summary>Cases that can share one server.</summary>
    public string GroupKey(string caseDirectory, string? modelDirectoryOverride) =>
        $"{BatchStrategy}|{MaxPayloadInMB}|{modelDirectoryOverride ?? (ModelDirectory is null ? "" : Path.GetFullPath(Path.Combine(caseDirectory, ModelDirectory)))}";
}
