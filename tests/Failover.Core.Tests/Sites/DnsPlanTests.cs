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
        var t = SiteStacks.With(("dns-route53",
            "  failover:dns:\n    provider: route53\n    zone: example.com\n    records:\n      - { name: app, type: A }\n      - { name: '@', type: AAAA }\n    ttl: 5m\n    active: standby-hel1\n",
            ["failover:dns"]), ("standby-hel1", "  failover:mode: mvd\n", ["failover:mode"]));
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

    [Theory]
    [InlineData("cold", "is in mode cold")]
    [InlineData("fenced", "is fenced")]
    public void A_dns_stack_whose_active_stack_serves_nothing_is_refused_before_pulumi_up(string mode, string why)
    {
        var t = SiteStacks.With(("dns-route53",
            "  failover:dns:\n    provider: route53\n    zone: example.com\n    records:\n      - { name: app, type: A }\n    ttl: 60\n    active: standby-hel1\n",
            ["failover:dns"]), ("standby-hel1", $"  failover:mode: {mode}\n", ["failover:mode"]));
        var problem = Assert.Single(Assert.Throws<TopologyException>(() => DnsPlan.For(t, t.DnsStack!)).Problems);
        Assert.EndsWith("Pulumi.dns-route53.yaml", problem.File);
        Assert.Equal("failover:dns.active", problem.Key);
        Assert.Contains(why, problem.Message);
        Assert.Contains("point failover:dns.active at the stack that serves", problem.Fix);
        // `failover plan` and `failover policies` say so too, as an error that gates the pull request.
        var finding = Assert.Single(Policies.PolicyBook.Evaluate(t), f => f.PolicyId == "dns-active-serves-nothing");
        Assert.Equal(Policies.Severity.Error, finding.Severity);
    }

    [Fact]
    public void The_health_check_is_attached_to_the_a_records_with_a_set_identifier_that_survives_a_cutover()
    {
        var t = SiteStacks.With(("dns-route53",
            "  failover:dns:\n    provider: route53\n    zone: example.com\n    records:\n      - { name: app, type: A }\n      - { name: app, type: AAAA }\n    ttl: 60\n    active: prod-fsn1\n",
            ["failover:dns"]));
        var before = DnsPlan.For(t, t.DnsStack!);
        Assert.Equal(["A True dns-route53", "AAAA False "], before.Records.Select(r => $"{r.Type} {r.HealthChecked} {r.SetIdentifier}"));
        var failedOver = SiteStacks.With(("dns-route53",
            "  failover:dns:\n    provider: route53\n    zone: example.com\n    records:\n      - { name: app, type: A }\n    ttl: 60\n    active: standby-hel1\n",
            ["failover:dns"]), ("standby-hel1", "  failover:mode: mvd\n", ["failover:mode"]));
        var after = DnsPlan.For(failedOver, failedOver.DnsStack!);
        Assert.Equal(before.Records[0].SetIdentifier, after.Records[0].SetIdentifier);
    }
}
