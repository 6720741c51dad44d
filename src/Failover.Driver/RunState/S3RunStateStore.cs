using System.Net;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Failover.Core.Topology;

namespace Failover.Driver.RunState;

/// <summary>
/// The run state under one S3 prefix per project, beside the Pulumi state, so that every operator on every
/// machine sees the same lock, journals and history. Who wins is decided by S3 conditional writes:
/// <c>If-None-Match: *</c> creates an object only if the key is free, <c>If-Match: ETag</c> replaces it only if
/// it is unchanged (AWS S3 since August and November 2024:
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html; Ceph RGW honours both on
/// unversioned buckets). A journal is one object per record, created with <c>If-None-Match</c> at its
/// sequence number, so two writers can never both append record N.
/// </summary>
/// <remarks>
/// The port is synchronous because journal appends are: a step goes on only once its record is stored. The SDK is
/// async-only, so calls block on it; the CLI has no synchronization context, so this cannot deadlock.
/// </remarks>
public sealed class S3RunStateStore : IRunStateStore, IDisposable
{
    private readonly Lazy<IAmazonS3> _client;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly Lazy<bool> _conditionalDeletes;

    /// <param name="timeout">One request's limit (runtime option runState).</param>
    public S3RunStateStore(RunStateLocation location, AWSCredentials? credentials = null, TimeSpan? timeout = null)
    {
        _bucket = location.Bucket!;
        _prefix = location.Prefix;
        var config = new AmazonS3Config
        {
            // The SDK's default CRC trailers (aws-chunked with a trailing checksum) are not understood by every
            // S3-compatible server (Ceph 16 refuses them); objects here are small and sent whole instead.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = timeout ?? Core.Planning.RuntimeOptions.Default.RunState,
            MaxErrorRetry = 3,
            HttpClientFactory = new WithoutContinueHttpClientFactory(),
        };
        if (location.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint;
            config.ForcePathStyle = true;
            config.AuthenticationRegion = location.Region ?? "us-east-1";
        }
        else
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(location.Region ?? "us-east-1");
        if (location.ForcePathStyle) config.ForcePathStyle = true;
        Location = location.Display;
        // Credentials are looked up on first use: `status` reports a run state it cannot read instead of failing whole.
        _client = new Lazy<IAmazonS3>(() => new AmazonS3Client(credentials ?? Credentials(Location), config));
        _conditionalDeletes = new Lazy<bool>(ProbeConditionalDeletes);
    }

    /// <summary>
    /// The AWS_* variables, else the AWS_PROFILE (or default) profile of the shared credentials files: the same sources
    /// `pulumi login s3://` reads. The SDK's last resort, the EC2 instance metadata endpoint, is not asked: off EC2 it
    /// is a link-local address the tool has no business probing.
    /// </summary>
    private static AWSCredentials Credentials(string location)
    {
        if (Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") is { Length: > 0 }) return new EnvironmentVariablesAWSCredentials();
        var profile = Environment.GetEnvironmentVariable("AWS_PROFILE") is { Length: > 0 } p ? p : "default";
        if (new Amazon.Runtime.CredentialManagement.CredentialProfileStoreChain().TryGetAWSCredentials(profile, out var fromProfile)) return fromProfile;
        throw new RunStateUnavailableException(
            $"the run state at {location} needs AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE " +
            $"(profile '{profile}' was not found), or pass --state-dir DIR to keep the run state in a folder on this machine");
    }

    public string Location { get; }
    public bool IsShared => true;

    private IAmazonS3 S3 => _client.Value;

    private string Key(string key) => _prefix + key;

    public StoredObject? Read(string key) => Call(key, async () =>
    {
        try
        {
            using var response = await S3.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = Key(key) });
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer);
            return new StoredObject(buffer.ToArray(), Unquoted(response.ETag));
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound) { return null; }
    });

    public string? TryCreate(string key, byte[] content) => Conditional(key, content, ifNoneMatch: true, version: null);

    public string? TryReplace(string key, byte[] content, string version) => Conditional(key, content, ifNoneMatch: false, version);

    public void Put(string key, byte[] content) => Call(key, async () =>
    {
        await S3.PutObjectAsync(Request(key, content));
        return true;
    });

    public void Delete(string key) => Call(key, async () =>
    {
        await S3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = Key(key) });
        return true;
    });

    /// <summary>
    /// DeleteObject with <c>If-Match: ETag</c>: the server deletes only the version that was read (AWS S3 general-purpose
    /// buckets since 2025: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html; 412 when
    /// the ETag differs). Ceph RGW 16 ignores the header and deletes whatever is there, which would let a holder whose
    /// lock was broken and retaken remove the new holder's lock; a server that does so is found out once by
    /// <see cref="HonoursConditionalDeletes"/>, and then the delete falls back to read, compare, delete. That leaves a
    /// window of one round trip in which a lock retaken by another machine could be removed: the best such a server
    /// allows.
    /// </summary>
    public bool TryDelete(string key, string version)
    {
        if (!HonoursConditionalDeletes)
        {
            if (Read(key) is not { } current || current.Version != version) return false;
            Delete(key);
            return true;
        }
        return Call(key, async () =>
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await S3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = Key(key), IfMatch = version });
                    return true;
                }
                catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.NotFound) { return false; }
                // 409 ConditionalRequestConflict: a write on the key is in flight; asked again, the ETag says whether it won.
                catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Conflict && attempt < 5) { await Task.Delay(100 * (attempt + 1)); }
            }
        });
    }

    /// <summary>
    /// Whether this server honours If-Match on DeleteObject, found out once per store: a probe object is deleted with an
    /// ETag it cannot have. 412 means honoured; a delete that goes through means the header was ignored, and a refusal
    /// (400, 501) that it is not implemented.
    /// </summary>
    public bool HonoursConditionalDeletes => _conditionalDeletes.Value;

    private bool ProbeConditionalDeletes() => Call("probes/", async () =>
    {
        var probe = $"probes/conditional-delete-{Guid.NewGuid():N}";
        await S3.PutObjectAsync(Request(probe, "{}"u8.ToArray()));
        try
        {
            await S3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = Key(probe), IfMatch = new string('0', 32) });
            return false; // deleted despite the wrong ETag
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.BadRequest or HttpStatusCode.NotImplemented)
        {
            await S3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = Key(probe) });
            return e.StatusCode == HttpStatusCode.PreconditionFailed;
        }
    });

    public IReadOnlyList<string> Children(string prefix) => Call(prefix, async () =>
    {
        var names = new List<string>();
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = Key(prefix.TrimEnd('/') + "/"), Delimiter = "/" };
        ListObjectsV2Response page;
        do
        {
            page = await S3.ListObjectsV2Async(request);
            names.AddRange((page.CommonPrefixes ?? []).Select(p => p[request.Prefix.Length..].TrimEnd('/')));
            request.ContinuationToken = page.NextContinuationToken;
        } while (page.IsTruncated == true);
        return (IReadOnlyList<string>)names;
    });

    /// <summary>Every key below a prefix, in key order.</summary>
    public IReadOnlyList<string> Keys(string prefix) => Call(prefix, async () =>
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = Key(prefix) };
        ListObjectsV2Response page;
        do
        {
            page = await S3.ListObjectsV2Async(request);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key[_prefix.Length..]));
            request.ContinuationToken = page.NextContinuationToken;
        } while (page.IsTruncated == true);
        return (IReadOnlyList<string>)keys.Order(StringComparer.Ordinal).ToList();
    });

    public IRecordLog Log(string name) => new ObjectRecordLog(this, name);

    private PutObjectRequest Request(string key, byte[] content) => new()
    {
        BucketName = _bucket,
        Key = Key(key),
        InputStream = new MemoryStream(content),
        ContentType = "application/json",
        UseChunkEncoding = false,
    };

    private string? Conditional(string key, byte[] content, bool ifNoneMatch, string? version) => Call(key, async () =>
    {
        // 409 ConditionalRequestConflict: another conditional write on the key is in flight; AWS says to retry.
        for (var attempt = 0; ; attempt++)
        {
            var request = Request(key, content);
            if (ifNoneMatch) request.IfNoneMatch = "*";
            // Ceph RGW compares If-Match with the ETag without its quotes; AWS S3 accepts that form too.
            else request.IfMatch = version;
            try
            {
                var response = await S3.PutObjectAsync(request);
                return Unquoted(response.ETag);
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.PreconditionFailed
                                              || (!ifNoneMatch && e.StatusCode == HttpStatusCode.NotFound)) { return null; }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Conflict && attempt < 5)
            {
                await Task.Delay(100 * (attempt + 1));
            }
        }
    });

    private T Call<T>(string key, Func<Task<T>> call)
    {
        try { return call().GetAwaiter().GetResult(); }
        catch (Exception e) when (e is AmazonServiceException or AmazonClientException or HttpRequestException or IOException or TaskCanceledException)
        {
            throw new RunStateUnavailableException(
                $"the run state at {Location} cannot be reached ({Key(key)}): {e.Message}. Check the network and the AWS credentials " +
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, the same ones `pulumi login` uses), or pass --state-dir DIR " +
                "to keep the run state in a folder on this machine", e);
        }
    }

    private static string Unquoted(string? etag) => (etag ?? "").Trim('"');

    public void Dispose()
    {
        if (_client.IsValueCreated) _client.Value.Dispose();
    }

    /// <summary>One object per record at <c>NAME/00000042.json</c>, created only if that number is free.</summary>
    private sealed class ObjectRecordLog(S3RunStateStore store, string name) : IRecordLog
    {
        public string Location => $"{store.Location}/{name}/";

        public IReadOnlyList<string> ReadAll()
        {
            var keys = store.Keys(name + "/");
            var records = new string?[keys.Count];
            Parallel.For(0, keys.Count, new ParallelOptions { MaxDegreeOfParallelism = 8 },
                i => records[i] = store.Read(keys[i]) is { } o ? Encoding.UTF8.GetString(o.Content) : null);
            // Numbers are dense: a gap (never expected) ends what can be trusted, as a torn line does in a file.
            var result = new List<string>();
            for (var i = 0; i < keys.Count; i++)
            {
                if (keys[i] != KeyOf(i) || records[i] is null) break;
                result.Add(records[i]!);
            }
            return result;
        }

        public bool TryAppend(long sequence, string record)
        {
            var key = KeyOf(sequence);
            var bytes = Encoding.UTF8.GetBytes(record);
            if (store.TryCreate(key, bytes) is not null) return true;
            // Our own earlier attempt may have been stored before its answer was lost (a retried PUT): that is not a second writer.
            return store.Read(key) is { } existing && existing.Content.AsSpan().SequenceEqual(bytes);
        }

        private string KeyOf(long sequence) => $"{name}/{sequence:D8}.json";

        public void Dispose() { }
    }
}
