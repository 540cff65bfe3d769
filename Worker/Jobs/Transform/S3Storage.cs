using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Worker.Hosting;

namespace Worker.Jobs.Transform;

/// <summary>SageMaker's S3DataType: every object under a prefix, or the objects a manifest lists.</summary>
public enum S3DataType
{
    S3Prefix,
    ManifestFile,
}

/// <summary>An <c>s3://bucket/key</c> URI, split.</summary>
public readonly record struct S3Path(string Bucket, string Key)
{
    public static bool IsS3(string? text) => text is not null && text.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);

    public static S3Path Parse(string option, string text)
    {
        if (!IsS3(text))
        {
            throw new ConfigurationException(option, $"'{text}' is not an s3:// URI");
        }

        var rest = text[5..];
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        if (bucket.Length == 0)
        {
            throw new ConfigurationException(option, $"'{text}' names no bucket");
        }

        return new S3Path(bucket, slash < 0 ? "" : rest[(slash + 1)..]);
    }

    public override string ToString() => $"s3://{Bucket}/{Key}";
}

/// <summary>
/// The S3 client of a job: credentials and region from the standard AWS chain (environment, profile,
/// container or instance role), an S3-compatible server by <c>--s3-endpoint</c> or
/// <c>AWS_ENDPOINT_URL_S3</c> with path-style addressing.
/// </summary>
public static class S3Clients
{
    public const string EndpointVariable = "AWS_ENDPOINT_URL_S3";

    public static AmazonS3Client Create(string? endpoint)
    {
        endpoint ??= Environment.GetEnvironmentVariable(EndpointVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        var config = new AmazonS3Config
        {
            // Checksums only where S3 requires them: S3-compatible servers store a trailing-checksum
            // (aws-chunked) upload as part of the object.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 3,
        };

        if (endpoint is not null)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new ConfigurationException("--s3-endpoint", $"must be an http:// or https:// URL, got '{endpoint}'");
            }

            config.ServiceURL = endpoint;
            config.ForcePathStyle = true;
            config.AuthenticationRegion = Environment.GetEnvironmentVariable("AWS_REGION") is { Length: > 0 } region ? region : "us-east-1";
        }
        else if (FallbackRegion() is null)
        {
            // No region anywhere in the chain: S3's own global default.
            config.RegionEndpoint = Amazon.RegionEndpoint.USEast1;
        }

        return new AmazonS3Client(config);
    }

    private static Amazon.RegionEndpoint? FallbackRegion()
    {
        try
        {
            return FallbackRegionFactory.GetRegionEndpoint();
        }
        catch (Exception e) when (e is AmazonClientException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A message a user can act on: what was asked of which location, and what S3 said.</summary>
    public static StorageException Explain(Exception e, string what, S3Path location)
    {
        var reason = e switch
        {
            AmazonS3Exception { ErrorCode: "NoSuchBucket" } => $"the bucket '{location.Bucket}' does not exist",
            AmazonS3Exception { ErrorCode: "NoSuchKey" } => $"no object {location}",
            AmazonS3Exception { ErrorCode: "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "ExpiredToken" or "InvalidToken" } s3 =>
                $"S3 refused the credentials ({s3.ErrorCode}: {s3.Message})",
            AmazonS3Exception s3 => $"S3 answered {(int)s3.StatusCode} {s3.ErrorCode}: {s3.Message}",
            AmazonServiceException service => $"{service.ErrorCode}: {service.Message}",
            AmazonClientException client => client.Message,
            _ => e.Message,
        };
        return new StorageException($"{what} {location}: {reason}", e);
    }

    public static bool IsS3Failure(Exception e) => e is AmazonServiceException or AmazonClientException or HttpRequestException;
}

/// <summary>Inputs from S3: every object under a prefix, or those a SageMaker manifest lists.</summary>
public sealed class S3InputStore(IAmazonS3 client, S3Path location, S3DataType dataType) : IInputStore
{
    public async Task<List<InputFile>> ListAsync(CancellationToken cancellationToken)
    {
        try
        {
            return dataType == S3DataType.ManifestFile
                ? await ListManifestAsync(cancellationToken).ConfigureAwait(false)
                : await ListPrefixAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (S3Clients.IsS3Failure(e))
        {
            throw S3Clients.Explain(e, "cannot list the input", location);
        }
    }

    /// <summary>
    /// Every object whose key starts with the prefix (as SageMaker's S3Prefix takes them), named
    /// relative to the prefix's last '/': <c>s3://b/in/x/a.csv</c> under <c>s3://b/in/</c> is <c>x/a.csv</c>.
    /// </summary>
    private async Task<List<InputFile>> ListPrefixAsync(CancellationToken cancellationToken)
    {
        var files = new List<InputFile>();
        var folder = location.Key.LastIndexOf('/') + 1;
        var request = new ListObjectsV2Request { BucketName = location.Bucket, Prefix = location.Key };
        while (true)
        {
            var page = await client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                if (item.Key.EndsWith('/'))
                {
                    continue; // a "folder" marker, not data
                }

                files.Add(new InputFile($"s3://{location.Bucket}/{item.Key}", item.Key[folder..], item.Size ?? 0));
            }

            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
            {
                break;
            }

            request.ContinuationToken = page.NextContinuationToken;
        }

        files.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
        return files;
    }

    /// <summary>
    /// SageMaker's manifest: a JSON array whose first element is <c>{"prefix": "s3://bucket/prefix/"}</c>
    /// and whose others are keys relative to it. Each is checked to exist before the job starts.
    /// </summary>
    private async Task<List<InputFile>> ListManifestAsync(CancellationToken cancellationToken)
    {
        string text;
        using (var response = await client.GetObjectAsync(location.Bucket, location.Key, cancellationToken).ConfigureAwait(false))
        using (var reader = new StreamReader(response.ResponseStream))
        {
            text = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        }

        var (prefix, relatives) = ParseManifest(text, location);
        var files = new List<InputFile>(relatives.Count);
        foreach (var relative in relatives)
        {
            var key = prefix.Key + relative;
            try
            {
                var metadata = await client.GetObjectMetadataAsync(prefix.Bucket, key, cancellationToken).ConfigureAwait(false);
                files.Add(new InputFile($"s3://{prefix.Bucket}/{key}", relative, metadata.ContentLength));
            }
            catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                throw new StorageException($"the manifest {location} lists {relative}, but there is no object s3://{prefix.Bucket}/{key}", e);
            }
        }

        return files;
    }

    public static (S3Path Prefix, List<string> Relatives) ParseManifest(string text, S3Path manifest)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0
                || root[0].ValueKind != JsonValueKind.Object || !root[0].TryGetProperty("prefix", out var prefixElement)
                || prefixElement.GetString() is not { } prefixText || !S3Path.IsS3(prefixText))
            {
                throw new StorageException($"the manifest {manifest} must be a JSON array that starts with {{\"prefix\": \"s3://bucket/prefix/\"}}");
            }

            var prefix = S3Path.Parse("manifest prefix", prefixText);
            var relatives = new List<string>();
            for (var i = 1; i < root.GetArrayLength(); i++)
            {
                if (root[i].ValueKind != JsonValueKind.String || root[i].GetString() is not { Length: > 0 } relative)
                {
                    throw new StorageException($"the manifest {manifest}: element {i} must be a key relative to the prefix, as a string");
                }

                relatives.Add(relative);
            }

            return (prefix, relatives);
        }
        catch (JsonException e)
        {
            throw new StorageException($"the manifest {manifest} is not JSON: {e.Message}", e);
        }
        catch (ConfigurationException e)
        {
            throw new StorageException($"the manifest {manifest}: {e.Message}", e);
        }
    }

    public async Task<Stream> OpenAsync(InputFile file, CancellationToken cancellationToken)
    {
        var where = S3Path.Parse("input", file.FullPath);
        try
        {
            var response = await client.GetObjectAsync(where.Bucket, where.Key, cancellationToken).ConfigureAwait(false);
            return new ResponseOwningStream(response);
        }
        catch (Exception e) when (S3Clients.IsS3Failure(e))
        {
            throw S3Clients.Explain(e, "cannot read", where);
        }
    }

    /// <summary>The object's body as it streams in; disposing it ends the response.</summary>
    private sealed class ResponseOwningStream(GetObjectResponse response) : ReadOnlyStreamWrapper(response.ResponseStream)
    {
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// Outputs to S3 as <c>&lt;prefix&gt;/&lt;input's relative path&gt;.out</c>, SageMaker's naming: an output
/// is uploaded in parts as its answers come (multipart upload past one part) and appears only when
/// complete; a failed one is aborted, leaving nothing.
/// </summary>
public sealed class S3OutputStore(IAmazonS3 client, S3Path location, string? kmsKeyId, int partBytes = S3OutputStore.DefaultPartBytes) : IOutputStore
{
    /// <summary>8 MiB parts: over S3's 5 MiB minimum, and what one output holds in memory.</summary>
    public const int DefaultPartBytes = 8 << 20;

    private IAmazonS3 Client { get; } = client;

    private int PartBytes { get; } = partBytes;

    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = location.Bucket, Prefix = location.Key, MaxKeys = 1 }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "AccessDenied")
        {
            // A role may write where it cannot list: the first upload will tell.
        }
        catch (Exception e) when (S3Clients.IsS3Failure(e))
        {
            throw S3Clients.Explain(e, "cannot write the output to", location);
        }
    }

    public Task<OutputObject> CreateAsync(string relativeName, CancellationToken cancellationToken)
    {
        var key = location.Key.Length == 0 ? relativeName : location.Key.TrimEnd('/') + "/" + relativeName;
        return Task.FromResult<OutputObject>(new S3Output(this, new S3Path(location.Bucket, key)));
    }

    private void Encrypt(PutObjectRequest request)
    {
        if (kmsKeyId is not null)
        {
            request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
            request.ServerSideEncryptionKeyManagementServiceKeyId = kmsKeyId;
        }
    }

    private void Encrypt(InitiateMultipartUploadRequest request)
    {
        if (kmsKeyId is not null)
        {
            request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
            request.ServerSideEncryptionKeyManagementServiceKeyId = kmsKeyId;
        }
    }

    private sealed class S3Output(S3OutputStore store, S3Path where) : OutputObject
    {
        private UploadStream? _stream;

        public override Stream Stream => _stream ??= new UploadStream(store, where);

        public override string Location => where.ToString();

        public override async Task CommitAsync(CancellationToken cancellationToken)
        {
            try
            {
                await ((UploadStream)Stream).CompleteAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (S3Clients.IsS3Failure(e))
            {
                await AbortAsync().ConfigureAwait(false);
                throw S3Clients.Explain(e, "cannot write", where);
            }
        }

        public override Task AbortAsync() => _stream?.AbortAsync() ?? Task.CompletedTask;
    }

    /// <summary>Answers in, parts out: holds at most one part in memory.</summary>
    private sealed class UploadStream(S3OutputStore store, S3Path where) : Stream
    {
        private readonly MemoryStream _part = new();
        private readonly List<PartETag> _parts = [];
        private string? _uploadId;
        private bool _done;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (!buffer.IsEmpty)
            {
                var room = store.PartBytes - (int)_part.Length;
                var take = Math.Min(room, buffer.Length);
                _part.Write(buffer.Span[..take]);
                buffer = buffer[take..];
                if (_part.Length >= store.PartBytes)
                {
                    await UploadPartAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) =>
            WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        private async Task UploadPartAsync(CancellationToken cancellationToken)
        {
            try
            {
                if (_uploadId is null)
                {
                    var start = new InitiateMultipartUploadRequest { BucketName = where.Bucket, Key = where.Key };
                    store.Encrypt(start);
                    _uploadId = (await store.Client.InitiateMultipartUploadAsync(start, cancellationToken).ConfigureAwait(false)).UploadId;
                }

                _part.Position = 0;
                var number = _parts.Count + 1;
                var response = await store.Client.UploadPartAsync(
                    new UploadPartRequest
                    {
                        BucketName = where.Bucket,
                        Key = where.Key,
                        UploadId = _uploadId,
                        PartNumber = number,
                        PartSize = _part.Length,
                        InputStream = _part,
                        UseChunkEncoding = false,
                    },
                    cancellationToken).ConfigureAwait(false);
                _parts.Add(new PartETag(number, response.ETag));
                _part.SetLength(0);
            }
            catch (Exception e) when (S3Clients.IsS3Failure(e))
            {
                throw S3Clients.Explain(e, "cannot write", where);
            }
        }

        public async Task CompleteAsync(CancellationToken cancellationToken)
        {
            if (_uploadId is null)
            {
                // One part or less: a single PUT.
                _part.Position = 0;
                var put = new PutObjectRequest
                {
                    BucketName = where.Bucket,
                    Key = where.Key,
                    InputStream = _part,
                    UseChunkEncoding = false,
                    AutoCloseStream = false,
                    AutoResetStreamPosition = false,
                };
                store.Encrypt(put);
                await store.Client.PutObjectAsync(put, cancellationToken).ConfigureAwait(false);
                _done = true;
                return;
            }

            if (_part.Length > 0)
            {
                await UploadPartAsync(cancellationToken).ConfigureAwait(false);
            }

            await store.Client.CompleteMultipartUploadAsync(
                new CompleteMultipartUploadRequest { BucketName = where.Bucket, Key = where.Key, UploadId = _uploadId, PartETags = _parts },
                cancellationToken).ConfigureAwait(false);
            _done = true;
        }

        public async Task AbortAsync()
        {
            if (_uploadId is null || _done)
            {
                return;
            }

            try
            {
                await store.Client.AbortMultipartUploadAsync(
                    new AbortMultipartUploadRequest { BucketName = where.Bucket, Key = where.Key, UploadId = _uploadId }).ConfigureAwait(false);
            }
            catch (Exception e) when (S3Clients.IsS3Failure(e))
            {
                // Nothing was completed, so nothing is visible; a lifecycle rule reaps the parts.
            }

            _done = true;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
