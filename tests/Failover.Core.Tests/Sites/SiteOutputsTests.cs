using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

/// <summary>Which address answers what: service records, restore progress, the health gate and the Route 53 check.</summary>
public class SiteOutputsTests
{
    private static SitePlan Plan(string stack, SiteMode mode, string yaml = "") =>
        SitePlan.For((yaml.Length == 0 ? SiteStacks.Load() : SiteStacks.With(stack, yaml)).Find(stack)! with { Mode = mode });

    private static Dictionary<string, string> Addresses(SitePlan plan) =>
        plan.Servers.Select((s, i) => (s.Name, Ip: $"198.51.100.{i + 10}")).ToDictionary(x => x.Name, x => x.Ip);

    [Theory]
    [InlineData("standby-hel1", SiteMode.Mvd)]
    [InlineData("standby-hel1", SiteMode.Full)]
    [InlineData("standby-aws-fra", SiteMode.Mvd)]
    [InlineData("standby-aws-fra", SiteMode.Full)]
    [InlineData("prod-fsn1", SiteMode.Full)]
    public void Health_is_read_from_the_data_server_which_restores_and_lists_the_snapshot_ids(string stack, SiteMode mode)
    {
        var plan = Plan(stack, mode);
        var ips = Addresses(plan);
        var outputs = SiteOutputs.For(plan, ips, plan.LoadBalancer is null ? null : "203.0.113.1", "2001:db8::1", "");
        var data = ips[plan.DataServer!.Name];
        Assert.Equal(data, outputs.HealthIpv4);
        Assert.Equal($"http://{data}:{plan.Stack.Service.HealthPort}{plan.Stack.Service.HealthPath}", outputs.HealthUrl);
        // The service records point at the load balancer where there is one, else at the first app server.
        Assert.Equal(plan.LoadBalancer is null ? ips[plan.FrontServer!.Name] : "203.0.113.1", outputs.ServiceIpv4);
        Assert.NotEqual(outputs.ServiceIpv4, outputs.HealthIpv4);
    }

    [Fact]
    public void Behind_a_hetzner_load_balancer_health_is_still_the_data_server_s()
    {
        var plan = Plan("prod-fsn1", SiteMode.Full);
        Assert.NotNull(plan.LoadBalancer); // two app servers in full mode
        Assert.Equal(plan.DataServer!.Name, SiteOutputs.HealthSource(plan));
        Assert.Equal(plan.LoadBalancer!.Name, SiteOutputs.ServiceSource(plan));
    }

    [Theory]
    [InlineData("standby-hel1")]
    [InlineData("standby-aws-fra")]
    public void A_site_that_runs_nothing_publishes_empty_outputs(string stack)
    {
        var outputs = SiteOutputs.For(Plan(stack, SiteMode.Cold), new Dictionary<string, string>());
        Assert.Equal(new SiteOutputs("", "", "", "", ""), outputs);
    }

    [Fact]
    public void The_route53_health_check_asks_the_address_that_serves_the_health_document()
    {
        var t = SiteStacks.Load();
        var dns = DnsPlan.For(t, t.Stacks.Single(s => s.Role == Role.Dns));
        Assert.Equal(StackOutputs.HealthIpv4, dns.HealthCheck.AddressOutput);
        Assert.Contains(StackOutputs.HealthIpv4, StackOutputs.For(Role.Standby));
    }
}
