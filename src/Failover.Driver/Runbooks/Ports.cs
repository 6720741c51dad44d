using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Health;

namespace Failover.Driver.Runbooks;

// The role ports a runbook's steps call, each with its contract: when a step calls it, what may be repeated
// (a resumed run repeats an effect whose completion was not journaled), and what it refuses and how. Every
// adapter of a role (local processes, Pulumi for cloud stacks, the tests' fakes) keeps the same contract; the
// conformance suites in tests/Failover.Driver.Tests/Ports check it against each.
// A refusal is an exception whose message names the site and the way out; the step turns it into a failed step.

/// <summary>One tenant's backup in the vault: a restic snapshot and when it was taken.</summary>
public sealed record TenantSnapshot(string Tenant, string SnapshotId, DateTimeOffset Time, long Bytes);

/// <summary>Where a provisioned site answers: its service addresses, health URL and non-secret outputs.</summary>
public sealed record SiteAddress(IReadOnlyList<string> Addresses, string? HealthUrl, JsonObject Outputs);

/// <summary>What lifting a fence did: whether there was one to lift, and the sentence the report shows when there was.</summary>
public sealed record FenceLift(bool Lifted, string Note);

/// <summary>The external backups the run restores from (role: restore source). Only reads: every member may be repeated.</summary>
public interface IBackupVault
{
    /// <summary>
    /// A tenant's snapshots, newest first; empty when it has none (not an error: the step decides). Called by assess,
    /// select-backup, a restore's fallback. Throws when the vault cannot be read (its message names the vault).
    /// </summary>
    Task<IReadOnlyList<TenantSnapshot>> SnapshotsAsync(Tenant tenant, CancellationToken cancellation);

    /// <summary>Reads back a sample of the snapshot's data; false when it is damaged, an exception only when the vault cannot be read.</summary>
    Task<bool> VerifyAsync(TenantSnapshot snapshot, CancellationToken cancellation);

    /// <summary>Reads back every byte of the snapshot against its manifest; false when it is damaged (a restore's fallback must not trust a sample).</summary>
    Task<bool> ReadBackAsync(TenantSnapshot snapshot, CancellationToken cancellation) => VerifyAsync(snapshot, cancellation);

    /// <summary>Which vault holds a listed snapshot, and why it is not the first one read; null where there is one vault.</summary>
    SnapshotSource? SourceOf(TenantSnapshot snapshot) => null;
}

/// <summary>The vault a chosen snapshot comes from, and why when it is not the first the run reads (journaled, logged, reported).</summary>
public sealed record SnapshotSource(string Vault, string? Why);

/// <summary>Reads a site without changing it (role: probe). Every member may be repeated and changes nothing.</summary>
public interface ISiteProbe
{
    /// <summary>
    /// Whether the site still answers (a partial outage, or a false alarm): called by assess before anything changes.
    /// A site that does not answer, or whose provider does not, is a <c>false</c>, never an exception.
    /// </summary>
    Task<bool> IsServingAsync(StackSpec site, CancellationToken cancellation);

    /// <summary>
    /// Where a running site answers (the serving site a restore goes to, the site a migration leaves). Throws when the
    /// site has no address (never provisioned, or scaled to nothing), naming the site.
    /// </summary>
    Task<SiteAddress> AddressAsync(StackSpec site, CancellationToken cancellation);
}

/// <summary>Brings a site up (role: provisioner).</summary>
public interface ISiteProvisioner
{
    /// <summary>
    /// Brings the site up at its mode's size (<see cref="StackSpec.Mode"/>) pointed at the restore point and returns where it
    /// answers. Idempotent: repeating it with the same restore point gives the same site (a resumed run may repeat it).
    /// A fenced site is not brought back by accident: the local provider refuses it (an <see cref="InvalidOperationException"/>
    /// saying to lift the fence on purpose), a cloud site's delete protection stops its replacement until
    /// <see cref="ISiteFence.UnfenceAsync"/> lifted it. A rehearsal copy's provisioner refuses any site but the copy.
    /// </summary>
    Task<SiteAddress> ProvisionAsync(StackSpec site, IReadOnlyList<TenantSnapshot> restorePoint, CancellationToken cancellation);
}

/// <summary>Keeps a former primary from taking writes, and lifts that on purpose (role: fence).</summary>
public interface ISiteFence
{
    /// <summary>
    /// Fences the site (a failover's old primary, a migration's source after the cutover): from then on it takes no writes
    /// and provisioning it is refused. Idempotent. Returns what was done; throws when its provider does not answer (the
    /// failover goes on: the cutover removes its records).
    /// </summary>
    Task<string> FenceAsync(StackSpec site, CancellationToken cancellation);

    /// <summary>
    /// Lifts a site's fence on purpose (a migration back to a former primary), before it is provisioned. Idempotent: a site
    /// without a fence gives <c>Lifted: false</c> and changes nothing.
    /// </summary>
    Task<FenceLift> UnfenceAsync(StackSpec site, CancellationToken cancellation);
}

/// <summary>Retires a fenced former site once the operator confirmed the move (role: retirement).</summary>
public interface ISiteRetirement
{
    /// <summary>
    /// Scales a fenced former site down, its data kept; with <paramref name="destroy"/> removes it for good. Called only
    /// after `migrate --confirm`. Idempotent: a site already down (or already removed) stays so.
    /// </summary>
    Task<string> ScaleDownAsync(StackSpec site, bool destroy, CancellationToken cancellation);
}

/// <summary>Stops and gives back the writes of the site a migration leaves (role: freeze: read-only or maintenance mode).</summary>
public interface IWriteFreeze
{
    /// <summary>From now on the site commits nothing: what it committed is what its next backup holds. Idempotent. Throws when a freeze command fails.</summary>
    Task<string> FreezeAsync(StackSpec source, CancellationToken cancellation);

    /// <summary>Gives the site its writes back (a migration stopped before the cutover). Idempotent, also on a site never frozen.</summary>
    Task<string> ThawAsync(StackSpec source, CancellationToken cancellation);
}

/// <summary>Takes the final backup of a frozen source (role: source backup).</summary>
public interface ISourceBackup
{
    /// <summary>
    /// Each tenant's snapshot taken after <paramref name="frozenAt"/>, called once the source is frozen. Repeatable: a repeat
    /// takes (or finds) snapshots as new, never older than the freeze. Throws when a tenant could not be backed up, naming it.
    /// </summary>
    Task<IReadOnlyList<TenantSnapshot>> BackupAsync(StackSpec source, DateTimeOffset frozenAt, CancellationToken cancellation);
}

/// <summary>A restore failed because its snapshot is damaged (it cannot be read back intact), not because of the target.</summary>
public sealed class SnapshotDamagedException(TenantSnapshot snapshot, string reason) : Exception($"snapshot {snapshot.SnapshotId} of {snapshot.Tenant} is damaged: {reason}")
{
    public TenantSnapshot Snapshot { get; } = snapshot;
    public string Reason { get; } = reason;
}

/// <summary>Restores one tenant on the new site and verifies it against its backup manifest (role: restore).</summary>
public interface ISiteRestore
{
    /// <summary>
    /// Restores the tenant from the snapshot into the site and verifies it; returns the verdict's sentence. Repeatable:
    /// a repeat replaces what an earlier, unfinished attempt left. Throws when the restore or its verification fails.
    /// </summary>
    /// <param name="effects">Where the restore journals its parts (each hook, the data) so a resumed run repeats none that finished.</param>
    /// <exception cref="SnapshotDamagedException">The snapshot cannot be read back intact: another snapshot is needed.</exception>
    Task<string> RestoreAsync(Tenant tenant, TenantSnapshot snapshot, SiteAddress site, Engine.IRunEffects effects, CancellationToken cancellation);
}

/// <summary>The probes that must pass before DNS is touched (role: gate).</summary>
public interface IHealthGate
{
    /// <summary>
    /// Probes the site until it is healthy or the gate's time is up; an unhealthy site is a verdict, not an exception.
    /// Changes nothing, so it may be repeated.
    /// </summary>
    Task<GateVerdict> CheckAsync(StackSpec site, SiteAddress address, IReadOnlyList<TenantSnapshot> restored, CancellationToken cancellation);
}

/// <summary>Moves the service records and proves every authoritative server answers the new address (role: DNS).</summary>
public interface IDnsSwitch
{
    /// <summary>Points the service records at the addresses, called by the cutover once the gate passed; idempotent.</summary>
    Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, CancellationToken cancellation);

    /// <summary>Points the service records at the addresses with this TTL (a migration lowers it, then raises it back); idempotent.</summary>
    Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, int ttlSeconds, CancellationToken cancellation);

    /// <summary>
    /// Waits until every authoritative server answers the addresses; returns when that was first seen. Changes nothing.
    /// Throws when they do not within its time, naming the servers that still answer otherwise.
    /// </summary>
    Task<DateTimeOffset> WaitVisibleAsync(IReadOnlyList<string> addresses, CancellationToken cancellation);
}

/// <summary>
/// The isolated copy of a standby a rehearsal runs on (its own loopback address, or its own Pulumi stack):
/// its provisioner, and its removal.
/// </summary>
public interface IRehearsalCopy
{
    /// <summary>The copy as the run's target.</summary>
    StackSpec Stack { get; }

    /// <summary>Where the copy runs, for the operator.</summary>
    string Where { get; }

    /// <summary>Provisions the copy and nothing else (any other site is refused).</summary>
    ISiteProvisioner Provisioner { get; }

    /// <summary>The exact command that removes a copy left running by --keep.</summary>
    string RemoveCommand { get; }

    /// <summary>Removes the copy and everything it created; idempotent, also when it was never provisioned.</summary>
    Task<string> RemoveAsync(CancellationToken cancellation);
}

/// <summary>
/// Every role adapter the composition root builds for a target's provider. No runbook takes it: each takes its own
/// record below, so what a runbook cannot do is missing from its type, not refused at run time.
/// </summary>
public sealed record RunPorts(
    IBackupVault Vault,
    ISiteProbe Probe,
    ISiteProvisioner Provisioner,
    ISiteRestore Restorer,
    IHealthGate Gate,
    ISiteFence Fence,
    ISiteRetirement Retirement,
    IDnsSwitch Dns,
    IWriteFreeze Freeze,
    ISourceBackup SourceBackup)
{
    public FailoverPorts ForFailover() => new(Vault, Probe, Provisioner, Restorer, Gate, Fence, Dns) { Backups = Backups };
    public TenantRestorePorts ForTenantRestore() => new(Vault, Probe, Restorer, Gate);
    public MigrationPorts ForMigration() => new(Vault, Probe, Provisioner, Restorer, Gate, Fence, Retirement, Dns, Freeze, SourceBackup) { Backups = Backups };

    /// <summary>The backup agent of the site serving after a cutover; one the operator starts by hand where the driver cannot.</summary>
    public IBackupAgents Backups { get; init; } = new AgentsStartedByHand();

    /// <summary>A rehearsal's ports: the copy's provisioner, and no fence, retirement or DNS at all.</summary>
    public RehearsalPorts ForRehearsal(IRehearsalCopy copy) => new(Vault, copy.Provisioner, Restorer, Gate);
}

/// <summary>What `failover run` uses: the old primary is probed and fenced, DNS moved.</summary>
public sealed record FailoverPorts(IBackupVault Vault, ISiteProbe Probe, ISiteProvisioner Provisioner, ISiteRestore Restorer, IHealthGate Gate, ISiteFence Fence, IDnsSwitch Dns)
{
    /// <summary>The new serving site's backup agent, started after the cutover; one the operator starts by hand where the driver cannot.</summary>
    public IBackupAgents Backups { get; init; } = new AgentsStartedByHand();
}

/// <summary>What `failover restore --tenant` uses: the serving site is located, nothing provisioned, fenced or moved.</summary>
public sealed record TenantRestorePorts(IBackupVault Vault, ISiteProbe Probe, ISiteRestore Restorer, IHealthGate Gate);

/// <summary>What `failover rehearse` uses: the copy's provisioner; no fence and no DNS member, so a rehearsal cannot touch either.</summary>
public sealed record RehearsalPorts(IBackupVault Vault, ISiteProvisioner Provisioner, ISiteRestore Restorer, IHealthGate Gate);

/// <summary>What `failover migrate` uses: every role, the freeze and the final backup of its source included.</summary>
public sealed record MigrationPorts(
    IBackupVault Vault,
    ISiteProbe Probe,
    ISiteProvisioner Provisioner,
    ISiteRestore Restorer,
    IHealthGate Gate,
    ISiteFence Fence,
    ISiteRetirement Retirement,
    IDnsSwitch Dns,
    IWriteFreeze Freeze,
    ISourceBackup SourceBackup)
{
    /// <summary>The target's backup agent, started after the cutover; one the operator starts by hand where the driver cannot.</summary>
    public IBackupAgents Backups { get; init; } = new AgentsStartedByHand();
}

/// <summary>
/// A runbook's ports (or one of their roles), built asynchronously when a step first needs them: a dry run builds
/// nothing, and building (which may read a provider, e.g. a vault stack's outputs through pulumi) never blocks a thread.
/// A failed build is not kept: the next step to need the ports tries again.
/// </summary>
public sealed class Deferred<T>(Func<CancellationToken, Task<T>> build)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private T? _value;
    private bool _built;

    /// <summary>Ports no step may build (a dry run's): any use throws, naming why.</summary>
    public static Deferred<T> Refused(string why) => new(_ => throw new InvalidOperationException(why));

    /// <summary>The ports, built on the first call; later calls get the same instance.</summary>
    public async Task<T> GetAsync(CancellationToken cancellation)
    {
        if (Volatile.Read(ref _built)) return _value!;
        await _gate.WaitAsync(cancellation);
        try
        {
            if (_built) return _value!;
            _value = await build(cancellation);
            Volatile.Write(ref _built, true);
            return _value;
        }
        finally { _gate.Release(); }
    }

    /// <summary>One role of these ports, built with them when a step first needs it.</summary>
    public Deferred<TRole> Role<TRole>(Func<T, TRole> role) => new(async cancellation => role(await GetAsync(cancellation)));
}
