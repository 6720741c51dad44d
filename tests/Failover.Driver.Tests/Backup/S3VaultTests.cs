using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.S3;
using Amazon.S3.Model;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Failover.Driver.RunState;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>
/// The shipped S3 vault as Core defines it (<see cref="VaultPlan"/>: object lock in its mode for its days, the production
/// writer's and the restore reader's policy documents), applied to a real S3 (Ceph RGW) the way infra/S3Vault.cs applies
/// it to AWS, and checked there: what the documents say is what a server enforces. Each test gets its own bucket.
/// </summary>
[Collection(CephRgwCollection.Name)]
public sealed class S3VaultTests(CephRgw rgw)
{
    private static readonly VaultPlan Plan = ShippedVault();

    /// <summary>
    /// Actions Ceph RGW 16 does not know: it refuses a whole policy naming one (400 MalformedPolicy, tried here).
    /// s3:PutEncryptionConfiguration is AWS's action for PutBucketEncryption, and the only one of Core's.
    /// </summary>
    private static readonly string[] UnknownToRgw16 = ["s3:PutEncryptionConfiguration"];

    private static VaultPlan ShippedVault()
    {
        var topology = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));
        return VaultPlan.For(topology, topology.Stacks.Single(s => s.Vault is { Kind: VaultKind.S3 }));
    }

    private static AccessPolicy WriterOf(string bucket) => VaultPlan.WriterPolicy($"arn:aws:s3:::{bucket}", Plan.Stack.Vault!.ProductionAccess);

    [Fact]
    public void The_policies_applied_here_are_the_ones_the_vault_plan_gives_infra()
    {
        Assert.Equal("COMPLIANCE", Plan.LockModeName);
        Assert.Equal(Plan.Writer.ToJson(), WriterOf(Plan.Bucket).ToJson());
        Assert.Equal(Plan.Reader.ToJson(), VaultPlan.ReaderPolicy(Plan.BucketArn).ToJson());
    }

    [Fact]
    public async Task A_backup_version_is_locked_in_compliance_mode_for_the_plan_s_days_and_not_even_the_owner_deletes_or_unlocks_it()
    {
        var bucket = await ProvisionAsync();
        using var owner = rgw.Client();
        var put = await owner.PutObjectAsync(Object(bucket, "restic/data/00/0011", "pack"));
        var head = await owner.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = "restic/data/00/0011", VersionId = put.VersionId });
        Assert.Equal(ObjectLockMode.Compliance, head.ObjectLockMode);
        Assert.InRange(head.ObjectLockRetainUntilDate!.Value, DateTime.UtcNow.AddDays(Plan.LockDays - 1), DateTime.UtcNow.AddDays(Plan.LockDays + 1));

        await Refused(() => owner.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = "restic/data/00/0011", VersionId = put.VersionId }));
        await Refused(() => owner.DeleteObjectAsync(new DeleteObjectRequest
            { BucketName = bucket, Key = "restic/data/00/0011", VersionId = put.VersionId, BypassGovernanceRetention = true }));
        await Refused(() => owner.PutObjectRetentionAsync(Shortened(bucket, "restic/data/00/0011", put.VersionId)));
        await Refused(() => owner.PutBucketVersioningAsync(Versioning(bucket, VersionStatus.Suspended)), HttpStatusCode.Conflict);
        Assert.Equal("pack", await TextAsync(owner, bucket, "restic/data/00/0011", put.VersionId));

        // The control: without the lock, the same owner deletes a version of its own. The refusals above are the lock's.
        var unlocked = bucket + "-nolock";
        await owner.PutBucketAsync(new PutBucketRequest { BucketName = unlocked });
        await owner.PutBucketVersioningAsync(Versioning(unlocked, VersionStatus.Enabled));
        var free = await owner.PutObjectAsync(Object(unlocked, "restic/data/00/0011", "pack"));
        await owner.DeleteObjectAsync(new DeleteObjectRequest { BucketName = unlocked, Key = "restic/data/00/0011", VersionId = free.VersionId });
    }

    [Fact]
    public async Task The_production_writer_adds_and_reads_backups_but_cannot_delete_overwrite_away_or_unprotect_them()
    {
        var bucket = await ProvisionAsync();
        using var writer = rgw.Client(rgw.Writer);
        using var owner = rgw.Client();
        const string pack = "restic/data/ab/abcdef";
        var first = await writer.PutObjectAsync(Object(bucket, pack, "first"));
        Assert.Equal("first", await TextAsync(writer, bucket, pack));
        Assert.Contains((await writer.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket })).S3Objects, o => o.Key == pack);

        await Refused(() => writer.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = pack }));
        await Refused(() => writer.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = pack, VersionId = first.VersionId }));
        await DeletesNothing(() => writer.DeleteObjectsAsync(new DeleteObjectsRequest
            { BucketName = bucket, Objects = [new KeyVersion { Key = pack }, new KeyVersion { Key = pack, VersionId = first.VersionId }] }));

        // An overwrite is a PutObject, which production needs: it adds a version, and the first one stays, intact.
        await writer.PutObjectAsync(Object(bucket, pack, "ransomware"));
        Assert.Equal("first", await TextAsync(writer, bucket, pack, first.VersionId));
        Assert.Equal(2, (await owner.ListVersionsAsync(new ListVersionsRequest { BucketName = bucket, Prefix = pack })).Versions.Count);

        await Refused(() => writer.PutObjectRetentionAsync(Shortened(bucket, pack, first.VersionId)));
        await Refused(() => writer.PutBucketVersioningAsync(Versioning(bucket, VersionStatus.Suspended)));
        await Refused(() => writer.PutObjectLockConfigurationAsync(DefaultLock(bucket, ObjectLockRetentionMode.Governance, 1)));
        await Refused(() => writer.PutBucketPolicyAsync(new PutBucketPolicyRequest { BucketName = bucket, Policy = """{"Version":"2012-10-17","Statement":[]}""" }));
        await Refused(() => writer.DeleteBucketAsync(new DeleteBucketRequest { BucketName = bucket }));

        // restic's lock files are the one thing it deletes: a delete marker, the version itself stays (and stays locked).
        const string resticLock = "restic/locks/0a1b2c";
        await writer.PutObjectAsync(Object(bucket, resticLock, "lock"));
        await writer.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = resticLock });
        var versions = await owner.ListVersionsAsync(new ListVersionsRequest { BucketName = bucket, Prefix = resticLock });
        Assert.Single(versions.Versions, v => v.IsDeleteMarker == true);
        Assert.Single(versions.Versions, v => v.IsDeleteMarker != true);
    }

    [Fact]
    public async Task Restic_backs_up_and_restores_through_the_writer_s_key_and_the_reader_restores_but_cannot_write()
    {
        var bucket = await ProvisionAsync();
        var repository = $"s3:{rgw.Endpoint}/{bucket}/{VaultPlan.ResticPrefix}";
        var password = Guid.NewGuid().ToString("N");
        var secrets = new SecretRegistry();
        var writer = new ResticRepository(new ResticSettings(repository, password) { Credentials = CephRgw.Variables(rgw.Writer) }, secrets, Serilog.Core.Logger.None);
        var reader = new ResticRepository(new ResticSettings(repository, password) { Credentials = CephRgw.Variables(rgw.Reader) }, secrets, Serilog.Core.Logger.None);
        var work = Directory.CreateTempSubdirectory("failover-s3vault-").FullName;
        try
        {
            var source = Directory.CreateDirectory(Path.Combine(work, "files")).FullName;
            File.WriteAllText(Path.Combine(source, "invoice.txt"), "acme 2026-11");
            File.WriteAllBytes(Path.Combine(source, "scan.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(200_000));

            await writer.InitAsync(CancellationToken.None);
            var backup = await writer.BackupDirectoryAsync(source, ["tenant:acme"], CancellationToken.None);
            Assert.Empty(await writer.LocksAsync(CancellationToken.None)); // it could release its own lock

            await writer.RestoreAsync(backup.SnapshotId, Path.Combine(work, "by-writer"), CancellationToken.None);
            AssertSameFiles(source, Path.Combine(work, "by-writer"));
            var snapshot = Assert.Single(await reader.SnapshotsAsync(["tenant:acme"], CancellationToken.None));
            Assert.StartsWith(backup.SnapshotId, snapshot.Id); // restic 0.14 names the short id after a backup
            await reader.RestoreAsync(snapshot.Id, Path.Combine(work, "by-reader"), CancellationToken.None);
            AssertSameFiles(source, Path.Combine(work, "by-reader"));

            // What restic's forget would do with the writer's key, and any write with the reader's, is refused.
            using var asWriter = rgw.Client(rgw.Writer);
            using var asReader = rgw.Client(rgw.Reader);
            var snapshotKey = (await asWriter.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "restic/snapshots/" })).S3Objects.Single().Key;
            await Refused(() => asWriter.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = snapshotKey }));
            await Refused(() => asReader.PutObjectAsync(Object(bucket, "restic/snapshots/" + new string('0', 64), "{}")));
            await Refused(() => asReader.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = snapshotKey }));
            Assert.Single(await reader.SnapshotsAsync([], CancellationToken.None));
        }
        finally { Directory.Delete(work, true); }
    }

    /// <summary>
    /// The reader's refused writes, on one kept-alive connection whose answers come later than the second .NET waits for
    /// "100 Continue" (a loaded server): each is refused as such, and the reads after them are answered. With the SDK's own
    /// connections the body went after the 403, and RGW read the next request behind it (a CI run's 400, 405 here): the clients
    /// here are made as the run-state store makes its own (<see cref="WithoutContinueHttpClientFactory"/>).
    /// </summary>
    [Fact]
    public async Task A_refused_write_answered_late_leaves_the_connection_answering()
    {
        var bucket = await ProvisionAsync();
        var key = VaultPlan.ResticPrefix + "/config";
        using (var writer = rgw.Client(rgw.Writer)) await writer.PutObjectAsync(Object(bucket, key, "restic"));
        using var link = new SlowLink(new Uri(rgw.Endpoint), TimeSpan.FromSeconds(1.5));
        using var asReader = rgw.Client(rgw.Reader, link.Endpoint);
        await Refused(() => asReader.PutObjectAsync(Object(bucket, key, "ransomware")));
        await Refused(() => asReader.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = key }));
        Assert.Equal("restic", await TextAsync(asReader, bucket, key));
    }

    /// <summary>
    /// What infra/S3Vault.cs creates, from the plan, on a bucket of the plan's name plus a suffix: versioning, object lock
    /// with the plan's default retention, and Core's writer and reader documents as the two users' identity policies.
    /// </summary>
    private async Task<string> ProvisionAsync()
    {
        var bucket = $"{Plan.Bucket}-{Guid.NewGuid().ToString("N")[..10]}";
        using var owner = rgw.Client();
        await owner.PutBucketAsync(new PutBucketRequest { BucketName = bucket, ObjectLockEnabledForBucket = true });
        await owner.PutBucketVersioningAsync(Versioning(bucket, VersionStatus.Enabled));
        await owner.PutObjectLockConfigurationAsync(DefaultLock(bucket, new ObjectLockRetentionMode(Plan.LockModeName), Plan.LockDays));
        await rgw.PutUserPolicyAsync("writer", "vault-writer", ForRgw16(WriterOf(bucket).ToJson()));
        await rgw.PutUserPolicyAsync("reader", "vault-reader", ForRgw16(VaultPlan.ReaderPolicy($"arn:aws:s3:::{bucket}").ToJson()));
        return bucket;
    }

    /// <summary>Core's document less the actions RGW 16 does not know (see <see cref="UnknownToRgw16"/>); everything else as rendered.</summary>
    private static string ForRgw16(string json)
    {
        var document = JsonNode.Parse(json)!;
        foreach (var statement in document["Statement"]!.AsArray())
        {
            var actions = statement!["Action"]!.AsArray();
            foreach (var unknown in actions.Where(a => UnknownToRgw16.Contains((string?)a)).ToList()) actions.Remove(unknown);
        }
        return document.ToJsonString();
    }

    private static PutBucketVersioningRequest Versioning(string bucket, VersionStatus status) =>
        new() { BucketName = bucket, VersioningConfig = new S3BucketVersioningConfig { Status = status } };

    private static PutObjectLockConfigurationRequest DefaultLock(string bucket, ObjectLockRetentionMode mode, int days) => new()
    {
        BucketName = bucket,
        ObjectLockConfiguration = new ObjectLockConfiguration
        {
            ObjectLockEnabled = ObjectLockEnabled.Enabled,
            Rule = new ObjectLockRule { DefaultRetention = new DefaultRetention { Mode = mode, Days = days } },
        },
    };

    /// <summary>A retention weakened to governance mode, ending in a minute: what ransomware with the key would ask for.</summary>
    private static PutObjectRetentionRequest Shortened(string bucket, string key, string version) => new()
    {
        BucketName = bucket, Key = key, VersionId = version,
        Retention = new ObjectLockRetention { Mode = ObjectLockRetentionMode.Governance, RetainUntilDate = DateTime.UtcNow.AddMinutes(1) },
    };

    private static PutObjectRequest Object(string bucket, string key, string text) =>
        new() { BucketName = bucket, Key = key, ContentBody = text, UseChunkEncoding = false };

    private static async Task<string> TextAsync(IAmazonS3 s3, string bucket, string key, string? version = null)
    {
        using var o = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key, VersionId = version });
        using var text = new StreamReader(o.ResponseStream, Encoding.UTF8);
        return await text.ReadToEndAsync();
    }

    private static async Task Refused(Func<Task> call, HttpStatusCode status = HttpStatusCode.Forbidden)
    {
        var e = await Assert.ThrowsAsync<AmazonS3Exception>(call);
        Assert.True(status == e.StatusCode, $"expected {status}, got {e.StatusCode} {e.ErrorCode}: {e.Message}");
    }

    /// <summary>A multi-object delete is refused whole, or answers with an error per key: either way nothing is deleted.</summary>
    private static async Task DeletesNothing(Func<Task<DeleteObjectsResponse>> call)
    {
        try { Assert.Empty((await call()).DeletedObjects ?? []); }
        catch (DeleteObjectsException e) { Assert.Empty(e.Response.DeletedObjects ?? []); }
        catch (AmazonS3Exception e) { Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode); }
    }

    private static void AssertSameFiles(string expected, string actual)
    {
        foreach (var file in Directory.GetFiles(expected))
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(actual, Path.GetFileName(file))));
        Assert.Equal(Directory.GetFiles(expected).Length, Directory.GetFiles(actual).Length);
    }
}
