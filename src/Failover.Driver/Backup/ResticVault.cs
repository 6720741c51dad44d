using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Backup;

/// <summary>
/// The run's view of a restic vault: each complete backup set of a tenant is one restore candidate,
/// named by its database snapshot id (the id `failover:snapshots` carries to cloud sites).
/// </summary>
public sealed class ResticVault(BackupCatalog catalog) : IBackupVault
{
    public BackupCatalog Catalog { get; } = catalog;

    public async Task<IReadOnlyList<TenantSnapshot>> SnapshotsAsync(Tenant tenant, CancellationToken cancellation) =>
        (await Catalog.SetsAsync(tenant.Name, cancellation))
            .Where(s => s.IsComplete)
            .Select(s => new TenantSnapshot(tenant.Name, s.Database!.Id, s.Time, 0))
            .ToList();

    public async Task<bool> VerifyAsync(TenantSnapshot snapshot, CancellationToken cancellation) =>
        await Catalog.ProblemAsync(await SetOf(snapshot, cancellation), cancellation) is null;

    public async Task<bool> ReadBackAsync(TenantSnapshot snapshot, CancellationToken cancellation) =>
        await Catalog.ReadBackProblemAsync(await SetOf(snapshot, cancellation), cancellation) is null;

    /// <summary>The backup set a candidate stands for.</summary>
    /// <remarks>A snapshot newer than the catalog's listing (a migration's final backup) makes it list the repository again, once.</remarks>
    public async Task<BackupSet> SetOf(TenantSnapshot snapshot, CancellationToken cancellation)
    {
        BackupSet? Find(IReadOnlyList<BackupSet> sets) => sets.FirstOrDefault(s => s.Database?.Id == snapshot.SnapshotId);
        if (Find(await Catalog.SetsAsync(snapshot.Tenant, cancellation)) is { } set) return set;
        await Catalog.ForgetListingAsync(cancellation);
        return Find(await Catalog.SetsAsync(snapshot.Tenant, cancellation))
            ?? throw new InvalidOperationException($"snapshot {snapshot.SnapshotId} of {snapshot.Tenant} is not in the vault (was it forgotten since the run started?)");
    }
}
