using Failover.Core.Planning;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Reports;

/// <summary>
/// A copy of a run's evidence in the backup vault: report.md, report.html, report.json and the journal as one restic
/// snapshot tagged <see cref="Tag"/> and <c>report=RUN_ID</c>, so it outlives the machine and the run-state folder.
/// Not tagged <c>failover</c>: the backup catalog never takes it for a tenant's backup. The tool forgets snapshots by id
/// only (a damaged tenant set), never by tag or age, so the copy stays as long as the vault keeps its data.
/// </summary>
public static class ReportArchive
{
    public const string Tag = ReportFiling.Tag;

    public static string RunTag(string runId) => ReportFiling.RunTag(runId);

    /// <summary>The directory vault the copy goes into (the first of failover:backup.vaults that is a restic directory); null on a cloud topology.</summary>
    /// <remarks>On a cloud vault the driver holds only the read-only key: the serving site's data server files the copy (<see cref="CloudReportFiling"/>).</remarks>
    public static StackSpec? VaultOf(Topology topology) =>
        topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault?.Kind == VaultKind.Directory);

    /// <summary>The report's sentence about its copy: where, how to find it, and how long it is kept.</summary>
    public static string Describe(Topology topology, string runId)
    {
        if (VaultOf(topology) is not { } vault)
            return topology.Backup.Vaults.Count == 0
                ? "No copy is made in a vault: the topology has none (failover:backup.vaults)."
                : $"A copy of this report (Markdown, HTML, JSON) and of its journal is filed into every vault of failover:backup.vaults ({string.Join(", ", topology.Backup.Vaults)}) " +
                  $"by the serving site's data server, which holds the vaults' write keys (the driver holds only the read key and reads each copy back to check its SHA-256), " +
                  $"as a restic snapshot tagged {Tag} and {RunTag(runId)} (`restic snapshots --tag {RunTag(runId)}`); the run's output and log say where it was filed. " +
                  $"Retention: failover never removes it (it forgets tenant snapshots by id only); the vault's object lock keeps it at least as long as it keeps the backups.";
        var locked = vault.Vault!.Immutability != ImmutabilityMode.None
            ? $" The vault locks what it holds for {Durations.Format(vault.Vault.ImmutableFor)} ({vault.Vault.Immutability.ToString().ToLowerInvariant()} mode)."
            : "";
        return $"A copy of this report (Markdown, HTML, JSON) and of its journal is kept in the vault {vault.Name} as a restic snapshot tagged {Tag} and {RunTag(runId)} " +
               $"(`restic snapshots --tag {RunTag(runId)}`; one per invocation that wrote the report, the newest is the latest). Retention: failover never removes it " +
               $"(it forgets tenant snapshots by id only), so it stays until someone runs `restic forget` on it; tenant backups are kept {Durations.Format(topology.Backup.Retention)} " +
               $"(failover:backup.retention).{locked}";
    }

    /// <summary>Copies the run folder's report files and the journal's lines into the vault; the snapshot id, or null when the topology has no directory vault.</summary>
    public static async Task<string?> CopyAsync(Topology topology, string projectDirectory, string runDirectory, string runId, IReadOnlyList<string> journalLines,
        SecretRegistry secrets, ILogger log, CancellationToken cancellation)
    {
        if (VaultOf(topology) is null) return null;
        var settings = Backup.VaultSettings.Local(topology, projectDirectory);
        var staging = Directory.CreateTempSubdirectory("failover-evidence-");
        try
        {
            // The same files a cloud run's data server files (CloudReportFiling.Evidence): the report's formats and the journal.
            foreach (var file in CloudReportFiling.Evidence(runDirectory, journalLines))
                await File.WriteAllBytesAsync(Path.Combine(staging.FullName, file.Name), file.Content, cancellation);
            var summary = await new ResticRepository(settings, secrets, log).BackupDirectoryAsync(staging.FullName, [Tag, RunTag(runId)], cancellation);
            log.Information("Evidence of run {RunId} copied into the vault as snapshot {SnapshotId}", runId, summary.SnapshotId);
            return summary.SnapshotId;
        }
        finally
        {
            staging.Delete(recursive: true);
        }
    }
}
