namespace Failover.Core.Sites;

/// <summary>
/// Which address answers what on a site. The service records point at the load balancer, else at the first
/// server that serves traffic. The health document that restore progress, the health gate and the Route 53
/// health check read is the data server's: only it restores and lists the snapshot ids, checks PostgreSQL,
/// and a load balancer has no service on the health port (Hetzner load balancer services reach every target
/// alike, and the app servers report no snapshots). So health is published from the data server's address.
/// </summary>
public sealed record SiteOutputs(string ServiceIpv4, string ServiceIpv6, string ServiceHostname, string HealthIpv4, string HealthUrl)
{
    /// <summary>
    /// What publishes the service address: the load balancer's name, else a server's; null when nothing runs, and on a
    /// fenced site, whose servers are kept but serve nothing (its firewall admits SSH only).
    /// </summary>
    public static string? ServiceSource(SitePlan plan) => plan.Mode == Topology.SiteMode.Fenced ? null : plan.LoadBalancer?.Name ?? plan.FrontServer?.Name;

    /// <summary>The server whose address answers health: the data server (null when nothing runs).</summary>
    public static string? HealthSource(SitePlan plan) => plan.DataServer?.Name ?? plan.FrontServer?.Name;

    /// <summary>
    /// The outputs from the addresses the provider assigned: each server's public IPv4 by name, and the load
    /// balancer's (or front server's) IPv6 and AWS DNS name where the provider has them. Empty strings when the
    /// site runs nothing (cold).
    /// </summary>
    public static SiteOutputs For(SitePlan plan, IReadOnlyDictionary<string, string> serverIpv4,
        string? loadBalancerIpv4 = null, string serviceIpv6 = "", string serviceHostname = "")
    {
        string Ip(string? server) => server is not null && serverIpv4.TryGetValue(server, out var ip) ? ip : "";
        var service = ServiceSource(plan) is null ? "" : plan.LoadBalancer is not null ? loadBalancerIpv4 ?? "" : Ip(plan.FrontServer?.Name);
        var health = Ip(HealthSource(plan));
        return new SiteOutputs(service, service.Length == 0 ? "" : serviceIpv6, service.Length == 0 ? "" : serviceHostname,
            health, health.Length == 0 ? "" : plan.HealthUrl(health));
    }
}
