using System.Net;
using Failover.Core.Policies;
using Failover.Core.Topology;
using Failover.Driver.Dns;

namespace Failover.Driver.Status;

/// <summary>
/// What each authoritative server answers for the service records, against the serving site's addresses:
/// a record pointing elsewhere (a cutover undone, a stale record) or a server that does not answer alarms.
/// </summary>
public sealed class DnsAnswerCheck(ISiteObserver sites, IDnsClient dns, string servingStack) : ILiveCheck
{
    public string Name => "dns answer";

    public async Task<IReadOnlyList<LiveFact>> CheckAsync(Topology topology, CancellationToken cancellation)
    {
        if (topology.DnsStack is not { Dns: { } zone } dnsStack) return [];
        if (zone.Servers.Count == 0)
            return [new LiveFact(dnsStack.Name, Name, Severity.Info,
                "skipped: no authoritative servers listed (add them to failover:dns.servers to have status ask them directly)")];
        var serving = topology.Find(servingStack) ?? topology.Production;
        var view = await sites.ObserveAsync(serving, cancellation);
        if (view.CannotCheck is { } why) return [LiveFact.Blind(dnsStack.Name, Name, why)];
        if (view.Addresses.Count == 0)
            return [new LiveFact(dnsStack.Name, Name, Severity.Warning, $"{serving.Name} exports no service address to compare the answers with")];

        var facts = new List<LiveFact>();
        foreach (var record in zone.Records.Where(r => r.Type is "A" or "AAAA"))
        {
            var name = DnsName.InZone(record.Name, zone.Zone);
            var type = Enum.Parse<RecordType>(record.Type);
            var expected = view.Addresses.Where(a => IPAddress.Parse(a).AddressFamily ==
                (type == RecordType.A ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6)).Order().ToList();
            if (expected.Count == 0) continue;
            foreach (var server in zone.Servers.Select(IPEndPoint.Parse))
            {
                try
                {
                    var answer = (await dns.QueryAsync(server, name, type, cancellation)).DataOf(name, type).Order().ToList();
                    facts.Add(answer.SequenceEqual(expected)
                        ? new LiveFact(dnsStack.Name, Name, Severity.Info, $"{server} answers {name} {record.Type} {string.Join(" ", answer)}: {serving.Name}")
                        : new LiveFact(dnsStack.Name, Name, Severity.Error,
                            $"{server} answers {name} {record.Type} {(answer.Count == 0 ? "nothing" : string.Join(" ", answer))}, " +
                            $"but the serving site {serving.Name} is at {string.Join(" ", expected)}: customers are sent to the wrong place"));
                }
                catch (DnsQueryException e)
                {
                    facts.Add(new LiveFact(dnsStack.Name, Name, Severity.Error, $"{server} does not answer for {name}: {e.Message}"));
                }
            }
        }
        return facts;
    }
}
