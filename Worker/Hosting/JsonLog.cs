using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;

namespace Worker.Hosting;

public enum LogLevel
{
    Debug,
    Information,
    Warning,
    Error,
    None,
}

/// <summary>
/// JSON-lines log on stdout (CloudWatch takes stdout). Lines are formatted on the caller's thread and
/// written by one background task, so a slow stdout never stalls a request.
/// </summary>
public sealed class JsonLog : IAsyncDisposable
{
    private readonly Channel<byte[]> _lines = Channel.CreateBounded<byte[]>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });

    private readonly Stream _output;
    private readonly Task _writer;

    public JsonLog(Stream output, LogLevel minimumLevel)
    {
        _output = output;
        MinimumLevel = minimumLevel;
        _writer = Task.Run(WriteLinesAsync);
    }

    public static JsonLog Null { get; } = new(Stream.Null, LogLevel.None);

    public LogLevel MinimumLevel { get; }

    public bool IsEnabled(LogLevel level) => level >= MinimumLevel && level != LogLevel.None;

    public void Write(LogLevel level, string message, params ReadOnlySpan<(string Name, object? Value)> fields)
    {
        if (!IsEnabled(level))
        {
            return;
        }

        var json = StartLine(level, message);
        foreach (var (name, value) in fields)
        {
            WriteField(json, name, value);
        }

        EndLine(json);
    }

    /// <summary>
    /// One request's line (the most frequent line by far: one per invocation), written from typed
    /// fields: no boxing, no array of fields.
    /// </summary>
    public void WriteRequest(LogLevel level, in RequestLine line)
    {
        if (!IsEnabled(level))
        {
            return;
        }

        var json = StartLine(level, "request");
        json.WriteString("method", line.Method);
        json.WriteString("path", line.Path);
        json.WriteNumber("status", line.Status);
        json.WriteNumber("bytes_in", line.BytesIn);
        json.WriteNumber("bytes_out", line.BytesOut);
        json.WriteNumber("ms", Math.Round(line.Milliseconds, 3));
        WriteStringOrNull(json, "error", line.Error);
        if (line.SageMaker is { } sageMaker)
        {
            WriteStringOrNull(json, "inference_id", sageMaker.InferenceId);
            WriteStringOrNull(json, "custom_attributes", sageMaker.CustomAttributes);
            WriteStringOrNull(json, "target_model", sageMaker.TargetModel);
            WriteStringOrNull(json, "target_variant", sageMaker.TargetVariant);
        }

        EndLine(json);
    }

    /// <summary>The fields of a request's line; <see cref="SageMaker"/> only when SageMaker sent its per-request headers.</summary>
    public readonly record struct RequestLine(string Method, string Path, int Status, long BytesIn, long BytesOut, double Milliseconds, string? Error, SageMakerFields? SageMaker);

    public readonly record struct SageMakerFields(string? InferenceId, string? CustomAttributes, string? TargetModel, string? TargetVariant);

    // Each thread formats into its own buffer and writer, reused line after line.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_json;

    private static Utf8JsonWriter StartLine(LogLevel level, string message)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var json = t_json ??= new Utf8JsonWriter(buffer, Http.HttpResponse.JsonOptions);
        json.Reset(buffer);
        json.WriteStartObject();
        json.WriteString("time", DateTimeOffset.UtcNow);
        json.WriteString("level", LevelName(level));
        json.WriteString("message", message);
        return json;
    }

    private void EndLine(Utf8JsonWriter json)
    {
        json.WriteEndObject();
        json.Flush();
        var buffer = t_buffer!;
        buffer.Write("\n"u8);
        _lines.Writer.TryWrite(buffer.WrittenSpan.ToArray());
    }

    private static void WriteStringOrNull(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    public void Debug(string message, params ReadOnlySpan<(string Name, object? Value)> fields) => Write(LogLevel.Debug, message, fields);

    public void Info(string message, params ReadOnlySpan<(string Name, object? Value)> fields) => Write(LogLevel.Information, message, fields);

    public void Warn(string message, params ReadOnlySpan<(string Name, object? Value)> fields) => Write(LogLevel.Warning, message, fields);

    public void Error(string message, params ReadOnlySpan<(string Name, object? Value)> fields) => Write(LogLevel.Error, message, fields);

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    /// <summary>
    /// Writes what has queued in one write and one flush, then pauses briefly, so a busy endpoint's
    /// one line per request costs neither a write call nor a thread wake-up per line (at 50,000
    /// requests a second both were measurable; BENCHMARKS.md, one-row clients).
    /// </summary>
    private async Task WriteLinesAsync()
    {
        var reader = _lines.Reader;
        var batch = new ArrayBufferWriter<byte>(64 * 1024);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.WrittenCount < 256 * 1024 && reader.TryRead(out var line))
            {
                batch.Write(line);
            }

            await _output.WriteAsync(batch.WrittenMemory).ConfigureAwait(false);
            await _output.FlushAsync().ConfigureAwait(false);
            batch.ResetWrittenCount();
            if (!reader.Completion.IsCompleted)
            {
                await Task.Delay(LinePause).ConfigureAwait(false);
            }
        }
    }

    private static readonly TimeSpan LinePause = TimeSpan.FromMilliseconds(10);

    private static void WriteField(Utf8JsonWriter json, string name, object? value)
    {
        switch (value)
        {
            case null: json.WriteNull(name); break;
            case string s: json.WriteString(name, s); break;
            case int i: json.WriteNumber(name, i); break;
            case long l: json.WriteNumber(name, l); break;
            case double d: json.WriteNumber(name, Math.Round(d, 3)); break;
            case bool b: json.WriteBoolean(name, b); break;
            default: json.WriteString(name, value.ToString()); break;
        }
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warning",
        _ => "error",
    };
}
