using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Worker.Tests.Support;

namespace Worker.Tests.EndToEnd;

/// <summary>
/// The worker as one container of a serial inference pipeline: it listens on
/// SAGEMAKER_BIND_TO_PORT and on nothing else, and its answer, fed unchanged to the next worker
/// with its own Content-Type, is that worker's request.
/// </summary>
public sealed class PipelineMemberTests
{
    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static async Task<(Process Process, int Port)> StartAsync(string model, params (string, string)[] environment)
    {
        var process = WorkerProcess.Start(["serve", "--model-dir", Models.Directory(model), .. environment.Any(e => e.Item1 == "SAGEMAKER_BIND_TO_PORT") ? Array.Empty<string>() : ["--port", "0"]], environment);
        var port = await WorkerProcess.ReadListeningPortAsync(process);
        _ = process.StandardOutput.ReadToEndAsync();
        await using var client = await RawHttpClient.ConnectAsync(port);
        Assert.Equal(200, await WorkerProcess.WaitUntilReadyAsync(client));
        return (process, port);
    }

    /// <summary>The TCP and UDP ports this process has sockets listening or bound on, from /proc.</summary>
    private static List<(string Table, int Port)> OpenPorts(int pid)
    {
        var inodes = new HashSet<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                inodes.Add(target[8..^1]);
            }
        }

        var ports = new List<(string, int)>();
        foreach (var table in new[] { "tcp", "tcp6", "udp", "udp6" })
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/net/{table}").Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var listening = table.StartsWith("udp", StringComparison.Ordinal) || fields[3] == "0A";
                if (listening && inodes.Contains(fields[9]))
                {
                    ports.Add((table, int.Parse(fields[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                }
            }
        }

        return ports;
    }

    [Fact]
    public async Task ItListensOnSageMakersPortAndOpensNoOther()
    {
        var port = FreePort();
        var (process, listening) = await StartAsync("linear", ("SAGEMAKER_BIND_TO_PORT", port.ToString(CultureInfo.InvariantCulture)), ("SAGEMAKER_SAFE_PORT_RANGE", $"{port + 1}-{port + 100}"));
        try
        {
            Assert.Equal(port, listening);
            Assert.Equal("6.1,6.8,2.55\n", (await ModelServers.PostAsync(port, "text/csv", "1,2,3,4\n")).BodyText);
            var open = OpenPorts(process.Id);
            Assert.NotEmpty(open);
            Assert.All(open, p => Assert.Equal(port, p.Port));
        }
        finally
        {
            process.Kill();
        }
    }

    public static TheoryData<string> Accepts() => ["text/csv", "application/jsonlines", "application/json"];

    [Theory]
    [MemberData(nameof(Accepts))]
    public async Task TwoWorkersChainedGiveTheComposedModelsAnswer(string accept)
    {
        // A scaler-like affine step (linear: 4 -> 3), then a classifier (3 -> probabilities, label).
        var (first, firstPort) = await StartAsync("linear");
        var (second, secondPort) = await StartAsync("classifier");
        try
        {
            var random = new Random(11);
            var rows = Enumerable.Range(0, 50).Select(_ => Enumerable.Range(0, 4).Select(_ => (float)Math.Round((random.NextDouble() * 4) - 2, 3)).ToArray()).ToArray();
            var csv = string.Concat(rows.Select(r => string.Join(',', r.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "\n"));

            var step1 = await ModelServers.PostAsync(firstPort, "text/csv", csv, accept);
            Assert.Equal(200, step1.Status);
            var contentType = step1.Header("content-type")!;

            // SageMaker hands the answer on as it stands, with its Content-Type, and the container's default Accept.
            var step2 = await ModelServers.PostAsync(secondPort, contentType, step1.Body, "text/csv");
            Assert.True(step2.Status == 200, step2.BodyText);
            var lines = step2.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(rows.Length, lines.Length);
            for (var i = 0; i < rows.Length; i++)
            {
                var expected = Models.Classifier(Models.Linear(rows[i]));
                var fields = lines[i].Split(',');
                Assert.Equal(expected.Probabilities[0], float.Parse(fields[0], CultureInfo.InvariantCulture), 4);
                Assert.Equal(expected.Probabilities[1], float.Parse(fields[1], CultureInfo.InvariantCulture), 4);
                Assert.Equal(expected.Label, long.Parse(fields[2], CultureInfo.InvariantCulture));
            }
        }
        finally
        {
            first.Kill();
            second.Kill();
        }
    }

    [Fact]
    public void EveryAnswerTypeIsARequestTypeOfTheNextWorker()
    {
        foreach (var answer in Enum.GetValues<Worker.Records.AnswerFormat>())
        {
            var contentType = Worker.Records.MediaTypes.ContentTypeOf(answer);
            Assert.True(Worker.Records.MediaTypes.TryGetRecordFormat(contentType, out _, out _, out var error), error);
        }
    }
}
