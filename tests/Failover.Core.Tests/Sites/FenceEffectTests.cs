using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class FenceEffectTests
{
    [Fact]
    public void Fencing_production_removes_its_application_servers_and_keeps_its_data_server()
    {
        var fence = FenceEffect.Of(SiteStacks.Load().Production);
        Assert.Equal(["prod-fsn1-app-1", "prod-fsn1-app-2"], fence.Removed);
        Assert.Equal("prod-fsn1-db-1", fence.Kept);
        Assert.False(fence.KeptServerRunsTheApplication);
        var said = fence.Describe();
        Assert.Contains("prod-fsn1-app-1, prod-fsn1-app-2 removed", said);
        Assert.Contains("prod-fsn1-db-1 kept with its volume and data", said);
        Assert.Contains("lets nothing out", said);
    }

    [Fact]
    public void A_site_fenced_again_says_the_same_and_removes_nothing_more()
    {
        var fenced = SiteStacks.With("prod-fsn1", "  failover:mode: fenced\n", "failover:mode").Production;
        Assert.Equal(FenceEffect.Of(SiteStacks.Load().Production).Describe(), FenceEffect.Of(fenced).Describe());
    }

    [Fact]
    public void An_aws_standby_that_served_loses_its_application_instance_alike()
    {
        var fence = FenceEffect.Of(SiteStacks.With("standby-aws-fra", "  failover:mode: mvd\n", "failover:mode").Find("standby-aws-fra")!);
        Assert.Equal(["standby-aws-fra-app-1"], fence.Removed);
        Assert.Equal("standby-aws-fra-db-1", fence.Kept);
    }

    [Fact]
    public void A_site_whose_one_group_holds_the_data_and_serves_says_its_application_keeps_running()
    {
        var topology = SiteStacks.With("prod-fsn1",
            "  failover:servers:\n    - name: web\n      full: { type: ccx33, count: 1 }\n      mvd: { type: cpx32, count: 1 }\n      volumeGb: 200\n",
            "failover:servers");
        var fence = FenceEffect.Of(topology.Production);
        Assert.Empty(fence.Removed);
        Assert.True(fence.KeptServerRunsTheApplication);
        Assert.Contains("also runs the application", fence.Describe());
    }

    [Fact]
    public void Fencing_a_site_that_ran_nothing_keeps_nothing()
    {
        var fence = FenceEffect.Of(SiteStacks.Load().Find("standby-hel1")!);
        Assert.Empty(fence.Removed);
        Assert.Null(fence.Kept);
        Assert.Contains("no server ran", fence.Describe());
    }
}
