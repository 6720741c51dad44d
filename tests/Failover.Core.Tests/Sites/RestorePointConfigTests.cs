using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class RestorePointConfigTests
{
    private static List<ConfiguredSnapshot> Point(params string[] tenants) =>
        tenants.Select(t => new ConfiguredSnapshot(t, SiteStacks.Snapshot(t), null)).ToList();

    [Fact]
    public void A_key_an_earlier_run_left_is_named_for_removal_and_what_is_left_reads_back_as_exactly_this_restore_point()
    {
        // As `pulumi config get failover:snapshots --json` answers after the driver set this run's ids over an earlier run's:
        // every tenant of today, and `legacy`, a tenant production has since dropped (its id stored as a number, as the
        // real CLI stores an all-digit value set with --path).
        var point = Point(SiteStacks.Tenants);
        var json = "{" + string.Join(",", point.Select(s => $"\"{s.Tenant}\":\"{s.SnapshotId}\"")) + ",\"legacy\":12345678}";
        var held = RestorePointConfig.Parse("standby-hel1", json);
        Assert.Equal("12345678", held["legacy"]);

        var stale = RestorePointConfig.Stale(held, point);
        Assert.Equal(["failover:snapshots.legacy"], stale);
        Assert.Equal(["failover:snapshots.legacy is 12345678, this restore point has no such tenant"], RestorePointConfig.Differences(held, point));

        // What infra/ reads (the stack file) holds the restore point once the stale key is gone, and the loader refused it before.
        var withStale = string.Join("", held.Select(h => $"    {h.Key}: \"{h.Value}\"\n"));
        var refused = Assert.Throws<TopologyException>(() => SiteStacks.With("standby-hel1", "  failover:mode: mvd\n  failover:snapshots:\n" + withStale, "failover:mode"));
        Assert.Contains(refused.Problems, p => p.Key == "failover:snapshots.legacy" && p.Fix.Contains("pulumi config rm --path 'failover:snapshots.legacy' --stack standby-hel1"));
        var kept = held.Where(h => !stale.Contains(RestorePointConfig.PathOf(h.Key))).ToDictionary();
        Assert.Empty(RestorePointConfig.Differences(kept, point));
        var standby = SiteStacks.With("standby-hel1", "  failover:mode: mvd\n  failover:snapshots:\n" + string.Join("", kept.Select(h => $"    {h.Key}: {h.Value}\n")), "failover:mode")
            .Find("standby-hel1")!;
        Assert.Equal(point.Select(s => $"{s.Tenant} {s.SnapshotId}").Order(), standby.Snapshots.Select(s => $"{s.Tenant} {s.SnapshotId}").Order());
    }

    [Fact]
    public void A_resumed_run_has_nothing_to_remove_and_an_id_that_did_not_land_is_a_difference()
    {
        var point = Point("northwind", "contoso");
        var held = RestorePointConfig.Parse("standby-hel1", $"{{\"contoso\":\"{point[1].SnapshotId}\",\"northwind\":\"{point[0].SnapshotId.ToUpperInvariant()}\"}}");
        Assert.Empty(RestorePointConfig.Stale(held, point));
        Assert.Empty(RestorePointConfig.Differences(held, point));

        var older = RestorePointConfig.Parse("standby-hel1", $"{{\"northwind\":\"0badc0de\"}}");
        Assert.Equal([$"failover:snapshots.contoso is (not set), this restore point says {point[1].SnapshotId}",
                $"failover:snapshots.northwind is 0badc0de, this restore point says {point[0].SnapshotId}"],
            RestorePointConfig.Differences(older, point));
        Assert.Empty(RestorePointConfig.Parse("standby-hel1", null));
        Assert.Empty(RestorePointConfig.Parse("standby-hel1", "{}"));
    }

    [Fact]
    public void A_snapshots_value_that_is_not_a_mapping_names_the_stack_key_and_fix()
    {
        var e = Assert.Throws<FormatException>(() => RestorePointConfig.Parse("standby-hel1", "\"4f2a9c1e\""));
        Assert.Contains("standby-hel1: failover:snapshots is not a mapping", e.Message);
        Assert.Contains("pulumi config rm failover:snapshots --stack standby-hel1", e.Message);
    }
}
