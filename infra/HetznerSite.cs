using Failover.Core.Sites;
using Pulumi;
using Pulumi.HCloud;
using Pulumi.HCloud.Inputs;

namespace Failover.Infra;

/// <summary>A site on Hetzner Cloud: network, firewall, spread placement, keys and, by mode, servers.</summary>
public sealed class HetznerSite : ComponentResource
{
    public SiteAddresses Addresses { get; }

    public HetznerSite(SitePlan plan, Func<PlannedServer, Output<string>> userData, Pulumi.HCloud.Provider provider)
        : base("failover:site:HetznerSite", plan.Names.Stack, new ComponentResourceOptions { Providers = { provider } })
    {
        var names = plan.Names;
        var site = plan.Stack.Site;
        CustomResourceOptions Opts(params Resource[] dependsOn) =>
            new() { Parent = this, Provider = provider, DependsOn = dependsOn.ToList() };
        InputMap<string> Labels(string? group = null) => names.Labels(group).ToDictionary();
        static Output<int> IdOf(CustomResource r) => r.Id.Apply(int.Parse);

        var network = new Network(names.Network, new NetworkArgs { Name = names.Network, IpRange = plan.NetworkCidr, Labels = Labels() }, Opts());
        var subnet = new NetworkSubnet(names.Subnet, new NetworkSubnetArgs
        {
            NetworkId = IdOf(network), Type = "cloud", NetworkZone = site.NetworkZone, IpRange = plan.SubnetCidr,
        }, Opts());
        var firewall = new Firewall(names.Firewall, new FirewallArgs
        {
            Name = names.Firewall,
            Labels = Labels(),
            Rules = plan.Firewall.Select(r => new FirewallRuleArgs
            {
                Direction = "in", Protocol = "tcp", Port = r.Port.ToString(), SourceIps = r.Sources.ToList(), Description = r.Description,
            }).Concat(plan.Egress == Egress.Closed
                // One outbound rule turns Hetzner's outbound direction to implicit deny ("If you define one or more outbound
                // rules, the outbound direction also changes to implicit deny", docs.hetzner.com/cloud/firewalls/faq): ping
                // only, so a fenced site sends nothing else.
                ? [new FirewallRuleArgs { Direction = "out", Protocol = "icmp", DestinationIps = SitePlan.Anywhere.ToList(), Description = "fenced: nothing goes out but ping" }]
                : []).ToList(),
        }, Opts());
        var placement = new PlacementGroup(names.PlacementGroup, new PlacementGroupArgs
        {
            Name = names.PlacementGroup, Type = "spread", Labels = Labels(),
        }, Opts());
        // A changed key is a new key of the same name, which Hetzner refuses while the old one exists: delete first.
        var keys = plan.Stack.Access.SshPublicKeys.Select((key, i) => new SshKey(names.SshKey(i), new SshKeyArgs
        {
            Name = names.SshKey(i), PublicKey = key, Labels = Labels(),
        }, new CustomResourceOptions { Parent = this, Provider = provider, DeleteBeforeReplace = true })).ToList();

        // Core decides what a config change may do (ChangeRules): a restoring standby is replaced delete-first, production
        // and a fenced site never (changes ignored; Hetzner delete/rebuild protection and Pulumi protect on every server,
        // its volume and addresses: the fence keeps them all and stops the application by a signed request).
        var servers = new List<(PlannedServer Plan, Server Server)>();
        foreach (var s in plan.Servers)
        {
            var changes = plan.Changes;
            CustomResourceOptions Kept() => Opts().Under(changes);
            // Primary IPs outlive their server: a server replaced for a new restore point keeps its addresses.
            PrimaryIp Ip(string name, string type) => new(name, new PrimaryIpArgs
            {
                Name = name, Type = type, AssigneeType = "server", AutoDelete = false, Location = site.Location, Labels = Labels(s.Group),
                DeleteProtection = changes.Protected,
            }, Kept());
            var ipv4 = Ip(names.Ipv4(s.Group, s.Index), "ipv4");
            var ipv6 = Ip(names.Ipv6(s.Group, s.Index), "ipv6");
            var server = new Server(s.Name, new ServerArgs
            {
                Name = s.Name,
                ServerType = s.Type,
                Image = SiteImage.Hetzner,
                Location = site.Location,
                PlacementGroupId = IdOf(placement),
                FirewallIds = { IdOf(firewall) },
                SshKeys = keys.Select(k => k.Id).ToList(),
                // Base64 of the gzipped cloud-config: cloud-init's Hetzner datasource base64-decodes user data.
                UserData = userData(s),
                Labels = Labels(s.Group),
                PublicNets = { new ServerPublicNetArgs { Ipv4Enabled = true, Ipv4 = IdOf(ipv4), Ipv6Enabled = true, Ipv6 = IdOf(ipv6) } },
                Networks = { new Pulumi.HCloud.Inputs.ServerNetworkArgs { NetworkId = IdOf(network) } },
                // The API wants both the same (hcloud schema: "Needs to be the same as rebuildProtection").
                DeleteProtection = changes.Protected, RebuildProtection = changes.Protected,
            }, Opts(subnet).Under(changes, changes.IgnoredHetznerServerChanges));
            if (s.VolumeGb > 0)
                _ = new Volume(names.Volume(s.Group, s.Index), new VolumeArgs
                {
                    // The bootstrap mounts it (DataVolume): Hetzner's automount would put it under /mnt/HC_Volume_<id> instead.
                    Name = names.Volume(s.Group, s.Index), Size = s.VolumeGb, ServerId = IdOf(server), Automount = false, Format = "ext4",
                    Labels = Labels(s.Group), DeleteProtection = changes.Protected,
                }, Kept());
            servers.Add((s, server));
        }

        LoadBalancer? lb = null;
        if (plan.LoadBalancer is { } lbPlan)
        {
            lb = new LoadBalancer(lbPlan.Name, new LoadBalancerArgs
            {
                Name = lbPlan.Name, LoadBalancerType = lbPlan.Type, Location = site.Location, Labels = Labels(),
            }, Opts());
            var attached = new LoadBalancerNetwork(lbPlan.Name, new LoadBalancerNetworkArgs
            {
                LoadBalancerId = IdOf(lb), SubnetId = subnet.Id,
            }, Opts());
            var service = plan.Stack.Service;
            // A fenced site's load balancer is kept with no service (Core: PlannedLoadBalancer.Ports is empty): it listens on nothing.
            foreach (var port in lbPlan.Ports)
                _ = new LoadBalancerService($"{lbPlan.Name}-{port}", new LoadBalancerServiceArgs
                {
                    LoadBalancerId = lb.Id, Protocol = "tcp", ListenPort = port, DestinationPort = port,
                    HealthCheck = new LoadBalancerServiceHealthCheckArgs
                    {
                        Protocol = "http", Port = service.HealthPort, Interval = 15, Timeout = 10, Retries = 3,
                        Http = new LoadBalancerServiceHealthCheckHttpArgs { Path = service.HealthPath },
                    },
                }, Opts());
            foreach (var (s, server) in servers.Where(x => lbPlan.Targets.Contains(x.Plan.Name)))
                _ = new LoadBalancerTarget($"{lbPlan.Name}-{s.Name}", new Pulumi.HCloud.LoadBalancerTargetArgs
                {
                    LoadBalancerId = IdOf(lb), Type = "server", ServerId = IdOf(server), UsePrivateIp = true,
                }, Opts(attached));
        }

        var front = servers.FirstOrDefault(x => x.Plan.ServesTraffic).Server;
        var ipv4Out = lb?.Ipv4 ?? front?.Ipv4Address ?? Output.Create("");
        var ipv6Out = lb?.Ipv6 ?? front?.Ipv6Address ?? Output.Create("");
        var serverAddresses = SiteAddresses.ByServer(servers.Select(x => (x.Plan.Name, x.Server.Ipv4Address)));
        Addresses = new SiteAddresses(ipv4Out, ipv6Out, Output.Create(""), serverAddresses);
        RegisterOutputs(new Dictionary<string, object?> { ["serviceIpv4"] = ipv4Out, ["serviceIpv6"] = ipv6Out });
    }
}
