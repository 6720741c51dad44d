using System.Diagnostics;
using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>Where one tenant's data lives on a site: its database and its files directory.</summary>
public sealed record TenantSite(Tenant Tenant, PostgresDatabase Database, string FilesDirectory);

/// <summary>What backing up one tenant produced: the snapshot set and its manifest, or why it failed.</summary>
public sealed record TenantBackupResult(string Tenant, string RunId, BackupSet? Set, Manifest? Manifest, TimeSpan Duration, string? Error)
{
    public bool Succeeded => Error is null;
}

/// <summary>
/// The logic behind <c>failover backup</c>: per tenant, three restic snapshots sharing the tags
/// tenant=&lt;name&gt; and run=&lt;id&gt;: the pg_dump stream (part=db), the files directory (part=files),
/// and last the manifest (part=manifest), whose presence marks the set complete.
/// </summary>
public sealed class TenantBackup(IBackupRepository repository, PostgresTools postgres, SecretRegistry secrets, TimeProvider clock, ILogger log)
{
    /// <summary>A run id that sorts by time and is unique enough for runs started in the same second.</summary>
    public static string NewRunId(TimeProvider clock) =>
        $"{clock.GetUtcNow():yyyyMMdd'T'HHmmss'Z'}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Backs up every tenant in one run; a tenant that fails is reported and the others continue.</summary>
    public async Task<IReadOnlyList<TenantBackupResult>> BackupAsync(IReadOnlyList<TenantSite> sites, string? runId, CancellationToken cancellation)
    {
        runId ??= NewRunId(clock);
        var results = new List<TenantBackupResult>();
        foreach (var site in sites) results.Add(await BackupTenantAsync(site, runId, cancellation));
        return results;
    }

    public async Task<TenantBackupResult> BackupTenantAsync(TenantSite site, string runId, CancellationToken cancellation)
    {
        secrets.Add(site.Database.Password);
        var name = site.Tenant.Name;
        var tenantLog = log.ForContext("Tenant", name).ForContext("RunId", runId);
        var watch = Stopwatch.StartNew();
        var capturedAt = clock.GetUtcNow();
        try
        {
            // A missing directory is more often a wrong path than a tenant without files: an "ok" backup
            // without the files would be found out only on the day of the restore.
            if (!Directory.Exists(site.FilesDirectory))
                throw new DirectoryNotFoundException($"files directory {site.FilesDirectory} does not exist (create it empty if the tenant has no files)");
            tenantLog.Information("Backing up {Tenant}: {Step}", name, "database");
            DatabaseManifest? database = null;
            var db = await repository.BackupStreamAsync(BackupLayout.DumpFileName(name), BackupTags.For(name, runId, BackupPart.Database),
                async (stdin, ct) => database = await postgres.DumpAsync(site.Database, stdin, ct), cancellation);

            tenantLog.Information("Backing up {Tenant}: {Step}", name, "files");
            // Hash before restic reads: a file changing in between shows up as a difference at restore,
            // never as a silently wrong manifest.
            var files = await FileTree.ScanAsync(site.FilesDirectory, cancellation);
            var filesSummary = await repository.BackupDirectoryAsync(site.FilesDirectory, BackupTags.For(name, runId, BackupPart.Files), cancellation);

            var manifest = new Manifest(name, runId, capturedAt, database!, files);
            var bytes = ManifestJson.Serialize(manifest);
            tenantLog.Information("Backing up {Tenant}: {Step}", name, "manifest");
            await repository.BackupStreamAsync(ManifestJson.FileName, BackupTags.For(name, runId, BackupPart.Manifest),
                (stdin, ct) => stdin.WriteAsync(bytes, ct).AsTask(), cancellation);

            var set = BackupSet.Group(name, await repository.SnapshotsAsync([BackupTags.Of(BackupTags.Run, runId), BackupTags.Of(BackupTags.Tenant, name)], cancellation)).Single();
            tenantLog.Information("Backed up {Tenant}: {Tables} tables, {Files} files, {Bytes} bytes in run {RunId} (db snapshot {DbSnapshot}, files snapshot {FilesSnapshot})",
                name, database!.Tables.Count, files.Count, manifest.Bytes, runId, db.SnapshotId, filesSummary.SnapshotId);
            return new TenantBackupResult(name, runId, set, manifest, watch.Elapsed, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            tenantLog.Error("Backup of {Tenant} failed at run {RunId}: {Error}", name, runId, e.Message);
            return new TenantBackupResult(name, runId, null, null, watch.Elapsed, e.Message);
        }
    }
}
