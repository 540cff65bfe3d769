using System.Net;
using System.Text;
using Worker.Hosting;

namespace Worker.Replay;

/// <summary>One recorded exchange: <c>NAME.request</c>, <c>NAME.response</c> and optional <c>NAME.json</c>.</summary>
public sealed record ReplayCase(string Name, string RequestPath)
{
    public string ResponsePath => Path.ChangeExtension(RequestPath, ".response");
    public string SettingsPath => Path.ChangeExtension(RequestPath, ".json");
    public string Directory => Path.GetDirectoryName(RequestPath)!;

    /// <summary>Every case under <paramref name="root"/> (sub-folders too), ordered by name.</summary>
    public static List<ReplayCase> Find(string root)
    {
        var full = Path.GetFullPath(root);
        return System.IO.Directory.EnumerateFiles(full, "*.request", SearchOption.AllDirectories)
            .Select(path => new ReplayCase(Path.GetRelativePath(full, Path.ChangeExtension(path, null)).Replace('\\', '/'), path))
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
    }
}

/// <summary>How one case went: null <see cref="Difference"/> means it passed.</summary>
public sealed record ReplayResult(ReplayCase Case, string? Difference, int Status)
{
    /// <summary>The case had no recorded answer and this one was written as it (--write-missing).</summary>
    public bool Written { get; init; }
}

/// <summary>
/// Replays recorded exchanges byte for byte over a socket, against a given endpoint or against this
/// program's own server started in-process with each case's recorded settings (cases that share
/// settings share a server), and compares the answers.
/// </summary>
public sealed class ReplayRunner(Uri? endpoint, string? modelDirectory, double tolerance, bool writeMissing = false, string? targetModel = null) : IAsyncDisposable
{
    private static readonly TimeSpan ExchangeTimeout = TimeSpan.FromSeconds(120);
    private readonly Dictionary<string, (WorkerHost? Host, string? Error)> _servers = [];
    private readonly SemaphoreSlim _serversLock = new(1, 1);
    private readonly ResponseComparer _comparer = new(tolerance);

    public async Task<ReplayResult> RunAsync(ReplayCase replayCase, CancellationToken cancellationToken)
    {
        HttpMessage? expected = null;
        if (!File.Exists(replayCase.ResponsePath))
        {
            if (!writeMissing)
            {
                return new ReplayResult(replayCase, $"no recorded answer: {Path.GetFileName(replayCase.ResponsePath)} is missing", 0);
            }
        }
        else
        {
            try
            {
                expected = HttpMessage.Parse(await File.ReadAllBytesAsync(replayCase.ResponsePath, cancellationToken).ConfigureAwait(false));
            }
            catch (FormatException e)
            {
                return new ReplayResult(replayCase, $"{Path.GetFileName(replayCase.ResponsePath)} is not an HTTP response: {e.Message}", 0);
            }
        }

        Uri target;
        if (endpoint is not null)
        {
            target = endpoint;
        }
        else
        {
            var (host, error) = await ServerForAsync(replayCase).ConfigureAwait(false);
            if (host is null)
            {
                return new ReplayResult(replayCase, "cannot start a server for it: " + error, 0);
            }

            target = new Uri($"http://127.0.0.1:{host.Port}/");
        }

        var request = await File.ReadAllBytesAsync(replayCase.RequestPath, cancellationToken).ConfigureAwait(false);
        if (targetModel is not null)
        {
            request = Retarget(request, targetModel);
        }
        HttpMessage actual;
        try
        {
            actual = await HttpMessage.ExchangeAsync(target, request, ExchangeTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or FormatException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new ReplayResult(replayCase, "no answer: " + e.Message, 0);
        }

        if (expected is null)
        {
            // --write-missing: this answer becomes the recorded one (to be reviewed before committing).
            await File.WriteAllBytesAsync(replayCase.ResponsePath, actual.ToBytes(), cancellationToken).ConfigureAwait(false);
            return new ReplayResult(replayCase, null, actual.Status) { Written = true };
        }

        return new ReplayResult(replayCase, _comparer.Compare(expected, actual), actual.Status);
    }

    /// <summary>
    /// A recorded <c>/invocations</c> request sent to a multi-model container's model instead: its
    /// request line's target becomes <c>/models/{name}/invoke</c>; every other byte stays as recorded.
    /// </summary>
    public static byte[] Retarget(byte[] request, string modelName)
    {
        var lineEnd = request.AsSpan().IndexOf("\r\n"u8);
        var line = Encoding.ASCII.GetString(request, 0, lineEnd < 0 ? request.Length : lineEnd);
        var parts = line.Split(' ');
        if (parts.Length != 3 || !(parts[1] == "/invocations" || parts[1].StartsWith("/invocations?", StringComparison.Ordinal)))
        {
            return request;
        }

        parts[1] = "/models/" + Uri.EscapeDataString(modelName) + "/invoke" + parts[1]["/invocations".Length..];
        return [.. Encoding.ASCII.GetBytes(string.Join(' ', parts)), .. request.AsSpan(line.Length)];
    }

    private async Task<(WorkerHost? Host, string? Error)> ServerForAsync(ReplayCase replayCase)
    {
        CaseSettings caseSettings;
        try
        {
            caseSettings = CaseSettings.Read(replayCase.SettingsPath);
        }
        catch (ConfigurationException e)
        {
            return (null, e.Message);
        }

        var key = caseSettings.GroupKey(replayCase.Directory, modelDirectory);
        await _serversLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_servers.TryGetValue(key, out var known))
            {
                return known;
            }

            (WorkerHost? Host, string? Error) started;
            try
            {
                var settings = caseSettings.Apply(WorkerSettings.FromEnvironment(port: 0), replayCase.Directory, modelDirectory);
                var host = new WorkerHost(settings, Log);
                host.Start(IPAddress.Loopback);
                started = host.LoadModel() ? (host, null) : (host, host.Readiness.Reason);
                if (started.Host is null || started.Error is not null)
                {
                    await host.DisposeAsync().ConfigureAwait(false);
                    started = (null, started.Error);
                }
            }
            catch (ConfigurationException e)
            {
                started = (null, e.Message);
            }

            _servers[key] = started;
            return started;
        }
        finally
        {
            _serversLock.Release();
        }
    }

    /// <summary>The in-process servers log warnings and errors only: the replay's own lines are the report.</summary>
    public JsonLog Log { get; init; } = new(Console.OpenStandardError(), LogLevel.Warning);

    public async ValueTask DisposeAsync()
    {
        foreach (var (host, _) in _servers.Values)
        {
            if (host is not null)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }
        }

        _servers.Clear();
        _serversLock.Dispose();
    }
}
