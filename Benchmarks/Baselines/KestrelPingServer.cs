using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Benchmarks.Baselines;

/// <summary>
/// The smallest Kestrel app that answers SageMaker's /ping like the worker does (200, empty body):
/// the baseline the worker's small-request rate is compared with. Never shipped.
/// </summary>
public static class KestrelPingServer
{
    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.ListenAnyIP(port));
        var app = builder.Build();
        app.MapGet("/ping", static (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            context.Response.ContentLength = 0;
            return Task.CompletedTask;
        });
        await app.RunAsync();
    }
}
