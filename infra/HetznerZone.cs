using Failover.Core.Sites;
using Pulumi;
using Pulumi.HCloud;
using Pulumi.HCloud.Inputs;

namespace Failover.Infra;

/// <summary>The service zone on Hetzner DNS (a second kind): records that follow the active stack. Hetzner has no health checks.</summary>
public sealed class HetznerZone : ComponentResource
{
    public Output<string> ZoneId { get; }
    public Output<System.Collections.Immutable.ImmutableArray<string>> NameServers { get; }

    public HetznerZone(DnsPlan plan, Func<string, Output<string>> activeOutput, Pulumi.HCloud.Provider provider)
        : base("failover:dns:HetznerZone", plan.Names.Stack, new ComponentResourceOptions { Providers = { provider } })
    {
        var names = plan.Names;
        InputMap<string> Labels() => names.Labels().ToDictionary();
        var zone = new Zone(names.Zone, new ZoneArgs { Name = plan.Dns.Zone, Mode = "primary", Ttl = plan.Dns.TtlSeconds, Labels = Labels() },
            new CustomResourceOptions { Parent = this, Provider = provider, Protect = true });
        foreach (var r in plan.Records)
            _ = new ZoneRrset(names.Record(new(r.Name, r.Type)), new ZoneRrsetArgs
            {
                Zone = zone.Name, Name = r.Name, Type = r.Type, Ttl = r.Ttl, Labels = Labels(),
                Records = { new ZoneRrsetRecordArgs { Value = activeOutput(r.SourceOutput) } },
            }, new CustomResourceOptions { Parent = this, Provider = provider });
        ZoneId = zone.Id;
        NameServers = zone.AuthoritativeNameservers.Apply(n => n.Assigneds);
        RegisterOutputs(new Dictionary<string, object?> { ["zoneId"] = ZoneId });
    }
}
