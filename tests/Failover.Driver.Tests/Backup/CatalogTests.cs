using Failover.Core.Topology;
using Failover.Driver.Backup;

namespace Failover.Driver.Tests.Backup;

[Collection(PostgresCollection.Name)]
public class CatalogTests(PostgresCluster cluster)
{
    private static readonly TimeSpan Rpo = TimeSpan.FromHours(24);

    /// <summary>A tenant whose database gets fresh random content before each run, so each run writes new packs.</summary>
    private async Task<TenantSite> TenantAsync(TestVault vault, string name)
    {
        var db = await cluster.CreateAsync(name + "_prod", "CREATE TABLE blobs (id serial PRIMARY KEY, data bytea)");
        var site = new TenantSite(new Tenant(name, 1, 1), db, vault.Scratch(name + "-files"));
        Directory.CreateDirectory(site.FilesDirectory);
        File.WriteAllText(Path.Combine(site.FilesDirectory, "readme.txt"), name);
        return site;
    }

    private static async Task<string> BackUpNewDataAsync(TestVault vault, TenantSite site, string runId)
    {
        await PostgresCluster.ExecuteAsync(site.Database, "INSERT INTO blobs (data) SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, 8000)");
        var before = Directory.GetFiles(vault.DataDirectory, "*", SearchOption.AllDirectories).ToHashSet();
        var result = await vault.Backup().BackupTenantAsync(site, runId, CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
        // The run's largest new pack holds its database dump: the pack to damage.
        return Directory.GetFiles(vault.DataDirectory, "*", SearchOption.AllDirectories).Where(f => !before.Contains(f)).MaxBy(f => new FileInfo(f).Length)!;
    }

    private static void Damage(string pack)
    {
        var bytes = File.ReadAllBytes(pack);
        for (var i = bytes.Length / 2; i < bytes.Length / 2 + 64; i++) bytes[i] ^= 0xFF;
        File.WriteAllBytes(pack, bytes);
    }

    [Fact]
    public async Task A_damaged_newest_backup_is_skipped_for_the_previous_good_one()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(vault, "hooli");
        await BackUpNewDataAsync(vault, site, "run-1");
        Damage(await BackUpNewDataAsync(vault, site, "run-2"));

        var point = await vault.Catalog().SelectAsync("hooli", Rpo, acceptDataLoss: false, CancellationToken.None);

        Assert.Equal("run-1", point.Set.RunId);
        Assert.Contains("run run-2", Assert.Single(point.Skipped));

        // The fallback is restorable and coherent.
        var target = new TenantSite(site.Tenant, cluster.Database("hooli_restored"), vault.Scratch("hooli-restored"));
        var result = await vault.Restore().RestoreAsync(new TenantRestoreJob(target, point, Failover.Core.Backup.RestoreRecipe.Default), CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
    }

    [Fact]
    public async Task With_every_backup_damaged_selection_stops_with_a_clear_error()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(vault, "umbrella");
        Damage(await BackUpNewDataAsync(vault, site, "run-1"));

        var e = await Assert.ThrowsAsync<BackupUnavailableException>(() => vault.Catalog().SelectAsync("umbrella", Rpo, false, CancellationToken.None));

        Assert.StartsWith("umbrella: no verified backup", e.Message);
        Assert.Contains("run run-1", e.Message);
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
        var site = await TenantAsync(vault, "soylent");
        await BackUpNewDataAsync(vault, site, "run-1");
        var backupTime = (await vault.Catalog().SetsAsync("soylent", CancellationToken.None)).Single().Time;
        vault.Clock.Now = backupTime + TimeSpan.FromHours(26);

        var refused = await Assert.ThrowsAsync<DataLossRefusedException>(() => vault.Catalog().SelectAsync("soylent", Rpo, acceptDataLoss: false, CancellationToken.None));
        Assert.Contains("would lose 1d 2h of data, over the RPO target of 1d", refused.Message);
        Assert.Equal(TimeSpan.FromHours(26), refused.Verdict.DataLoss);

        var accepted = await vault.Catalog().SelectAsync("soylent", Rpo, acceptDataLoss: true, CancellationToken.None);
        Assert.Equal("run-1", accepted.Set.RunId);
        Assert.False(accepted.Rpo.WithinTarget);
        Assert.Contains("loses 1d 2h of data", accepted.Rpo.Message);

        var status = await vault.Catalog().StatusAsync("soylent", Rpo, CancellationToken.None);
        Assert.Equal(TimeSpan.FromHours(26), status.Rpo!.DataLoss);
        Assert.True(status.Bytes > 100_000);
    }
}
