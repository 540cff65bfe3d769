namespace Worker.Jobs.Transform;

/// <summary>Input or output storage that cannot be used: a missing bucket, refused credentials, an unreadable manifest.</summary>
public sealed class StorageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One output being written: <see cref="Stream"/> takes the answers in order; only
/// <see cref="CommitAsync"/> makes it appear under its name (SageMaker writes an output only when its
/// input is done), and <see cref="AbortAsync"/> leaves nothing behind.
/// </summary>
public abstract class OutputObject
{
    public abstract Stream Stream { get; }

    /// <summary>Where it appears: a path or an <c>s3://</c> URI.</summary>
    public abstract string Location { get; }

    public abstract Task CommitAsync(CancellationToken cancellationToken);

    public abstract Task AbortAsync();
}

/// <summary>Where a job's inputs come from: a local file or folder, an S3 prefix or an S3 manifest.</summary>
public interface IInputStore
{
    /// <summary>Every input, sorted by relative path (ordinal), as SageMaker lists them.</summary>
    Task<List<InputFile>> ListAsync(CancellationToken cancellationToken);

    /// <summary>The input's stored bytes, streamed.</summary>
    Task<Stream> OpenAsync(InputFile file, CancellationToken cancellationToken);
}

/// <summary>Where a job's outputs go: a local folder or an S3 prefix.</summary>
public interface IOutputStore
{
    /// <summary>Checks the destination before any work is done (the folder can be made, the bucket exists).</summary>
    Task PrepareAsync(CancellationToken cancellationToken);

    Task<OutputObject> CreateAsync(string relativeName, CancellationToken cancellationToken);
}

/// <summary>A job's input and output stores, and the S3 client they share when either is in S3.</summary>
public sealed class JobStorage(IInputStore input, IOutputStore output, IDisposable? client = null) : IDisposable
{
    public IInputStore Input { get; } = input;
    public IOutputStore Output { get; } = output;

    public Task<Stream> OpenInputAsync(InputFile file, CancellationToken cancellationToken) => Input.OpenAsync(file, cancellationToken);

    public Task<OutputObject> CreateOutputAsync(string relativeName, CancellationToken cancellationToken) => Output.CreateAsync(relativeName, cancellationToken);

    public void Dispose() => client?.Dispose();
}

/// <summary>A local file, or every file under a local folder (the output folder excepted).</summary>
public sealed class LocalInputStore(string input, string? outputToSkip) : IInputStore
{
    public Task<List<InputFile>> ListAsync(CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(input);
        if (File.Exists(full))
        {
            return Task.FromResult<List<InputFile>>([new InputFile(full, Path.GetFileName(full), new FileInfo(full).Length)]);
        }

        if (!Directory.Exists(full))
        {
            throw new Hosting.ConfigurationException("--input", $"{input} is neither a file nor a folder");
        }

        var skip = outputToSkip is null ? null : Path.GetFullPath(outputToSkip) + Path.DirectorySeparatorChar;
        var files = Directory.EnumerateFiles(full, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.None })
            .Where(path => skip is null || !path.StartsWith(skip, StringComparison.Ordinal))
            .Select(path => new InputFile(path, Path.GetRelativePath(full, path).Replace('\\', '/'), new FileInfo(path).Length))
            .OrderBy(f => f.RelativePath, StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(files);
    }

    public Task<Stream> OpenAsync(InputFile file, CancellationToken cancellationToken) =>
        Task.FromResult<Stream>(new FileStream(file.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true));
}

/// <summary>A local folder: each output is written as <c>name.partial</c> and renamed when complete.</summary>
public sealed class LocalOutputStore(string directory) : IOutputStore
{
    public Task PrepareAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        return Task.CompletedTask;
    }

    public Task<OutputObject> CreateAsync(string relativeName, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, relativeName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return Task.FromResult<OutputObject>(new LocalOutput(path));
    }

    private sealed class LocalOutput(string path) : OutputObject
    {
        private readonly string _partial = path + ".partial";
        private FileStream? _stream;

        public override Stream Stream => _stream ??= new FileStream(_partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);

        public override string Location => path;

        public override async Task CommitAsync(CancellationToken cancellationToken)
        {
            var stream = Stream;
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            File.Move(_partial, path, overwrite: true);
        }

        public override async Task AbortAsync()
        {
            if (_stream is not null)
            {
                await _stream.DisposeAsync().ConfigureAwait(false);
            }

            try
            {
                File.Delete(_partial);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}

/// <summary>Counts the bytes read through it (the job's progress in stored bytes, before any gzip).</summary>
internal sealed class ByteCount
{
    public long Value;
}

internal sealed class CountingReadStream(Stream inner, ByteCount count) : ReadOnlyStreamWrapper(inner)
{
    public override long Position
    {
        get => count.Value;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int length)
    {
        var read = base.Read(buffer, offset, length);
        count.Value += read;
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        count.Value += read;
        return read;
    }
}

/// <summary>A forward-only reading view of another stream, which it disposes; what it adds is its subclasses'.</summary>
internal abstract class ReadOnlyStreamWrapper(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int length) => inner.Read(buffer, offset, length);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int length, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, length), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int length) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>A request body opened when it is sent (each retry opens the input again).</summary>
internal sealed class OpenedStreamContent(Func<CancellationToken, Task<Stream>> open, int bufferSize) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
    {
        await using var source = await open(cancellationToken).ConfigureAwait(false);
        await source.CopyToAsync(stream, bufferSize, cancellationToken).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
