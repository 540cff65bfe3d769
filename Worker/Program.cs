using System.CommandLine;
using Worker.Jobs;

var root = new RootCommand("SageMaker Batch Transform worker for ONNX models.");

var portOption = new Option<int?>("--port") { Description = "Port to listen on (default: SAGEMAKER_BIND_TO_PORT, else 8080)." };
var modelDirOption = new Option<string?>("--model-dir") { Description = "Folder holding the model (default: SM_MODEL_DIR, else /opt/ml/model)." };
var serve = new Command("serve", "Answer SageMaker's container contract (/ping, /execution-parameters, /invocations) over HTTP.");
serve.Options.Add(portOption);
serve.Options.Add(modelDirOption);
serve.SetAction((parseResult, _) => ServeCommand.RunAsync(parseResult.GetValue(portOption), parseResult.GetValue(modelDirOption)));
root.Subcommands.Add(serve);

var train = new Command("train", "Not supported: this image serves and processes only.");
train.SetAction(_ =>
{
    Console.Error.WriteLine("This image does not train: it runs 'serve' (batch transform and endpoints) only.");
    return 2;
});
root.Subcommands.Add(train);

// Signals are handled by each command (graceful stop), not by System.CommandLine's default.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
