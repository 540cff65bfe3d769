using BenchmarkDotNet.Running;
using Benchmarks.Baselines;

// `kestrel-ping --port N` runs the Kestrel baseline server; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "kestrel-ping")
{
    var port = args.Length > 2 && args[1] == "--port" ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5000;
    await KestrelPingServer.RunAsync(port);
    return 0;
}

// `soak --port N --pid P [--requests R]` drives a running worker and samples its RSS.
if (args.Length > 0 && args[0] == "soak")
{
    string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    var invariant = System.Globalization.CultureInfo.InvariantCulture;
    return await Benchmarks.EndToEnd.RssSoak.RunAsync(
        int.Parse(Arg("--port", "18090"), invariant), int.Parse(Arg("--pid", "0"), invariant), int.Parse(Arg("--requests", "10000"), invariant), int.Parse(Arg("--columns", "64"), invariant));
}

// `gpu-check [--device cuda|tensorrt|cpu] ...`: the MLP end to end against bare Run on one device (gpu-check.sh).
if (args.Length > 0 && args[0] == "gpu-check")
{
    return await Benchmarks.EndToEnd.GpuCheck.RunAsync(args);
}

// `first-requests --app PATH --model DIR --body FILE`: a fresh published program's first requests against its fiftieth.
if (args.Length > 0 && args[0] == "first-requests")
{
    return await Benchmarks.EndToEnd.FirstRequests.RunAsync(args);
}

// `image-diff DIR`: the worker's preprocessed pixels against Pillow's for the photos make-photos.py made.
if (args.Length == 2 && args[0] == "image-diff")
{
    return Benchmarks.Records.ImageDiff.Run(args[1]);
}

// `bare-loop --model FILE [--seconds S]`: a loop of one-row bare ORT Runs, the one-row clients' baseline (one-row-clients.sh).
if (args.Length > 0 && args[0] == "bare-loop")
{
    return Benchmarks.EndToEnd.BareLoop.Run(args);
}

// `report RESULTS-DIR BENCHMARKS.md` rewrites the generated tables from one run of run-all.sh.
if (args.Length == 3 && args[0] == "report")
{
    return Benchmarks.Report.BenchmarkReport.Run(args[1], args[2]);
}

BenchmarkSwitcher.FromAssembly(typeof(KestrelPingServer).Assembly).Run(args);
return 0;
