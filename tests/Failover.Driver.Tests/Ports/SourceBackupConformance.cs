using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Migration;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Support;
using Serilog.Core;

namespace Failover.Driver.Tests.Ports;

/// <summary>
/// One local source site on 127.0.10.40 (a real PostgreSQL cluster with tenants alpha and beta, a files directory each) and
/// its directory vault, backed up once before any freeze by the agent Core renders. Shared by both source-backup adapters'
/// cases: each case freezes at its own moment, so the backups the others took are simply older than its freeze.
/// </summary>
public sealed class SourceBackupWorld : IAsyncLifetime
{
    public string Project { get; } = Directory.CreateTempSubdirectory("failover-source-backup-").FullName;
    public SecretRegistry Secrets { get; } = new();
    public Topology Topology { get; private set; } = null!;
    public StackSpec Source => Topology.Production;
    public LocalSites Sites { get; private set; } = null!;
    public ResticSettings VaultSettings { get; private set; } = null!;

    /// <summary>A tenant of the stack files that has no database on the source: it cannot be backed up.</summary>
    public Tenant Ghost { get; } = new("ghost", 2, 0.01);

    public async Task InitializeAsync()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package.StartsWith("postgresql") || p.Package == "restic").ToList(), _ => { }, CancellationToken.None);
        File.SetUnixFileMode(Project, (UnixFileMode)Convert.ToInt32("755", 8));
        File.WriteAllText(Path.Combine(Project, "Pulumi.conf-source.yaml"), """
            config:
              failover:role: production
              failover:site: { provider: local, location: lab-s, address: 127.0.10.40, jurisdiction: DE }
              failover:servers: [{ name: db, full: process }]
              failover:tenants:
                - { name: alpha, tier: 1, dataGb: 0.01 }
                - { name: beta, tier: 2, dataGb: 0.01 }
              failover:backup: { vaults: [conf-source-vault], schedule: 15m, retention: 30d }
              failover:targets: { rpo: 1h, rto: 4h }
            """);
        File.WriteAllText(Path.Combine(Project, "Pulumi.conf-source-vault.yaml"), """
            config:
              failover:role: vault
              failover:site: { provider: local, location: lab-v, address: 127.0.10.41, jurisdiction: DE }
              failover:vault: { kind: directory, path: vault }
            """);
        Topology = TopologyLoader.Load(Project);
        Sites = new LocalSites(Path.Combine(Project, "sites"), Processes.FreePort());
        await Sites.ProvisionAsync(Source, [], CancellationToken.None);
        var cluster = Sites.Cluster(Source);
        foreach (var tenant in Topology.Tenants)
            await TenantSeed.SeedAsync(tenant, cluster.Address, cluster.Port, Sites.FilesDirectory(Source, tenant.Name), 0.001, CancellationToken.None);
        // The backups taken before any freeze; they also install the agent the site's backup command runs.
        var before = await LocalBackup.RunAsync(Topology, Sites, Project, Secrets, TimeProvider.System, Logger.None, _ => { }, CancellationToken.None);
        Assert.All(before, r => Assert.True(r.Succeeded, r.Error));
        VaultSettings = (await LocalBackup.EnsureVaultsAsync(Topology, Project, Secrets, Logger.None, CancellationToken.None))[0].Settings;
    }

    /// <summary>The source's tenants and one more that cannot be backed up.</summary>
    public IReadOnlyList<Tenant> WithGhost => [.. Topology.Tenants, Ghost];

    /// <summary>The vault the source backs up into, read as a run reads it.</summary>
    public ResticVault Vault() => new(new BackupCatalog(new ResticRepository(VaultSettings, Secrets, Logger.None), TimeProvider.System, Logger.None));

    /// <summary>
    /// The command a site's failover:migrate.backup runs to take its backup: the agent installed on its data server, run
    /// to the end (on a cloud server: <c>systemctl start --wait failover-backup</c>).
    /// </summary>
    public string AgentCommand
    {
        get
        {
            var agent = Path.Combine(Sites.SiteDirectory(Source), "backup-agent");
            var cluster = Sites.Cluster(Source);
            return $"PGHOST={cluster.Address} PGPORT={cluster.Port} PGUSER=postgres {Core.Sites.BackupAgent.ConfigVariable}='{agent}/backup.conf' bash '{agent}/failover-backup'";
        }
    }

    public async Task DisposeAsync()
    {
        await Sites.RemoveAllAsync([Source], CancellationToken.None);
        Directory.Delete(Project, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class SourceBackupCollection : ICollectionFixture<SourceBackupWorld>
{
    public const string Name = "source backup";
}

/// <summary>
/// The contract of the source-backup port (<see cref="ISourceBackup"/> in Runbooks/Ports.cs) against each adapter a
/// migration composes, the way restic's backend tests run one suite per backend: a snapshot of every tenant taken after
/// the freeze and found in the vault, a repeat as new and never older than the freeze although older backups are there,
/// and a tenant that cannot be backed up named.
/// </summary>
[Collection(SourceBackupCollection.Name)]
public abstract class SourceBackupConformance(SourceBackupWorld world)
{
    private static CancellationToken None => CancellationToken.None;

    protected SourceBackupWorld World { get; } = world;

    /// <summary>The adapter as a migration composes it for <see cref="SourceBackupWorld.Source"/>, backing up <paramref name="tenants"/>.</summary>
    protected abstract ISourceBackup Adapter(IReadOnlyList<Tenant> tenants);

    /// <summary>The source as the adapter is given it (a cloud source carries its failover:migrate.backup commands).</summary>
    protected abstract StackSpec Source { get; }

    [Fact]
    public async Task Every_tenant_s_snapshot_is_taken_after_the_freeze_and_is_in_the_vault_and_a_repeat_is_as_new_never_older_than_the_freeze()
    {
        var frozenAt = DateTimeOffset.UtcNow;
        var backup = Adapter(World.Topology.Tenants);
        var taken = await backup.BackupAsync(Source, frozenAt, None);

        Assert.Equal(World.Topology.Tenants.Select(t => t.Name).Order(), taken.Select(s => s.Tenant).Order());
        Assert.All(taken, s => Assert.True(s.Time >= frozenAt, $"{s.Tenant}'s snapshot {s.SnapshotId} is from {s.Time:O}, before the freeze at {frozenAt:O}"));
        var vault = World.Vault();
        foreach (var snapshot in taken)
        {
            var newest = (await vault.SnapshotsAsync(World.Topology.Tenants.Single(t => t.Name == snapshot.Tenant), None))[0];
            Assert.Equal((snapshot.SnapshotId, snapshot.Time), (newest.SnapshotId, newest.Time));
        }
        Assert.True(await vault.ReadBackAsync(taken[0], None), "the final backup reads back against its manifest");

        // A resumed run repeats a final backup whose completion was not journaled; the vault holds older backups too.
        var again = await backup.BackupAsync(Source, frozenAt, None);
        Assert.Equal(taken.Select(s => s.Tenant).Order(), again.Select(s => s.Tenant).Order());
        foreach (var snapshot in again)
        {
            Assert.True(snapshot.Time >= frozenAt, $"{snapshot.Tenant}'s repeated snapshot is older than the freeze");
            Assert.True(snapshot.Time >= taken.Single(s => s.Tenant == snapshot.Tenant).Time, $"{snapshot.Tenant}'s repeated snapshot is older than the first");
        }
    }

    [Fact]
    public async Task A_tenant_that_cannot_be_backed_up_is_named()
    {
        var e = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => Adapter(World.WithGhost).BackupAsync(Source, DateTimeOffset.UtcNow, None));
        Assert.Contains(World.Ghost.Name, e.Message);
        Assert.Contains(World.Source.Name, e.Message);
        AssertWording(e.Message);
    }

    /// <summary>What an adapter's refusal says beyond naming the tenant and the source.</summary>
    protected virtual void AssertWording(string message) { }
}

/// <summary>A local source: the driver runs the site's backup agent itself, against the cluster it can reach.</summary>
public sealed class LocalSourceBackupConformance(SourceBackupWorld world) : SourceBackupConformance(world)
{
    protected override StackSpec Source => World.Source;

    protected override ISourceBackup Adapter(IReadOnlyList<Tenant> tenants)
    {
        // The local adapter backs up the stack files' tenants: a ghost is one the stack files list with neither database nor files.
        var topology = tenants.Count == World.Topology.Tenants.Count ? World.Topology
            : new Topology(World.Topology.Stacks.Select(s => s.Name == World.Source.Name ? s with { Tenants = tenants } : s).ToList(), null, World.Project);
        return new LocalSourceBackup(topology, World.Sites, World.Project, World.Secrets, TimeProvider.System, Logger.None, _ => { });
    }

    /// <summary>The agent's reason for the tenant (its files directory is missing) in the words of every tool failure.</summary>
    protected override void AssertWording(string message) =>
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(message,
            @"^the final backup of conf-source failed: failover-backup failed backing up tenant ghost of conf-source \(exit 1\): " +
            @"files directory /.+/files/ghost does not exist \(create it empty if the tenant has no files\)\. " +
            @"Its log names every failure of the run \(journalctl -u failover-backup\.service on a server, the output of `failover backup` here\): fix the cause and back up again$"), message);
}

/// <summary>
/// A cloud source, whose databases the driver cannot reach: the site's failover:migrate.backup command runs its installed
/// agent, and the adapter finds the backups in the vault (a ghost is a tenant the site's agent does not back up).
/// </summary>
public sealed class HookSourceBackupConformance(SourceBackupWorld world) : SourceBackupConformance(world)
{
    protected override StackSpec Source => World.Source with { Migrate = new MigrationHooks([], [], [World.AgentCommand]) };

    protected override ISourceBackup Adapter(IReadOnlyList<Tenant> tenants) =>
        new HookSourceBackup(new SiteHooks(tenants, World.Secrets, Logger.None, TimeSpan.FromMinutes(2)), World.Vault(), tenants);

    [Fact]
    public async Task A_backup_command_that_returns_before_its_backup_is_done_is_refused_not_answered_with_older_snapshots()
    {
        var early = World.Source with { Migrate = new MigrationHooks([], [], ["true"]) };
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Adapter(World.Topology.Tenants).BackupAsync(early, DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.Contains("after the freeze began", e.Message);
    }
}
