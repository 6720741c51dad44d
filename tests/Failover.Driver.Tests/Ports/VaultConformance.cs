using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Composition;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Backup;
using Failover.Driver.Tests.Pulumi;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Ports;

/// <summary>
/// One real restic vault, written by the driver's own backup from a real PostgreSQL: tenant alpha backed up twice, tenant
/// beta once with the pack of its dump damaged afterwards, tenant gamma never. Shared by every case of a vault adapter.
/// </summary>
public sealed class VaultWorld : IAsyncLifetime
{
    public PostgresCluster Cluster { get; } = new();
    public TestVault Vault { get; private set; } = null!;
    public Tenant Alpha { get; } = new("alpha", 1, 1);
    public Tenant Beta { get; } = new("beta", 1, 1);
    public Tenant Gamma { get; } = new("gamma", 1, 1);
    public List<string> AlphaRuns { get; } = [];

    public async Task InitializeAsync()
    {
        Vault = await TestVault.CreateAsync(Cluster);
        var alpha = await CatalogScenario.TenantAsync(Cluster, Vault, Alpha.Name);
        foreach (var run in new[] { "20261201T100000Z-alpha1", "20261201T110000Z-alpha2" })
        {
            await CatalogScenario.BackUpNewDataAsync(Vault, alpha, run);
            AlphaRuns.Add(run);
            Vault.Clock.Now += TimeSpan.FromHours(1);
        }
        var beta = await CatalogScenario.TenantAsync(Cluster, Vault, Beta.Name);
        CatalogScenario.Damage(await CatalogScenario.BackUpNewDataAsync(Vault, beta, "20261201T120000Z-beta01"));
        // A directory vault's password lives beside it (what `failover backup` writes when it creates one).
        File.WriteAllText(Vault.Settings.Repository + ".password", Vault.Settings.Password);
    }

    /// <summary>The vault stack whose outputs open <see cref="Vault"/>.</summary>
    public const string StackVault = "vault-stack";

    private readonly SemaphoreSlim _deploy = new(1, 1);
    private StandIn? _pulumi;

    /// <summary>
    /// The stand-in `pulumi` with two vault stacks deployed once for the class: <see cref="StackVault"/>, whose outputs
    /// open this vault, and <paramref name="half"/>, deployed without the restic outputs (an `up` that never finished).
    /// </summary>
    public async Task<IPulumi> StackVaultsAsync(string half)
    {
        await _deploy.WaitAsync();
        try
        {
            if (_pulumi is not null) return _pulumi.Cli();
            var standIn = new StandIn();
            standIn.Script(new
            {
                outputs = new Dictionary<string, object>
                {
                    [StackVault] = new { resticRepository = Vault.Settings.Repository, resticPassword = new Dictionary<string, string> { ["$secret"] = Vault.Settings.Password } },
                    [half] = new { vaultUrl = "s3:https://s3.eu-west-3.amazonaws.com/x" },
                },
            });
            foreach (var stack in new[] { StackVault, half })
            {
                await standIn.Cli().SelectOrCreateStackAsync(stack);
                await standIn.Cli().UpAsync(stack); // the stand-in records the outputs an `up` produces
            }
            return (_pulumi = standIn).Cli();
        }
        finally { _deploy.Release(); }
    }

    public async Task DisposeAsync()
    {
        _pulumi?.Dispose();
        await Vault.DisposeAsync();
        Cluster.Dispose();
    }
}

/// <summary>
/// The contract of the vault port (<see cref="IBackupVault"/> in Runbooks/Ports.cs) against each way a run opens a vault,
/// the way restic's backend tests run one suite per backend: the catalog read newest first, a tenant without backups,
/// the newest good set against a damaged one, and a vault that cannot be opened. Every member only reads: each case
/// asks twice and must hear the same.
/// </summary>
public abstract class VaultConformance(VaultWorld world) : IClassFixture<VaultWorld>
{
    private static CancellationToken None => CancellationToken.None;

    protected VaultWorld World { get; } = world;

    /// <summary>The vault as the composition root builds it for a run, reading <see cref="VaultWorld"/>'s repository.</summary>
    protected abstract Task<IBackupVault> OpenAsync();

    /// <summary>The same adapter pointed at a vault that cannot be opened; its name is <see cref="UnopenableName"/>.</summary>
    protected abstract Task<IBackupVault> OpenUnopenableAsync();

    protected abstract string UnopenableName { get; }

    [Fact]
    public async Task A_tenant_s_snapshots_are_listed_newest_first_and_listing_again_gives_the_same()
    {
        var vault = await OpenAsync();
        var first = await vault.SnapshotsAsync(World.Alpha, None);
        Assert.Equal(2, first.Count);
        Assert.True(first[0].Time > first[1].Time, "newest first");
        Assert.All(first, s => Assert.Equal(World.Alpha.Name, s.Tenant));
        Assert.Equal(first, await vault.SnapshotsAsync(World.Alpha, None));
    }

    [Fact]
    public async Task A_tenant_without_backups_has_no_snapshots_which_is_not_an_error()
    {
        Assert.Empty(await (await OpenAsync()).SnapshotsAsync(World.Gamma, None));
    }

    [Fact]
    public async Task The_newest_good_set_verifies_and_reads_back_while_a_damaged_one_is_false_not_an_exception()
    {
        var vault = await OpenAsync();
        var good = (await vault.SnapshotsAsync(World.Alpha, None))[0];
        Assert.True(await vault.VerifyAsync(good, None));
        Assert.True(await vault.ReadBackAsync(good, None));
        var damaged = Assert.Single(await vault.SnapshotsAsync(World.Beta, None));
        Assert.False(await vault.ReadBackAsync(damaged, None));
        Assert.False(await vault.ReadBackAsync(damaged, None));
    }

    [Fact]
    public async Task A_vault_that_cannot_be_opened_throws_naming_the_vault_every_time_it_is_asked()
    {
        var vault = await OpenUnopenableAsync();
        foreach (var _ in new[] { 1, 2 })
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => vault.SnapshotsAsync(World.Alpha, None));
            Assert.Contains(UnopenableName, e.Message);
        }
    }
}

/// <summary>The local provider's vault: a directory vault opened from its path and password file, as in failover:backup.vaults.</summary>
public sealed class DirectoryVaultConformance(VaultWorld world) : VaultConformance(world)
{
    private static StackSpec VaultStack(string name, string path) => StackFileReader.Parse($$"""
        config:
          failover:role: vault
          failover:site: { provider: local, location: lab-v, address: 127.0.10.30, jurisdiction: DE }
          failover:vault: { kind: directory, path: {{path}} }
        """, name, $"Pulumi.{name}.yaml");

    private IBackupVault Of(StackSpec stack) =>
        new VaultSet([new VaultSource(stack.Name, () => RunPortsFactory.DirectoryVault(stack, "/"))], World.Vault.Secrets, World.Vault.Clock, World.Vault.Logger, "100%");

    protected override Task<IBackupVault> OpenAsync() => Task.FromResult(Of(VaultStack("vault-dir", World.Vault.Settings.Repository)));
    protected override Task<IBackupVault> OpenUnopenableAsync() => Task.FromResult(Of(VaultStack(UnopenableName, World.Vault.Scratch("never-created"))));
    protected override string UnopenableName => "vault-dir-gone";
}

/// <summary>A cloud run's vault: the vault stack's outputs read through the stand-in `pulumi`, every tenant from one vault.</summary>
public sealed class StackVaultConformance(VaultWorld world) : VaultConformance(world)
{
    private static StackSpec VaultStack(string name) => StackFileReader.Parse("""
        config:
          failover:role: vault
          failover:site: { provider: aws, region: eu-west-3 }
          failover:vault: { kind: s3, bucket: failover-vault-conformance }
        """, name, $"Pulumi.{name}.yaml");

    private async Task<IBackupVault> OfAsync(string name)
    {
        var pulumi = await World.StackVaultsAsync(UnopenableName);
        var stack = VaultStack(name);
        return new VaultSet([new VaultSource(name, ct => VaultSettings.CloudAsync(stack, pulumi, ct))], World.Vault.Secrets, World.Vault.Clock, World.Vault.Logger, "100%", oneVault: true);
    }

    protected override Task<IBackupVault> OpenAsync() => OfAsync(VaultWorld.StackVault);
    protected override Task<IBackupVault> OpenUnopenableAsync() => OfAsync(UnopenableName);
    protected override string UnopenableName => "vault-stack-half";
}
