using System.Net;
using Failover.Core.Topology;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Dns;

/// <summary>
/// The cutover for a self-hosted zone: the service records replaced through the PowerDNS API, then every
/// authoritative server asked directly until all answer the new addresses.
/// </summary>
public sealed class PowerDnsSwitch(DnsSpec dns, IDnsCutover cutover, AuthoritativeCheck check, TimeSpan deadline, TimeSpan interval, ILogger log) : IDnsSwitch
{
    private IReadOnlyList<RecordSet> Records(IReadOnlyList<string> addresses, int? ttlSeconds = null) =>
        ServiceRecords.PointingAt(dns with { TtlSeconds = ttlSeconds ?? dns.TtlSeconds }, addresses.Select(IPAddress.Parse).ToList());

    public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, CancellationToken cancellation) =>
        PointAtAsync(target, addresses, dns.TtlSeconds, cancellation);

    public async Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, int ttlSeconds, CancellationToken cancellation)
    {
        var records = Records(addresses, ttlSeconds);
        await cutover.PointAsync(dns.Zone, records, cancellation);
        log.Information("Records of {Zone} now point at {Stack}", dns.Zone, target.Name);
        return string.Join(", ", records.Select(r => $"{DnsName.InZone(r.Name, dns.Zone)} {r.Type} -> {string.Join(" ", r.Values)} (TTL {r.TtlSeconds}s)"));
    }

    public async Task<DateTimeOffset> WaitVisibleAsync(IReadOnlyList<string> addresses, CancellationToken cancellation)
    {
        var servers = dns.Servers.Select(IPEndPoint.Parse).ToList();
        if (servers.Count == 0)
            throw new InvalidOperationException($"no authoritative server to verify {dns.Zone} on: set failover:dns.servers");
        var result = await check.WaitUntilVisibleAsync(dns.Zone, Records(addresses), servers, deadline, interval, cancellation);
        if (!result.Visible || result.VisibleEverywhereAt is not { } at)
            throw new Engine.StepFailedException($"the new records of {dns.Zone} are not visible everywhere: {result.Summary}");
        return at;
    }
}
