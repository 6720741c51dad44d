using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Health;

namespace Failover.Driver.Runbooks;

/// <summary>One tenant's backup in the vault: a restic snapshot and when it was taken.</summary>
public sealed record TenantSnapshot(string Tenant, string SnapshotId, DateTimeOffset Time, long Bytes);

/// <summary>Where a provisioned site answers: its service addresses, health URL and non-secret outputs.</summary>
public sealed record SiteAddress(IReadOnlyList<string> Addresses, string? HealthUrl, JsonObject Outputs);

/// <summary>The external backups the run restores from.</summary>
public interface IBackupVault
{
    /// <summary>A tenant's snapshots, newest first.</summary>
    Task<IReadOnlyList<TenantSnapshot>> SnapshotsAsync(Tenant tenant, CancellationToken cancellation);

    /// <summary>Reads back a sample of the snapshot's data; false when it is damaged.</summary>
    Task<bool> VerifyAsync(TenantSnapshot snapshot, CancellationToken cancellation);

    /// <summary>Reads back every byte of the snapshot against its manifest; false when it is damaged (a restore's fallback must not trust a sample).</summary>
    Task<bool> ReadBackAsync(TenantSnapshot snapshot, CancellationToken cancellation) => VerifyAsync(snapshot, cancellation);

    /// <summary>Which vault holds a listed snapshot, and why it is not the first one read; null where there is one vault.</summary>
    SnapshotSource? SourceOf(TenantSnapshot snapshot) => null;
}

/// <summary>The vault a chosen snapshot comes from, and why when it is not the first the run reads (journaled, logged, reported).</summary>
public sealed record SnapshotSource(string Vault, string? Why);

/// <summary>Brings sites up and fences them: Pulumi for cloud stacks, processes for local ones.</summary>
public interface ISites
{
    /// <summary>Whether the site still answers (a partial outage, or a false alarm).</summary>
    Task<bool> IsServingAsync(StackSpec site, CancellationToken cancellation);

    /// <summary>Brings the site up at MVD size pointed at the restore point; safe to repeat.</summary>
    Task<SiteAddress> ProvisionAsync(StackSpec site, IReadOnlyList<TenantSnapshot> restorePoint, CancellationToken cancellation);

    /// <summary>Keeps a former primary from taking writes; returns what was done, or throws when its provider does not answer.</summary>
    Task<string> FenceAsync(StackSpec site, CancellationToken cancellation);

    /// <summary>Where a running site answers, read without changing it (the site a migration leaves).</summary>
    Task<SiteAddress> AddressAsync(StackSpec site, CancellationToken cancellation);

    /// <summary>Lifts a site's fence on purpose (a migration back to a former primary); safe to repeat: a site without a fence gives <c>Lifted: false</c>.</summary>
    Task<FenceLift> UnfenceAsync(StackSpec site, CancellationToken cancellation);

    /// <summary>Scales a fenced former site down (its data kept); with <paramref name="destroy"/> removes it for good.</summary>
    Task<string> ScaleDownAsync(StackSpec site, bool destroy, CancellationToken cancellation);
}

/// <summary>What lifting a fence did: whether there was one to lift, and the sentence the report shows when there was.</summary>
public sealed record FenceLift(bool Lifted, string Note);

/// <summary>Stops and gives back the writes of the site a migration leaves (read-only or maintenance mode).</summary>
public interface IWriteFreeze
{
    /// <summary>From now on the site commits nothing: what it committed is what its next backup holds. Safe to repeat.</summary>
    Task<string> FreezeAsync(StackSpec source, CancellationToken cancellation);

    /// <summary>Gives the site its writes back (a migration stopped before the cutover). Safe to repeat.</summary>
    Task<string> ThawAsync(StackSpec source, CancellationToken cancellation);
}

/// <summary>Takes the final backup of a frozen source: each tenant's snapshot taken after the freeze.</summary>
public interface ISourceBackup
{
    Task<IReadOnlyList<TenantSnapshot>> BackupAsync(StackSpec source, DateTimeOffset frozenAt, CancellationToken cancellation);
}

/// <summary>Restores one tenant on the new site and verifies it against its backup manifest; safe to repeat.</summary>
/// <summary>A restore failed because its snapshot is damaged (it cannot be read back intact), not because of the target.</summary>
public sealed class SnapshotDamagedException(TenantSnapshot snapshot, string reason) : Exception($"snapshot {snapshot.SnapshotId} of {snapshot.Tenant} is damaged: {reason}")
{
    public TenantSnapshot Snapshot { get; } = snapshot;
    public string Reason { get; } = reason;
}

public interface ISiteRestore
{
    /// <param name="effects">Where the restore journals its parts (each hook, the data) so a resumed run repeats none that finished.</param>
    /// <exception cref="SnapshotDamagedException">The snapshot cannot be read back intact: another snapshot is needed.</exception>
    Task<string> RestoreAsync(Tenant tenant, TenantSnapshot snapshot, SiteAddress site, Engine.IRunEffects effects, CancellationToken cancellation);
}

/// <summary>The probes that must pass before DNS is touched.</summary>
public interface IHealthGate
{
    Task<GateVerdict> CheckAsync(StackSpec site, SiteAddress address, IReadOnlyList<TenantSnapshot> restored, CancellationToken cancellation);
}

/// <summary>Moves the service records and proves every authoritative server answers the new address.</summary>
public interface IDnsSwitch
{
    /// <summary>Points the service records at the addresses; idempotent.</summary>
    Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, CancellationToken cancellation);

    /// <summary>Points the service records at the addresses with this TTL (a migration lowers it, then raises it back); idempotent.</summary>
    Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, int ttlSeconds, CancellationToken cancellation);

    /// <summary>Waits until every authoritative server answers the addresses; returns when that was first seen.</summary>
    Task<DateTimeOffset> WaitVisibleAsync(IReadOnlyList<string> addresses, CancellationToken cancellation);
}

/// <summary>
/// The isolated copy of a standby a rehearsal runs on (its own loopback address, or its own Pulumi stack):
/// the sites adapter that provisions it, and its removal.
/// </summary>
public interface IRehearsalCopy
{
    /// <summary>The copy as the run's target.</summary>
    StackSpec Stack { get; }

    /// <summary>Where the copy runs, for the operator.</summary>
    string Where { get; }

    /// <summary>Provisions the copy (and only the copy: it never fences).</summary>
    ISites Sites { get; }

    /// <summary>The exact command that removes a copy left running by --keep.</summary>
    string RemoveCommand { get; }

    /// <summary>Removes the copy and everything it created; safe to repeat, also when it was never provisioned.</summary>
    Task<string> RemoveAsync(CancellationToken cancellation);
}

/// <summary>The adapters one run uses, chosen by the target's provider.</summary>
public sealed record RunPorts(IBackupVault Vault, ISites Sites, ISiteRestore Restorer, IHealthGate Gate, IDnsSwitch Dns)
{
    /// <summary>A migration's write freeze of its source; null where the provider has none (a failover never freezes).</summary>
    public IWriteFreeze? Freeze { get; init; }

    /// <summary>A migration's final backup of its frozen source.</summary>
    public ISourceBackup? SourceBackup { get; init; }

    /// <summary>The backup agent of the site serving after a cutover; null where the driver cannot start one.</summary>
    public IBackupAgents? Backups { get; init; }
}
