using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>One inbound firewall rule: a TCP port and the address ranges allowed to reach it.</summary>
public sealed record FirewallRule(int Port, IReadOnlyList<string> Sources, string Description);

/// <summary>
/// What a site's servers may send. A fenced former primary sends nothing: with no way out its application's own work
/// (cron jobs, queues, mail, payment calls, webhooks) and its backup agent cannot act on the world or put newer sets
/// into the vault than the site that now serves. Replies to the admin's SSH pass (both providers' firewalls are
/// stateful).
/// </summary>
public enum Egress
{
    Open,
    Closed,
}

/// <summary>One server a site runs in its mode, with what it does there.</summary>
public sealed record PlannedServer(
    string Name, string Group, int Index, string Type, ServerCapacity Capacity, int VolumeGb,
    bool HoldsData, bool ServesTraffic);

/// <summary>
/// A load balancer in front of the servers that serve traffic, when there is more than one: a service per port of
/// <paramref name="Ports"/>. A fenced site keeps it (and its address) with no service and no target: it listens on
/// nothing, and it cannot reach the servers over the private network, which the firewall does not filter.
/// </summary>
public sealed record PlannedLoadBalancer(string Name, string Type, IReadOnlyList<string> Targets, IReadOnlyList<int> Ports);

/// <summary>The operating system image servers boot: Debian 12 ships PostgreSQL 15 and restic with <c>dump</c>.</summary>
public static class SiteImage
{
    public const string Hetzner = "debian-12";
    public const string AwsAmiOwner = "136693071363";
    public const string AwsAmiNamePattern = "debian-12-amd64-*";
}

/// <summary>
/// Everything a site (production, standby, rehearsal) consists of in its mode: network, firewall, keys,
/// servers, volumes and load balancer. infra/ maps it to resources one to one.
/// </summary>
public sealed record SitePlan(
    StackSpec Stack,
    SiteNames Names,
    string NetworkCidr,
    string SubnetCidr,
    string? AvailabilityZone,
    IReadOnlyList<FirewallRule> Firewall,
    IReadOnlyList<PlannedServer> Servers,
    PlannedLoadBalancer? LoadBalancer)
{
    /// <summary>Each site is its own project/account network, so every site can use the same private range.</summary>
    public const string DefaultNetworkCidr = "10.0.0.0/16";
    public const string DefaultSubnetCidr = "10.0.1.0/24";
    public const string HetznerLoadBalancerType = "lb11";
    public static readonly IReadOnlyList<string> Anywhere = ["0.0.0.0/0", "::/0"];

    public SiteMode Mode => Stack.Mode;

    /// <summary>A fenced site's servers send nothing; every other site's send anywhere.</summary>
    public Egress Egress => Stack.Mode == SiteMode.Fenced ? Egress.Closed : Egress.Open;

    /// <summary>
    /// Whether servers of the site reach each other on the private network. A fenced site's do not, where the provider
    /// can filter it (AWS security groups filter VPC traffic). Hetzner firewalls filter public interfaces only
    /// (docs.hetzner.com/cloud/firewalls/faq, "Can Firewalls secure traffic to my private Hetzner Cloud Networks?": no):
    /// there the fence's stop (<see cref="ApplicationStop"/>) stops the application on every server and makes the data
    /// server's PostgreSQL listen on localhost only, so nothing on the private network writes to its database.
    /// </summary>
    public bool SiteInternalTraffic => Stack.Mode != SiteMode.Fenced;

    /// <summary>What a config change may do to this site's servers, volumes and addresses (replace delete-first, or never).</summary>
    public ChangeRules Changes => ChangeRules.For(Stack);

    /// <summary>The server whose address the service records point at when there is no load balancer.</summary>
    public PlannedServer? FrontServer => Servers.FirstOrDefault(s => s.ServesTraffic);

    /// <summary>The server that holds PostgreSQL and restores the tenants.</summary>
    public PlannedServer? DataServer => Servers.FirstOrDefault(s => s.HoldsData);

    public static SitePlan For(StackSpec stack)
    {
        if (stack.Role is not (Role.Production or Role.Standby or Role.Rehearsal))
            throw new ArgumentException($"{stack.Name} is a {stack.Role} stack, not a site", nameof(stack));
        var names = new SiteNames(stack.Name, stack.Role);
        var dataGroup = DataGroup(stack.Servers);
        var frontGroup = FrontGroup(stack.Servers);
        var servers = new List<PlannedServer>();
        foreach (var group in stack.Servers)
        {
            // A fenced site is a former primary: it keeps every server at full size, behind the fenced firewall, its
            // application stopped by the fence's signed request (FenceEffect). Only a scale-down removes a server.
            var fenced = stack.Mode == SiteMode.Fenced;
            if ((fenced ? group.Full : group.SizeIn(stack.Mode)) is not { } size) continue;
            var capacity = stack.Mode == SiteMode.Full || fenced ? group.FullCapacity : group.MvdCapacity;
            for (var i = 0; i < size.Count; i++)
            {
                var holdsData = group == dataGroup && i == 0;
                servers.Add(new PlannedServer(names.Server(group.Name, i), group.Name, i, size.Type, capacity, group.VolumeGb,
                    HoldsData: holdsData, ServesTraffic: group == frontGroup));
            }
        }
        var front = servers.Where(s => s.ServesTraffic).ToList();
        // AWS load balancers are not provisioned (see docs/deploying.md): there the front server's address serves.
        // A fenced site's is kept without services or targets: a Hetzner load balancer reaches its targets over the
        // private network, which the firewall does not filter, so with them it would keep serving.
        var fencedLb = stack.Mode == SiteMode.Fenced;
        var lb = stack.Site.Provider == Provider.Hetzner && front.Count > 1
            ? new PlannedLoadBalancer(names.LoadBalancer, HetznerLoadBalancerType, fencedLb ? [] : front.Select(s => s.Name).ToList(), fencedLb ? [] : stack.Service.Ports)
            : null;
        var az = stack.Site.Provider == Provider.Aws ? stack.Site.Datacenter ?? stack.Site.Location + "a" : null;
        return new SitePlan(stack, names, DefaultNetworkCidr, DefaultSubnetCidr, az, FirewallFor(stack), servers, lb);
    }

    /// <summary>
    /// Service ports and the health endpoint are open to everyone; SSH only to the admin ranges (no rule at
    /// all without them). A fenced site closes the service so a returning old primary takes no writes. A
    /// rehearsal copy holds real customer data that nobody should reach by accident: its service ports are
    /// open to the admin ranges only, when there are any (the health gate probes from the operator's side).
    /// </summary>
    public static IReadOnlyList<FirewallRule> FirewallFor(StackSpec stack)
    {
        var rules = new List<FirewallRule>();
        if (stack.Access.AdminCidrs.Count > 0)
            rules.Add(new FirewallRule(22, stack.Access.AdminCidrs, "SSH from the admin ranges"));
        if (stack.Mode == SiteMode.Fenced) return rules;
        var servicesFrom = stack.Role == Role.Rehearsal && stack.Access.AdminCidrs.Count > 0 ? stack.Access.AdminCidrs : Anywhere;
        rules.AddRange(stack.Service.Ports.Select(p => new FirewallRule(p, servicesFrom,
            servicesFrom == Anywhere ? $"service port {p}" : $"service port {p}, a rehearsal copy: admin ranges only")));
        if (!stack.Service.Ports.Contains(stack.Service.HealthPort))
            rules.Add(new FirewallRule(stack.Service.HealthPort, Anywhere, "health endpoint (DNS health checks)"));
        return rules;
    }

    /// <summary>The group named <c>db</c> holds the data; without one, the first group does.</summary>
    public static ServerGroup? DataGroup(IReadOnlyList<ServerGroup> groups) =>
        groups.FirstOrDefault(g => g.Name == "db") ?? groups.FirstOrDefault();

    /// <summary>The group named <c>app</c> serves traffic; without one, the last group does.</summary>
    public static ServerGroup? FrontGroup(IReadOnlyList<ServerGroup> groups) =>
        groups.FirstOrDefault(g => g.Name == "app") ?? groups.LastOrDefault();

    /// <summary>The outputs a provider's sites can publish: Hetzner gives addresses, AWS an elastic IP and its DNS name.</summary>
    public static IReadOnlySet<string> PublishedAddresses(Provider provider) => provider switch
    {
        Provider.Hetzner => new HashSet<string> { StackOutputs.ServiceIpv4, StackOutputs.ServiceIpv6 },
        Provider.Aws => new HashSet<string> { StackOutputs.ServiceIpv4, StackOutputs.ServiceHostname },
        _ => new HashSet<string> { StackOutputs.ServiceIpv4 },
    };

    /// <summary>The URL of the health endpoint on an address.</summary>
    public string HealthUrl(string address) => Health.Url(address, Stack.Service);
}

/// <summary>The health endpoint each site serves: it reports the restored snapshot ids.</summary>
public static class Health
{
    public static string Url(string address, ServiceSettings service) =>
        $"http://{(address.Contains(':') ? $"[{address}]" : address)}:{service.HealthPort}{service.HealthPath}";
}
