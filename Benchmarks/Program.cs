using BenchmarkDotNet.Running;
using Benchmarks.Baselines;

// `kestrel-ping --port N` runs the Kestrel baseline server; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "kestrel-ping")
{
    var port = args.Length > 2 && args[1] == "--port" ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5000;
    await KestrelPingServer.RunAsync(port);
    return 0;
}

BenchmarkSwitcher.FromAssembly(typeof(KestrelPingServer).Assembly).Run(args);
return 0;
