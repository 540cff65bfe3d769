using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;

namespace Worker.Tests.Support;

/// <summary>
/// A real S3-compatible server for the transform's S3 tests: s3rver 3.7.1 (npm, pinned by
/// Support/s3rver/package-lock.json), installed with <c>npm ci</c> into a cache folder on first use
/// and started on a free loopback port with its own data folder. Needs Node.js and npm on PATH; where
/// they are missing the tests say so (skipped, counted by CI), never pass silently.
/// </summary>
public sealed partial class S3Server : IAsyncDisposable
{
    /// <summary>s3rver's fixed credentials; any other key is refused (InvalidAccessKeyId).</summary>
    public const string AccessKey = "S3RVER";

    public const string SecretKey = "S3RVER";

    public const string SkipReason = "needs Node.js and npm on PATH to install and run s3rver 3.7.1 (the S3-compatible test server)";

    private static readonly Lazy<Task<string>> Installed = new(InstallAsync);

    private readonly Process _process;
    private readonly string _data;

    private S3Server(Process process, string data, int port)
    {
        _process = process;
        _data = data;
        Endpoint = $"http://127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    public static bool Available => FindOnPath("node") is not null && FindOnPath("npm") is not null;

    public static async Task<S3Server> StartAsync()
    {
        var installed = await Installed.Value.ConfigureAwait(false);
        var data = Directory.CreateTempSubdirectory("s3rver-").FullName;
        var info = new ProcessStartInfo(FindOnPath("node")!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Listings past 1,000 objects sign continuation tokens with a cipher Node 17+ keeps behind this flag.
        info.ArgumentList.Add("--openssl-legacy-provider");
        info.ArgumentList.Add(Path.Combine(installed, "node_modules", "s3rver", "bin", "s3rver.js"));
        foreach (var arg in new[] { "-d", data, "-a", "127.0.0.1", "-p", "0" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("s3rver did not start");
        _ = process.StandardError.ReadToEndAsync();
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false)
                ?? throw new InvalidOperationException("s3rver exited before listening");
            if (ListeningLine().Match(line) is { Success: true } match)
            {
                // Its request log must be read, or a full pipe stalls it.
                _ = DrainAsync(process.StandardOutput);
                return new S3Server(process, data, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>A client of this server with the given credentials (s3rver's own by default).</summary>
    public AmazonS3Client Client(string accessKey = AccessKey, string secretKey = SecretKey) =>
        new(new BasicAWSCredentials(accessKey, secretKey), new AmazonS3Config
        {
            ServiceURL = Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    /// <summary>The environment a worker process needs to reach this server as a job would (the standard AWS variables).</summary>
    public (string Name, string Value)[] Environment(string accessKey = AccessKey) =>
    [
        ("AWS_ACCESS_KEY_ID", accessKey),
        ("AWS_SECRET_ACCESS_KEY", SecretKey),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_S3", Endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task DrainAsync(StreamReader reader)
    {
        var buffer = new char[4096];
        while (await reader.ReadAsync(buffer).ConfigureAwait(false) > 0)
        {
        }
    }

    /// <summary>npm ci into a cache folder named by the lock file's hash, once per machine.</summary>
    private static async Task<string> InstallAsync()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "s3rver");
        var lockFile = await File.ReadAllBytesAsync(Path.Combine(source, "package-lock.json")).ConfigureAwait(false);
        var hash = Convert.ToHexString(SHA256.HashData(lockFile))[..12].ToLowerInvariant();
        var cache = System.Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache");
        var folder = Path.Combine(cache, "worker-tests", "s3rver-" + hash);
        if (File.Exists(Path.Combine(folder, "node_modules", "s3rver", "bin", "s3rver.js")))
        {
            return folder;
        }

        // Installed beside, then moved into place: two test runs never see a half-installed folder.
        var staging = folder + "." + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(staging);
        File.Copy(Path.Combine(source, "package.json"), Path.Combine(staging, "package.json"));
        File.Copy(Path.Combine(source, "package-lock.json"), Path.Combine(staging, "package-lock.json"));
        var info = new ProcessStartInfo(FindOnPath("npm")!)
        {
            WorkingDirectory = staging,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "ci", "--no-audit", "--no-fund", "--loglevel=error" })
        {
            info.ArgumentList.Add(arg);
        }

        using var npm = Process.Start(info) ?? throw new InvalidOperationException("npm did not start");
        var output = npm.StandardOutput.ReadToEndAsync();
        var error = npm.StandardError.ReadToEndAsync();
        await npm.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci of s3rver failed ({npm.ExitCode}): {await output.ConfigureAwait(false)} {await error.ConfigureAwait(false)}");
        }

        try
        {
            Directory.Move(staging, folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            Directory.Delete(staging, recursive: true); // another run got there first
        }

        return folder;
    }

    private static string? FindOnPath(string name) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex(@"listening on [0-9.]+:(\d+)")]
    private static partial Regex ListeningLine();
}

/// <summary>A test that needs the S3 server; skipped, with the reason, where Node.js and npm are missing.</summary>
public sealed class S3FactAttribute : FactAttribute
{
    public S3FactAttribute()
    {
        if (!S3Server.Available)
        {
            Skip = S3Server.SkipReason;
        }
    }
}
