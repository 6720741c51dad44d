using System.Text.Json;
using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class VaultPlanTests
{
    private static VaultPlan Vault()
    {
        var t = SiteStacks.Load();
        return VaultPlan.For(t, t.Find("vault-aws-par")!);
    }

    [Fact]
    public void The_example_vault_is_locked_in_compliance_mode_for_its_lock_period()
    {
        var v = Vault();
        Assert.Equal("acme-failover-vault", v.Bucket);
        Assert.Equal("COMPLIANCE", v.LockModeName);
        Assert.Equal(35, v.LockDays);
        Assert.True(v.NoncurrentExpiryDays > v.LockDays, "old versions must not expire while locked");
        Assert.Equal("s3:https://s3.eu-west-3.amazonaws.com/acme-failover-vault/restic", v.ResticRepository);
    }

    [Fact]
    public void Old_versions_are_kept_as_long_as_production_retains_backups()
    {
        var t = SiteStacks.With("vault-aws-par", "  failover:vault:\n    kind: s3\n    bucket: b\n    objectLock: governance\n    lockFor: 7d\n", "failover:vault");
        var v = VaultPlan.For(t, t.Find("vault-aws-par")!);
        Assert.Equal("GOVERNANCE", v.LockModeName);
        Assert.Equal(31, v.NoncurrentExpiryDays); // production keeps 30 days
    }

    [Theory]
    [InlineData("s3:DeleteObjectVersion")]
    [InlineData("s3:PutObjectRetention")]
    [InlineData("s3:BypassGovernanceRetention")]
    [InlineData("s3:PutBucketObjectLockConfiguration")]
    [InlineData("s3:PutLifecycleConfiguration")]
    [InlineData("s3:PutBucketVersioning")]
    [InlineData("s3:PutBucketPolicy")]
    public void Production_can_neither_delete_versions_nor_weaken_retention(string action)
    {
        var v = Vault();
        Assert.True(v.Writer.ExplicitlyDenies(action, $"{v.BucketArn}/restic/data/ab/abcdef"), action);
        Assert.True(v.Writer.ExplicitlyDenies(action, v.BucketArn), action);
        Assert.False(v.Writer.Permits(action, $"{v.BucketArn}/restic/data/ab/abcdef"));
    }

    [Fact]
    public void Production_adds_backups_but_cannot_delete_them()
    {
        var v = Vault();
        var data = $"{v.BucketArn}/restic/data/ab/abcdef";
        Assert.True(v.Writer.Permits("s3:PutObject", data));
        Assert.True(v.Writer.Permits("s3:ListBucket", v.BucketArn));
        Assert.True(v.Writer.ExplicitlyDenies("s3:DeleteObject", data));
        Assert.True(v.Writer.ExplicitlyDenies("s3:DeleteObject", $"{v.BucketArn}/restic/config"));
        // restic releases its lock files; versioning keeps the deleted version behind a marker
        Assert.True(v.Writer.Permits("s3:DeleteObject", $"{v.BucketArn}/restic/locks/0a1b2c"));
        Assert.True(v.Writer.ExplicitlyDenies("s3:DeleteObjectVersion", $"{v.BucketArn}/restic/locks/0a1b2c"));
    }

    [Fact]
    public void A_read_write_vault_lets_production_delete_current_versions()
    {
        var writer = VaultPlan.WriterPolicy("arn:aws:s3:::b", ProductionAccess.ReadWrite);
        Assert.True(writer.Permits("s3:DeleteObject", "arn:aws:s3:::b/restic/data/x"));
    }

    [Fact]
    public void The_restore_reader_only_reads()
    {
        var v = Vault();
        var data = $"{v.BucketArn}/restic/data/ab/abcdef";
        Assert.True(v.Reader.Permits("s3:GetObject", data));
        Assert.True(v.Reader.Permits("s3:ListBucket", v.BucketArn));
        foreach (var action in new[] { "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention" })
            Assert.False(v.Reader.Permits(action, data), action);
    }

    [Fact]
    public void The_policy_json_carries_the_deny_statements()
    {
        using var doc = JsonDocument.Parse(Vault().Writer.ToJson());
        var denies = doc.RootElement.GetProperty("Statement").EnumerateArray()
            .Where(s => s.GetProperty("Effect").GetString() == "Deny")
            .SelectMany(s => s.GetProperty("Action").EnumerateArray().Select(a => a.GetString()))
            .ToHashSet();
        Assert.Superset(new HashSet<string?> { "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:BypassGovernanceRetention",
            "s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration" }, denies);
        Assert.Equal("2012-10-17", doc.RootElement.GetProperty("Version").GetString());
    }

    [Theory]
    [InlineData("s3:Delete*", "s3:DeleteObjectVersion", true)]
    [InlineData("arn:aws:s3:::b/restic/locks/*", "arn:aws:s3:::b/restic/data/x", false)]
    [InlineData("arn:aws:s3:::b/*", "arn:aws:s3:::b", false)]
    public void Iam_wildcards_match_as_aws_matches_them(string pattern, string value, bool matches) =>
        Assert.Equal(matches, AccessPolicy.Matches(pattern, value));
}
