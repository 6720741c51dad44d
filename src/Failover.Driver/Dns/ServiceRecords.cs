using System.Net;
using System.Net.Sockets;
using Failover.Core.Topology;

namespace Failover.Driver.Dns;

/// <summary>The service records of a topology's zone (failover:dns records) as DNS changes.</summary>
public static class ServiceRecords
{
    /// <summary>
    /// Each A record points at the site's IPv4 addresses, each AAAA at its IPv6 ones. A record with no address
    /// of its family is an error: publishing an empty set would take the service off the air.
    /// </summary>
    public static IReadOnlyList<RecordSet> PointingAt(DnsSpec spec, IReadOnlyList<IPAddress> addresses) => spec.Records.Select(r =>
    {
        var family = r.Type.ToUpperInvariant() switch
        {
            "A" => AddressFamily.InterNetwork,
            "AAAA" => AddressFamily.InterNetworkV6,
            _ => throw new ArgumentException($"record {r.Name} {r.Type} in zone {spec.Zone}: only A and AAAA records follow the active site"),
        };
        var values = addresses.Where(a => a.AddressFamily == family).Select(a => a.ToString()).Distinct().ToList();
        if (values.Count == 0)
            throw new ArgumentException($"record {r.Name} {r.Type} in zone {spec.Zone}: the new site has no {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address " +
                $"(it has {string.Join(", ", addresses)})");
        return new RecordSet(r.Name, r.Type.ToUpperInvariant(), values, spec.TtlSeconds);
    }).ToList();
}
