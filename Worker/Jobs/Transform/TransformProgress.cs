using System.Diagnostics;

namespace Worker.Jobs.Transform;

/// <summary>Counters the job updates from many tasks and the progress display reads.</summary>
public sealed class TransformProgress
{
    private long _inputBytesRead;
    private long _recordsDone;
    private long _filesDone;
    private long _filesFailed;

    public TransformProgress(int files, long inputBytes)
    {
        Files = files;
        InputBytes = inputBytes;
    }

    public Stopwatch Elapsed { get; } = Stopwatch.StartNew();
    public int Files { get; }

    /// <summary>Sum of the input files' sizes on disk (compressed, for gzip).</summary>
    public long InputBytes { get; }

    public long InputBytesRead => Interlocked.Read(ref _inputBytesRead);
    public long RecordsDone => Interlocked.Read(ref _recordsDone);
    public long FilesDone => Interlocked.Read(ref _filesDone);
    public long FilesFailed => Interlocked.Read(ref _filesFailed);

    public void AddInputBytes(long bytes) => Interlocked.Add(ref _inputBytesRead, bytes);
    public void AddRecords(long records) => Interlocked.Add(ref _recordsDone, records);
    public void FileDone() => Interlocked.Increment(ref _filesDone);
    public void FileFailed() => Interlocked.Increment(ref _filesFailed);

    public double RecordsPerSecond => RecordsDone / Math.Max(Elapsed.Elapsed.TotalSeconds, 1e-3);
    public double MegabytesPerSecond => InputBytesRead / 1e6 / Math.Max(Elapsed.Elapsed.TotalSeconds, 1e-3);

    /// <summary>Time left at the input rate so far; null until there is a rate.</summary>
    public TimeSpan? Remaining
    {
        get
        {
            var read = InputBytesRead;
            var seconds = Elapsed.Elapsed.TotalSeconds;
            if (read <= 0 || seconds < 0.5)
            {
                return null;
            }

            var left = Math.Max(0, InputBytes - read);
            return TimeSpan.FromSeconds(left / (read / seconds));
        }
    }

    /// <summary>One line, for logs and the end-of-job summary.</summary>
    public string Describe()
    {
        var eta = Remaining is { } r ? $", ETA {r:hh\\:mm\\:ss}" : "";
        return $"{FilesDone + FilesFailed}/{Files} files, {RecordsDone:N0} records, {InputBytesRead / 1e6:N1}/{InputBytes / 1e6:N1} MB, "
            + $"{RecordsPerSecond:N0} records/s, {MegabytesPerSecond:N1} MB/s{eta}";
    }
}
