using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class InfraConfigTests
{
    [Fact]
    public void The_driver_s_snapshot_ids_are_read_per_tenant()
    {
        var stack = SiteStacks.FailedOverToHel1().Find("standby-hel1")!;
        Assert.Equal(SiteStacks.Tenants.Length, stack.Snapshots.Count);
        Assert.Equal(SiteStacks.Snapshot("northwind"), stack.Snapshots.Single(s => s.Tenant == "northwind").SnapshotId);
        Assert.Equal(SiteMode.Mvd, stack.Mode);
    }

    [Fact]
    public void A_malformed_snapshot_id_is_reported_with_file_key_and_line()
    {
        var e = Assert.Throws<TopologyException>(() =>
            SiteStacks.With("standby-hel1", "  failover:snapshots:\n    northwind: latest!\n"));
        var p = Assert.Single(e.Problems);
        Assert.Equal("failover:snapshots.northwind", p.Key);
        Assert.EndsWith("Pulumi.standby-hel1.yaml", p.File);
        Assert.NotNull(p.Line);
        Assert.Contains("not a restic snapshot id", p.Message);
    }

    [Fact]
    public void Snapshots_for_an_unknown_tenant_or_missing_a_tenant_are_refused()
    {
        var snapshots = string.Join("", SiteStacks.Tenants.Skip(1).Select(t => $"    {t}: {SiteStacks.Snapshot(t)}\n")) + "    northwnd: 0123abcd\n";
        var e = Assert.Throws<TopologyException>(() => SiteStacks.With("standby-hel1", "  failover:snapshots:\n" + snapshots));
        Assert.Contains(e.Problems, p => p.Key == "failover:snapshots.northwnd" && p.Message.Contains("did you mean 'northwind'"));
        Assert.Contains(e.Problems, p => p.Key == "failover:snapshots" && p.Message.Contains("no snapshot for northwind"));
    }

    [Fact]
    public void Only_a_standby_restores_snapshots()
    {
        var e = Assert.Throws<TopologyException>(() => SiteStacks.With("prod-fsn1", "  failover:snapshots:\n    northwind: 0123abcd\n"));
        Assert.Contains(e.Problems, p => p.Key == "failover:snapshots" && p.Message.Contains("only a standby"));
    }

    [Fact]
    public void Restore_from_must_name_a_vault_stack()
    {
        var e = Assert.Throws<TopologyException>(() => SiteStacks.With("standby-hel1", "  failover:restoreFrom: prod-fsn1\n"));
        Assert.Contains(e.Problems, p => p.Key == "failover:restoreFrom" && p.Message.Contains("not a vault stack"));
    }

    [Fact]
    public void Ssh_cannot_be_declared_a_service_port()
    {
        var e = Assert.Throws<TopologyException>(() => SiteStacks.With("standby-hel1", "  failover:service:\n    ports: [22, 443]\n"));
        Assert.Contains(e.Problems, p => p.Key == "failover:service.ports" && p.Message.Contains("port 22"));
    }
}
