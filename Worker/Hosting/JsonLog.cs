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

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, Http.HttpResponse.JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow);
            json.WriteString("level", LevelName(level));
            json.WriteString("message", message);
            foreach (var (name, value) in fields)
            {
                WriteField(json, name, value);
            }

            json.WriteEndObject();
        }

        buffer.Write("\n"u8);
        _lines.Writer.TryWrite(buffer.WrittenSpan.ToArray());
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

    private async Task WriteLinesAsync()
    {
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var line))
            {
                await _output.WriteAsync(line).ConfigureAwait(false);
            }

            await _output.FlushAsync().ConfigureAwait(false);
        }
    }

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
