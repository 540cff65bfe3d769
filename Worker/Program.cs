using System.CommandLine;
using Worker.Jobs;

var root = new RootCommand("SageMaker Batch Transform worker for ONNX models.");

var portOption = new Option<int?>("--port") { Description = "Port to listen on (default: SAGEMAKER_BIND_TO_PORT, else 8080)." };
var modelDirOption = new Option<string?>("--model-dir") { Description = "Folder holding the model (default: SM_MODEL_DIR, else /opt/ml/model)." };
var serve = new Command("serve", "Answer SageMaker's container contract (/ping, /execution-parameters, /invocations) over HTTP.");
serve.Options.Add(portOption);
serve.Options.Add(modelDirOption);
var recordOption = new Option<string?>("--record") { Description = "Write every exchange (request bytes, response) to this folder, for 'replay'." };
serve.Options.Add(recordOption);
var multiModelOption = new Option<bool>("--multi-model") { Description = "Serve as a multi-model endpoint: models loaded, listed, unloaded and invoked under /models (also SAGEMAKER_MULTI_MODEL=true)." };
serve.Options.Add(multiModelOption);
serve.SetAction((parseResult, _) => ServeCommand.RunAsync(parseResult.GetValue(portOption), parseResult.GetValue(modelDirOption), parseResult.GetValue(recordOption), parseResult.GetValue(multiModelOption)));
root.Subcommands.Add(serve);

var transformOptions = new TransformCli();
var inputOption = new Option<string>("--input") { Description = "Input file, folder walked recursively, or s3://bucket/prefix (or a manifest's s3:// URI with --s3-data-type ManifestFile).", Required = true };
var outputOption = new Option<string>("--output") { Description = "Folder or s3://bucket/prefix for the answers: <relative path>.out per input.", Required = true };
var transform = new Command("transform", "Run a whole batch transform on local files or S3, as SageMaker's data plane does, through this program's own server or --endpoint.");
transform.Options.Add(inputOption);
transform.Options.Add(outputOption);
transformOptions.AddTo(transform);
transform.SetAction((parseResult, _) => TransformCommand.RunAsync(
    () => transformOptions.Read(parseResult, parseResult.GetValue(inputOption)!, parseResult.GetValue(outputOption)!),
    () => transformOptions.ReadDisplay(parseResult)));
root.Subcommands.Add(transform);

var optMlOption = new Option<string?>("--opt-ml") { Description = "Root of SageMaker's paths (default: WORKER_OPT_ML, else /opt/ml)." };
var process = new Command("process", "Run as a SageMaker Processing job: transform the job's inputs into its output (config from /opt/ml/config).");
process.Options.Add(optMlOption);
transformOptions.AddTo(process);
process.SetAction((parseResult, _) => ProcessCommand.RunAsync(
    parseResult.GetValue(optMlOption),
    (input, output) => transformOptions.Read(parseResult, input, output),
    () => transformOptions.ReadDisplay(parseResult),
    Console.Out));
root.Subcommands.Add(process);

var replayDirectory = new Argument<string>("directory") { Description = "Folder of recorded exchanges (NAME.request, NAME.response, NAME.json), searched recursively." };
var replayEndpoint = new Option<string?>("--endpoint") { Description = "URL of a running container to replay against (default: this program's own server, per case settings)." };
var replayModelDir = new Option<string?>("--model-dir") { Description = "Model folder for the own server (default: each case's model_dir, else SM_MODEL_DIR, else /opt/ml/model)." };
var replayTolerance = new Option<double>("--tolerance") { Description = "Relative tolerance for numbers in answers (default 1e-5).", DefaultValueFactory = _ => 1e-5 };
var replayWriteMissing = new Option<bool>("--write-missing") { Description = "For a case without NAME.response, write the answer as it (review before committing)." };
var replayTargetModel = new Option<string?>("--target-model") { Description = "Send each recorded /invocations to /models/NAME/invoke of --endpoint (a multi-model container)." };
var replay = new Command("replay", "Send recorded exchanges again, byte for byte, and compare status, Content-Type and body.");
replay.Arguments.Add(replayDirectory);
replay.Options.Add(replayEndpoint);
replay.Options.Add(replayModelDir);
replay.Options.Add(replayTolerance);
replay.Options.Add(replayWriteMissing);
replay.Options.Add(replayTargetModel);
replay.SetAction(async (parseResult, _) =>
{
    var endpointText = parseResult.GetValue(replayEndpoint);
    if (endpointText is not null && (!Uri.TryCreate(endpointText, UriKind.Absolute, out var parsed) || parsed.Scheme != Uri.UriSchemeHttp))
    {
        Console.Error.WriteLine($"--endpoint: must be an http:// URL, got '{endpointText}'");
        return 2;
    }

    return await ReplayCommand.RunAsync(
        parseResult.GetValue(replayDirectory)!,
        endpointText is null ? null : new Uri(endpointText),
        parseResult.GetValue(replayModelDir),
        parseResult.GetValue(replayTolerance),
        parseResult.GetValue(replayWriteMissing),
        Console.Out,
        parseResult.GetValue(replayTargetModel)).ConfigureAwait(false);
});
root.Subcommands.Add(replay);

var train = new Command("train", "Not supported: this image serves and processes only.");
train.SetAction(_ =>
{
    Console.Error.WriteLine("This image does not train: it serves (batch transform and endpoints) and processes (Processing jobs, 'process') only.");
    return 2;
});
root.Subcommands.Add(train);

// Signals are handled by each command (graceful stop), not by System.CommandLine's default.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
