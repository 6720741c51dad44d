using System.Net;
using Failover.Core.Planning;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Dns;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cloud;

/// <summary>
/// The cutover through the DNS stack (Route 53 or Hetzner DNS): its active site set to the target and
/// applied with `pulumi up`, then every name server of the zone asked directly until all answer, within
/// <paramref name="visible"/> (the run's RuntimeOptions.DnsVisible).
/// </summary>
public sealed class DnsStackSwitch(IPulumi pulumi, StackSpec dnsStack, AuthoritativeCheck check, Action<string> progress, ILogger log, Wait visible) : IDnsSwitch
{
    private readonly DnsSpec _dns = dnsStack.Dns!;

    public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, CancellationToken cancellation) =>
        PointAsync(target, addresses, null, cancellation);

    /// <summary>The TTL is one more value of the DNS stack's config: set with the active site, applied by the same `up`.</summary>
    public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, int ttlSeconds, CancellationToken cancellation) =>
        PointAsync(target, addresses, ttlSeconds, cancellation);

    private async Task<string> PointAsync(StackSpec target, IReadOnlyList<string> addresses, int? ttlSeconds, CancellationToken cancellation)
    {
        if (ttlSeconds is { } ttl)
            await pulumi.SetConfigAsync(dnsStack.Name, "failover:dns.ttl", ConfigValue.Plain(ttl.ToString(System.Globalization.CultureInfo.InvariantCulture)), path: true, cancellation);
        await pulumi.SetConfigAsync(dnsStack.Name, "failover:dns.active", ConfigValue.Plain(target.Name), path: true, cancellation);
        progress($"    pulumi up {dnsStack.Name} (active site {target.Name}{(ttlSeconds is { } t ? $", TTL {t}s" : "")})");
        await pulumi.UpAsync(dnsStack.Name, cancellation: cancellation);
        log.Information("DNS stack {Stack} now points at {Target}", dnsStack.Name, target.Name);
        return $"{dnsStack.Name}: {_dns.Zone} records point at {target.Name} ({string.Join(", ", addresses)})";
    }

    public async Task<DateTimeOffset> WaitVisibleAsync(IReadOnlyList<string> addresses, CancellationToken cancellation)
    {
        var servers = _dns.Servers.Select(IPEndPoint.Parse).ToList();
        if (servers.Count == 0)
        {
            var outputs = await pulumi.GetOutputsAsync(dnsStack.Name, cancellation);
            var names = outputs.TryGetValue(StackOutputs.NameServers, out var ns) && ns.Value.ValueKind == System.Text.Json.JsonValueKind.Array
                ? ns.Value.EnumerateArray().Select(e => e.GetString()!).ToList() : [];
            foreach (var name in names)
                foreach (var ip in await System.Net.Dns.GetHostAddressesAsync(name, cancellation))
                    servers.Add(new IPEndPoint(ip, 53));
        }
        if (servers.Count == 0) throw new InvalidOperationException($"no name server of {_dns.Zone} could be found to verify the cutover");
        var expected = ServiceRecords.PointingAt(_dns, addresses.Select(IPAddress.Parse).ToList());
        var result = await check.WaitUntilVisibleAsync(_dns.Zone, expected, servers, visible.Timeout, visible.Poll, cancellation);
        if (!result.Visible || result.VisibleEverywhereAt is not { } at)
            throw new Engine.StepFailedException($"the new records of {_dns.Zone} are not visible on every name server: {result.Summary}");
        return at;
    }
}
