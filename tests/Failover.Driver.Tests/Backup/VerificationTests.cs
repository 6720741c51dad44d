using Failover.Driver.Backup;
using static Failover.Driver.Tests.Backup.CatalogScenario;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>Damaged backups: verification skips them for an older good one, or stops with a clear error.</summary>
public class VerificationTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    [Fact]
    public async Task A_damaged_newest_backup_is_skipped_for_the_previous_good_one()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "hooli");
        await BackUpNewDataAsync(vault, site, "run-1");
        Damage(await BackUpNewDataAsync(vault, site, "run-2"));

        var point = await vault.Catalog().SelectAsync("hooli", Rpo, acceptDataLoss: false, CancellationToken.None);

        Assert.Equal("run-1", point.Set.RunId);
        Assert.Contains("run run-2", Assert.Single(point.Skipped));

        // The fallback is restorable and coherent.
        var target = new TenantSite(site.Tenant, cluster.Database("hooli_restored"), vault.Scratch("hooli-restored"));
        var result = await vault.Restore().RestoreAsync(new TenantRestoreJob(target, point, Failover.Core.Backup.RestoreOptions.Default), CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
    }

    [Fact]
    public async Task With_every_backup_damaged_selection_stops_with_a_clear_error()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "umbrella");
        Damage(await BackUpNewDataAsync(vault, site, "run-1"));

        var e = await Assert.ThrowsAsync<BackupUnavailableException>(() => vault.Catalog().SelectAsync("umbrella", Rpo, false, CancellationToken.None));

        Assert.StartsWith("umbrella: no verified backup", e.Message);
        Assert.Contains("run run-1", e.Message);
    }
}
