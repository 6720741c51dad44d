using System.Net;
using Failover.Driver.Polling;
using Serilog;

namespace Failover.Driver.Dns;

/// <summary>What one authoritative server was seen to answer while the change propagated.</summary>
/// <param name="VisibleAt">When it first answered every expected record set; null if it never did before the deadline.</param>
/// <param name="LastProblem">Why its last answer did not count (old address, not authoritative, no answer).</param>
public sealed record ServerSighting(IPEndPoint Server, DateTimeOffset? VisibleAt, int Queries, string? LastProblem);

/// <summary>The outcome of waiting for a DNS change: visible on every authoritative server, or not by the deadline.</summary>
public sealed record Propagation(
    string Zone,
    bool Visible,
    DateTimeOffset StartedAt,
    DateTimeOffset? VisibleEverywhereAt,
    IReadOnlyList<ServerSighting> Servers,
    string Summary);

/// <summary>
/// Proves a DNS change by asking each authoritative server of the zone directly (no recursion, no caches
/// in between) until all of them answer the new data, or the deadline passes.
/// </summary>
public sealed class AuthoritativeCheck(IDnsClient dns, TimeProvider time, ILogger log)
{
    private readonly ILogger _log = log.ForContext<AuthoritativeCheck>().ForContext("Step", "verify");

    /// <summary>
    /// The zone's authoritative servers: its NS records as told by a server that serves the zone, each name
    /// resolved through glue, the same server, or the system resolver, on the given port.
    /// </summary>
    public async Task<IReadOnlyList<IPEndPoint>> FindServersAsync(string zone, IPEndPoint knownServer, CancellationToken cancellation, int port = 53)
    {
        var apex = DnsName.Absolute(zone);
        var response = await dns.QueryAsync(knownServer, apex, RecordType.NS, cancellation);
        var names = response.DataOf(apex, RecordType.NS);
        if (response.Code != ResponseCode.NoError || !response.Authoritative || names.Count == 0)
            throw new DnsQueryException($"{knownServer} does not serve zone {apex} authoritatively ({response.Code}, {names.Count} NS records): " +
                "ask a server that hosts the zone, or list the authoritative servers explicitly");
        var servers = new List<IPEndPoint>();
        foreach (var name in names)
        {
            var addresses = response.Additional.Where(r => DnsName.Same(r.Name, name) && r.Type is (ushort)RecordType.A or (ushort)RecordType.AAAA)
                .Select(r => r.Data).ToList();
            if (addresses.Count == 0)
                foreach (var type in new[] { RecordType.A, RecordType.AAAA })
                    addresses.AddRange((await dns.QueryAsync(knownServer, name, type, cancellation)).DataOf(name, type));
            if (addresses.Count == 0)
                addresses.AddRange((await System.Net.Dns.GetHostAddressesAsync(name.TrimEnd('.'), cancellation)).Select(a => a.ToString()));
            servers.AddRange(addresses.Select(a => new IPEndPoint(IPAddress.Parse(a), port)));
        }
        var distinct = servers.Distinct().ToList();
        _log.Information("Zone {Zone} is served by {Servers}", apex, string.Join(", ", distinct));
        return distinct;
    }

    /// <summary>
    /// Asks every server until each answers exactly the expected data (a record set with no values expects
    /// the record to be gone), polling at the interval until the deadline.
    /// </summary>
    public async Task<Propagation> WaitUntilVisibleAsync(string zone, IReadOnlyList<RecordSet> expected, IReadOnlyList<IPEndPoint> servers,
        TimeSpan deadline, TimeSpan interval, CancellationToken cancellation)
    {
        if (servers.Count == 0) throw new ArgumentException("no authoritative server to ask", nameof(servers));
        foreach (var set in expected)
            if (!Enum.TryParse<RecordType>(set.Type, ignoreCase: true, out _) || int.TryParse(set.Type, out _))
                throw new ArgumentException($"{set.Name} {set.Type}: only {string.Join(", ", Enum.GetNames<RecordType>())} records can be verified", nameof(expected));
        var apex = DnsName.Absolute(zone);
        var log = _log.ForContext("Zone", apex);
        var schedule = new PollSchedule(time, deadline, interval);
        var sightings = servers.Distinct().ToDictionary(s => s, s => new ServerSighting(s, null, 0, null));
        do
        {
            var pending = sightings.Values.Where(s => s.VisibleAt is null).ToList();
            var asked = await Task.WhenAll(pending.Select(s => AskAsync(s, apex, expected, cancellation)));
            foreach (var s in asked)
            {
                sightings[s.Server] = s;
                if (s.VisibleAt is { } at)
                    log.Information("Change visible on {Server} at {VisibleAt:O} after {Queries} queries", s.Server, at, s.Queries);
                else
                    log.Debug("Not yet on {Server}: {Problem}", s.Server, s.LastProblem);
            }
            if (sightings.Values.All(s => s.VisibleAt is not null))
            {
                var at = sightings.Values.Max(s => s.VisibleAt!.Value);
                var summary = $"zone {apex}: the change is visible on all {sightings.Count} authoritative servers, " +
                    $"{(at - schedule.StartedAt).TotalSeconds:0.#}s after verification started";
                log.Information("DNS change verified in {Zone} on {ServerCount} servers at {VisibleAt:O}", apex, sightings.Count, at);
                return new Propagation(apex, true, schedule.StartedAt, at, sightings.Values.ToList(), summary);
            }
        } while (await schedule.WaitForNextAsync(cancellation));

        var missing = sightings.Values.Where(s => s.VisibleAt is null).ToList();
        var failure = $"zone {apex}: the change is not visible on {missing.Count} of {sightings.Count} authoritative servers " +
            $"after {schedule.Deadline.TotalSeconds:0.#}s: " +
            string.Join("; ", missing.Select(s => $"{s.Server} ({s.Queries} queries) {s.LastProblem}"));
        log.Error("DNS change not verified: {Failure}", failure);
        return new Propagation(apex, false, schedule.StartedAt, null, sightings.Values.ToList(), failure);
    }

    private async Task<ServerSighting> AskAsync(ServerSighting sighting, string apex, IReadOnlyList<RecordSet> expected, CancellationToken cancellation)
    {
        var queries = sighting.Queries;
        foreach (var set in expected)
        {
            var name = DnsName.InZone(set.Name, apex);
            var type = Enum.Parse<RecordType>(set.Type, ignoreCase: true);
            queries++;
            string? problem;
            try
            {
                var response = await dns.QueryAsync(sighting.Server, name, type, cancellation);
                problem = Mismatch(response, name, type, set.Values);
            }
            catch (DnsQueryException e)
            {
                problem = e.Message;
            }
            if (problem is not null) return sighting with { Queries = queries, LastProblem = problem };
        }
        return sighting with { Queries = queries, VisibleAt = time.GetUtcNow(), LastProblem = null };
    }

    /// <summary>Why an answer is not the expected one, or null when it is.</summary>
    private static string? Mismatch(DnsResponse response, string name, RecordType type, IReadOnlyList<string> expected)
    {
        if (!response.Authoritative) return $"answered {name} {type} without authority (does it serve the zone?)";
        if (response.Code is not (ResponseCode.NoError or ResponseCode.NameError)) return $"answered {name} {type} with {response.Code}";
        var actual = response.DataOf(name, type).Select(v => Canonical(v, type)).Order().ToList();
        var wanted = expected.Select(v => Canonical(v, type)).Order().ToList();
        if (actual.SequenceEqual(wanted)) return null;
        return $"answers {name} {type} {(actual.Count == 0 ? "nothing" : string.Join(", ", actual))}, " +
            $"expected {(wanted.Count == 0 ? "nothing" : string.Join(", ", wanted))}";
    }

    private static string Canonical(string value, RecordType type) => type switch
    {
        RecordType.A or RecordType.AAAA when IPAddress.TryParse(value, out var ip) => ip.ToString(),
        RecordType.CNAME or RecordType.NS => DnsName.Absolute(value),
        _ => value,
    };
}
