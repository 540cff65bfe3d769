using System.Text;
using System.Text.Json;
using Worker.Hosting;
using Worker.Jobs.Transform;

namespace Worker.Jobs;

/// <summary>One data input of a Processing job.</summary>
public sealed record ProcessingInput(string Name, string LocalPath, bool FullyReplicated);

/// <summary>What a Processing job's configuration files say, with SageMaker's defaults where they are silent.</summary>
public sealed record ProcessingJobConfig(IReadOnlyList<ProcessingInput> Inputs, string Output, string? ModelDirectory, int HostIndex, int HostCount)
{
    public const string OptMlVariable = "WORKER_OPT_ML";

    /// <summary>
    /// Reads <c>config/processingjobconfig.json</c> and <c>config/resourceconfig.json</c> under
    /// <paramref name="optMl"/> (normally /opt/ml). An input named "model" is the model, not data.
    /// </summary>
    public static ProcessingJobConfig Read(string optMl)
    {
        var inputs = new List<ProcessingInput>();
        string? output = null;
        string? model = null;
        var jobConfig = Path.Combine(optMl, "config", "processingjobconfig.json");
        if (File.Exists(jobConfig))
        {
            using var json = Parse(jobConfig);
            if (json.RootElement.TryGetProperty("ProcessingInputs", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var input in list.EnumerateArray())
                {
                    var name = input.TryGetProperty("InputName", out var n) ? n.GetString() ?? "" : "";
                    if (!input.TryGetProperty("S3Input", out var s3) || !s3.TryGetProperty("LocalPath", out var path) || path.GetString() is not { Length: > 0 } localPath)
                    {
                        continue;
                    }

                    if (name.Equals("model", StringComparison.OrdinalIgnoreCase))
                    {
                        model = localPath;
                        continue;
                    }

                    var replicated = !s3.TryGetProperty("S3DataDistributionType", out var distribution) || distribution.GetString() != "ShardedByS3Key";
                    inputs.Add(new ProcessingInput(name, localPath, replicated));
                }
            }

            if (json.RootElement.TryGetProperty("ProcessingOutputConfig", out var outputConfig)
                && outputConfig.TryGetProperty("Outputs", out var outputs) && outputs.ValueKind == JsonValueKind.Array)
            {
                output = outputs.EnumerateArray()
                    .Select(o => o.TryGetProperty("S3Output", out var s3) && s3.TryGetProperty("LocalPath", out var p) ? p.GetString() : null)
                    .FirstOrDefault(p => !string.IsNullOrEmpty(p));
            }
        }

        if (inputs.Count == 0)
        {
            inputs.Add(new ProcessingInput("input", Path.Combine(optMl, "processing", "input"), FullyReplicated: true));
        }

        var (hostIndex, hostCount) = ReadHosts(Path.Combine(optMl, "config", "resourceconfig.json"));
        return new ProcessingJobConfig(inputs, output ?? Path.Combine(optMl, "processing", "output"), model, hostIndex, hostCount);
    }

    private static (int Index, int Count) ReadHosts(string path)
    {
        if (!File.Exists(path))
        {
            return (0, 1);
        }

        using var json = Parse(path);
        var current = json.RootElement.TryGetProperty("current_host", out var c) ? c.GetString() : null;
        var hosts = json.RootElement.TryGetProperty("hosts", out var h) && h.ValueKind == JsonValueKind.Array
            ? h.EnumerateArray().Select(x => x.GetString() ?? "").Order(StringComparer.Ordinal).ToList()
            : [];
        if (current is null || hosts.Count == 0)
        {
            return (0, 1);
        }

        var index = hosts.IndexOf(current);
        return index >= 0
            ? (index, hosts.Count)
            : throw new ConfigurationException(path, $"current_host '{current}' is not one of hosts [{string.Join(", ", hosts)}]");
    }

    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ConfigurationException(path, "is not valid JSON: " + e.Message);
        }
    }
}

/// <summary>
/// <c>Worker process</c>: a SageMaker Processing job that runs a batch transform over the job's
/// inputs into its output, each host of a multi-host job taking its own share of the files.
/// </summary>
public static partial class ProcessCommand
{
    public const int MessageLimitBytes = 1024;

    public static async Task<int> RunAsync(string? optMlOption, Func<string, string, TransformOptions> readOptions, Func<TransformDisplay> readDisplay, TextWriter console)
    {
        var optMl = optMlOption ?? Environment.GetEnvironmentVariable(ProcessingJobConfig.OptMlVariable) ?? "/opt/ml";
        using var stop = new SignalStop();
        try
        {
            var config = ProcessingJobConfig.Read(optMl);
            var display = readDisplay();
            var failures = new List<string>();
            foreach (var input in config.Inputs)
            {
                // One input writes straight into the output; several keep their files apart by input name.
                var output = config.Inputs.Count == 1 ? config.Output : Path.Combine(config.Output, input.Name);
                var options = readOptions(input.LocalPath, output);
                var sharded = input.FullyReplicated && config.HostCount > 1;
                options = options with
                {
                    ModelDirectory = options.ModelDirectory ?? NullIfMissing(Environment.GetEnvironmentVariable(WorkerSettings.ModelDirVariable)) ?? config.ModelDirectory ?? DefaultModelDirectory(optMl),
                    ShardIndex = sharded ? config.HostIndex : 0,
                    ShardCount = sharded ? config.HostCount : 1,
                };

                if (sharded)
                {
                    console.WriteLine($"process: host {config.HostIndex + 1} of {config.HostCount} takes every {Ordinal(config.HostCount)} file of {input.LocalPath}, starting at #{config.HostIndex}");
                }

                var report = await new TransformJob(options, console, display).RunAsync(stop.Token).ConfigureAwait(false);
                if (report.JobError is not null)
                {
                    failures.Add(report.JobError);
                }

                failures.AddRange(report.Files.Where(f => f.Error is not null).Select(f => $"{f.File.RelativePath}: {f.Error}"));
            }

            if (failures.Count == 0)
            {
                return 0;
            }

            var summary = failures.Count == 1
                ? "transform failed: " + failures[0]
                : $"transform failed for {failures.Count} files; first: {failures[0]}";
            WriteMessage(optMl, WithoutPayloadExcerpts(summary));
            await Console.Error.WriteLineAsync(summary).ConfigureAwait(false);
            return TransformCommand.ExitFailed;
        }
        catch (ConfigurationException e)
        {
            WriteMessage(optMl, "invalid configuration: " + e.Message);
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return TransformCommand.ExitUsage;
        }
        catch (OperationCanceledException) when (stop.Signal is { } signal)
        {
            WriteMessage(optMl, $"stopped by {signal} before every file was transformed");
            await Console.Error.WriteLineAsync($"process stopped by {signal}").ConfigureAwait(false);
            return stop.ExitCode;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("'[^'\\n]*'")]
    private static partial System.Text.RegularExpressions.Regex QuotedExcerpt();

    private static string? NullIfMissing(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string DefaultModelDirectory(string optMl)
    {
        var processingModel = Path.Combine(optMl, "processing", "model");
        return Directory.Exists(processingModel) ? processingModel : Path.Combine(optMl, "model");
    }

    private static string Ordinal(int n) => n switch
    {
        2 => "2nd",
        3 => "3rd",
        _ => n + "th",
    };

    /// <summary>
    /// Record errors quote payload excerpts in single quotes (a value that is not a number, an unknown
    /// JSON key); the message file must hold no payload data, so those are blanked.
    /// </summary>
    public static string WithoutPayloadExcerpts(string message) => QuotedExcerpt().Replace(message, "'…'");

    /// <summary>SageMaker shows /opt/ml/output/message as the job's FailureReason: at most 1 KiB of UTF-8.</summary>
    public static void WriteMessage(string optMl, string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var length = Math.Min(bytes.Length, MessageLimitBytes);

        // Cut on a character boundary: back off over UTF-8 continuation bytes.
        while (length < bytes.Length && length > 0 && (bytes[length] & 0xC0) == 0x80)
        {
            length--;
        }

        try
        {
            var folder = Path.Combine(optMl, "output");
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, "message"), bytes.AsSpan(0, length).ToArray());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cannot write {optMl}/output/message: {e.Message}");
        }
    }
}
