using System.Security.Cryptography;
using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Local;

/// <summary>
/// `failover backup` for a local production site: the backup agent Core renders (the one a cloud data server's timer
/// runs), run here against the site's cluster and files, into every directory vault, each created (restic repository
/// and password file) the first time.
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
        var vaults = await EnsureVaultsAsync(topology, projectDirectory, secrets, log, cancellation);
        var cluster = sites.Cluster(prod);
        var agentDirectory = Path.Combine(sites.SiteDirectory(prod), "backup-agent");
        // The agent a cloud data server's timer runs, with this site's paths: a drill proves what the cloud runs.
        var targets = new List<BackupTarget>();
        foreach (var (name, settings) in vaults)
        {
            var file = Path.Combine(agentDirectory, "vaults", name + ".env");
            await BackupAgentRun.WriteCredentialsAsync(file, settings, cancellation);
            targets.Add(new BackupTarget(name, file));
        }
        var plan = BackupPlan.For(topology, prod) with { Vaults = targets };
        plan = plan with
        {
            FilesPattern = sites.FilesDirectory(prod, "{tenant}"),
            StateDirectory = Path.Combine(agentDirectory, "state"),
            LockFile = Path.Combine(agentDirectory, "backup.lock"),
            PostgresUser = null,
        };
        var environment = new Dictionary<string, string?>
        {
            ["PGHOST"] = cluster.Address,
            ["PGPORT"] = cluster.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PGUSER"] = "postgres",
            ["PGCONNECT_TIMEOUT"] = "15",
        };
        var run = await new BackupAgentRun(secrets, log).RunAsync(plan, agentDirectory, environment, TenantBackup.NewRunId(time), cancellation);
        if (run.Refused)
            throw new InvalidOperationException($"another backup run of {prod.Name} still holds {plan.LockFile}: wait for it, then run again");
        var catalog = new BackupCatalog(new ResticRepository(vaults[0].Settings, secrets, log), time, log);
        var results = new List<TenantBackupResult>();
        foreach (var tenant in topology.Tenants)
        {
            var r = run.Tenants.FirstOrDefault(t => t.Tenant == tenant.Name);
            TenantBackupResult result;
            if (r is null || !r.Succeeded)
                result = new TenantBackupResult(tenant.Name, run.RunId, null, null, r?.Duration ?? TimeSpan.Zero, r?.Error ?? "the backup agent did not report this tenant");
            else
            {
                var set = (await catalog.SetsAsync(tenant.Name, cancellation)).First(s => s.RunId == run.RunId);
                result = new TenantBackupResult(tenant.Name, run.RunId, set, await catalog.ReadManifestAsync(set, cancellation), r.Duration, null);
            }
            progress(result.Succeeded
                ? $"  backed up {result.Tenant,-16} {result.Manifest!.Database.Tables.Sum(t => t.Rows),9} rows, {result.Manifest.Files.Count,4} files in {Durations.Format(result.Duration)} (snapshot {result.Set!.Database!.Id[..8]})"
                : $"  FAILED    {result.Tenant,-16} {result.Error}");
            results.Add(result);
        }
        return results;
    }

    /// <summary>Every directory vault of failover:backup.vaults, each created (repository and password file) on first use.</summary>
    public static async Task<IReadOnlyList<(string Name, ResticSettings Settings)>> EnsureVaultsAsync(Topology topology, string projectDirectory, SecretRegistry secrets, ILogger log, CancellationToken cancellation)
    {
        var first = await EnsureVaultAsync(topology, projectDirectory, secrets, log, cancellation);
        var vaults = new List<(string, ResticSettings)>();
        foreach (var stack in topology.Backup.Vaults.Select(topology.Find).OfType<StackSpec>().Where(v => v.Vault is { Kind: VaultKind.Directory, Path: not null }))
        {
            var path = Path.GetFullPath(stack.Vault!.Path!, projectDirectory);
            if (path == first.Repository) { vaults.Insert(0, (stack.Name, first)); continue; }
            vaults.Add((stack.Name, await EnsureAsync(path, secrets, log, cancellation)));
        }
        return vaults;
    }

    private static async Task<ResticSettings> EnsureAsync(string path, SecretRegistry secrets, ILogger log, CancellationToken cancellation)
    {
        if (File.Exists(path + ".password")) return new ResticSettings(path, (await File.ReadAllTextAsync(path + ".password", cancellation)).Trim());
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        await File.WriteAllTextAsync(path + ".password", password, cancellation);
        File.SetUnixFileMode(path + ".password", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var settings = new ResticSettings(path, password);
        await new ResticRepository(settings, secrets, log).InitAsync(cancellation);
        return settings;
    }

    /// <summary>The directory vault's settings; the repository and a random password are created on first use.</summary>
    public static async Task<ResticSettings> EnsureVaultAsync(Topology topology, string projectDirectory, SecretRegistry secrets, ILogger log, CancellationToken cancellation)
    {
        try { return Backup.VaultSettings.Local(topology, projectDirectory); }
        catch (InvalidOperationException) when (VaultPath(topology, projectDirectory) is { } path && !File.Exists(path + ".password"))
        {
            return await EnsureAsync(path, secrets, log, cancellation);
        }
    }

    private static string? VaultPath(Topology topology, string projectDirectory) =>
        topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault?.Kind == VaultKind.Directory)?.Vault?.Path is { } p
            ? Path.GetFullPath(p, projectDirectory) : null;
}
