using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class DnsPlanTests
{
    [Fact]
    public void The_records_follow_the_active_stack_with_the_configured_ttl()
    {
        var t = SiteStacks.Load();
        var plan = DnsPlan.For(t, t.DnsStack!);
        Assert.Equal("prod-fsn1", plan.Active.Name);
        Assert.Equal(["app.example.com", "api.example.com"], plan.Records.Select(r => r.Fqdn));
        Assert.All(plan.Records, r => Assert.Equal((60, StackOutputs.ServiceIpv4), (r.Ttl, r.SourceOutput)));
        Assert.Equal((8080, "/health"), (plan.HealthCheck.Port, plan.HealthCheck.Path));
    }

    [Fact]
    public void After_a_failover_the_records_and_health_check_point_at_the_standby()
    {
        var t = SiteStacks.With("dns-route53",
            "  failover:dns:\n    provider: route53\n    zone: example.com\n    records:\n      - { name: app, type: A }\n      - { name: '@', type: AAAA }\n    ttl: 5m\n    active: standby-hel1\n",
            "failover:dns");
        var plan = DnsPlan.For(t, t.DnsStack!);
        Assert.Equal("standby-hel1", plan.Active.Name);
        Assert.Equal(["app.example.com A serviceIpv4", "example.com AAAA serviceIpv6"], plan.Records.Select(r => $"{r.Fqdn} {r.Type} {r.SourceOutput}"));
        Assert.All(plan.Records, r => Assert.Equal(300, r.Ttl));
    }

    [Fact]
    public void A_record_type_the_active_site_cannot_publish_is_refused()
    {
        var t = SiteStacks.With("dns-route53",
            "  failover:dns:\n    provider: route53\n    zone: example.com\n    records:\n      - { name: www, type: CNAME }\n    ttl: 60\n    active: prod-fsn1\n",
            "failover:dns");
        var e = Assert.Throws<TopologyException>(() => DnsPlan.For(t, t.DnsStack!));
        Assert.Contains("publish no serviceHostname", e.Message);
    }
}
