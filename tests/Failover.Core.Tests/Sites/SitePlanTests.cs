using Failover.Core.Sites;
using Failover.Core.Topology;

namespace Failover.Core.Tests.Sites;

public class SitePlanTests
{
    [Fact]
    public void A_cold_standby_has_network_firewall_and_keys_but_no_servers()
    {
        var stack = SiteStacks.Load().Find("standby-hel1")!;
        var plan = SitePlan.For(stack);
        Assert.Equal(SiteMode.Cold, plan.Mode);
        Assert.Empty(plan.Servers);
        Assert.Null(plan.LoadBalancer);
        Assert.NotEmpty(plan.Firewall);
        Assert.Single(stack.Access.SshPublicKeys);
    }

    [Fact]
    public void A_standby_at_mvd_runs_the_minimal_size_of_each_group()
    {
        var plan = SitePlan.For(SiteStacks.FailedOverToHel1().Find("standby-hel1")!);
        Assert.Equal(["standby-hel1-db-1 cpx32", "standby-hel1-app-1 cpx22"], plan.Servers.Select(s => $"{s.Name} {s.Type}"));
        Assert.Equal(120, plan.DataServer!.VolumeGb);
        Assert.Null(plan.LoadBalancer);
    }

    [Fact]
    public void Production_at_full_size_runs_every_server_behind_a_load_balancer()
    {
        var plan = SitePlan.For(SiteStacks.Load().Production);
        Assert.Equal(["prod-fsn1-db-1 ccx33", "prod-fsn1-app-1 cpx42", "prod-fsn1-app-2 cpx42"], plan.Servers.Select(s => $"{s.Name} {s.Type}"));
        Assert.Equal(["prod-fsn1-app-1", "prod-fsn1-app-2"], plan.LoadBalancer!.Targets);
        Assert.Equal("prod-fsn1-db-1", plan.DataServer!.Name);
        Assert.All(plan.Servers.Where(s => s.Group == "app"), s => Assert.True(s.ServesTraffic));
    }

    [Fact]
    public void An_aws_site_at_full_size_serves_from_its_front_server_without_a_load_balancer()
    {
        var topology = SiteStacks.With("standby-aws-fra", "  failover:mode: full\n", "failover:mode");
        var plan = SitePlan.For(topology.Find("standby-aws-fra")!);
        Assert.Equal(["m6i.2xlarge", "m6i.xlarge", "m6i.xlarge"], plan.Servers.Select(s => s.Type));
        Assert.Null(plan.LoadBalancer);
        Assert.Equal("eu-central-1a", plan.AvailabilityZone);
    }

    [Fact]
    public void Server_names_do_not_change_between_runs_or_when_the_mode_grows()
    {
        var mvd = SitePlan.For(SiteStacks.FailedOverToHel1().Find("standby-hel1")!).Servers.Select(s => s.Name).ToList();
        var again = SitePlan.For(SiteStacks.FailedOverToHel1().Find("standby-hel1")!).Servers.Select(s => s.Name).ToList();
        var full = SitePlan.For(SiteStacks.With("standby-hel1", "  failover:mode: full\n", "failover:mode").Find("standby-hel1")!)
            .Servers.Select(s => s.Name).ToList();
        Assert.Equal(mvd, again);
        Assert.Subset(full.ToHashSet(), mvd.ToHashSet());
    }

    [Fact]
    public void Ssh_is_open_only_to_the_admin_ranges_and_service_ports_to_everyone()
    {
        var plan = SitePlan.For(SiteStacks.Load().Production);
        var ssh = Assert.Single(plan.Firewall, r => r.Port == 22);
        Assert.Equal(["203.0.113.0/24"], ssh.Sources);
        Assert.Equal([22, 80, 443, 8080], plan.Firewall.Select(r => r.Port).Order());
        Assert.All(plan.Firewall.Where(r => r.Port != 22), r => Assert.Equal(SitePlan.Anywhere, r.Sources));
    }

    [Fact]
    public void A_rehearsal_copy_opens_its_service_ports_to_the_admin_ranges_only()
    {
        var t = SiteStacks.Load();
        var copy = RehearsalCopy.Of(t, t.Find("standby-hel1")!);
        var rules = SitePlan.FirewallFor(copy);
        var admin = t.Find("standby-hel1")!.Access.AdminCidrs;
        Assert.NotEmpty(admin);
        Assert.All(rules.Where(r => copy.Service.Ports.Contains(r.Port)), r => Assert.Equal(admin, r.Sources));
        // The standby itself serves everyone once it is production.
        Assert.All(SitePlan.FirewallFor(t.Find("standby-hel1")!).Where(r => r.Port != 22), r => Assert.Equal(SitePlan.Anywhere, r.Sources));
    }

    [Fact]
    public void Without_admin_ranges_no_rule_opens_ssh()
    {
        var topology = SiteStacks.With("standby-hel1", "  failover:access:\n    sshPublicKeys: [ssh-ed25519 AAAAkey ops]\n", "failover:access");
        Assert.DoesNotContain(SitePlan.FirewallFor(topology.Find("standby-hel1")!), r => r.Port == 22);
    }

    [Fact]
    public void Service_ports_and_health_port_come_from_the_service_key()
    {
        var topology = SiteStacks.With("standby-hel1", "  failover:service:\n    ports: [443]\n    healthPort: 9000\n");
        Assert.Equal([22, 443, 9000], SitePlan.FirewallFor(topology.Find("standby-hel1")!).Select(r => r.Port).Order());
    }

    [Fact]
    public void A_fenced_site_closes_every_port_but_ssh()
    {
        var topology = SiteStacks.With("prod-fsn1", "  failover:mode: fenced\n", "failover:mode");
        var plan = SitePlan.For(topology.Production);
        Assert.Equal([22], plan.Firewall.Select(r => r.Port));
        // Nothing goes out either: no mail or webhooks from its jobs, no newer sets from its backup agent into the vault.
        Assert.Equal(Egress.Closed, plan.Egress);
        Assert.False(plan.SiteInternalTraffic);
        var serving = SitePlan.For(SiteStacks.Load().Production);
        Assert.Equal(Egress.Open, serving.Egress);
        Assert.True(serving.SiteInternalTraffic);
    }

    [Fact]
    public void A_fenced_site_keeps_every_server_and_volume_and_its_load_balancer_without_services()
    {
        var full = SitePlan.For(SiteStacks.Load().Production);
        var fenced = SitePlan.For(SiteStacks.With("prod-fsn1", "  failover:mode: fenced\n", "failover:mode").Production);
        // Every server as it served, by name, type and volume: a `pulumi up` in mode fenced deletes nothing.
        Assert.Equal(full.Servers.Select(s => $"{s.Name} {s.Type} {s.VolumeGb}"), fenced.Servers.Select(s => $"{s.Name} {s.Type} {s.VolumeGb}"));
        Assert.Equal(3, fenced.Servers.Count);
        Assert.Equal("prod-fsn1-db-1", fenced.DataServer!.Name);
        Assert.True(fenced.Changes.Protected);
        // The load balancer and its address stay; it listens on nothing and reaches no server (the private network is not firewalled).
        Assert.Equal(full.LoadBalancer!.Name, fenced.LoadBalancer!.Name);
        Assert.Equal(full.Stack.Service.Ports, full.LoadBalancer.Ports);
        Assert.NotEmpty(full.LoadBalancer.Ports);
        Assert.Empty(fenced.LoadBalancer.Ports);
        Assert.Empty(fenced.LoadBalancer.Targets);
        // It publishes no service address: nothing of it serves.
        Assert.Null(SiteOutputs.ServiceSource(fenced));
        Assert.Equal("", SiteOutputs.For(fenced, fenced.Servers.ToDictionary(s => s.Name, s => "203.0.113.7"), "203.0.113.9").ServiceIpv4);
    }

    [Fact]
    public void A_fenced_aws_site_keeps_its_application_instances_too()
    {
        var fenced = SitePlan.For(SiteStacks.With("standby-aws-fra", "  failover:mode: fenced\n", "failover:mode").Find("standby-aws-fra")!);
        Assert.Equal(["standby-aws-fra-app-1", "standby-aws-fra-app-2", "standby-aws-fra-db-1"], fenced.Servers.Select(s => s.Name).Order());
        Assert.Equal(Egress.Closed, fenced.Egress);
        Assert.False(fenced.SiteInternalTraffic);
    }

    [Fact]
    public void Every_resource_is_labelled_with_its_stack_and_role()
    {
        var labels = new SiteNames("standby-hel1", Role.Standby).Labels("db");
        Assert.Equal("standby-hel1", labels[SiteNames.StackLabel]);
        Assert.Equal("standby", labels[SiteNames.RoleLabel]);
        Assert.Equal("db", labels[SiteNames.GroupLabel]);
    }

    [Fact]
    public void Health_url_brackets_ipv6_addresses()
    {
        Assert.Equal("http://203.0.113.5:8080/health", Health.Url("203.0.113.5", ServiceSettings.Default));
        Assert.Equal("http://[2001:db8::1]:8080/health", Health.Url("2001:db8::1", ServiceSettings.Default));
    }
}
