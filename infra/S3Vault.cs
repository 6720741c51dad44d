using Failover.Core.Sites;
using Failover.Core.Topology;
using Pulumi;
using Pulumi.Aws.Iam;
using Pulumi.Aws.S3;
using Pulumi.Aws.S3.Inputs;
using Pulumi.Random;

namespace Failover.Infra;

/// <summary>
/// The immutable backup vault: a versioned, object-locked, encrypted, private S3 bucket; a production
/// writer that cannot delete or shorten retention, a read-only restore reader, and the restic password.
/// </summary>
public sealed class S3Vault : ComponentResource
{
    public Output<string> ResticPassword { get; }
    public Output<string> WriterKeyId { get; }
    public Output<string> WriterSecret { get; }
    public Output<string> ReaderKeyId { get; }
    public Output<string> ReaderSecret { get; }

    public S3Vault(VaultPlan plan, Pulumi.Aws.Provider provider)
        : base("failover:vault:S3Vault", plan.Names.Stack, new ComponentResourceOptions { Providers = { provider } })
    {
        var names = plan.Names;
        // Losing the bucket loses every backup: Pulumi refuses to delete protected resources.
        CustomResourceOptions Protected(params Resource[] dependsOn) =>
            new() { Parent = this, Provider = provider, Protect = true, DependsOn = dependsOn.ToList() };
        CustomResourceOptions Opts() => new() { Parent = this, Provider = provider };
        InputMap<string> Tags() => names.Labels().ToDictionary();

        var bucket = new Bucket(names.Vault, new BucketArgs
        {
            BucketName = plan.Bucket,
            ObjectLockEnabled = plan.Lock != ImmutabilityMode.None,
            ForceDestroy = false,
            Tags = Tags(),
        }, Protected());
        var versioning = new BucketVersioning(names.Vault, new Pulumi.Aws.S3.BucketVersioningArgs
        {
            Bucket = bucket.Id,
            VersioningConfiguration = new BucketVersioningVersioningConfigurationArgs { Status = "Enabled" },
        }, Protected());
        if (plan.LockModeName is { } mode)
            _ = new BucketObjectLockConfiguration(names.Vault, new Pulumi.Aws.S3.BucketObjectLockConfigurationArgs
            {
                Bucket = bucket.Id,
                ObjectLockEnabled = "Enabled",
                Rule = new BucketObjectLockConfigurationRuleArgs
                {
                    DefaultRetention = new BucketObjectLockConfigurationRuleDefaultRetentionArgs { Mode = mode, Days = plan.LockDays },
                },
            }, Protected(versioning));
        _ = new BucketServerSideEncryptionConfiguration(names.Vault, new Pulumi.Aws.S3.BucketServerSideEncryptionConfigurationArgs
        {
            Bucket = bucket.Id,
            Rules =
            {
                new BucketServerSideEncryptionConfigurationRuleArgs
                {
                    // SSE-S3. No bucketKeyEnabled: S3 Bucket Keys reduce KMS requests and apply to SSE-KMS only
                    // (AWS S3 User Guide, "Reducing the cost of SSE-KMS with Amazon S3 Bucket Keys"); with AES256 it has no effect.
                    ApplyServerSideEncryptionByDefault = new BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs { SseAlgorithm = VaultPlan.SseAlgorithm },
                },
            },
        }, Protected());
        _ = new BucketPublicAccessBlock(names.Vault, new BucketPublicAccessBlockArgs
        {
            Bucket = bucket.Id, BlockPublicAcls = true, BlockPublicPolicy = true, IgnorePublicAcls = true, RestrictPublicBuckets = true,
        }, Protected());
        _ = new BucketLifecycleConfiguration(names.Vault, new BucketLifecycleConfigurationArgs
        {
            Bucket = bucket.Id,
            Rules =
            {
                new BucketLifecycleConfigurationRuleArgs
                {
                    Id = "expire-old-versions-after-retention",
                    Status = "Enabled",
                    Filter = new BucketLifecycleConfigurationRuleFilterArgs { Prefix = "" },
                    NoncurrentVersionExpiration = new BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs { NoncurrentDays = plan.NoncurrentExpiryDays },
                    Expiration = new BucketLifecycleConfigurationRuleExpirationArgs { ExpiredObjectDeleteMarker = true },
                    AbortIncompleteMultipartUpload = new BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs { DaysAfterInitiation = VaultPlan.AbortIncompleteUploadDays },
                },
            },
        }, Protected(versioning));

        (Output<string> Id, Output<string> Secret) Credential(string name, AccessPolicy policy)
        {
            var user = new User(name, new UserArgs { Name = name, Tags = Tags() }, Opts());
            _ = new UserPolicy(name, new UserPolicyArgs { Name = name, User = user.Name, Policy = policy.ToJson() }, Opts());
            var key = new AccessKey(name, new AccessKeyArgs { User = user.Name }, Opts());
            return (key.Id, key.Secret);
        }
        (WriterKeyId, WriterSecret) = Credential(names.ProductionWriter, plan.Writer);
        (ReaderKeyId, ReaderSecret) = Credential(names.RestoreReader, plan.Reader);

        var password = new RandomPassword(names.ResticPassword, new RandomPasswordArgs
        {
            // Letters and digits only: the password is written into a shell-quoted environment file.
            Length = VaultPlan.ResticPasswordLength, Special = false,
        }, new CustomResourceOptions { Parent = this, Protect = true });
        ResticPassword = password.Result;
        RegisterOutputs(new Dictionary<string, object?> { ["bucket"] = bucket.Id });
    }
}
