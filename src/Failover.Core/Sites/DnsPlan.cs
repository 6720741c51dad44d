using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>One service record and the output of the active stack it takes its value from.</summary>
public sealed record PlannedRecord(string Name, string Fqdn, string Type, int Ttl, string SourceOutput)
{
    /// <summary>
    /// Whether the health check is attached to this record (Route 53). Attached with multivalue answer routing, one set
    /// per active stack: "when all records are unhealthy, Route 53 responds to DNS queries with up to eight unhealthy
    /// records" (Route 53 API, ResourceRecordSet.MultiValueAnswer), so an unhealthy site is still answered (the failover
    /// is the operator's decision, after fencing, never an automatic DNS flip to a standby that may be cold), while the
    /// record shows its site's health. A health check on a simple record is not allowed, and CNAMEs cannot be multivalue.
    /// </summary>
    public bool HealthChecked => Type is "A";

    /// <summary>
    /// The multivalue set identifier of a health-checked record: the dns stack's name, stable across cutovers, so a
    /// cutover updates the record's value in place instead of replacing it (a replaced record is briefly missing).
    /// </summary>
    public string? SetIdentifier { get; init; }
}

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
        if (NoServiceAddress(active) is { } why)
            throw new TopologyException(ActiveProblem(stack, active, why));
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
            var record = new PlannedRecord(r.Name, fqdn, r.Type, dns.TtlSeconds, output);
            records.Add(record.HealthChecked ? record with { SetIdentifier = stack.Name } : record);
        }
        // The health document is the data server's (SiteOutputs): the check asks it, not the load balancer.
        var check = new PlannedHealthCheck(names.HealthCheck, StackOutputs.HealthIpv4, active.Service.HealthPort, active.Service.HealthPath,
            HealthCheckFailureThreshold, HealthCheckIntervalSeconds);
        return new DnsPlan(stack, names, dns, active, records, check);
    }

    /// <summary>
    /// Why a stack publishes no service address for the records to point at, or null when it does. Route 53 refuses
    /// an A record or a health check with an empty value with an API error, in the middle of `pulumi up`.
    /// </summary>
    public static string? NoServiceAddress(StackSpec active) => active switch
    {
        { Role: not (Role.Production or Role.Standby or Role.Rehearsal) } => $"{active.Name} is a {active.Role.ToString().ToLowerInvariant()} stack, not a site",
        { Mode: SiteMode.Cold } => $"{active.Name} is in mode cold: it runs no server, so it publishes no service address",
        { Mode: SiteMode.Fenced } => $"{active.Name} is fenced: its firewall admits SSH only, so it serves nothing",
        _ => null,
    };

    /// <summary>The problem of a dns stack whose active stack serves nothing: file, key and the fix.</summary>
    public static TopologyProblem ActiveProblem(StackSpec dnsStack, StackSpec active, string why) =>
        new(dnsStack.File, "failover:dns.active", null, why,
            $"point failover:dns.active at the stack that serves (the production stack, or the standby `failover run --to` provisioned), " +
            $"or bring {active.Name} up first (failover:mode mvd or full)");
}
