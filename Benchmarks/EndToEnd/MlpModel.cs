namespace Benchmarks.EndToEnd;

/// <summary>Where the benchmarks find the compute-bound MLP (64→512→512→16) built by make_models.py --mlp.</summary>
public static class MlpModel
{
    public const int Inputs = 64;
    public const int Outputs = 16;

    public static string Directory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Worker.sln")))
                {
                    var folder = Path.Combine(dir.FullName, "artifacts", "models", "mlp");
                    return File.Exists(Path.Combine(folder, "model.onnx"))
                        ? folder
                        : throw new FileNotFoundException("build the MLP first: /usr/bin/python3 formats/models/make_models.py --mlp artifacts/models/mlp");
                }
            }

            throw new DirectoryNotFoundException("run the benchmarks from inside the repository");
        }
    }
}
