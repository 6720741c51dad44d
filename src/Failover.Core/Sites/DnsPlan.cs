using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>One service record and the output of the active stack it takes its value from.</summary>
public sealed record PlannedRecord(string Name, string Fqdn, string Type, int Ttl, string SourceOutput);

/// <summary>An HTTP health check on the active site's health endpoint.</summary>
public sealed record PlannedHealthCheck(string Name, string AddressOutput, int Port, string Path, int FailureThreshold, int IntervalSeconds);

/// <summary>
/// The DNS zone stack: the zone, the records that point at the stack named by <c>failover:dns.active</c>
/// (values read from that stack's outputs) and a health check on it.
/// </summary>
public sealed record DnsPlan(StackSpec Stack, SiteNames Names, DnsSpec Dns, StackSpec Active, IReadOnlyList<PlannedRecord> Records, PlannedHealthCheck HealthCheck)
{
    public const int HealthCheckFailureThreshold = 3;
    public const int HealthCheckIntervalSeconds = 30;

    public static DnsPlan For(Topology.Topology topology, StackSpec stack)
    {
        if (stack.Dns is not { } dns)
            throw new ArgumentException($"{stack.Name} is not a dns stack", nameof(stack));
        var active = topology.Find(dns.ActiveStack)
            ?? throw new TopologyException(new TopologyProblem(stack.File, "failover:dns.active", null, $"stack '{dns.ActiveStack}' does not exist", "name the production stack or a standby"));
        var names = new SiteNames(stack.Name, stack.Role);
        var published = SitePlan.PublishedAddresses(active.Site.Provider);
        var records = new List<PlannedRecord>();
        foreach (var r in dns.Records)
        {
            var output = r.Type switch
            {
                "AAAA" => StackOutputs.ServiceIpv6,
                "CNAME" => StackOutputs.ServiceHostname,
                _ => StackOutputs.ServiceIpv4,
            };
            if (!published.Contains(output))
                throw new TopologyException(new TopologyProblem(stack.File, "failover:dns.records", null,
                    $"record {r.Name} {r.Type} cannot point at {active.Name}: {active.Site.Provider.ToString().ToLowerInvariant()} sites publish no {output}",
                    $"use record types that {active.Name} publishes ({string.Join(", ", published)}) or make another stack active"));
            var fqdn = r.Name == "@" ? dns.Zone : $"{r.Name}.{dns.Zone}";
            records.Add(new PlannedRecord(r.Name, fqdn, r.Type, dns.TtlSeconds, output));
        }
        // The health document is the data server's (SiteOutputs): the check asks it, not the load balancer.
        var check = new PlannedHealthCheck(names.HealthCheck, StackOutputs.HealthIpv4, active.Service.HealthPort, active.Service.HealthPath,
            HealthCheckFailureThreshold, HealthCheckIntervalSeconds);
        return new DnsPlan(stack, names, dns, active, records, check);
    }
}
