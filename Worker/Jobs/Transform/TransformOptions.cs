using Worker.Hosting;

namespace Worker.Jobs.Transform;

/// <summary>SageMaker's AssembleWith: what goes between the answers in an output file.</summary>
public enum AssembleWith
{
    None,
    Line,
}

/// <summary>SageMaker's CompressionType of the input.</summary>
public enum CompressionType
{
    None,
    Gzip,
}

/// <summary>
/// A batch transform as CreateTransformJob describes it, with local paths. Null means "not set by
/// the user": the container's /execution-parameters answer, then SageMaker's defaults, fill it.
/// </summary>
public sealed record TransformOptions
{
    public required string Input { get; init; }
    public required string Output { get; init; }
    public string? ModelDirectory { get; init; }

    /// <summary>Sent as Content-Type; null: guessed per file from its extension.</summary>
    public string? ContentType { get; init; }

    /// <summary>Null: from the Content-Type (CSV and JSON Lines by line, TFRecord and RecordIO by frame, JSON whole).</summary>
    public SplitType? SplitType { get; init; }

    public BatchStrategy? BatchStrategy { get; init; }

    /// <summary>MiB per request; 0 sends each file (or record, for SingleRecord) as one chunked request.</summary>
    public int? MaxPayloadInMB { get; init; }

    public int? MaxConcurrentTransforms { get; init; }
    public string? Accept { get; init; }
    public AssembleWith AssembleWith { get; init; } = AssembleWith.None;

    /// <summary>Null: gzip for files whose name ends in .gz, none otherwise.</summary>
    public CompressionType? CompressionType { get; init; }

    /// <summary>A running container to drive; null starts one in this process.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>ModelClientConfig.InvocationsMaxRetries: retries of a request that failed for a reason that may pass.</summary>
    public int InvocationsMaxRetries { get; init; } = 3;

    /// <summary>ModelClientConfig.InvocationsTimeoutInSeconds.</summary>
    public int InvocationsTimeoutInSeconds { get; init; } = 600;

    /// <summary>How long to wait for /ping to say 200.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Only files whose index in the sorted list is <c>ShardIndex mod ShardCount</c> (Processing jobs on several hosts).</summary>
    public int ShardIndex { get; init; }

    public int ShardCount { get; init; } = 1;

    /// <summary>DataProcessing: InputFilter, JoinSource, OutputFilter, applied here in the data plane.</summary>
    public DataProcessing DataProcessing { get; init; } = DataProcessing.None;

    /// <summary>For an s3:// input: every object under the prefix, or the objects its manifest lists.</summary>
    public S3DataType S3DataType { get; init; } = S3DataType.S3Prefix;

    /// <summary>An S3-compatible server's URL (path-style); null: AWS_ENDPOINT_URL_S3, else AWS's own.</summary>
    public string? S3Endpoint { get; init; }

    /// <summary>TransformOutput.KmsKeyId: S3 outputs are encrypted with this KMS key.</summary>
    public string? OutputKmsKey { get; init; }

    /// <summary>A multi-model endpoint's model to send every request to (<c>/models/{name}/invoke</c>); needs <see cref="Endpoint"/>.</summary>
    public string? TargetModel { get; init; }

    public void Validate()
    {
        if (MaxPayloadInMB is < 0 or > 100)
        {
            throw new ConfigurationException("--max-payload-in-mb", $"must be 0 (chunked) to 100 MiB, got {MaxPayloadInMB}");
        }

        if (MaxConcurrentTransforms is < 1)
        {
            throw new ConfigurationException("--max-concurrent-transforms", $"must be at least 1, got {MaxConcurrentTransforms}");
        }

        if (InvocationsMaxRetries is < 0 or > 3)
        {
            throw new ConfigurationException("--invocations-max-retries", $"must be 0 to 3 (SageMaker's range), got {InvocationsMaxRetries}");
        }

        if (InvocationsTimeoutInSeconds is < 1 or > 3600)
        {
            throw new ConfigurationException("--invocations-timeout-in-seconds", $"must be 1 to 3600, got {InvocationsTimeoutInSeconds}");
        }

        if (ContentType is not null)
        {
            if (!Records.MediaTypes.TryGetRecordFormat(ContentType, out var format, out _, out var error))
            {
                throw new ConfigurationException("--content-type", error);
            }

            DataProcessing.CheckFormat("--content-type", format);
        }

        // The answer types are the worker's own three: its Accept negotiation says whether one is named.
        if (DataProcessing.IsActive && Accept is not null && !Records.MediaTypes.TryGetAnswerFormat(Accept, Records.RecordFormat.Csv, out _, out _))
        {
            throw new ConfigurationException("--accept", $"with DataProcessing the answers must be text/csv, application/json or application/jsonlines (SageMaker's rule), got '{Accept}'");
        }

        if (S3DataType == S3DataType.ManifestFile && !S3Path.IsS3(Input))
        {
            throw new ConfigurationException("--s3-data-type", "ManifestFile needs an s3:// input: the manifest's URI");
        }

        if (TargetModel is not null && Endpoint is null)
        {
            throw new ConfigurationException("--target-model", "sends to a multi-model container's /models/NAME/invoke: give that container with --endpoint");
        }

        if (OutputKmsKey is not null && !S3Path.IsS3(Output))
        {
            throw new ConfigurationException("--output-kms-key", "encrypts S3 outputs only; the output is a local folder");
        }
    }

    public static SplitType ParseSplitType(string name, string text) =>
        text.ToLowerInvariant() switch
        {
            "none" => Transform.SplitType.None,
            "line" => Transform.SplitType.Line,
            "recordio" => Transform.SplitType.RecordIO,
            "tfrecord" => Transform.SplitType.TFRecord,
            _ => throw new ConfigurationException(name, $"must be None, Line, RecordIO or TFRecord, got '{text}'"),
        };

    public static S3DataType ParseS3DataType(string name, string text) =>
        text.ToLowerInvariant() switch
        {
            "s3prefix" => Transform.S3DataType.S3Prefix,
            "manifestfile" => Transform.S3DataType.ManifestFile,
            _ => throw new ConfigurationException(name, $"must be S3Prefix or ManifestFile, got '{text}'"),
        };

    public static AssembleWith ParseAssembleWith(string name, string text) =>
        text.ToLowerInvariant() switch
        {
            "none" => Transform.AssembleWith.None,
            "line" => Transform.AssembleWith.Line,
            _ => throw new ConfigurationException(name, $"must be None or Line, got '{text}'"),
        };

    public static CompressionType ParseCompressionType(string name, string text) =>
        text.ToLowerInvariant() switch
        {
            "none" => Transform.CompressionType.None,
            "gzip" => Transform.CompressionType.Gzip,
            _ => throw new ConfigurationException(name, $"must be None or Gzip, got '{text}'"),
        };

    /// <summary>The Content-Type a file's name suggests, looking through a trailing .gz; null when it suggests none.</summary>
    public static string? ContentTypeFromName(string path)
    {
        var name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        return Path.GetExtension(name).ToLowerInvariant() switch
        {
            ".csv" => "text/csv",
            ".jsonl" or ".jsonlines" or ".ndjson" => "application/jsonlines",
            ".json" => "application/json",
            ".tfrecord" or ".tfrecords" => "application/x-tfrecord",
            ".rec" or ".recordio" or ".pbr" => "application/x-recordio-protobuf",
            ".jpg" or ".jpeg" => "image/jpeg",
            ".png" => "image/png",
            ".webp" => "image/webp",
            _ => null,
        };
    }

    /// <summary>The split a Content-Type implies when the user sets none.</summary>
    public static SplitType SplitTypeFor(Records.RecordFormat format) => format switch
    {
        Records.RecordFormat.Csv or Records.RecordFormat.JsonLines => Transform.SplitType.Line,
        Records.RecordFormat.TfRecord => Transform.SplitType.TFRecord,
        Records.RecordFormat.RecordIO or Records.RecordFormat.RecordIOProtobuf => Transform.SplitType.RecordIO,
        _ => Transform.SplitType.None,
    };
}
