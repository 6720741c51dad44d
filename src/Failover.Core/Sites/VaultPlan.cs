using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// The backup vault a vault stack provisions: an S3 bucket with versioning, object lock, encryption and a
/// lifecycle, plus the two credentials that use it (production writes, restores read); or a Storage Box.
/// </summary>
public sealed record VaultPlan(
    StackSpec Stack,
    SiteNames Names,
    VaultKind Kind,
    string Bucket,
    string Region,
    ImmutabilityMode Lock,
    int LockDays,
    int NoncurrentExpiryDays,
    AccessPolicy Writer,
    AccessPolicy Reader)
{
    public const string ResticPrefix = "restic";
    public const string StorageBoxType = "bx11";
    public const int ResticPasswordLength = 48;
    public const int AbortIncompleteUploadDays = 7;

    /// <summary>Server-side encryption with S3-managed keys (SSE-S3); S3 Bucket Keys apply to SSE-KMS only, so none is set.</summary>
    public const string SseAlgorithm = "AES256";

    /// <summary>Snapshots a bx11 Storage Box keeps at most (Hetzner Storage Box product table: BX11 10 snapshots).</summary>
    public const int StorageBoxMaxSnapshots = 10;

    /// <summary>
    /// Special characters for the Storage Box login password: Hetzner's password policy accepts only
    /// <c>^°!§$%/()=?+#-.,;:~*@{}_&amp;</c> besides letters and digits (docs.hetzner.cloud/reference/hetzner#storage-boxes-password-policy);
    /// this subset also needs no quoting in a shell, an sftp URL or YAML.
    /// </summary>
    public const string StorageBoxPasswordSpecials = "-_.,:+=@~%";

    /// <summary>
    /// The box's daily snapshot plan, its only protection against a deleting login (the policy book says so): one a day
    /// at 03:30 UTC, as many kept as the retention asks and the box allows.
    /// </summary>
    public StorageBoxSnapshotPlan? Snapshots { get; init; }

    public string BucketArn => $"arn:aws:s3:::{Bucket}";
    public string VaultUrl => $"s3://{Bucket}/{ResticPrefix}";
    public string ResticRepository => $"s3:https://s3.{Region}.amazonaws.com/{Bucket}/{ResticPrefix}";

    /// <summary>S3's object-lock mode name, or null when the vault is not locked.</summary>
    public string? LockModeName => Lock switch
    {
        ImmutabilityMode.Compliance => "COMPLIANCE",
        ImmutabilityMode.Governance => "GOVERNANCE",
        _ => null,
    };

    /// <summary>The restic repository of a Storage Box, once Hetzner has named its user and host.</summary>
    public static string StorageBoxRepository(string user, string server) => $"sftp://{user}@{server}:23/{ResticPrefix}";

    /// <summary>Actions that destroy backups or weaken their protection: denied to production and to restores.</summary>
    public static readonly IReadOnlyList<string> ProtectionActions =
    [
        "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:BypassGovernanceRetention", "s3:PutObjectLegalHold",
        "s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning",
        "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock",
        "s3:DeleteBucket",
    ];

    public static VaultPlan For(Topology.Topology topology, StackSpec stack)
    {
        if (stack.Vault is not { } vault)
            throw new ArgumentException($"{stack.Name} is not a vault stack", nameof(stack));
        var names = new SiteNames(stack.Name, stack.Role);
        var bucket = (vault.Bucket ?? names.Vault).ToLowerInvariant();
        var lockDays = vault.Immutability == ImmutabilityMode.None ? 0 : (int)Math.Ceiling(vault.ImmutableFor.TotalDays);
        // Old versions are kept as long as production keeps backups, and never expire while still locked.
        var retentionDays = (int)Math.Ceiling(topology.Backup.Retention.TotalDays);
        var expiry = Math.Max(retentionDays, lockDays) + 1;
        var arn = $"arn:aws:s3:::{bucket}";
        return new VaultPlan(stack, names, vault.Kind, bucket, stack.Site.Location, vault.Immutability, lockDays, expiry,
            WriterPolicy(arn, vault.ProductionAccess), ReaderPolicy(arn))
        {
            Snapshots = vault.Kind == VaultKind.StorageBox
                ? new StorageBoxSnapshotPlan(3, 30, Math.Clamp(retentionDays, 1, StorageBoxMaxSnapshots))
                : null,
        };
    }

    /// <summary>
    /// Production may list, read and add objects. Deletes are denied except on restic's lock files: with
    /// versioning on, such a delete only adds a delete marker and every version stays (and stays locked).
    /// A read-write vault (accepted risk, see the policy book) lifts the delete denial.
    /// </summary>
    public static AccessPolicy WriterPolicy(string bucketArn, ProductionAccess access)
    {
        var objects = $"{bucketArn}/*";
        var statements = new List<PolicyStatement>
        {
            new("ListVault", true, ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketVersioning"], [bucketArn]),
            new("ReadAndAddBackups", true, ["s3:GetObject", "s3:PutObject"], [objects]),
        };
        if (access == ProductionAccess.ReadWrite)
        {
            statements.Add(new("DeleteCurrentVersions", true, ["s3:DeleteObject"], [objects]));
            return new AccessPolicy(statements);
        }
        statements.Add(new("ReleaseResticLocks", true, ["s3:DeleteObject"], [$"{bucketArn}/{ResticPrefix}/locks/*"]));
        statements.Add(new("NeverDeleteBackups", false, ["s3:DeleteObject"], [], NotResources: [$"{bucketArn}/{ResticPrefix}/locks/*"]));
        statements.Add(new("NeverWeakenProtection", false, [.. ProtectionActions], [bucketArn, objects]));
        return new AccessPolicy(statements);
    }

    /// <summary>Restores only read (restic runs with --no-lock); every write and delete is denied explicitly.</summary>
    public static AccessPolicy ReaderPolicy(string bucketArn)
    {
        var objects = $"{bucketArn}/*";
        return new AccessPolicy(
        [
            new("ListVault", true, ["s3:ListBucket", "s3:GetBucketLocation"], [bucketArn]),
            new("ReadBackups", true, ["s3:GetObject", "s3:GetObjectVersion"], [objects]),
            new("NeverWrite", false, ["s3:PutObject", "s3:DeleteObject", .. ProtectionActions], [bucketArn, objects]),
        ]);
    }
}

/// <summary>A Storage Box snapshot plan (hcloud StorageBox <c>snapshotPlan</c>, pulumi-hcloud 1.39.1): daily at Hour:Minute UTC.</summary>
public sealed record StorageBoxSnapshotPlan(int Hour, int Minute, int MaxSnapshots);
