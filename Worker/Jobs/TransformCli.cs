using System.CommandLine;
using Worker.Hosting;
using Worker.Jobs.Transform;

namespace Worker.Jobs;

/// <summary>
/// The transform options, named as CreateTransformJob names them, shared by <c>transform</c> and
/// <c>process</c>. Each falls back to an environment variable (a Processing job passes its settings
/// as Environment), then to the container's /execution-parameters, then to SageMaker's default.
/// </summary>
public sealed class TransformCli
{
    public const string ContentTypeVariable = "TRANSFORM_CONTENT_TYPE";
    public const string SplitTypeVariable = "TRANSFORM_SPLIT_TYPE";
    public const string AcceptVariable = "TRANSFORM_ACCEPT";
    public const string AssembleWithVariable = "TRANSFORM_ASSEMBLE_WITH";
    public const string CompressionTypeVariable = "TRANSFORM_COMPRESSION_TYPE";
    public const string EndpointVariable = "TRANSFORM_ENDPOINT";
    public const string InputFilterVariable = "TRANSFORM_INPUT_FILTER";
    public const string JoinSourceVariable = "TRANSFORM_JOIN_SOURCE";
    public const string OutputFilterVariable = "TRANSFORM_OUTPUT_FILTER";
    public const string S3DataTypeVariable = "TRANSFORM_S3_DATA_TYPE";
    public const string OutputKmsKeyVariable = "TRANSFORM_OUTPUT_KMS_KEY";
    public const string TargetModelVariable = "TRANSFORM_TARGET_MODEL";

    public Option<string?> ModelDir { get; } = new("--model-dir") { Description = "Folder holding the model (default: SM_MODEL_DIR, else /opt/ml/model)." };
    public Option<string?> ContentType { get; } = new("--content-type") { Description = "Content-Type of the input (default: from each file's extension)." };
    public Option<string?> SplitType { get; } = new("--split-type") { Description = "None, Line, RecordIO or TFRecord (default: from the Content-Type)." };
    public Option<string?> BatchStrategy { get; } = new("--batch-strategy") { Description = "MultiRecord or SingleRecord (default: the container's answer, else MultiRecord)." };
    public Option<int?> MaxPayloadInMB { get; } = new("--max-payload-in-mb") { Description = "MiB per request, 0 = one chunked request (default: the container's answer, else 6)." };
    public Option<int?> MaxConcurrentTransforms { get; } = new("--max-concurrent-transforms") { Description = "Requests in flight (default: the container's answer, else 1)." };
    public Option<string?> Accept { get; } = new("--accept") { Description = "Accept type of the answers (default: the container's choice)." };
    public Option<string?> AssembleWith { get; } = new("--assemble-with") { Description = "None or Line (default None)." };
    public Option<string?> CompressionType { get; } = new("--compression-type") { Description = "None or Gzip (default: Gzip for *.gz files)." };
    public Option<string?> Endpoint { get; } = new("--endpoint") { Description = "URL of a running container to drive instead of starting one in this process." };
    public Option<int?> MaxRetries { get; } = new("--invocations-max-retries") { Description = "Retries of a request that may pass (0-3, default 3)." };
    public Option<int?> Timeout { get; } = new("--invocations-timeout-in-seconds") { Description = "Seconds to wait for one answer (default 600)." };
    public Option<string?> Progress { get; } = new("--progress") { Description = "auto, bar, log or none (default auto: a bar on a terminal)." };
    public Option<string?> InputFilter { get; } = new("--input-filter") { Description = "DataProcessing.InputFilter: JSONPath of what each record sends, e.g. $[1:] or $.features (default $)." };
    public Option<string?> JoinSource { get; } = new("--join-source") { Description = "DataProcessing.JoinSource: None or Input (each answer joined onto its input record)." };
    public Option<string?> OutputFilter { get; } = new("--output-filter") { Description = "DataProcessing.OutputFilter: JSONPath of what each joined record keeps, e.g. $[0,-1] (default $)." };
    public Option<string?> S3DataType { get; } = new("--s3-data-type") { Description = "For an s3:// input: S3Prefix (every object under it) or ManifestFile (default S3Prefix)." };
    public Option<string?> S3Endpoint { get; } = new("--s3-endpoint") { Description = "URL of an S3-compatible server, path-style (default: AWS_ENDPOINT_URL_S3, else AWS)." };
    public Option<string?> TargetModel { get; } = new("--target-model") { Description = "A multi-model endpoint's model: every request goes to /models/NAME/invoke of --endpoint." };
    public Option<string?> OutputKmsKey { get; } = new("--output-kms-key") { Description = "KMS key id or ARN that S3 outputs are encrypted with (TransformOutput.KmsKeyId)." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { ModelDir, ContentType, SplitType, BatchStrategy, MaxPayloadInMB, MaxConcurrentTransforms, Accept, AssembleWith, CompressionType, Endpoint, MaxRetries, Timeout, Progress, InputFilter, JoinSource, OutputFilter, S3DataType, S3Endpoint, OutputKmsKey, TargetModel })
        {
            command.Options.Add(option);
        }
    }

    public TransformDisplay ReadDisplay(ParseResult result) =>
        result.GetValue(Progress)?.ToLowerInvariant() switch
        {
            null or "auto" => TransformDisplay.Auto,
            "bar" => TransformDisplay.Bar,
            "log" => TransformDisplay.Log,
            "none" => TransformDisplay.None,
            var other => throw new ConfigurationException("--progress", $"must be auto, bar, log or none, got '{other}'"),
        };

    /// <summary>Reads the options; throws <see cref="ConfigurationException"/> naming the option or variable at fault.</summary>
    public TransformOptions Read(ParseResult result, string input, string output)
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value.Trim() : null;

        int? EnvInt(string name)
        {
            if (Env(name) is not { } text)
            {
                return null;
            }

            return int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new ConfigurationException(name, $"must be a whole number, got '{text}'");
        }

        T? Pick<T>(Option<string?> option, string variable, Func<string, string, T> parse)
            where T : struct
        {
            if (result.GetValue(option) is { } text)
            {
                return parse(option.Name, text);
            }

            return Env(variable) is { } value ? parse(variable, value) : null;
        }

        var endpointText = result.GetValue(Endpoint) ?? Env(EndpointVariable);
        Uri? endpoint = null;
        if (endpointText is not null && (!Uri.TryCreate(endpointText, UriKind.Absolute, out endpoint) || endpoint.Scheme != Uri.UriSchemeHttp))
        {
            throw new ConfigurationException("--endpoint", $"must be an http:// URL, got '{endpointText}'");
        }

        JsonPathFilter? Filter(Option<string?> option, string variable)
        {
            if (result.GetValue(option) is { } text)
            {
                return JsonPathFilter.Parse(option.Name, text);
            }

            return Env(variable) is { } value ? JsonPathFilter.Parse(variable, value) : null;
        }

        var processing = new DataProcessing(
            Filter(InputFilter, InputFilterVariable),
            Pick(JoinSource, JoinSourceVariable, Transform.DataProcessing.ParseJoinSource) ?? Transform.JoinSource.None,
            Filter(OutputFilter, OutputFilterVariable));

        return new TransformOptions
        {
            Input = input,
            Output = output,
            ModelDirectory = result.GetValue(ModelDir),
            ContentType = result.GetValue(ContentType) ?? Env(ContentTypeVariable),
            SplitType = Pick(SplitType, SplitTypeVariable, TransformOptions.ParseSplitType),
            BatchStrategy = Pick(BatchStrategy, WorkerSettings.BatchStrategyVariable, WorkerSettings.ParseBatchStrategy),
            MaxPayloadInMB = result.GetValue(MaxPayloadInMB) ?? EnvInt(WorkerSettings.MaxPayloadVariable),
            MaxConcurrentTransforms = result.GetValue(MaxConcurrentTransforms) ?? EnvInt(WorkerSettings.MaxConcurrentTransformsVariable),
            Accept = result.GetValue(Accept) ?? Env(AcceptVariable),
            AssembleWith = Pick(AssembleWith, AssembleWithVariable, TransformOptions.ParseAssembleWith) ?? Transform.AssembleWith.None,
            CompressionType = Pick(CompressionType, CompressionTypeVariable, TransformOptions.ParseCompressionType),
            Endpoint = endpoint,
            InvocationsMaxRetries = result.GetValue(MaxRetries) ?? 3,
            InvocationsTimeoutInSeconds = result.GetValue(Timeout) ?? 600,
            DataProcessing = processing,
            S3DataType = Pick(S3DataType, S3DataTypeVariable, TransformOptions.ParseS3DataType) ?? Transform.S3DataType.S3Prefix,
            S3Endpoint = result.GetValue(S3Endpoint),
            OutputKmsKey = result.GetValue(OutputKmsKey) ?? Env(OutputKmsKeyVariable),
            TargetModel = result.GetValue(TargetModel) ?? Env(TargetModelVariable),
        };
    }
}
