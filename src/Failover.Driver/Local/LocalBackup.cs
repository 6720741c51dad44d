using System.Security.Cryptography;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Local;

/// <summary>
/// `failover backup` for a local production site: every tenant's database and files into the directory
/// vault, creating the restic repository (and its password file) the first time.
/// </summary>
public static class LocalBackup
{
    /// <param name="site">The site to back up: production unless given (a migration's final backup of the site it leaves).</param>
    public static async Task<IReadOnlyList<TenantBackupResult>> RunAsync(
        Topology topology, LocalSites sites, string projectDirectory, SecretRegistry secrets, TimeProvider time, ILogger log, Action<string> progress, CancellationToken cancellation,
        StackSpec? site = null)
    {
        var prod = site ?? topology.Production;
        if (prod.Site.Provider != Provider.Local)
            throw new InvalidOperationException($"{prod.Name} is a {prod.Site.Provider} site: its backups are the job of its own backup schedule (docs/backup-and-restore.md describes the layout `failover` restores from)");
        var repository = new ResticRepository(await EnsureVaultAsync(topology, projectDirectory, secrets, log, cancellation), secrets, log);
        var cluster = sites.Cluster(prod);
        var tenantSites = topology.Tenants.Select(t => new TenantSite(t,
            new PostgresDatabase(cluster.Address, cluster.Port, t.Name, "postgres", null), sites.FilesDirectory(prod, t.Name))).ToList();
        var backup = new TenantBackup(repository, new PostgresTools(), secrets, time, log);
        var runId = TenantBackup.NewRunId(time);
        var results = new List<TenantBackupResult>();
        foreach (var tenantSite in tenantSites)
        {
            var r = await backup.BackupTenantAsync(tenantSite, runId, cancellation);
            progress(r.Succeeded
                ? $"  backed up {r.Tenant,-16} {r.Manifest!.Database.Tables.Sum(t => t.Rows),9} rows, {r.Manifest.Files.Count,4} files in {Durations.Format(r.Duration)} (snapshot {r.Set!.Database!.Id[..8]})"
                : $"  FAILED    {r.Tenant,-16} {r.Error}");
            results.Add(r);
        }
        return results;
    }

    /// <summary>The directory vault's settings; the repository and a random password are created on first use.</summary>
    public static async Task<ResticSettings> EnsureVaultAsync(Topology topology, string projectDirectory, SecretRegistry secrets, ILogger log, CancellationToken cancellation)
    {
        try { return RunPortsFactory.LocalVault(topology, projectDirectory); }
        catch (InvalidOperationException) when (VaultPath(topology, projectDirectory) is { } path && !File.Exists(path + ".password"))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
            await File.WriteAllTextAsync(path + ".password", password, cancellation);
            File.SetUnixFileMode(path + ".password", UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var settings = new ResticSettings(path, password);
            await new ResticRepository(settings, secrets, log).InitAsync(cancellation);
            return settings;
        }
    }

    private static string? VaultPath(Topology topology, string projectDirectory) =>
        topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault?.Kind == VaultKind.Directory)?.Vault?.Path is { } p
            ? Path.GetFullPath(p, projectDirectory) : null;
}
