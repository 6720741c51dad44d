using Failover.Core.Backup;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>One tenant to restore: the chosen backup, where to put it, and how.</summary>
public sealed record TenantRestoreJob(TenantSite Target, RestorePoint Point, RestoreOptions Options);

/// <summary>What restoring one tenant achieved: coherence with the manifest, hook output, or the error that stopped it.</summary>
public sealed record TenantRestoreResult(string Tenant, string RunId, Coherence? Coherence, IReadOnlyList<HookOutcome> Hooks, string? Error)
{
    public bool Succeeded => Error is null && Coherence is { IsCoherent: true } && Hooks.All(h => h.Succeeded);

    public static TenantRestoreResult Failed(string tenant, string runId, string error, IReadOnlyList<HookOutcome>? hooks = null) =>
        new(tenant, runId, null, hooks ?? [], error);
}

/// <summary>Restores one tenant; the scheduler calls it once per tenant, several at a time.</summary>
public interface ITenantRestorer
{
    Task<TenantRestoreResult> RestoreAsync(TenantRestoreJob job, CancellationToken cancellation);
}

/// <summary>
/// Restores a tenant from its restore point: pre hooks, database (restic dump into pg_restore), files
/// (restic restore), coherence against the manifest, then post hooks. Coherence is checked before the
/// post hooks because migrations change what the manifest recorded.
/// </summary>
public sealed class TenantRestore(IBackupRepository repository, PostgresTools postgres, RestoreHooks hooks, SecretRegistry secrets, ILogger log,
    Action<TransferProgress>? progress = null) : ITenantRestorer
{
    public async Task<TenantRestoreResult> RestoreAsync(TenantRestoreJob job, CancellationToken cancellation)
    {
        var (target, point, options) = job;
        var tenant = target.Tenant.Name;
        var set = point.Set;
        var tenantLog = log.ForContext("Tenant", tenant).ForContext("RunId", set.RunId);
        secrets.Add(target.Database.Password);
        var hookOutcomes = new List<HookOutcome>();
        var step = "pre-hooks";
        try
        {
            hookOutcomes.AddRange(await hooks.RunAsync("pre", options.PreHooks, target, options.HookTimeout, cancellation, options.Rehearsal));
            if (hookOutcomes.Any(h => !h.Succeeded))
                return TenantRestoreResult.Failed(tenant, set.RunId, $"pre-restore hook failed: {hookOutcomes.Last().Command}", hookOutcomes);

            step = "database and files";
            tenantLog.Information("Restoring {Tenant}: {Step}", tenant, step);
            if (Directory.Exists(target.FilesDirectory) && Directory.EnumerateFileSystemEntries(target.FilesDirectory).Any())
                throw new InvalidOperationException($"target files directory {target.FilesDirectory} is not empty; restore only into an empty directory");
            Directory.CreateDirectory(target.FilesDirectory);
            await postgres.PrepareTargetAsync(target.Database, cancellation);
            var meter = new TransferMeter(tenant, point.Manifest.Bytes, progress);
            // The database and the files are independent: restoring and then checking them side by side
            // hides the smaller one's time behind the larger one's (restic reads under a shared lock).
            var files = Task.Run(async () =>
            {
                await repository.RestoreAsync(set.Files!.Id, target.FilesDirectory, cancellation, meter.Files);
                meter.Files(point.Manifest.Files.Bytes);
                return await FileTree.ScanAsync(target.FilesDirectory, cancellation);
            }, cancellation);
            await RestoreDatabaseAsync(job, meter, cancellation);
            var tables = await postgres.TablesAsync(target.Database, cancellation);

            step = "verify";
            tenantLog.Information("Restoring {Tenant}: {Step}", tenant, step);
            var coherence = Coherence.Compare(point.Manifest, tables, await files);
            if (!coherence.IsCoherent)
            {
                tenantLog.Error("Restored {Tenant} differs from its backup: {Differences}", tenant, coherence.Differences);
                return new TenantRestoreResult(tenant, set.RunId, coherence, hookOutcomes, null);
            }

            step = "post-hooks";
            hookOutcomes.AddRange(await hooks.RunAsync("post", options.PostHooks, target, options.HookTimeout, cancellation, options.Rehearsal));
            var result = new TenantRestoreResult(tenant, set.RunId, coherence, hookOutcomes, null);
            if (result.Succeeded)
                tenantLog.Information("Restored {Tenant} from run {RunId}: {Tables} tables and {Files} files match the manifest",
                    tenant, set.RunId, point.Manifest.Database.Tables.Count, point.Manifest.Files.Count);
            else
                tenantLog.Error("Post-restore hook of {Tenant} failed: {Command}", tenant, hookOutcomes.Last().Command);
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
        {
            tenantLog.Error("Restore of {Tenant} failed at {Step}: {Error}", tenant, step, e.Message);
            return TenantRestoreResult.Failed(tenant, set.RunId, $"{step}: {secrets.Redact(e.Message)}", hookOutcomes);
        }
    }

    private async Task RestoreDatabaseAsync(TenantRestoreJob job, TransferMeter meter, CancellationToken cancellation)
    {
        var (target, point, options) = job;
        var dumpPath = BackupLayout.DumpPath(point.Set.Tenant);
        if (options.DatabaseJobs <= 1)
        {
            // Straight from restic into pg_restore: no scratch space, and on small hosts as fast as --jobs.
            await repository.DumpAsync(point.Set.Database!.Id, dumpPath,
                (stdout, ct) => postgres.RestoreStreamAsync(target.Database, new CountingStream(stdout, meter.Database), ct), cancellation);
            meter.Database(0);
            return;
        }
        // pg_restore --jobs needs a seekable file: restore the dump into scratch space first.
        var scratch = Path.Combine(options.ScratchDirectory ?? Path.GetTempPath(), $"failover-restore-{point.Set.Tenant}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        try
        {
            await repository.RestoreAsync(point.Set.Database!.Id, scratch, cancellation);
            meter.Database(point.Manifest.Database.DumpBytes);
            await postgres.RestoreFileAsync(target.Database, Path.Combine(scratch, BackupLayout.DumpFileName(point.Set.Tenant)), options.DatabaseJobs, cancellation);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
