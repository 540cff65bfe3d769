using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Amazon.S3;
using Amazon.S3.Model;
using Worker.Jobs.Transform;
using Worker.Tests.Support;

namespace Worker.Tests.Jobs;

/// <summary>One s3rver for the class: started on the first test that needs it.</summary>
public sealed class S3ServerFixture : IAsyncLifetime
{
    private S3Server? _server;

    public S3Server Server => _server ?? throw new InvalidOperationException(S3Server.SkipReason);

    public async Task InitializeAsync()
    {
        if (S3Server.Available)
        {
            _server = await S3Server.StartAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>
/// <c>transform</c> against a real S3-compatible server (s3rver, started by the tests): prefixes of
/// many objects, a manifest, gzip objects, a 100 MB object with memory measured, and the failures a
/// user meets first (a missing bucket, refused credentials), each a clear error with nothing partial left.
/// </summary>
public sealed class TransformS3Tests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private S3Server Server => fixture.Server;

    private static string NewBucket() => "b" + Guid.NewGuid().ToString("N")[..12];

    private static float[] Row(int i) => [i % 97 * 0.5f, -(i % 13), i % 7 * 0.25f, 1 + i % 5];

    private static string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Csv(int first, int rows) => string.Concat(Enumerable.Range(first, rows).Select(i => string.Join(',', Row(i).Select(Number)) + "\n"));

    private async Task<AmazonS3Client> BucketAsync(string bucket)
    {
        var client = Server.Client();
        await client.PutBucketAsync(bucket);
        return client;
    }

    private static Task PutAsync(IAmazonS3 client, string bucket, string key, byte[] body) =>
        client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(body), UseChunkEncoding = false });

    private static async Task<string> GetAsync(IAmazonS3 client, string bucket, string key)
    {
        using var response = await client.GetObjectAsync(bucket, key);
        using var reader = new StreamReader(response.ResponseStream);
        return await reader.ReadToEndAsync();
    }

    private static async Task<List<string>> KeysAsync(IAmazonS3 client, string bucket, string prefix)
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix };
        while (true)
        {
            var page = await client.ListObjectsV2Async(request);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            if (page.IsTruncated != true)
            {
                return keys;
            }

            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    private static void AssertLinear(string answers, int first, int rows)
    {
        var lines = answers.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(rows, lines.Length);
        for (var i = 0; i < rows; i++)
        {
            var expected = Models.Linear(Row(first + i));
            var actual = lines[i].Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            for (var j = 0; j < 3; j++)
            {
                Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-5 * Math.Max(1, Math.Abs(expected[j])), $"row {first + i}: expected {expected[j]}, got {actual[j]}");
            }
        }
    }

    /// <summary>The real program, <c>transform</c> with these arguments, reaching the server through the standard AWS variables.</summary>
    private async Task<(int ExitCode, string Output, string Error)> TransformProcessAsync(string[] args, string accessKey = S3Server.AccessKey)
    {
        using var process = WorkerProcess.Start(["transform", "--model-dir", Models.Directory("linear"), "--progress", "none", .. args], Server.Environment(accessKey));
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4));
        return (process.ExitCode, await output, await error);
    }

    private static byte[] Gzip(string text)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        return buffer.ToArray();
    }

    [S3Fact]
    public async Task TheIssuesCsvJobReadsFromAndWritesToS3()
    {
        var bucket = NewBucket();
        using var client = await BucketAsync(bucket);
        string IdCsv(int first, int rows) => string.Concat(Enumerable.Range(first, rows).Select(i => $"id{i}," + string.Join(',', Row(i).Select(Number)) + "\n"));
        await PutAsync(client, bucket, "input/users.csv", Encoding.UTF8.GetBytes(IdCsv(0, 2000)));
        await PutAsync(client, bucket, "input/more/users.csv.gz", Gzip(IdCsv(2000, 500)));

        var (exit, output, error) = await TransformProcessAsync(
            ["--input", $"s3://{bucket}/input/", "--output", $"s3://{bucket}/output", "--input-filter", "$[1:]", "--join-source", "Input", "--output-filter", "$[0,-1]", "--assemble-with", "Line"]);
        Assert.True(exit == 0, $"exit {exit}: {output} {error}");
        Assert.Contains("2 of 2 file(s) written, 2,500 records", output);

        Assert.Equal(["output/more/users.csv.gz.out", "output/users.csv.out"], (await KeysAsync(client, bucket, "output/")).Order(StringComparer.Ordinal));
        foreach (var (key, first, rows) in new[] { ("output/users.csv.out", 0, 2000), ("output/more/users.csv.gz.out", 2000, 500) })
        {
            var lines = (await GetAsync(client, bucket, key)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(rows, lines.Length);
            for (var i = 0; i < rows; i++)
            {
                var fields = lines[i].Split(',');
                Assert.Equal(2, fields.Length);
                Assert.Equal($"id{first + i}", fields[0]);
                Assert.Equal(Models.Linear(Row(first + i))[2], float.Parse(fields[1], CultureInfo.InvariantCulture), 5);
            }
        }
    }

    [S3Fact]
    public async Task APrefixOfMoreThanOnePageOfObjectsIsTransformedWhole()
    {
        var bucket = NewBucket();
        using var client = await BucketAsync(bucket);
        const int objects = 1100; // past S3's 1,000 keys a listing page
        await Parallel.ForEachAsync(Enumerable.Range(0, objects), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            await PutAsync(client, bucket, $"many/part-{i:D5}.csv", Encoding.UTF8.GetBytes(Csv(i, 2))));
        await PutAsync(client, bucket, "manyother/not-this.csv", Encoding.UTF8.GetBytes(Csv(0, 1)));

        var report = await RunInProcessAsync(new TransformOptions
        {
            Input = $"s3://{bucket}/many/",
            Output = $"s3://{bucket}/out/",
            ModelDirectory = Models.Directory("linear"),
            S3Endpoint = Server.Endpoint,
            MaxConcurrentTransforms = 8,
        });
        Assert.True(report.Succeeded, report.JobError + string.Join("; ", report.Files.Select(f => f.Error)));
        Assert.Equal(objects, report.Files.Count);
        var keys = await KeysAsync(client, bucket, "out/");
        Assert.Equal(objects, keys.Count);
        AssertLinear(await GetAsync(client, bucket, "out/part-01099.csv.out"), 1099, 2);
    }

    [S3Fact]
    public async Task AManifestNamesItsObjectsAndTheirOutputs()
    {
        var bucket = NewBucket();
        using var client = await BucketAsync(bucket);
        await PutAsync(client, bucket, "data/a/x.csv", Encoding.UTF8.GetBytes(Csv(0, 3)));
        await PutAsync(client, bucket, "data/b/y.csv", Encoding.UTF8.GetBytes(Csv(3, 4)));
        await PutAsync(client, bucket, "data/b/unlisted.csv", Encoding.UTF8.GetBytes("not,a,number,row\n"));
        await PutAsync(client, bucket, "manifests/job.manifest", Encoding.UTF8.GetBytes($$"""[{"prefix": "s3://{{bucket}}/data/"}, "a/x.csv", "b/y.csv"]"""));

        var report = await RunInProcessAsync(new TransformOptions
        {
            Input = $"s3://{bucket}/manifests/job.manifest",
            Output = $"s3://{bucket}/out",
            ModelDirectory = Models.Directory("linear"),
            S3Endpoint = Server.Endpoint,
            S3DataType = S3DataType.ManifestFile,
        });
        Assert.True(report.Succeeded, report.JobError + string.Join("; ", report.Files.Select(f => f.Error)));
        Assert.Equal(["out/a/x.csv.out", "out/b/y.csv.out"], (await KeysAsync(client, bucket, "out/")).Order(StringComparer.Ordinal));
        AssertLinear(await GetAsync(client, bucket, "out/b/y.csv.out"), 3, 4);

        await PutAsync(client, bucket, "manifests/bad.manifest", Encoding.UTF8.GetBytes($$"""[{"prefix": "s3://{{bucket}}/data/"}, "a/x.csv", "c/missing.csv"]"""));
        var missing = await RunInProcessAsync(new TransformOptions
        {
            Input = $"s3://{bucket}/manifests/bad.manifest",
            Output = $"s3://{bucket}/out2",
            ModelDirectory = Models.Directory("linear"),
            S3Endpoint = Server.Endpoint,
            S3DataType = S3DataType.ManifestFile,
        });
        Assert.Contains("lists c/missing.csv, but there is no object", missing.JobError);
        Assert.Empty(await KeysAsync(client, bucket, "out2/"));
    }

    [S3Fact]
    public async Task AFailedObjectLeavesNoOutputWhileTheOthersAreWritten()
    {
        var bucket = NewBucket();
        using var client = await BucketAsync(bucket);
        await PutAsync(client, bucket, "in/good.csv", Encoding.UTF8.GetBytes(Csv(0, 10)));

        // Large enough that its answers would fill several upload parts before the bad record.
        await PutAsync(client, bucket, "in/bad.csv", Encoding.UTF8.GetBytes(Csv(0, 1_500_000) + "1,2,x,4\n"));
        var report = await RunInProcessAsync(new TransformOptions
        {
            Input = $"s3://{bucket}/in/",
            Output = $"s3://{bucket}/out",
            ModelDirectory = Models.Directory("linear"),
            S3Endpoint = Server.Endpoint,
            MaxPayloadInMB = 1,
        });
        Assert.False(report.Succeeded);
        Assert.Contains("record 1500000", report.Files.Single(f => f.File.RelativePath == "bad.csv").Error);
        Assert.Equal(["out/good.csv.out"], await KeysAsync(client, bucket, "out/"));
    }

    [S3Fact]
    public async Task AHundredMegabyteObjectStreamsThroughInBoundedMemory()
    {
        var bucket = NewBucket();
        using var client = await BucketAsync(bucket);
        const int bigRows = 8_000_000;
        var big = Encoding.UTF8.GetBytes(Csv(0, bigRows));
        Assert.True(big.Length >= 100_000_000, $"{big.Length} bytes");
        await PutAsync(client, bucket, "small/rows.csv", Encoding.UTF8.GetBytes(Csv(0, 1000)));
        await PutAsync(client, bucket, "big/rows.csv", big);
        big = null;

        static long PeakMegabytes(string output) =>
            long.Parse(Regex.Match(output, @"peak memory ([0-9,]+) MB").Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture);

        // The data plane in its own process, as SageMaker runs it beside the container: a worker serves,
        // transform drives it, and transform's own peak memory is what streaming must bound.
        using var container = WorkerProcess.Start(["serve", "--port", "0", "--model-dir", Models.Directory("linear")]);
        try
        {
            var port = await WorkerProcess.ReadListeningPortAsync(container);
            _ = container.StandardOutput.ReadToEndAsync();
            string[] Job(string from, string to) => ["--input", from, "--output", to, "--endpoint", $"http://127.0.0.1:{port}"];
            var small = await TransformProcessAsync(Job($"s3://{bucket}/small/", $"s3://{bucket}/small-out/"));
            Assert.True(small.ExitCode == 0, small.Output + small.Error);
            var large = await TransformProcessAsync(Job($"s3://{bucket}/big/", $"s3://{bucket}/big-out/"));
            Assert.True(large.ExitCode == 0, large.Output + large.Error);
            Assert.Contains($"{bigRows:N0} records", large.Output);

            // The same job on 1,000 rows and on 100 MB: the larger run fills the job's buffers (up to
            // ten 6 MiB payloads ready and in flight, their answers, an 8 MiB upload part, the pools
            // that keep them: 90-130 MB seen here), never the object. Holding the object whole
            // would add its 100 MB on top of those buffers.
            var grown = PeakMegabytes(large.Output) - PeakMegabytes(small.Output);
            Assert.True(grown < 160, $"peak memory grew by {grown} MB for a 100 MB object: {small.Output} / {large.Output}");
        }
        finally
        {
            container.Kill();
        }

        // The answers came back whole, in parts: count them as they stream.
        using var answer = await client.GetObjectAsync(bucket, "big-out/rows.csv.out");
        using var reader = new StreamReader(answer.ResponseStream);
        var lines = 0;
        string? last = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            lines++;
            last = line;
        }

        Assert.Equal(bigRows, lines);
        AssertLinear(last! + "\n", bigRows - 1, 1);
        Assert.True(answer.ContentLength > S3OutputStore.DefaultPartBytes, "the answer should span several upload parts");
    }

    [S3Fact]
    public async Task AMissingBucketIsAClearErrorAndExitOne()
    {
        var bucket = NewBucket();
        using var client = await BucketAsync(bucket);
        await PutAsync(client, bucket, "in/a.csv", Encoding.UTF8.GetBytes(Csv(0, 3)));

        var noInput = await TransformProcessAsync(["--input", "s3://no-such-bucket-here/in/", "--output", $"s3://{bucket}/out/"]);
        Assert.Equal(1, noInput.ExitCode);
        Assert.Contains("the bucket 'no-such-bucket-here' does not exist", noInput.Error);

        var noOutput = await TransformProcessAsync(["--input", $"s3://{bucket}/in/", "--output", "s3://no-such-output-bucket/out/"]);
        Assert.Equal(1, noOutput.ExitCode);
        Assert.Contains("the bucket 'no-such-output-bucket' does not exist", noOutput.Error);
        Assert.Empty(await KeysAsync(client, bucket, "out/"));
    }

    [S3Fact]
    public async Task RefusedCredentialsAreAClearErrorAndNothingIsWritten()
    {
        var bucket = NewBucket();
        using var client = await BucketAsync(bucket);
        await PutAsync(client, bucket, "in/a.csv", Encoding.UTF8.GetBytes(Csv(0, 3)));

        var refused = await TransformProcessAsync(["--input", $"s3://{bucket}/in/", "--output", $"s3://{bucket}/out/"], accessKey: "NOT-A-KEY");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("S3 refused the credentials", refused.Error);
        Assert.Empty(await KeysAsync(client, bucket, "out/"));

        // A local input with refused output credentials: found before any request is made.
        var local = Directory.CreateTempSubdirectory("s3-local-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(local, "a.csv"), Csv(0, 3));
            var output = await TransformProcessAsync(["--input", local, "--output", $"s3://{bucket}/out/"], accessKey: "NOT-A-KEY");
            Assert.Equal(1, output.ExitCode);
            Assert.Contains("S3 refused the credentials", output.Error);
            Assert.Empty(await KeysAsync(client, bucket, "out/"));
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    [Fact]
    public void ManifestsAreReadAsSageMakerWritesThem()
    {
        var manifest = new S3Path("b", "m.json");
        var (prefix, relatives) = S3InputStore.ParseManifest("""[{"prefix": "s3://data/in/"}, "x.csv", "sub/y.csv"]""", manifest);
        Assert.Equal(new S3Path("data", "in/"), prefix);
        Assert.Equal(["x.csv", "sub/y.csv"], relatives);
        Assert.Contains("must be a JSON array that starts with", Assert.Throws<StorageException>(() => S3InputStore.ParseManifest("""["x.csv"]""", manifest)).Message);
        Assert.Contains("not JSON", Assert.Throws<StorageException>(() => S3InputStore.ParseManifest("[{", manifest)).Message);
        Assert.Contains("element 1", Assert.Throws<StorageException>(() => S3InputStore.ParseManifest("""[{"prefix": "s3://d/"}, 5]""", manifest)).Message);
    }

    private async Task<TransformReport> RunInProcessAsync(TransformOptions options)
    {
        foreach (var (name, value) in Server.Environment())
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        return await new TransformJob(options, new StringWriter(), TransformDisplay.None).RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(4));
    }
}
