using Failover.Driver.Backup;
using static Failover.Driver.Tests.Backup.CatalogScenario;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>Which backup the catalog picks: complete sets only, and the RPO rule.</summary>
public class CatalogTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    [Fact]
    public async Task A_run_that_stopped_before_its_manifest_is_not_restored_from()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "vandelay");
        await BackUpNewDataAsync(vault, site, "run-1");
        await BackUpNewDataAsync(vault, site, "run-2");
        var run2 = (await vault.Catalog().SetsAsync("vandelay", CancellationToken.None)).First();
        await vault.Repository.ForgetAsync([run2.Manifest!.Id], CancellationToken.None);

        var catalog = vault.Catalog();
        var point = await catalog.SelectAsync("vandelay", Rpo, acceptDataLoss: false, CancellationToken.None);

        Assert.Equal("run-1", point.Set.RunId);
        Assert.False((await catalog.SetsAsync("vandelay", CancellationToken.None)).Single(s => s.RunId == "run-2").IsComplete);
    }

    [Fact]
    public async Task A_tenant_without_any_backup_is_named_in_the_error()
    {
        await using var vault = await TestVault.CreateAsync(cluster);

        var e = await Assert.ThrowsAsync<BackupUnavailableException>(() => vault.Catalog().SelectAsync("nobody", Rpo, false, CancellationToken.None));

        Assert.Equal("nobody: there is no backup of this tenant in the repository", e.Message);
    }

    [Fact]
    public async Task A_backup_older_than_the_rpo_is_refused_naming_the_data_loss_unless_accepted()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "soylent");
        await BackUpNewDataAsync(vault, site, "run-1");
        var catalog = vault.Catalog();
        var backupTime = (await catalog.SetsAsync("soylent", CancellationToken.None)).Single().Time;
        vault.Clock.Now = backupTime + TimeSpan.FromHours(26);

        var refused = await Assert.ThrowsAsync<DataLossRefusedException>(() => catalog.SelectAsync("soylent", Rpo, acceptDataLoss: false, CancellationToken.None));
        Assert.Contains("would lose 1d 2h of data, over the RPO target of 1d", refused.Message);
        Assert.Equal(TimeSpan.FromHours(26), refused.Verdict.DataLoss);

        var accepted = await catalog.SelectAsync("soylent", Rpo, acceptDataLoss: true, CancellationToken.None);
        Assert.Equal("run-1", accepted.Set.RunId);
        Assert.False(accepted.Rpo.WithinTarget);
        Assert.Contains("loses 1d 2h of data", accepted.Rpo.Message);

        var status = await catalog.StatusAsync("soylent", Rpo, CancellationToken.None);
        Assert.Equal(TimeSpan.FromHours(26), status.Rpo!.DataLoss);
        Assert.True(status.Bytes > 100_000);
    }
}
