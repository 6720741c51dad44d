using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Migration;

/// <summary>The final backup of a local source: the same backup as `failover backup`, taken of the site being left.</summary>
public sealed class LocalSourceBackup(Topology topology, LocalSites sites, string projectDirectory, SecretRegistry secrets, TimeProvider time, ILogger log, Action<string> progress)
    : ISourceBackup
{
    public async Task<IReadOnlyList<TenantSnapshot>> BackupAsync(StackSpec source, DateTimeOffset frozenAt, CancellationToken cancellation)
    {
        var results = await LocalBackup.RunAsync(topology, sites, projectDirectory, secrets, time, log, line => progress("  " + line), cancellation, source);
        if (results.FirstOrDefault(r => !r.Succeeded) is { } failed)
            throw new InvalidOperationException($"the final backup of {source.Name} failed: {failed.Error}");
        return results.Select(r => new TenantSnapshot(r.Tenant, r.Set!.Database!.Id, r.Set.Time, r.Manifest!.Bytes)).ToList();
    }
}

/// <summary>
/// The final backup of a cloud source, whose databases the driver cannot reach: the site's failover:migrate backup
/// commands start its backup (and wait for it), then the vault must hold a complete backup of every tenant taken
/// after the freeze began; anything older would lose the writes in between.
/// </summary>
/// <param name="openVault">The vault the backup lands in, opened when first needed (a cloud vault's settings are its stack's outputs).</param>
public sealed class HookSourceBackup(SiteHooks hooks, Func<CancellationToken, Task<ResticVault>> openVault, IReadOnlyList<Tenant> tenants) : ISourceBackup
{
    public HookSourceBackup(SiteHooks hooks, ResticVault vault, IReadOnlyList<Tenant> tenants) : this(hooks, _ => Task.FromResult(vault), tenants) { }

    public async Task<IReadOnlyList<TenantSnapshot>> BackupAsync(StackSpec source, DateTimeOffset frozenAt, CancellationToken cancellation)
    {
        if (source.Migrate.Backup.Count == 0)
            throw new InvalidOperationException($"{source.Name} has no failover:migrate.backup commands in {source.File}: the driver cannot take the final backup of a cloud site by itself");
        await hooks.RunAsync(source, "backup", source.Migrate.Backup,
            new Dictionary<string, string?> { ["FAILOVER_FROZEN_AT"] = frozenAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture) }, cancellation);
        // The catalog listed the vault in select-backup, before this backup existed: list it again.
        var vault = await openVault(cancellation);
        await vault.Catalog.ForgetListingAsync(cancellation);
        var chosen = new List<TenantSnapshot>();
        foreach (var tenant in tenants)
        {
            var latest = (await vault.SnapshotsAsync(tenant, cancellation)).FirstOrDefault();
            if (latest is null || latest.Time < frozenAt)
                throw new InvalidOperationException($"the vault has no backup of {tenant.Name} on {source.Name} taken after the freeze began ({frozenAt:u}); " +
                    $"the newest is {(latest is null ? "none" : latest.Time.ToString("u", System.Globalization.CultureInfo.InvariantCulture))}. The failover:migrate.backup commands must finish the backup before they exit.");
            chosen.Add(latest);
        }
        return chosen;
    }
}
