using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Failover.Core.Topology;
using Failover.Driver.Local;
using Failover.Driver.RunState;

namespace Failover.Driver.Tests.Support;

/// <summary>
/// A real S3 for the tests: Ceph's RADOS Gateway (one monitor, one memstore OSD, radosgw) from Debian's packages,
/// started by tests/fixtures/ceph-rgw/start.sh on 127.0.4.1 and stopped (its data removed) at the end. The packages
/// are installed when missing, as CI is a fresh machine. The run state lives in an UNVERSIONED bucket: this RGW
/// (Ceph 16) ignores If-None-Match and refuses every If-Match on a versioned one.
/// </summary>
public sealed class CephRgw : IDisposable
{
    /// <summary>The collection's server; a fixture that needs its own beside it takes another address of 127.0.4.0/24.</summary>
    public const string DefaultAddress = "127.0.4.1";
    public const string Bucket = "failover-state";

    private static readonly IReadOnlyList<RequiredProgram> Packages =
    [
        new("ceph-mon", "ceph-mon", ["/usr/bin/ceph-mon"]),
        new("ceph-osd", "ceph-osd", ["/usr/bin/ceph-osd"]),
        new("radosgw", "radosgw", ["/usr/bin/radosgw"]),
        new("ceph", "ceph-common", ["/usr/bin/ceph"]),
        new("uuidgen", "uuid-runtime", ["/usr/bin/uuidgen"]),
        new("curl", "curl", ["/usr/bin/curl"]),
    ];

    private readonly string _base = Directory.CreateTempSubdirectory("failover-rgw-").FullName;
    private readonly Dictionary<string, string> _env;

    public CephRgw() : this(DefaultAddress) { }

    /// <summary>Not public: xunit wants one public constructor on a collection fixture.</summary>
    internal CephRgw(string address)
    {
        Address = address;
        DebianPackages.EnsureAsync(Packages, _ => { }, CancellationToken.None).GetAwaiter().GetResult();
        Directory.Delete(_base); // start.sh creates it and refuses to reuse one
        Script("start.sh", TimeSpan.FromMinutes(3));
        _env = File.ReadAllLines(Path.Combine(_base, "env")).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        using var s3 = Client();
        s3.PutBucketAsync(new PutBucketRequest { BucketName = Bucket }).GetAwaiter().GetResult();
    }

    public string Address { get; }
    public string Endpoint => _env["S3_ENDPOINT"];
    public string AccessKey => _env["OWNER_ACCESS_KEY"];
    public string SecretKey => _env["OWNER_SECRET_KEY"];
    public AWSCredentials Credentials => new BasicAWSCredentials(AccessKey, SecretKey);

    /// <summary>The users "writer" and "reader": a vault's production writer and restore reader once a test gives them Core's policies.</summary>
    public AWSCredentials Writer => new BasicAWSCredentials(_env["WRITER_ACCESS_KEY"], _env["WRITER_SECRET_KEY"]);
    public AWSCredentials Reader => new BasicAWSCredentials(_env["READER_ACCESS_KEY"], _env["READER_SECRET_KEY"]);

    /// <summary>The variables restic (or any AWS client) reads a user's keys from.</summary>
    public static IReadOnlyDictionary<string, string> Variables(AWSCredentials user)
    {
        var keys = user.GetCredentials();
        return new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = keys.AccessKey, ["AWS_SECRET_ACCESS_KEY"] = keys.SecretKey };
    }

    /// <summary>
    /// Sets an identity policy on an RGW user through RGW's IAM API (PutUserPolicy, as the owner, whose caps allow it).
    /// The request is signed with Signature V4 here: AWS's IAM package for .NET is not on this machine's NuGet feed.
    /// </summary>
    public async Task PutUserPolicyAsync(string user, string policyName, string document)
    {
        static string Hex(byte[] b) => Convert.ToHexStringLower(b);
        static byte[] Hmac(byte[] key, string text) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text));
        var body = $"Action=PutUserPolicy&UserName={Uri.EscapeDataString(user)}&PolicyName={Uri.EscapeDataString(policyName)}" +
                   $"&PolicyDocument={Uri.EscapeDataString(document)}&Version=2010-05-08";
        var now = DateTime.UtcNow;
        var (stamp, day) = (now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture), now.ToString("yyyyMMdd", CultureInfo.InvariantCulture));
        var host = new Uri(Endpoint).Authority;
        var canonical = $"POST\n/\n\nhost:{host}\nx-amz-date:{stamp}\n\nhost;x-amz-date\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(body)))}";
        var scope = $"{day}/us-east-1/iam/aws4_request";
        var toSign = $"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var key = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + SecretKey), day), "us-east-1"), "iam"), "aws4_request");
        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint + "/")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        request.Headers.Add("x-amz-date", stamp);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential={AccessKey}/{scope}, SignedHeaders=host;x-amz-date, Signature={Hex(Hmac(key, toSign))}");
        using var http = new HttpClient();
        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"PutUserPolicy {user}/{policyName}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>The backend URL a project on this server names in Pulumi.yaml (Pulumi's s3:// form with an endpoint).</summary>
    public string BackendUrl(string prefix) => $"s3://{Bucket}/{prefix}?endpoint={Uri.EscapeDataString(Endpoint)}&region=us-east-1&s3ForcePathStyle=true";

    /// <summary>What a child `failover` process needs to reach the server.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["AWS_ACCESS_KEY_ID"] = AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
    };

    /// <summary>A store on this server, as the driver builds it from a backend URL; each is its own client (its own "machine").</summary>
    public S3RunStateStore Store(string prefix, string project = "failover") =>
        new(RunStateLocation.FromBackend(BackendUrl(prefix), project)!, Credentials);

    public AmazonS3Client Client() => Client(Credentials);

    /// <param name="endpoint">Where to send the requests instead of the server itself (a <see cref="SlowLink"/> to it).</param>
    public AmazonS3Client Client(AWSCredentials user, string? endpoint = null) => new(user, new AmazonS3Config
    {
        ServiceURL = endpoint ?? Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        HttpClientFactory = new WithoutContinueHttpClientFactory(),
    });

    /// <summary>Removes every object below a prefix (between tests).</summary>
    public void Clear(string prefix)
    {
        using var s3 = Client();
        var keys = s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix }).GetAwaiter().GetResult().S3Objects ?? [];
        foreach (var o in keys) s3.DeleteObjectAsync(Bucket, o.Key).GetAwaiter().GetResult();
    }

    private void Script(string name, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(Repo.Root, "tests", "fixtures", "ceph-rgw", name));
        start.Environment["S3_BASE"] = _base;
        start.Environment["S3_ADDR"] = Address;
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout)) { p.Kill(true); throw new TimeoutException($"{name} did not finish in {timeout}"); }
        Task.WaitAll(output, errors);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{name} exited {p.ExitCode}:\n{output.Result}{errors.Result}");
    }

    public void Dispose() => Script("stop.sh", TimeSpan.FromMinutes(1));
}

[CollectionDefinition(Name)]
public sealed class CephRgwCollection : ICollectionFixture<CephRgw>
{
    public const string Name = "ceph-rgw";
}
