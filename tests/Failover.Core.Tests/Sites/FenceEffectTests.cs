using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class FenceEffectTests
{
    private static readonly string[] ProductionServers = ["prod-fsn1-app-1", "prod-fsn1-app-2", "prod-fsn1-db-1"];

    [Fact]
    public void Fencing_production_keeps_every_server_and_sends_the_stop_to_each()
    {
        var fence = FenceEffect.Of(SiteStacks.Load().Production);
        Assert.Equal(ProductionServers, fence.Kept.Order());
        Assert.Equal("prod-fsn1-db-1", fence.DataServer);
        Assert.Equal(fence.Kept, fence.Stops);
        var said = fence.Describe(fence.Stops.Select(s => new ServerStop(s, StopOutcome.Stopped, "marked,inactive")).ToList());
        Assert.Contains("prod-fsn1-app-1, prod-fsn1-app-2, prod-fsn1-db-1 kept with their addresses, volumes and data, delete-protected", said);
        Assert.Contains("lets nothing out", said);
        Assert.Contains($"the application stopped by a signed request on prod-fsn1-app-1, prod-fsn1-app-2, prod-fsn1-db-1 and marked fenced ({ApplicationStop.Marker}", said);
        Assert.Contains("on prod-fsn1-db-1 also the backup agent's timer", said);
        Assert.DoesNotContain("removed", said);
        Assert.DoesNotContain("could not reach", said);
    }

    [Fact]
    public void A_lost_datacenter_s_servers_are_named_as_unreached_isolated_and_starting_again_on_reboot_and_the_rest_stopped()
    {
        var fence = FenceEffect.Of(SiteStacks.Load().Production);
        var said = fence.Describe([
            new ServerStop("prod-fsn1-app-1", StopOutcome.Unreached, "Connection refused"),
            new ServerStop("prod-fsn1-app-2", StopOutcome.Stopped, "marked"),
            new ServerStop("prod-fsn1-db-1", StopOutcome.Unreached, "no answer within 15 s"),
        ]);
        Assert.Contains("the stop could not reach prod-fsn1-app-1 (Connection refused), prod-fsn1-db-1 (no answer within 15 s)", said);
        Assert.Contains("the firewall holds them isolated", said);
        Assert.Contains("starts again on a reboot only there", said);
        Assert.Contains($"`sudo touch {ApplicationStop.Marker}`", said);
        Assert.Contains("stopped by a signed request on prod-fsn1-app-2 and marked fenced", said);
        // The data server was not reached: the sentence does not claim its agent stopped.
        Assert.DoesNotContain("backup agent's timer", said);
        // A site that exports no key yet: every server named, none claimed stopped.
        var none = fence.Describe("prod-fsn1 exports no controlKey");
        Assert.Contains("could not reach prod-fsn1-app-1 (prod-fsn1 exports no controlKey)", none);
        Assert.DoesNotContain("stopped by a signed request", none);
    }

    [Fact]
    public void A_refusal_is_named_with_the_server_s_reason_and_the_way_to_stop_it_by_hand_names_the_application_unit()
    {
        var topology = SiteStacks.With("prod-fsn1", "  failover:service:\n    ports: [443]\n    unit: shop.service\n", "failover:service");
        var fence = FenceEffect.Of(topology.Production);
        var said = fence.Describe(fence.Stops.Select(s => new ServerStop(s, StopOutcome.Refused, "bad signature")).ToList());
        Assert.Contains("did not stop the application on prod-fsn1-app-1 (refused: bad signature)", said);
        Assert.Contains($"sudo touch {ApplicationStop.Marker} && sudo systemctl stop shop.service", said);
    }

    [Fact]
    public void A_site_fenced_again_keeps_the_same_servers()
    {
        var fenced = SiteStacks.With("prod-fsn1", "  failover:mode: fenced\n", "failover:mode").Production;
        var first = FenceEffect.Of(SiteStacks.Load().Production);
        var again = FenceEffect.Of(fenced);
        Assert.Equal(first.Kept, again.Kept);
        Assert.Equal(first.DataServer, again.DataServer);
    }

    [Fact]
    public void An_aws_standby_that_served_keeps_its_application_instances_too()
    {
        var fence = FenceEffect.Of(SiteStacks.With("standby-aws-fra", "  failover:mode: mvd\n", "failover:mode").Find("standby-aws-fra")!);
        Assert.Equal(["standby-aws-fra-app-1", "standby-aws-fra-db-1"], fence.Kept.Order());
    }

    [Fact]
    public void Fencing_a_site_that_ran_nothing_keeps_nothing()
    {
        var fence = FenceEffect.Of(SiteStacks.Load().Find("standby-hel1")!);
        Assert.Empty(fence.Kept);
        Assert.Contains("no server ran", fence.Describe([]));
    }
}
