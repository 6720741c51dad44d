using Failover.Core.Topology;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Health;

/// <summary>
/// The gate a failover passes before DNS moves, built from what the new site exports: its health URL must
/// report every restored snapshot id (cloud), or PostgreSQL must answer with each tenant's database (local).
/// </summary>
/// <param name="probe">One HTTP or PostgreSQL probe's limit (runtime option probe); <paramref name="tcpProbe"/> one TCP connect's (tcpProbe).</param>
public sealed class SiteGate(Topology topology, SecretRegistry secrets, TimeProvider time, ILogger log, TimeSpan deadline, TimeSpan interval,
    TimeSpan? probe = null, TimeSpan? tcpProbe = null) : IHealthGate
{
    public Task<GateVerdict> CheckAsync(StackSpec site, SiteAddress address, IReadOnlyList<TenantSnapshot> restored, CancellationToken cancellation) =>
        new HealthGate(Probes(address, restored), time, log).RunAsync(deadline, interval, cancellation);

    public IReadOnlyList<IHealthProbe> Probes(SiteAddress address, IReadOnlyList<TenantSnapshot> restored)
    {
        var probes = new List<IHealthProbe>();
        if (address.HealthUrl is { } url)
            foreach (var s in restored)
                probes.Add(new HttpProbe(new Uri(url), new HttpExpectation(200, BodyContains: s.SnapshotId), timeout: probe));
        if (address.Outputs["postgres"]?.GetValue<string>() is { } pg)
        {
            var colon = pg.LastIndexOf(':');
            var (host, port) = (pg[..colon], int.Parse(pg[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
            probes.Add(new TcpProbe(host, port, tcpProbe));
            // The tenants this run restored: one left out (no usable backup) has no database here yet.
            foreach (var t in topology.Tenants.Where(t => restored.Any(s => s.Tenant == t.Name)))
                probes.Add(new PostgresProbe(Local.TenantSeed.ConnectionString(host, port, t.Name), secrets,
                    "select count(*) > 0 from information_schema.tables where table_schema = 'public'", "True", probe));
        }
        return probes;
    }
}
