using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Migration;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Support;
using Npgsql;
using Serilog.Core;

namespace Failover.Driver.Tests.Ports;

/// <summary>
/// The contract of the freeze port (<see cref="IWriteFreeze"/> in Runbooks/Ports.cs) run against each adapter a
/// migration composes, the way <see cref="SiteRolesConformance"/> runs the site roles: a subclass says how its adapter
/// is built and how to tell whether its source takes writes.
/// </summary>
public abstract class FreezeConformance : IAsyncLifetime
{
    private static CancellationToken None => CancellationToken.None;

    protected abstract IWriteFreeze Freeze { get; }
    protected abstract StackSpec Source { get; }

    /// <summary>Whether the source commits a write now, asked the way its adapter stops them.</summary>
    protected abstract Task<bool> TakesWritesAsync();

    public abstract Task InitializeAsync();
    public abstract Task DisposeAsync();

    [Fact]
    public async Task Freezing_again_is_freezing_once_and_thawing_again_gives_the_writes_back_once()
    {
        Assert.True(await TakesWritesAsync());
        await Freeze.FreezeAsync(Source, None);
        await Freeze.FreezeAsync(Source, None); // a resumed run repeats a freeze whose completion was not journaled
        Assert.False(await TakesWritesAsync());
        await Freeze.ThawAsync(Source, None);
        await Freeze.ThawAsync(Source, None);
        Assert.True(await TakesWritesAsync());
    }

    [Fact]
    public async Task Thawing_a_source_never_frozen_changes_nothing()
    {
        await Freeze.ThawAsync(Source, None);
        Assert.True(await TakesWritesAsync());
    }
}

/// <summary>The local provider's freeze as a migration composes it: read-only tenant databases, then the site's own commands (127.0.10.3).</summary>
public sealed class LocalFreezeConformance : FreezeConformance
{
    private readonly string _state = Directory.CreateTempSubdirectory("failover-freeze-").FullName;
    private readonly Tenant _tenant = new("conformance", 1, 0.1);
    private LocalSites _sites = null!;
    private StackSpec _source = null!;
    private IWriteFreeze _freeze = null!;

    protected override IWriteFreeze Freeze => _freeze;
    protected override StackSpec Source => _source;

    public override async Task InitializeAsync()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package.StartsWith("postgresql")).ToList(), _ => { }, CancellationToken.None);
        _sites = new LocalSites(_state, Processes.FreePort());
        _source = StackFileReader.Parse("""
            config:
              failover:role: standby
              failover:site: { provider: local, location: lab-t, address: 127.0.10.3, jurisdiction: DE }
              failover:servers: [{ name: db, full: process }]
            """, "conf-freeze", "Pulumi.conf-freeze.yaml");
        await _sites.ProvisionAsync(_source, [], CancellationToken.None);
        await using var admin = await OpenAsync("postgres");
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_tenant.Name}\"", admin);
        await create.ExecuteNonQueryAsync();
        _freeze = new HookFreeze(new SiteHooks([_tenant], new SecretRegistry(), Logger.None, TimeSpan.FromMinutes(1)), new PostgresFreeze(_sites, [_tenant]));
    }

    private async Task<NpgsqlConnection> OpenAsync(string database)
    {
        var cluster = _sites.Cluster(_source);
        var connection = new NpgsqlConnection(new PostgresDatabase(cluster.Address, cluster.Port, database, "postgres", null).ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    protected override async Task<bool> TakesWritesAsync()
    {
        await using var db = await OpenAsync(_tenant.Name);
        try
        {
            await using var write = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS writes (at timestamptz); INSERT INTO writes VALUES (now())", db);
            await write.ExecuteNonQueryAsync();
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ReadOnlySqlTransaction) { return false; }
    }

    public override async Task DisposeAsync() => await _sites.RemoveAllAsync([_source], CancellationToken.None);
}

/// <summary>
/// A cloud source's freeze as a migration composes it: the site's own failover:migrate commands and nothing built in (the
/// driver cannot reach a cloud site's databases); here they switch a maintenance flag the way an application's would.
/// </summary>
public sealed class CloudFreezeConformance : FreezeConformance
{
    private readonly string _dir = Directory.CreateTempSubdirectory("failover-freeze-cloud-").FullName;
    private StackSpec _source = null!;
    private IWriteFreeze _freeze = null!;

    private string Flag => Path.Combine(_dir, "maintenance");
    protected override IWriteFreeze Freeze => _freeze;
    protected override StackSpec Source => _source;

    public override Task InitializeAsync()
    {
        var topology = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));
        _source = topology.Production with { Migrate = new MigrationHooks([$"touch '{Flag}'"], [$"rm -f '{Flag}'"], []) };
        _freeze = new HookFreeze(new SiteHooks(topology.Tenants, new SecretRegistry(), Logger.None, TimeSpan.FromMinutes(1)), builtIn: null);
        return Task.CompletedTask;
    }

    protected override Task<bool> TakesWritesAsync() => Task.FromResult(!File.Exists(Flag));

    public override Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}
