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
    public void A_tenant_left_out_on_purpose_loads_and_the_standby_neither_restores_nor_reports_it()
    {
        // `failover run --without-tenant northwind` to a cloud standby: infra/ loads this file inside `pulumi up`.
        var snapshots = "    northwind: left-out\n" + string.Join("", SiteStacks.Tenants.Skip(1).Select(t => $"    {t}: {SiteStacks.Snapshot(t)}\n"));
        var topology = SiteStacks.With("standby-hel1", "  failover:snapshots:\n" + snapshots);
        var stack = topology.Find("standby-hel1")!;

        Assert.True(stack.Snapshots.Single(s => s.Tenant == "northwind").LeftOut);
        var recipe = Failover.Core.Sites.RestoreRecipe.For(topology, stack, 2)!;
        Assert.Equal(SiteStacks.Tenants.Skip(1).Order(), recipe.Tenants.Select(t => t.Tenant.Name).Order());
        Assert.DoesNotContain("northwind", recipe.SnapshotIds.Keys);
        // What the driver wrote reads back as exactly its restore point, left-out included.
        var held = stack.Snapshots.ToDictionary(s => s.Tenant, s => s.ConfigValue);
        Assert.Empty(Failover.Core.Sites.RestorePointConfig.Differences(held, stack.Snapshots));
        Assert.Equal("left-out", held["northwind"]);
    }

    [Fact]
    public void A_standby_that_leaves_every_tenant_out_is_refused()
    {
        var snapshots = string.Join("", SiteStacks.Tenants.Select(t => $"    {t}: left-out\n"));
        var e = Assert.Throws<TopologyException>(() => SiteStacks.With("standby-hel1", "  failover:snapshots:\n" + snapshots));
        Assert.Contains(e.Problems, p => p.Key == "failover:snapshots" && p.Message.Contains("every tenant is left out"));
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
