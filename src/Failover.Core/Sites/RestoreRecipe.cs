using System.Text.Json;
using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>Where production's backups put each tenant's data inside a restic snapshot.</summary>
public static class BackupLayout
{
    /// <summary>The pg_dump custom-format file of a tenant's database.</summary>
    public static string DumpPath(string tenant) => $"/var/backups/failover/{tenant}.pgdump";

    /// <summary>The tenant's uploaded files.</summary>
    public static string FilesPath(string tenant) => $"/srv/tenants/{tenant}/files";
}

/// <summary>What one restore step does, so an executor can report progress in the domain's words.</summary>
public enum RestoreStepKind { CreateDatabase, FetchDump, RestoreDatabase, RemoveDump, RestoreFiles, VerifyDatabase, VerifyFiles }

/// <summary>One program to run: its arguments, the user it runs as and where its output goes.</summary>
public sealed record RestoreCommand(IReadOnlyList<string> Argv, string? RunAs = null, string? StdoutTo = null);

/// <summary>One step of a tenant's restore; it succeeds when its command exits 0.</summary>
public sealed record RestoreStep(RestoreStepKind Kind, string Title, RestoreCommand Command);

/// <summary>The steps that bring one tenant back from one snapshot, in order.</summary>
public sealed record TenantRestore(Tenant Tenant, string SnapshotId, IReadOnlyList<RestoreStep> Steps);

/// <summary>
/// The one description of a restore: for each tenant, the pg_dump file taken out of the snapshot with
/// <c>restic dump</c> and loaded by pg_restore with parallel jobs, the files directory restored with
/// <c>restic restore</c>, then both verified. Rendered to
/// cloud-init by <see cref="BootstrapScript"/>; a local executor can run the same steps directly.
/// </summary>
public sealed record RestoreRecipe(
    string Stack,
    string CredentialsFile,
    string SpoolDirectory,
    int PgRestoreJobs,
    IReadOnlyList<TenantRestore> Tenants)
{
    public const string DefaultCredentialsFile = "/etc/failover/restic.env";
    public const string DefaultSpoolDirectory = "/var/lib/failover/spool";

    /// <summary>The environment variables the credentials file defines; restic reads them.</summary>
    public static readonly IReadOnlyList<string> CredentialVariables =
        ["RESTIC_REPOSITORY", "RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

    /// <summary>
    /// The recipe for a stack's restore point, in restore order (tier first, then smallest first); null when
    /// the stack has no <c>failover:snapshots</c>. pg_restore gets one job per vCPU of the data server.
    /// </summary>
    public static RestoreRecipe? For(Topology.Topology topology, StackSpec stack, int pgRestoreJobs)
    {
        if (stack.Snapshots.Count == 0) return null;
        var byTenant = stack.Snapshots.ToDictionary(s => s.Tenant, s => s.SnapshotId);
        var tenants = RestoreSchedule.Order(topology.Tenants.Where(t => byTenant.ContainsKey(t.Name)), t => t)
            .Select(t => new TenantRestore(t, byTenant[t.Name], StepsFor(t.Name, byTenant[t.Name], Math.Max(1, pgRestoreJobs), DefaultSpoolDirectory)))
            .ToList();
        return new RestoreRecipe(stack.Name, DefaultCredentialsFile, DefaultSpoolDirectory, Math.Max(1, pgRestoreJobs), tenants);
    }

    private static IReadOnlyList<RestoreStep> StepsFor(string tenant, string snapshot, int jobs, string spool)
    {
        // pg_restore runs parallel jobs only from a seekable file, not from a pipe: restic streams the dump
        // into a spool file first, which is removed as soon as the database is loaded.
        var spoolFile = $"{spool}/{tenant}.pgdump";
        const string verifySql =
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')) " +
            "THEN RAISE EXCEPTION 'no tables were restored'; END IF; END $$;";
        return
        [
            new(RestoreStepKind.CreateDatabase, $"{tenant}: create the database", new(["createdb", tenant], RunAs: "postgres")),
            new(RestoreStepKind.FetchDump, $"{tenant}: restic dump of the database from snapshot {snapshot}",
                new(["restic", "--no-lock", "dump", snapshot, BackupLayout.DumpPath(tenant)], StdoutTo: spoolFile)),
            new(RestoreStepKind.RestoreDatabase, $"{tenant}: pg_restore with {jobs} parallel jobs",
                new(["pg_restore", $"--jobs={jobs}", "--no-owner", "--no-privileges", "--exit-on-error", $"--dbname={tenant}", spoolFile], RunAs: "postgres")),
            new(RestoreStepKind.RemoveDump, $"{tenant}: remove the spooled dump", new(["rm", "-f", spoolFile])),
            new(RestoreStepKind.RestoreFiles, $"{tenant}: restic restore of the files from snapshot {snapshot}",
                new(["restic", "--no-lock", "restore", snapshot, "--target", "/", "--include", BackupLayout.FilesPath(tenant)])),
            new(RestoreStepKind.VerifyDatabase, $"{tenant}: verify the database has tables",
                new(["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", $"--dbname={tenant}", "-tAc", verifySql], RunAs: "postgres")),
            new(RestoreStepKind.VerifyFiles, $"{tenant}: verify the files directory exists", new(["test", "-d", BackupLayout.FilesPath(tenant)])),
        ];
    }

    /// <summary>The snapshot ids the health endpoint reports once every tenant is back.</summary>
    public IReadOnlyDictionary<string, string> SnapshotIds =>
        Tenants.ToDictionary(t => t.Tenant.Name, t => t.SnapshotId);
}

/// <summary>The document the health endpoint serves: which stack, which server, restored from which snapshots.</summary>
public static class HealthDocument
{
    public static string Render(string stack, string server, IReadOnlyDictionary<string, string> snapshots) =>
        JsonSerializer.Serialize(new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["stack"] = stack,
            ["server"] = server,
            ["status"] = "ready",
            ["snapshots"] = new SortedDictionary<string, string>(snapshots.ToDictionary(k => k.Key, k => k.Value), StringComparer.Ordinal),
        });
}

/// <summary>Which vault a standby restores from.</summary>
public static class RestoreSource
{
    /// <summary><c>failover:restoreFrom</c> when set, else production's first vault; it must be an S3 vault.</summary>
    public static StackSpec VaultFor(Topology.Topology topology, StackSpec stack)
    {
        var name = stack.RestoreFrom ?? topology.Backup.Vaults[0];
        var vault = topology.Find(name) ?? throw new TopologyException(new TopologyProblem(stack.File, "failover:restoreFrom", null,
            $"vault stack '{name}' does not exist", "name a vault stack"));
        if (vault.Vault?.Kind != VaultKind.S3)
            throw new TopologyException(new TopologyProblem(stack.File, "failover:restoreFrom", null,
                $"{vault.Name} is a {vault.Vault?.Kind.ToString() ?? "non-vault"} stack: cloud-init restores only from S3 vaults",
                "restore from an S3 vault (set failover:restoreFrom), or restore with the driver's local executor"));
        return vault;
    }
}
