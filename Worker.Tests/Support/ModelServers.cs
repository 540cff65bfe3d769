using Worker.Hosting;

namespace Worker.Tests.Support;

public static class ModelServers
{
    /// <summary>The real server with a real model loaded from formats/models/<paramref name="model"/>.</summary>
    public static WorkerHost Start(string model, WorkerSettings? settings = null)
    {
        var host = TestServers.Start((settings ?? new WorkerSettings()) with { ModelDirectory = Models.Directory(model), Device = Worker.Inference.Ort.DevicePreference.Cpu }, ready: false);
        Assert.True(host.LoadModel(), host.Readiness.Reason);
        return host;
    }

    public static async Task<RawResponse> PostAsync(int port, string contentType, byte[] body, string? accept = null)
    {
        await using var client = await RawHttpClient.ConnectAsync(port);
        var head = $"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: {contentType}\r\n" +
                   (accept is null ? "" : $"Accept: {accept}\r\n") +
                   $"Content-Length: {body.Length}\r\n\r\n";
        await client.SendAsync([.. System.Text.Encoding.ASCII.GetBytes(head), .. body]);
        return await client.ReadResponseAsync(TimeSpan.FromSeconds(60));
    }

    public static Task<RawResponse> PostAsync(int port, string contentType, string body, string? accept = null) =>
        PostAsync(port, contentType, System.Text.Encoding.UTF8.GetBytes(body), accept);
}
