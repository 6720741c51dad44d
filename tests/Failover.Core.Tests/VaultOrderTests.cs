using Failover.Core.Backup;
using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

/// <summary>Which vaults a standby reads and in what order, what it cannot read, and the sentence a run says when one gives way.</summary>
public class VaultOrderTests
{
    private static readonly Topology.Topology Cloud = TopologyLoader.Load(Examples.CloudStacks);

    /// <summary>The cloud example with production backing up into a Storage Box, then the S3 vault, then a second S3 vault.</summary>
    private static Topology.Topology ThreeVaults(Func<StackSpec, StackSpec>? standby = null)
    {
        var s3 = Cloud.Find("vault-aws-par")!;
        var box = s3 with { Name = "vault-box-hel1", Vault = s3.Vault! with { Kind = VaultKind.StorageBox } };
        var second = s3 with { Name = "vault-aws-ams" };
        var prod = Cloud.Production with { Backup = Cloud.Backup with { Vaults = ["vault-box-hel1", "vault-aws-par", "vault-aws-ams"] } };
        var stacks = Cloud.Stacks.Select(s => s == Cloud.Production ? prod : s.Name == "standby-hel1" && standby is not null ? standby(s) : s)
            .Append(box).Append(second).ToList();
        return new Topology.Topology(stacks, Cloud.ProjectBackendUrl, Cloud.StacksDirectory);
    }

    [Fact]
    public void A_cloud_standby_reads_the_s3_vaults_in_the_order_of_backup_vaults_and_names_the_storage_box_it_cannot_read()
    {
        var t = ThreeVaults();
        var order = VaultOrder.For(t, t.Find("standby-hel1")!);

        Assert.Equal(["vault-aws-par", "vault-aws-ams"], order.Reads.Select(v => v.Name));
        Assert.Equal("vault-box-hel1", Assert.Single(order.Skipped).Name);
        Assert.Equal("from vault-aws-par, else vault-aws-ams (per tenant: a vault that cannot be read, or whose newest verified set is older than another's, " +
            "gives way to the next); not read: vault-box-hel1 (a StorageBox vault: cloud-init restores only from S3 vaults)", order.Describe());
    }

    [Fact]
    public void Restore_from_pins_the_one_vault_read()
    {
        var t = ThreeVaults(s => s with { RestoreFrom = "vault-aws-ams" });
        var order = VaultOrder.For(t, t.Find("standby-hel1")!);

        Assert.Equal(["vault-aws-ams"], order.Reads.Select(v => v.Name));
        Assert.Contains(order.Skipped, s => s.Name == "vault-aws-par" && s.Why == "failover:restoreFrom of standby-hel1 names vault-aws-ams");
    }

    [Fact]
    public void The_plan_names_the_order_and_what_a_failover_restores_from()
    {
        var t = ThreeVaults();
        var restore = Planner.Plan(t, t.Find("standby-hel1")!).Steps.Single(s => s.Kind == StepKind.Restore);

        Assert.Contains("from vault-aws-par, else vault-aws-ams", restore.Detail);
        Assert.Contains("not read: vault-box-hel1", restore.Detail);
    }

    [Fact]
    public void The_run_says_why_a_vault_gave_way_and_nothing_when_the_first_is_used()
    {
        var at = new DateTimeOffset(2026, 12, 1, 3, 0, 0, TimeSpan.Zero);
        Assert.Null(VaultChoice.Why("acme", "a", at, []));
        Assert.Equal("acme is restored from c: a could not be read (connection refused); b's newest set of acme is from 2026-12-01 02:00:00Z, older than c's from 2026-12-01 03:00:00Z",
            VaultChoice.Why("acme", "c", at, [new("a", "connection refused", null, 0), new("b", null, at.AddHours(-1), 0)]));
        Assert.Equal("acme is restored from b: a's newer set failed verification",
            VaultChoice.Why("acme", "b", at, [new("a", null, at, 1)]));
        Assert.Equal("acme is restored from b: a holds no complete set of acme",
            VaultChoice.Why("acme", "b", at, [new("a", null, null, 0)]));
    }
}
