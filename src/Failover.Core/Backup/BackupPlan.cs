using Failover.Core.Topology;

namespace Failover.Core.Backup;

/// <summary>One vault a backup run pushes into: its stack name and the root-only file with its write credentials.</summary>
public sealed record BackupTarget(string Vault, string CredentialsFile);

/// <summary>
/// The one definition of a backup run of a site, whoever carries it out (the agent's bash on a cloud data server, the
/// same script run by the local provider): per tenant, in this order, into every vault: the database (pg_dump custom
/// format streamed into restic, its tables counted and checksummed in the dump's own snapshot), the files directory
/// (hashed before restic reads it), and last the manifest, which marks the set complete. Then one heartbeat per vault.
/// The layout is <see cref="BackupLayout"/> and <see cref="BackupTags"/>, as the restore reads it.
/// </summary>
public sealed record BackupPlan(
    string Site,
    IReadOnlyList<string> Tenants,
    IReadOnlyList<BackupTarget> Vaults,
    TimeSpan Interval)
{
    /// <summary>A tenant's files directory; <c>{tenant}</c> is replaced by its name (the layout the cloud restore writes).</summary>
    public string FilesPattern { get; init; } = DefaultFilesPattern;

    /// <summary>Where the agent keeps its run's scratch files, its last heartbeat and restic's cache.</summary>
    public string StateDirectory { get; init; } = DefaultStateDirectory;

    /// <summary>The lock a run holds (flock): a second run while one runs is refused and says so.</summary>
    public string LockFile { get; init; } = DefaultLockFile;

    /// <summary>
    /// Where the agent reads its tenants' names instead of <see cref="Tenants"/>: a standby's restore state (one
    /// <c>N.name</c> file per tenant of its restore point). A standby's agent runs only after it restored, and the names
    /// need not travel in its user data beside the restore point (a thousand of each would not fit).
    /// </summary>
    public string? TenantsFrom { get; init; }

    /// <summary>The OS user psql and pg_dump run as over the local socket; null: as the caller, with the libpq environment (PGHOST...).</summary>
    public string? PostgresUser { get; init; } = "postgres";

    public const string DefaultFilesPattern = "/srv/tenants/{tenant}/files";
    public const string DefaultStateDirectory = "/var/lib/failover/backup";
    public const string DefaultLockFile = "/run/lock/failover-backup.lock";
    public const string VaultCredentialsDirectory = "/etc/failover/vaults";

    /// <summary>The file the agent writes its heartbeat to, in every vault and in <see cref="StateDirectory"/>.</summary>
    public const string HeartbeatFileName = "heartbeat.json";

    /// <summary>The part tag of a heartbeat snapshot (it has no tenant tag, so backup sets never include it).</summary>
    public const string HeartbeatPart = "heartbeat";

    /// <summary>The tag that names the site a heartbeat comes from.</summary>
    public const string SiteTag = "site";

    /// <summary>Exit code of a run refused because another still holds the lock (EX_TEMPFAIL: try again later).</summary>
    public const int RefusedExitCode = 75;

    /// <summary>Exit code of a run in which some tenant or vault failed (every failure is named in the heartbeat).</summary>
    public const int FailedExitCode = 1;

    /// <summary>The tags of a heartbeat snapshot of one run.</summary>
    public static IReadOnlyList<string> HeartbeatTags(string site, string runId) =>
        [BackupTags.Tool, BackupTags.Of(BackupTags.Part, HeartbeatPart), BackupTags.Of(SiteTag, site), BackupTags.Of(BackupTags.Run, runId)];

    /// <summary>The steps of one tenant's backup, in the order every executor takes them (the manifest last: the commit marker).</summary>
    public static readonly IReadOnlyList<BackupPart> TenantSteps = [BackupPart.Database, BackupPart.Files, BackupPart.Manifest];

    /// <summary>The credentials file of a vault on the data server.</summary>
    public static string CredentialsFileOf(string vault) => $"{VaultCredentialsDirectory}/{vault}.env";

    /// <summary>
    /// The backup of a serving site: every tenant of the topology into every vault of <c>failover:backup.vaults</c>,
    /// on <c>failover:backup.schedule</c>.
    /// </summary>
    public static BackupPlan For(Topology.Topology topology, StackSpec site) =>
        new(site.Name, topology.Tenants.Select(t => t.Name).ToList(),
            topology.Backup.Vaults.Select(v => new BackupTarget(v, CredentialsFileOf(v))).ToList(),
            topology.Backup.Interval);

    /// <summary>
    /// The agent a site's data server installs: production's and a standby's (whose timer waits for a cutover); none for a
    /// rehearsal copy, which must never back up into the vault, nor when the topology names no vault.
    /// </summary>
    public static BackupPlan? OfSite(Topology.Topology topology, StackSpec site) =>
        site.Role is Role.Production or Role.Standby && topology.Backup.Vaults.Count > 0
            ? site.Snapshots.Count == 0 ? For(topology, site) : Restored(For(topology, site))
            : null;

    /// <summary>
    /// The agent of a site whose data server restored its tenants at boot (the target of a failover or migration): its
    /// tenants are the ones its restore named, as <see cref="OfSite"/> gives a standby with snapshots. The start request
    /// carries this one; the stack in memory may no longer list the snapshots its user data restored.
    /// </summary>
    public static BackupPlan? OfRestoredSite(Topology.Topology topology, StackSpec site) =>
        OfSite(topology, site) is { } plan ? Restored(plan) : null;

    // Its tenants are the ones the restore wrote into the state directory, not the stack's list.
    private static BackupPlan Restored(BackupPlan plan) => plan with { Tenants = [], TenantsFrom = Sites.ServerBootstrap.StateDirectory };

    /// <summary>A tenant's files directory on the site.</summary>
    public string FilesDirectory(string tenant) => FilesPattern.Replace("{tenant}", tenant, StringComparison.Ordinal);
}

/// <summary>
/// The backup agent's psql form of <see cref="TableChecksums"/>: the same two queries per table, in one session.
/// </summary>
public static class TableChecksumPasses
{
    /// <summary>
    /// psql's <c>\gexec</c> with <c>ON_ERROR_ROLLBACK</c>: a <c>T</c> line per table, then a <c>C</c> line per table
    /// (schema, name, rows, checksum, tab-separated) from <see cref="TableChecksums.Hashed"/>, then from
    /// <see cref="TableChecksums.AsText"/> for the tables the first pass could not hash (each success marks its table in a
    /// transaction-local setting). Runs inside the caller's REPEATABLE READ transaction after the settings.
    /// </summary>
    public static string Psql()
    {
        const string marked = "SELECT set_config('failover.hashed', ' ', true) \\g /dev/null";
        var list = TableChecksums.ListTables.Replace("SELECT n.nspname, c.relname", "SELECT n.nspname, c.relname, c.oid", StringComparison.Ordinal);
        string Pass(string query, string where) =>
            $"SELECT format({Literal("SELECT 'C', %L, %L, q.* FROM (" + query + ") AS q " +
                "WHERE set_config('failover.hashed', current_setting('failover.hashed') || %L, true) IS NOT NULL")}, " +
            $"l.nspname, l.relname, format('%I.%I', l.nspname, l.relname), ' ' || l.oid || ' ') FROM ({list}) AS l{where} \\gexec";
        return string.Join('\n',
            $"SELECT 'T', l.nspname, l.relname FROM ({list}) AS l;",
            marked,
            Pass(TableChecksums.Hashed("%s"), ""),
            Pass(TableChecksums.AsText("%s"), " WHERE strpos(current_setting('failover.hashed'), ' ' || l.oid || ' ') = 0"));
    }

    private static string Literal(string sql) => "'" + sql.Replace("'", "''") + "'";
}

/// <summary>
/// What one agent run left in a vault (and in its state directory): which run, when, how many tenants it backed up into
/// that vault of how many, the bytes, and every failure by name (a vault it could not write, a tenant whose database is
/// missing). The catalog and <c>failover status</c> read it; a heartbeat older than the schedule allows is an alarm.
/// </summary>
public sealed record BackupHeartbeat(
    string Site,
    string Vault,
    string RunId,
    DateTimeOffset Started,
    DateTimeOffset Finished,
    int Tenants,
    int BackedUp,
    long Bytes,
    IReadOnlyList<BackupFailure> Failures)
{
    public bool Succeeded => Failures.Count == 0 && BackedUp == Tenants;

    /// <summary>How old the heartbeat may be: one interval for the next run to start, one for it to finish.</summary>
    public static TimeSpan AllowedAge(TimeSpan interval) => interval + interval;
}

/// <summary>One failure of a backup run: the vault (null: every vault) and tenant (null: the whole vault) and why.</summary>
public sealed record BackupFailure(string? Vault, string? Tenant, string Reason)
{
    public override string ToString() =>
        (Vault, Tenant) switch
        {
            (null, null) => Reason,
            (null, { } t) => $"{t}: {Reason}",
            ({ } v, null) => $"vault {v}: {Reason}",
            ({ } v, { } t) => $"{t} into vault {v}: {Reason}",
        };
}

/// <summary>What <c>failover status</c> says of a vault's newest heartbeat: stale or failed is an alarm, none a warning.</summary>
public static class HeartbeatVerdict
{
    public static (Policies.Severity Severity, string Message) Of(BackupHeartbeat? heartbeat, string vault, string production, TimeSpan interval, DateTimeOffset now)
    {
        if (heartbeat is null)
            return (Policies.Severity.Warning,
                $"no backup agent heartbeat in {vault}: nothing shows that an agent backs up {production} (docs/backup-and-restore.md, the backup agent)");
        var age = now - heartbeat.Finished;
        var allowed = BackupHeartbeat.AllowedAge(interval);
        var what = $"last run {heartbeat.RunId} of {heartbeat.Site} finished {Durations.Format(age < TimeSpan.Zero ? TimeSpan.Zero : age)} ago, " +
                   $"{heartbeat.BackedUp} of {heartbeat.Tenants} tenants into {vault}";
        if (age > allowed)
            return (Policies.Severity.Error,
                $"{what}: STALE, older than the schedule allows ({Durations.Format(allowed)}, two intervals of {Durations.Format(interval)}): the agent has stopped or cannot reach the vault");
        if (!heartbeat.Succeeded)
            return (Policies.Severity.Error, $"{what}: FAILED for {string.Join("; ", heartbeat.Failures.Select(f => f.ToString()))}");
        return (Policies.Severity.Info, what);
    }
}
