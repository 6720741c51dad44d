using System.Security.Cryptography;
using System.Text;
using Failover.Core.Backup;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>A tenant's newest complete backup as the status screen shows it: when, how big, and its RPO now.</summary>
public sealed record TenantBackupStatus(string Tenant, BackupSet? Latest, long? Bytes, RpoVerdict? Rpo);

/// <summary>The backup a tenant is restored from: its set and the manifest its restore is verified against.</summary>
public sealed record RestorePoint(BackupSet Set, Manifest Manifest);

/// <summary>
/// The backups in the repository per tenant, and whether a set can be restored: complete, with a readable
/// manifest, and intact (the run's select-backup step walks a tenant's sets newest first with it). A catalog lists the repository once, at first use, and runs its check once: it is the view of one
/// failover or status run (every restic call opens the repository, which costs a key derivation).
/// </summary>
public sealed class BackupCatalog(IBackupRepository repository, TimeProvider clock, ILogger log, string? readDataSubset = null)
{
    // The plan estimates the same share (Core Timings.VerifySamplePercent): one value for both.
    private readonly string readDataSubset = readDataSubset ?? Core.Planning.Timings.VerifySubset;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private RepositoryCheck? _check;
    private IReadOnlyList<BackupSnapshot>? _snapshots;

    /// <summary>A tenant's backup sets, complete or not, newest first.</summary>
    public async Task<IReadOnlyList<BackupSet>> SetsAsync(string tenant, CancellationToken cancellation) =>
        BackupSet.Group(tenant, await OnceAsync(() => _snapshots, async () => _snapshots = await repository.SnapshotsAsync([BackupTags.Tool], cancellation), cancellation));

    /// <summary>When the newest manifest in the repository was written (any tenant), or null when it holds none: how recent the vault is.</summary>
    public async Task<DateTimeOffset?> NewestManifestAsync(CancellationToken cancellation)
    {
        var snapshots = await OnceAsync(() => _snapshots, async () => _snapshots = await repository.SnapshotsAsync([BackupTags.Tool], cancellation), cancellation);
        return snapshots.Where(s => s.Tag(BackupTags.Part) == BackupTags.PartName(BackupPart.Manifest)).Select(s => (DateTimeOffset?)s.Time).Max();
    }

    /// <summary>The newest heartbeat a backup agent left in this vault (any site), or null when no agent has written one.</summary>
    public async Task<BackupHeartbeat?> HeartbeatAsync(CancellationToken cancellation)
    {
        var snapshots = await OnceAsync(() => _snapshots, async () => _snapshots = await repository.SnapshotsAsync([BackupTags.Tool], cancellation), cancellation);
        var newest = snapshots.Where(s => s.Tag(BackupTags.Part) == BackupPlan.HeartbeatPart).MaxBy(s => s.Time);
        if (newest is null) return null;
        var text = "";
        await repository.DumpAsync(newest.Id, "/" + BackupPlan.HeartbeatFileName, async (stdout, ct) =>
        {
            using var reader = new StreamReader(stdout, Encoding.UTF8, leaveOpen: true);
            text = await reader.ReadToEndAsync(ct);
        }, cancellation);
        return BackupHeartbeatJson.Parse(text);
    }

    /// <summary>Forgets the listing, so the next question lists the repository again (a migration's final backup added sets since).</summary>
    public async Task ForgetListingAsync(CancellationToken cancellation)
    {
        await _gate.WaitAsync(cancellation);
        try { _snapshots = null; }
        finally { _gate.Release(); }
    }

    /// <summary>The newest complete set, its size from the manifest and its age against the RPO target; not verified.</summary>
    public async Task<TenantBackupStatus> StatusAsync(string tenant, TimeSpan rpoTarget, CancellationToken cancellation)
    {
        var latest = (await SetsAsync(tenant, cancellation)).FirstOrDefault(s => s.IsComplete);
        if (latest is null) return new TenantBackupStatus(tenant, null, null, null);
        var manifest = await ReadManifestAsync(latest, cancellation);
        return new TenantBackupStatus(tenant, latest, manifest.Bytes, RpoVerdict.Evaluate(tenant, latest.Time, clock.GetUtcNow(), rpoTarget, false));
    }

    /// <summary>
    /// <c>restic check --read-data-subset</c>, run once per catalog: it takes restic's exclusive lock and
    /// reads packs across all tenants, so every selection in one failover shares its answer.
    /// </summary>
    public Task<RepositoryCheck> CheckRepositoryAsync(CancellationToken cancellation) =>
        OnceAsync(() => _check, async () =>
        {
            RepositoryCheck check;
            try { check = await repository.CheckAsync(readDataSubset, cancellation); }
            catch (ResticLockedException e)
            {
                // A lock is not damage: say so, and verify each set by reading it back instead of trusting it unchecked.
                log.Warning("Backup repository check could not run (a lock, not damage): {Detail}; each set is read back instead", e.Message);
                return _check = new RepositoryCheck(false, readDataSubset, e.Message);
            }
            if (check.Intact) log.Information("Backup repository check passed (read {Subset} of the data)", readDataSubset);
            else log.Warning("Backup repository check found damage: {Detail}", check.Detail);
            return _check = check;
        }, cancellation);

    /// <summary>Computes a cached answer once even when tenants are selected in parallel.</summary>
    private async Task<T> OnceAsync<T>(Func<T?> cached, Func<Task<T>> compute, CancellationToken cancellation) where T : class
    {
        await _gate.WaitAsync(cancellation);
        try { return cached() ?? await compute(); }
        finally { _gate.Release(); }
    }

    /// <summary>Why a set cannot be restored (unreadable manifest, damaged data), or null when it can.</summary>
    public async Task<string?> ProblemAsync(BackupSet set, CancellationToken cancellation)
    {
        if (!set.IsComplete) return "the set is incomplete (a backup run that did not finish)";
        var (manifest, reason) = await ProblemWithAsync(set, await CheckRepositoryAsync(cancellation), cancellation);
        var problem = manifest is null ? reason ?? "its manifest cannot be read" : reason;
        if (problem is not null) log.Warning("Backup of {Tenant} from run {RunId} is unusable: {Reason}", set.Tenant, set.RunId, problem);
        return problem;
    }

    /// <summary>Why the set does not read back intact (manifest, every byte of the dump against its digest, the files), or null when it does; never trusts the check.</summary>
    public async Task<string?> ReadBackProblemAsync(BackupSet set, CancellationToken cancellation)
    {
        if (!set.IsComplete) return "the set is incomplete (a backup run that did not finish)";
        var (manifest, reason) = await ProblemWithAsync(set, new RepositoryCheck(false, "read back", "read back"), cancellation);
        var problem = manifest is null ? reason ?? "its manifest cannot be read" : reason;
        if (problem is not null) log.Warning("Backup of {Tenant} from run {RunId} does not read back intact: {Reason}", set.Tenant, set.RunId, problem);
        return problem;
    }

    /// <summary>The set with its manifest, ready for TenantRestore.</summary>
    public async Task<RestorePoint> RestorePointAsync(BackupSet set, CancellationToken cancellation) =>
        new(set, await ReadManifestAsync(set, cancellation));

    private async Task<(Manifest? Manifest, string? Reason)> ProblemWithAsync(BackupSet set, RepositoryCheck check, CancellationToken cancellation)
    {
        Manifest manifest;
        try { manifest = await ReadManifestAsync(set, cancellation); }
        catch (Exception e) when (e is ResticException or InvalidDataException or System.Text.Json.JsonException)
        {
            return (null, "its manifest cannot be read: " + e.Message);
        }
        if (check.Intact) return (manifest, null);
        try
        {
            await ReadBackAsync(set, manifest, cancellation);
            return (manifest, null);
        }
        catch (Exception e) when (e is ResticException or InvalidDataException or PipelineException)
        {
            return (manifest, e.Message);
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<Manifest>> _manifests = new();

    /// <summary>Reads the set's manifest (a few kilobytes) from its manifest snapshot, once per catalog.</summary>
    public Task<Manifest> ReadManifestAsync(BackupSet set, CancellationToken cancellation)
    {
        // Every restic call opens the repository (a key derivation): selection and restore share one read.
        var read = _manifests.GetOrAdd(set.Manifest!.Id, _ => ReadManifestOnceAsync(set, cancellation));
        if (read.IsFaulted || read.IsCanceled) _manifests.TryRemove(set.Manifest.Id, out _);
        return read;
    }

    private async Task<Manifest> ReadManifestOnceAsync(BackupSet set, CancellationToken cancellation)
    {
        var text = "";
        await repository.DumpAsync(set.Manifest!.Id, BackupLayout.ManifestPath, async (stdout, ct) =>
        {
            using var reader = new StreamReader(stdout, Encoding.UTF8, leaveOpen: true);
            text = await reader.ReadToEndAsync(ct);
        }, cancellation);
        var manifest = ManifestJson.Parse(text);
        if (manifest.Tenant != set.Tenant || manifest.RunId != set.RunId)
            throw new InvalidDataException($"the manifest belongs to {manifest.Tenant} run {manifest.RunId}, not {set.Tenant} run {set.RunId}");
        return manifest;
    }

    /// <summary>Reads every byte of the set's database and files snapshots; the dump must match the manifest's digest.</summary>
    private async Task ReadBackAsync(BackupSet set, Manifest manifest, CancellationToken cancellation)
    {
        string digest = "";
        await repository.DumpAsync(set.Database!.Id, BackupLayout.DumpPath(set.Tenant), async (stdout, ct) =>
            digest = Convert.ToHexStringLower(await SHA256.HashDataAsync(stdout, ct)), cancellation);
        if (digest != manifest.Database.DumpSha256)
            throw new InvalidDataException("the database dump read back does not match the digest in the manifest");
        await repository.DumpAsync(set.Files!.Id, "/", (stdout, ct) => stdout.CopyToAsync(Stream.Null, ct), cancellation);
    }
}
