using Failover.Core.Planning;
using Failover.Core.Policies;
using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

/// <summary>The vault a standby restores from, the Storage Box's own protection, and the one read-data share.</summary>
public class RestoreVaultTests
{
    private const string Box = """
        config:
          failover:role: vault
          failover:site: { provider: hetzner, location: nbg1 }
          failover:vault: { kind: storagebox, productionAccess: append-only }
        """;

    private static Scenario BoxFirst()
    {
        var s = Scenario.Cloud();
        s.Write("vault-hetzner-box", Box);
        s.Edit("prod-fsn1", "vaults: [vault-aws-par]", "vaults: [vault-hetzner-box, vault-aws-par]");
        return s;
    }

    [Fact]
    public void With_a_storage_box_listed_first_the_plan_and_the_run_restore_from_the_s3_vault()
    {
        using var s = BoxFirst();
        var t = s.Load();
        var standby = t.Find("standby-hel1")!;
        Assert.Equal("vault-aws-par", RestoreSource.VaultFor(t, standby).Name);
        var restore = Assert.Single(Planner.Plan(t, standby).Steps, x => x.Kind == StepKind.Restore);
        Assert.Contains("from vault-aws-par", restore.Detail);
        Assert.DoesNotContain(s.Findings("standby-hel1"), f => f.PolicyId == "restore-vault-unusable");
    }

    [Fact]
    public void With_no_s3_vault_the_plan_fails_where_the_run_would()
    {
        using var s = BoxFirst();
        s.Edit("prod-fsn1", "vaults: [vault-hetzner-box, vault-aws-par]", "vaults: [vault-hetzner-box]");
        var t = s.Load();
        var standby = t.Find("standby-aws-fra")!;
        var e = Assert.Throws<TopologyException>(() => RestoreSource.VaultFor(t, standby));
        Assert.Contains("cloud-init restores only from S3 vaults", e.Message);
        var finding = Assert.Single(s.Findings("standby-aws-fra"), f => f.PolicyId == "restore-vault-unusable");
        Assert.Equal(Severity.Error, finding.Severity);
        Assert.Contains("add an S3 vault", finding.Fix);
    }

    [Fact]
    public void A_storage_box_marked_append_only_is_a_finding_because_nothing_enforces_it()
    {
        using var s = BoxFirst();
        var f = Assert.Single(s.Findings(), f => f.PolicyId == "storagebox-append-only-unenforced");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("vault-hetzner-box", f.Message);
        // The S3 vault's append-only is enforced by its IAM policy and object lock: no such finding for it.
        Assert.DoesNotContain(s.Findings(), f => f.PolicyId == "storagebox-append-only-unenforced" && f.Message.Contains("vault-aws-par"));
    }

    [Fact]
    public void A_storage_box_vault_has_a_daily_snapshot_plan_and_a_password_hetzner_accepts()
    {
        using var s = BoxFirst();
        var t = s.Load();
        var plan = VaultPlan.For(t, t.Find("vault-hetzner-box")!);
        Assert.Equal(new StorageBoxSnapshotPlan(3, 30, 10), plan.Snapshots); // 30 days retention, a bx11 keeps 10
        Assert.Null(VaultPlan.For(t, t.Find("vault-aws-par")!).Snapshots);
        // Hetzner's policy: letters, digits and ^°!§$%/()=?+#-.,;:~*@{}_& only.
        const string accepted = "^°!§$%/()=?+#-.,;:~*@{}_&";
        Assert.All(VaultPlan.StorageBoxPasswordSpecials, c => Assert.Contains(c, accepted));
    }

    [Fact]
    public void An_s3_vault_at_hetzner_is_refused_instead_of_being_built_as_an_aws_bucket()
    {
        using var s = Scenario.Cloud();
        s.Write("vault-hetzner-s3", """
            config:
              failover:role: vault
              failover:site: { provider: hetzner, location: nbg1 }
              failover:vault: { kind: s3, objectLock: compliance, lockFor: 35d, productionAccess: append-only }
            """);
        var p = s.Problem();
        Assert.Equal("failover:vault", p.Key);
        Assert.Contains("Hetzner Object Storage is not supported", p.Message);
        Assert.Contains("provider: aws", p.Fix);
    }

    [Fact]
    public void The_plan_estimates_the_read_data_check_the_run_performs()
    {
        var t = SiteStacks.Load();
        var select = Assert.Single(Planner.Plan(t, t.Find("standby-hel1")!).Steps, x => x.Kind == StepKind.SelectBackup);
        Assert.Contains($"--read-data-subset {Timings.VerifySubset} ", select.Detail);
        Assert.Equal("10%", Timings.VerifySubset); // docs/backup-and-restore.md
    }
}
