using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>The steps catalog tests are made of: a tenant with fresh data per run, a backup run, a damaged pack.</summary>
internal static class CatalogScenario
{
    public static readonly TimeSpan Rpo = TimeSpan.FromHours(24);

    /// <summary>A tenant whose database gets fresh random content before each run, so each run writes new packs.</summary>
    public static async Task<TenantSite> TenantAsync(PostgresCluster cluster, TestVault vault, string name)
    {
        var db = await cluster.CreateAsync(name + "_prod", "CREATE TABLE blobs (id serial PRIMARY KEY, data bytea)");
        var site = new TenantSite(new Tenant(name, 1, 1), db, vault.Scratch(name + "-files"));
        Directory.CreateDirectory(site.FilesDirectory);
        File.WriteAllText(Path.Combine(site.FilesDirectory, "readme.txt"), name);
        return site;
    }

    public static async Task<string> BackUpNewDataAsync(TestVault vault, TenantSite site, string runId)
    {
        await PostgresCluster.ExecuteAsync(site.Database, "INSERT INTO blobs (data) SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, 8000)");
        var before = Directory.GetFiles(vault.DataDirectory, "*", SearchOption.AllDirectories).ToHashSet();
        var result = await vault.Backup().BackupTenantAsync(site, runId, CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
        // The run's largest new pack holds its database dump: the pack to damage.
        return Directory.GetFiles(vault.DataDirectory, "*", SearchOption.AllDirectories).Where(f => !before.Contains(f)).MaxBy(f => new FileInfo(f).Length)!;
    }

    public static void Damage(string pack)
    {
        var bytes = File.ReadAllBytes(pack);
        for (var i = bytes.Length / 2; i < bytes.Length / 2 + 64; i++) bytes[i] ^= 0xFF;
        File.WriteAllBytes(pack, bytes);
    }
}
