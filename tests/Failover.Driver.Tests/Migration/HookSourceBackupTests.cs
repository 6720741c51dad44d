using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Migration;
using Failover.Driver.Tests.Backup;
using Failover.Driver.Tests.Support;
using static Failover.Driver.Tests.Backup.CatalogScenario;

namespace Failover.Driver.Tests.Migration;

/// <summary>The final backup of a cloud source, taken by the site's own commands and found in the real restic vault.</summary>
public class HookSourceBackupTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    [Fact]
    public async Task The_backup_taken_during_the_freeze_is_found_although_the_vault_was_listed_before_it()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "globex");
        await BackUpNewDataAsync(vault, site, "run-1");
        var resticVault = new ResticVault(vault.Catalog());
        // select-backup listed the vault earlier in the same process...
        Assert.Single(await resticVault.SnapshotsAsync(site.Tenant, CancellationToken.None));
        var frozenAt = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(1));
        // ...then the freeze began and the site's backup command took the final backup.
        await BackUpNewDataAsync(vault, site, "run-2");
        var source = TopologyLoader.Load(Path.Combine(Repo.Root, "examples", "local")).Production with
        {
            Migrate = new MigrationHooks(["true"], ["true"], ["true"]),
        };
        var backup = new HookSourceBackup(new SiteHooks([site.Tenant], vault.Secrets, vault.Logger, TimeSpan.FromMinutes(1)), resticVault, [site.Tenant]);

        var chosen = Assert.Single(await backup.BackupAsync(source, frozenAt, CancellationToken.None));

        var run2 = (await vault.Catalog().SetsAsync("globex", CancellationToken.None)).Single(s => s.RunId == "run-2");
        Assert.Equal(run2.Database!.Id, chosen.SnapshotId);
    }
}
