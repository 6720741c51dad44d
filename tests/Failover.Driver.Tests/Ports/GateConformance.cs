using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Health;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Health;
using Failover.Driver.Tests.Support;
using Npgsql;
using Serilog.Core;

namespace Failover.Driver.Tests.Ports;

/// <summary>
/// The contract of the gate port (<see cref="IHealthGate"/> in Runbooks/Ports.cs) against each site kind the gate
/// probes, the way <see cref="SiteRolesConformance"/> runs the site roles: an unhealthy site is a verdict, never an
/// exception; a healthy one passes, and checking again changes nothing. Short waits: the suite must stay cheap.
/// </summary>
public abstract class GateConformance : IAsyncLifetime
{
    protected static readonly Topology Local = TopologyLoader.Load(Path.Combine(Repo.Root, "examples", "local"));
    protected static readonly TenantSnapshot Restored = new("contoso", "5f2a9c1e", DateTimeOffset.UtcNow, 1);

    private readonly IHealthGate _gate = new SiteGate(Local, new SecretRegistry(), TimeProvider.System, Logger.None, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(200));

    /// <summary>Where a restored site answers, as its provisioner said.</summary>
    protected abstract SiteAddress Healthy { get; }

    /// <summary>Where nothing answers.</summary>
    protected abstract SiteAddress Silent { get; }

    public abstract Task InitializeAsync();
    public abstract Task DisposeAsync();

    [Fact]
    public async Task A_site_that_does_not_answer_is_an_unhealthy_verdict_not_an_exception()
    {
        var verdict = await _gate.CheckAsync(Local.Production, Silent, [Restored], CancellationToken.None);
        Assert.False(verdict.Healthy);
        Assert.NotEmpty(verdict.Summary);
    }

    [Fact]
    public async Task A_restored_site_passes_and_checking_again_passes_again()
    {
        Assert.True((await _gate.CheckAsync(Local.Production, Healthy, [Restored], CancellationToken.None)).Healthy);
        Assert.True((await _gate.CheckAsync(Local.Production, Healthy, [Restored], CancellationToken.None)).Healthy);
    }
}

/// <summary>A local site: PostgreSQL answering with the restored tenant's database (127.0.10.5; nothing on 127.0.10.6).</summary>
public sealed class LocalGateConformance : GateConformance
{
    private readonly string _state = Directory.CreateTempSubdirectory("failover-gate-").FullName;
    private LocalSites _sites = null!;
    private StackSpec _site = null!;
    private SiteAddress _healthy = null!;

    protected override SiteAddress Healthy => _healthy;
    protected override SiteAddress Silent => new(["127.0.10.6"], null, new JsonObject { ["postgres"] = $"127.0.10.6:{Processes.FreePort()}" });

    public override async Task InitializeAsync()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package.StartsWith("postgresql")).ToList(), _ => { }, CancellationToken.None);
        _sites = new LocalSites(_state, Processes.FreePort());
        _site = StackFileReader.Parse("""
            config:
              failover:role: standby
              failover:site: { provider: local, location: lab-t, address: 127.0.10.5, jurisdiction: DE }
              failover:servers: [{ name: db, full: process }]
            """, "conf-gate", "Pulumi.conf-gate.yaml");
        _healthy = await _sites.ProvisionAsync(_site, [], CancellationToken.None);
        var cluster = _sites.Cluster(_site);
        foreach (var (database, sql) in new[] { ("postgres", $"CREATE DATABASE \"{Restored.Tenant}\""), (Restored.Tenant, "CREATE TABLE restored (id int)") })
        {
            await using var connection = new NpgsqlConnection(TenantSeed.ConnectionString(cluster.Address, cluster.Port, database));
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    public override async Task DisposeAsync() => await _sites.RemoveAllAsync([_site], CancellationToken.None);
}

/// <summary>A cloud site: its health URL lists the restored snapshot ids, as the data server's health daemon does.</summary>
public sealed class CloudGateConformance : GateConformance
{
    private readonly TinyWebServer _health = new(200, new JsonObject { ["status"] = "ok", ["snapshots"] = new JsonObject { [Restored.Tenant] = Restored.SnapshotId } }.ToJsonString());

    protected override SiteAddress Healthy => new(["192.0.2.21"], _health.Url.ToString(), new JsonObject());
    protected override SiteAddress Silent => new(["192.0.2.21"], $"http://127.0.10.6:{Processes.FreePort()}/health", new JsonObject());

    public override Task InitializeAsync() => Task.CompletedTask;

    public override Task DisposeAsync()
    {
        _health.Dispose();
        return Task.CompletedTask;
    }
}
