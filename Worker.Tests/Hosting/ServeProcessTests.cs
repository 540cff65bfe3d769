using System.Diagnostics;
using Worker.Tests.Support;

namespace Worker.Tests.Hosting;

/// <summary>The real program, started as SageMaker starts it, in its own process.</summary>
public class ServeProcessTests
{
    [Fact]
    public async Task BadVariableIsAStartupErrorNamingIt()
    {
        using var process = StartWorker(["serve", "--port", "0"], ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "lots"));
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("SAGEMAKER_MAX_PAYLOAD_IN_MB", output);
        Assert.Contains("lots", output);
    }

    [Fact]
    public async Task TrainIsRefused()
    {
        using var process = StartWorker(["train"]);
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("serve", error);
    }

    [Fact]
    public async Task ServesThenStopsCleanlyOnSigterm()
    {
        using var process = StartWorker(["serve", "--port", "0", "--model-dir", Models.Directory("linear")]);

        var port = await WorkerProcess.ReadListeningPortAsync(process);
        await using (var client = await RawHttpClient.ConnectAsync(port))
        {
            Assert.Equal(200, await WorkerProcess.WaitUntilReadyAsync(client));
            await client.SendAsync("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 8\r\n\r\n1,2,3,4\n");
            Assert.Equal("6.1,6.8,2.55\n", (await client.ReadResponseAsync()).BodyText);
        }

        Assert.Equal(0, Signals.Send(process.Id, Signals.Terminate));
        var rest = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("\"stopped\"", rest);
    }

    private static Process StartWorker(string[] args, params (string Name, string Value)[] environment) => WorkerProcess.Start(args, environment);
}
