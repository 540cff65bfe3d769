using System.Globalization;
using System.Text;
using System.Text.Json;
using Worker.Jobs;
using Worker.Jobs.Transform;
using Worker.Tests.Support;

namespace Worker.Tests.Jobs;

/// <summary><c>Worker process</c>: a SageMaker Processing job, with /opt/ml pointed at a temporary folder.</summary>
public sealed class ProcessCommandTests : IDisposable
{
    private readonly string _optMl = Directory.CreateTempSubdirectory("opt-ml-").FullName;

    public void Dispose() => Directory.Delete(_optMl, recursive: true);

    private string Path_(params string[] parts) => Path.Combine([_optMl, .. parts]);

    private static string Csv(int rows, int start = 0) =>
        string.Concat(Enumerable.Range(start, rows).Select(i => $"{i},1,2,3\n"));

    private void WriteFile(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private void WriteJobConfig(string inputPath, string outputPath, string distribution = "FullyReplicated", bool modelInput = true)
    {
        var inputs = new List<object>
        {
            new { InputName = "data", S3Input = new { LocalPath = inputPath, S3Uri = "s3://bucket/in", S3DataDistributionType = distribution } },
        };
        if (modelInput)
        {
            inputs.Add(new { InputName = "model", S3Input = new { LocalPath = Models.Directory("linear"), S3Uri = "s3://bucket/model" } });
        }

        var config = new
        {
            ProcessingJobName = "test",
            ProcessingInputs = inputs,
            ProcessingOutputConfig = new { Outputs = new[] { new { OutputName = "answers", S3Output = new { LocalPath = outputPath, S3Uri = "s3://bucket/out" } } } },
        };
        WriteFile(Path_("config", "processingjobconfig.json"), JsonSerializer.Serialize(config));
    }

    private void WriteHosts(string current, params string[] hosts) =>
        WriteFile(Path_("config", "resourceconfig.json"), JsonSerializer.Serialize(new { current_host = current, hosts }));

    private Task<int> RunAsync() =>
        ProcessCommand.RunAsync(
            _optMl,
            (input, output) => new TransformOptions { Input = input, Output = output, Accept = "text/csv" },
            () => TransformDisplay.None,
            TextWriter.Null).WaitAsync(TimeSpan.FromMinutes(2));

    [Fact]
    public async Task TheJobConfigNamesTheInputTheOutputAndTheModel()
    {
        var input = Path_("processing", "data");
        var output = Path_("processing", "answers");
        WriteFile(Path.Combine(input, "part-0.csv"), Csv(10));
        WriteFile(Path.Combine(input, "nested", "part-1.csv"), Csv(5));
        WriteJobConfig(input, output);

        Assert.Equal(0, await RunAsync());
        Assert.Equal(10, File.ReadAllLines(Path.Combine(output, "part-0.csv.out")).Length);
        Assert.Equal(5, File.ReadAllLines(Path.Combine(output, "nested", "part-1.csv.out")).Length);
        Assert.False(File.Exists(Path_("output", "message")));
    }

    [Fact]
    public async Task WithoutAConfigTheProcessingFoldersAreUsed()
    {
        WriteFile(Path_("processing", "input", "rows.csv"), Csv(3));
        Directory.CreateDirectory(Path_("processing", "model"));
        File.Copy(Models.File("linear"), Path_("processing", "model", "model.onnx"));

        Assert.Equal(0, await RunAsync());
        var answer = File.ReadAllLines(Path_("processing", "output", "rows.csv.out"));
        var expected = Models.Linear([0, 1, 2, 3]).Select(v => v.ToString("R", CultureInfo.InvariantCulture));
        Assert.Equal(string.Join(',', expected), answer[0]);
    }

    [Fact]
    public async Task SeveralHostsShareTheFilesWithoutOverlap()
    {
        var input = Path_("processing", "data");
        for (var i = 0; i < 7; i++)
        {
            WriteFile(Path.Combine(input, $"part-{i}.csv"), Csv(2, i));
        }

        var shares = new List<string[]>();
        foreach (var host in new[] { "algo-1", "algo-2", "algo-3" })
        {
            var output = Path_("processing", "out-" + host);
            WriteJobConfig(input, output);

            // SageMaker lists the hosts in any order; every host sorts them the same way.
            WriteHosts(host, "algo-3", "algo-1", "algo-2");
            Assert.Equal(0, await RunAsync());
            shares.Add(Directory.GetFiles(output).Select(Path.GetFileName).Order().ToArray()!);
        }

        Assert.Equal(["part-0.csv.out", "part-3.csv.out", "part-6.csv.out"], shares[0]);
        Assert.Equal(["part-1.csv.out", "part-4.csv.out"], shares[1]);
        Assert.Equal(["part-2.csv.out", "part-5.csv.out"], shares[2]);

        // ShardedByS3Key: SageMaker already gave each host its own files; it takes all it has.
        var sharded = Path_("processing", "sharded");
        WriteJobConfig(input, sharded, distribution: "ShardedByS3Key");
        WriteHosts("algo-2", "algo-1", "algo-2");
        Assert.Equal(0, await RunAsync());
        Assert.Equal(7, Directory.GetFiles(sharded).Length);
    }

    [Fact]
    public async Task AFailureExitsNonZeroWithAShortMessageAndNoPayloadData()
    {
        var input = Path_("processing", "data");
        WriteFile(Path.Combine(input, "good.csv"), Csv(3));
        WriteFile(Path.Combine(input, "bad.csv"), "1,2,3,4\n5,SECRET-42,7,8\n");
        WriteJobConfig(input, Path_("processing", "out"));

        Assert.Equal(1, await RunAsync());
        Assert.True(File.Exists(Path_("processing", "out", "good.csv.out")));
        Assert.False(File.Exists(Path_("processing", "out", "bad.csv.out")));
        var message = File.ReadAllText(Path_("output", "message"));
        Assert.Contains("bad.csv", message);
        Assert.Contains("record 1 of the file", message);
        Assert.DoesNotContain("SECRET", message);
    }

    [Fact]
    public async Task ABadConfigExitsTwoWithAMessage()
    {
        WriteFile(Path_("config", "processingjobconfig.json"), "{ not json");
        Assert.Equal(2, await RunAsync());
        Assert.Contains("processingjobconfig.json", File.ReadAllText(Path_("output", "message")));

        WriteJobConfig(Path_("processing", "data"), Path_("processing", "out"));
        WriteHosts("algo-9", "algo-1", "algo-2");
        Assert.Equal(2, await RunAsync());
        Assert.Contains("algo-9", File.ReadAllText(Path_("output", "message")));
    }

    [Fact]
    public void TheMessageIsAtMostOneKibibyteOfWholeCharacters()
    {
        ProcessCommand.WriteMessage(_optMl, "failed: " + string.Concat(Enumerable.Repeat("é€", 1000)));
        var bytes = File.ReadAllBytes(Path_("output", "message"));
        Assert.InRange(bytes.Length, 1000, 1024);
        var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        Assert.StartsWith("failed: é€", text);
    }

    [Fact]
    public async Task SigtermStopsTheJobCleanlyAndExitsNonZero()
    {
        // A slow container: each record takes 100 ms, so the job is still running when the signal comes.
        var started = new TaskCompletionSource();
        await using var endpoint = new ScriptedEndpoint((_, body) =>
        {
            started.TrySetResult();
            Thread.Sleep(100);
            return ScriptedEndpoint.Echo(body);
        });
        WriteFile(Path_("processing", "input", "rows.csv"), Csv(500));

        using var worker = WorkerProcess.Start(
            ["process", "--opt-ml", _optMl, "--endpoint", endpoint.Url.ToString(), "--batch-strategy", "SingleRecord", "--progress", "log"]);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, Signals.Send(worker.Id, Signals.Terminate));
        var error = await worker.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(143, worker.ExitCode);
        Assert.Contains("SIGTERM", error);
        Assert.Contains("SIGTERM", File.ReadAllText(Path_("output", "message")));
        Assert.Empty(Directory.EnumerateFiles(Path_("processing", "output"), "*", SearchOption.AllDirectories));
        Assert.True(endpoint.Invocations < 500);
    }

    [Fact]
    public async Task TheTransformCommandExitsOneWhenAFileFailsAndTwoOnABadOption()
    {
        WriteFile(Path_("in", "bad.csv"), "1,2\n");
        using (var worker = WorkerProcess.Start(["transform", "--input", Path_("in"), "--output", Path_("out"), "--model-dir", Models.Directory("linear"), "--progress", "none"]))
        {
            var output = await worker.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
            await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(1, worker.ExitCode);
            Assert.Contains("failed: bad.csv", output);
        }

        using (var worker = WorkerProcess.Start(["transform", "--input", Path_("in"), "--output", Path_("out"), "--split-type", "Paragraph"]))
        {
            var error = await worker.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
            await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(2, worker.ExitCode);
            Assert.Contains("--split-type", error);
        }
    }
}
