using System.Net;
using Worker.Hosting;

namespace Worker.Jobs.Transform;

/// <summary>How a job ended.</summary>
public sealed record TransformReport(IReadOnlyList<FileOutcome> Files, string? JobError, TimeSpan Elapsed)
{
    public int Failed => Files.Count(f => f.Error is not null);
    public bool Succeeded => JobError is null && Failed == 0;
    public long Records => Files.Sum(f => f.Records);
}

/// <summary>
/// A whole batch transform on local files, as SageMaker's data plane runs it: find the inputs,
/// start a container (this program, in-process on a loopback port) or use the given endpoint, wait
/// for <c>/ping</c>, fill unset options from <c>/execution-parameters</c>, then transform the files.
/// </summary>
public sealed class TransformJob(TransformOptions options, TextWriter console, TransformDisplay display = TransformDisplay.Auto)
{
    // SageMaker's defaults when neither the user nor the container says.
    private const int DefaultMaxConcurrentTransforms = 1;
    private const int DefaultMaxPayloadInMB = 6;

    public async Task<TransformReport> RunAsync(CancellationToken cancellationToken)
    {
        options.Validate();
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var storage = OpenStorage(options);
        List<InputFile> files;
        try
        {
            files = await ListInputsAsync(options, storage, cancellationToken).ConfigureAwait(false);
            if (files.Count == 0 && options.ShardCount == 1)
            {
                return new TransformReport([], $"no input files at {options.Input}", started.Elapsed);
            }

            await storage.Output.PrepareAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StorageException e)
        {
            return new TransformReport([], e.Message, started.Elapsed);
        }

        WorkerHost? host = null;
        JsonLog? hostLog = null;
        try
        {
            Uri endpoint;
            if (options.Endpoint is { } given)
            {
                endpoint = given.AbsoluteUri.EndsWith('/') ? given : new Uri(given.AbsoluteUri + "/");
            }
            else
            {
                (host, hostLog) = StartOwnContainer();
                endpoint = new Uri($"http://127.0.0.1:{host.Port}/");
            }

            using var client = new InvocationClient(endpoint, maxConnections: 256, options.InvocationsMaxRetries, TimeSpan.FromSeconds(options.InvocationsTimeoutInSeconds), options.TargetModel);
            try
            {
                await client.WaitUntilReadyAsync(options.ReadyTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (InvocationFailedException e)
            {
                return new TransformReport([], e.Message, started.Elapsed);
            }

            var resolved = await ResolveAsync(client, cancellationToken).ConfigureAwait(false);
            console.WriteLine(
                $"transform: {files.Count} file(s) from {options.Input} to {options.Output} via {(options.Endpoint is null ? "this program's own server" : endpoint.ToString())}{(options.TargetModel is null ? "" : $" model {options.TargetModel}")}; "
                + $"BatchStrategy {resolved.BatchStrategy}, MaxPayloadInMB {resolved.MaxPayloadInMB}, MaxConcurrentTransforms {resolved.MaxConcurrentTransforms}");

            var progress = new TransformProgress(files.Count, files.Sum(f => f.Length));
            var outcomes = new FileOutcome?[files.Count];
            using var slots = new SemaphoreSlim(resolved.MaxConcurrentTransforms);
            var transformer = new FileTransformer(client, slots, resolved, progress, storage);

            async Task RunFiles()
            {
                // Files run side by side (a folder of small files keeps the container as busy as one big
                // file); together they never have more than MaxConcurrentTransforms requests out.
                var parallel = new ParallelOptions { MaxDegreeOfParallelism = resolved.MaxConcurrentTransforms, CancellationToken = cancellationToken };
                await Parallel.ForEachAsync(Enumerable.Range(0, files.Count), parallel, async (index, token) =>
                {
                    var outcome = await transformer.RunAsync(files[index], token).ConfigureAwait(false);
                    outcomes[index] = outcome;
                    if (outcome.Error is null)
                    {
                        progress.FileDone();
                    }
                    else
                    {
                        progress.FileFailed();
                    }
                }).ConfigureAwait(false);
            }

            await ProgressDisplay.RunAsync(display, console, progress, RunFiles).ConfigureAwait(false);
            var report = new TransformReport(outcomes.Select(o => o!).ToList(), null, started.Elapsed);
            WriteSummary(report, progress);
            return report;
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }

            if (hostLog is not null)
            {
                await hostLog.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private (WorkerHost Host, JsonLog Log) StartOwnContainer()
    {
        var settings = WorkerSettings.FromEnvironment(port: 0, options.ModelDirectory);
        settings = settings with
        {
            // The container accepts what this job sends: the same limit and strategy.
            MaxPayloadInMB = options.MaxPayloadInMB ?? settings.MaxPayloadInMB,
            MaxPayloadIsExplicit = options.MaxPayloadInMB is not null || settings.MaxPayloadIsExplicit,
            BatchStrategy = options.BatchStrategy ?? BatchStrategy.MultiRecord,
            IsBatchJob = true,

            // Its request log would bury the progress display; warnings and errors still show.
            LogLevel = Environment.GetEnvironmentVariable(WorkerSettings.LogLevelVariable) is null ? LogLevel.Warning : settings.LogLevel,
        };

        var log = new JsonLog(Console.OpenStandardError(), settings.LogLevel);
        var host = new WorkerHost(settings, log);
        host.Start(IPAddress.Loopback);
        _ = Task.Run(host.LoadModel);
        return (host, log);
    }

    /// <summary>The user's value, then the container's answer, then SageMaker's default.</summary>
    private async Task<ResolvedTransform> ResolveAsync(InvocationClient client, CancellationToken cancellationToken)
    {
        var needed = options.MaxConcurrentTransforms is null || options.BatchStrategy is null || options.MaxPayloadInMB is null;
        var container = needed ? await client.GetExecutionParametersAsync(cancellationToken).ConfigureAwait(false) : null;

        BatchStrategy? containerStrategy = null;
        if (container?.BatchStrategy is { } text)
        {
            try
            {
                containerStrategy = WorkerSettings.ParseBatchStrategy("BatchStrategy", text);
            }
            catch (ConfigurationException)
            {
                // A container's odd answer is ignored, as SageMaker ignores it.
            }
        }

        return new ResolvedTransform(
            options.BatchStrategy ?? containerStrategy ?? BatchStrategy.MultiRecord,
            options.MaxPayloadInMB ?? container?.MaxPayloadInMB ?? DefaultMaxPayloadInMB,
            options.MaxConcurrentTransforms ?? container?.MaxConcurrentTransforms ?? DefaultMaxConcurrentTransforms,
            options.ContentType,
            options.SplitType,
            options.Accept,
            options.AssembleWith,
            options.CompressionType,
            options.DataProcessing);
    }

    /// <summary>Local paths or s3:// URIs, in and out, each from its own store.</summary>
    public static JobStorage OpenStorage(TransformOptions options)
    {
        Amazon.S3.AmazonS3Client? s3 = null;
        Amazon.S3.AmazonS3Client S3() => s3 ??= S3Clients.Create(options.S3Endpoint);

        IInputStore input = S3Path.IsS3(options.Input)
            ? new S3InputStore(S3(), S3Path.Parse("--input", options.Input), options.S3DataType)
            : new LocalInputStore(options.Input, S3Path.IsS3(options.Output) ? null : options.Output);
        IOutputStore output = S3Path.IsS3(options.Output)
            ? new S3OutputStore(S3(), S3Path.Parse("--output", options.Output), options.OutputKmsKey)
            : new LocalOutputStore(options.Output);
        return new JobStorage(input, output, s3);
    }

    /// <summary>Every input (sorted by relative path, ordinal), this host's share of them.</summary>
    public static async Task<List<InputFile>> ListInputsAsync(TransformOptions options, JobStorage storage, CancellationToken cancellationToken)
    {
        var all = await storage.Input.ListAsync(cancellationToken).ConfigureAwait(false);
        return all.Where((_, index) => index % options.ShardCount == options.ShardIndex).ToList();
    }

    /// <summary>The process's peak resident set (VmHWM), so a job's memory can be checked against its inputs' sizes.</summary>
    public static long PeakResidentMegabytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return Environment.WorkingSet >> 20;
    }

    private void WriteSummary(TransformReport report, TransformProgress progress)
    {
        var ok = report.Files.Count - report.Failed;
        console.WriteLine(
            $"transform {(report.Succeeded ? "done" : "FAILED")}: {ok} of {report.Files.Count} file(s) written, {report.Records:N0} records, "
            + $"{progress.InputBytesRead / 1e6:N1} MB in {progress.Elapsed.Elapsed.TotalSeconds:N1} s ({progress.RecordsPerSecond:N0} records/s, {progress.MegabytesPerSecond:N1} MB/s), "
            + $"peak memory {PeakResidentMegabytes():N0} MB");
        foreach (var file in report.Files.Where(f => f.Error is not null))
        {
            console.WriteLine($"  failed: {file.File.RelativePath}: {file.Error}");
        }
    }
}
