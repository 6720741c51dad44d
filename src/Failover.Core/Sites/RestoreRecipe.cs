using System.Text.Json;
using Failover.Core.Backup;
using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>What one restore step does, so the log reports progress in the domain's words.</summary>
public enum RestoreStepKind { FindRun, FetchManifest, PreHook, CreateDatabase, FetchDump, RestoreDatabase, RemoveDump, RestoreFiles, VerifyDatabase, VerifyFiles, PostHook }

/// <summary>One step of a tenant's restore: a bash command line that succeeds when it exits 0.</summary>
public sealed record RestoreStep(RestoreStepKind Kind, string Title, string Command);

/// <summary>The steps that bring one tenant back from the backup set of one database snapshot, in order.</summary>
public sealed record TenantRestore(Tenant Tenant, string SnapshotId, string FilesDirectory, IReadOnlyList<RestoreStep> Steps);

/// <summary>
/// The one description of a cloud standby's restore, in the layout <c>failover backup</c> writes
/// (<see cref="BackupLayout"/>, <see cref="BackupTags"/>). A tenant's id in <c>failover:snapshots</c> is its
/// database part's snapshot; its <c>run=</c> tag names the backup set, whose files and manifest parts are
/// found by tags. Per tenant: manifest first (no manifest, no complete set), the tenant's pre-restore hooks,
/// the dump from restic into pg_restore, the files, row counts and file digests checked against the
/// manifest, then its post-restore hooks (the same <c>hooks</c> of <c>failover:tenants</c> the local restore
/// runs). Rendered to cloud-init by <see cref="BootstrapScript"/>.
/// </summary>
public sealed record RestoreRecipe(
    string Stack,
    string CredentialsFile,
    string SpoolDirectory,
    int PgRestoreJobs,
    IReadOnlyList<TenantRestore> Tenants)
{
    /// <summary>A rehearsal copy's restore: its hooks see FAILOVER_REHEARSAL=1 (else 0) and can skip what customers would notice.</summary>
    public bool Rehearsal { get; init; }

    public const string DefaultCredentialsFile = "/etc/failover/restic.env";
    public const string DefaultSpoolDirectory = "/var/lib/failover/spool";

    /// <summary>The environment variables the credentials file defines; restic reads them.</summary>
    public static readonly IReadOnlyList<string> CredentialVariables =
        ["RESTIC_REPOSITORY", "RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

    /// <summary>Where the standby puts a tenant's files (the files part's contents are at its snapshot root).</summary>
    public static string FilesDirectory(string tenant) => $"/srv/tenants/{tenant}/files";

    /// <summary>
    /// The recipe for a stack's restore point, in restore order (tier first, then smallest first); null when
    /// the stack has no <c>failover:snapshots</c>. pg_restore gets one job per vCPU of the data server.
    /// </summary>
    public static RestoreRecipe? For(Topology.Topology topology, StackSpec stack, int pgRestoreJobs)
    {
        if (stack.Snapshots.Count == 0) return null;
        var jobs = Math.Max(1, pgRestoreJobs);
        var byTenant = stack.Snapshots.ToDictionary(s => s.Tenant, s => s.SnapshotId);
        var tenants = RestoreSchedule.Order(topology.Tenants.Where(t => byTenant.ContainsKey(t.Name)), t => t)
            .Select(t => new TenantRestore(t, byTenant[t.Name], FilesDirectory(t.Name), StepsFor(t, byTenant[t.Name], jobs, DefaultSpoolDirectory)))
            .ToList();
        return new RestoreRecipe(stack.Name, DefaultCredentialsFile, DefaultSpoolDirectory, jobs, tenants) { Rehearsal = stack.Role == Role.Rehearsal };
    }

    // restic runs with --no-lock throughout: the standby reads the vault with a read-only key.
    private static IReadOnlyList<RestoreStep> StepsFor(Tenant t, string snapshot, int jobs, string spool)
    {
        var tenant = t.Name;
        var manifest = $"{spool}/{tenant}.{BackupLayout.ManifestFileName}";
        var files = FilesDirectory(tenant);
        var restoreFlags = $"--no-owner --no-privileges --exit-on-error --dbname={Sh.Quote(tenant)}";
        List<RestoreStep> steps =
        [
            new(RestoreStepKind.FindRun, $"{tenant}: find the backup run of database snapshot {snapshot}",
                $"run=$({Functions.BackupRun} {Sh.Quote(snapshot)} {Sh.Quote(tenant)})"),
            // The manifest is written last: fetching it first refuses an incomplete set before any data moves.
            new(RestoreStepKind.FetchManifest, $"{tenant}: fetch the manifest of that run",
                $"restic --no-lock dump --tag {TagFilter(tenant, BackupPart.Manifest)} latest {Sh.Quote(BackupLayout.ManifestPath)} > {Sh.Quote(manifest)}"),
            .. Hooks(t, "pre", t.PreRestore),
            new(RestoreStepKind.CreateDatabase, $"{tenant}: create the database", $"runuser -u postgres -- createdb {Sh.Quote(tenant)}"),
        ];
        var dump = $"restic --no-lock dump {Sh.Quote(snapshot)} {Sh.Quote(BackupLayout.DumpPath(tenant))}";
        if (jobs == 1)
        {
            // One job reads the dump straight from restic: no spool space, one transaction.
            steps.Add(new(RestoreStepKind.RestoreDatabase, $"{tenant}: restic dump of {BackupLayout.DumpPath(tenant)} from snapshot {snapshot} into pg_restore",
                $"{dump} | runuser -u postgres -- pg_restore --single-transaction {restoreFlags}"));
        }
        else
        {
            // pg_restore runs parallel jobs only from a seekable file, not from a pipe: restic writes the dump
            // into a spool file first, which is removed as soon as the database is loaded.
            var spoolFile = $"{spool}/{BackupLayout.DumpFileName(tenant)}";
            steps.Add(new(RestoreStepKind.FetchDump, $"{tenant}: restic dump of {BackupLayout.DumpPath(tenant)} from snapshot {snapshot}",
                $"{dump} > {Sh.Quote(spoolFile)}"));
            steps.Add(new(RestoreStepKind.RestoreDatabase, $"{tenant}: pg_restore with {jobs} parallel jobs",
                $"runuser -u postgres -- pg_restore --jobs={jobs} {restoreFlags} {Sh.Quote(spoolFile)}"));
            steps.Add(new(RestoreStepKind.RemoveDump, $"{tenant}: remove the spooled dump", $"rm -f {Sh.Quote(spoolFile)}"));
        }
        steps.Add(new(RestoreStepKind.RestoreFiles, $"{tenant}: restic restore of the files of that run into {files}",
            $"restic --no-lock restore --tag {TagFilter(tenant, BackupPart.Files)} latest --target {Sh.Quote(files)}"));
        steps.Add(new(RestoreStepKind.VerifyDatabase, $"{tenant}: compare row counts with the manifest",
            $"{Functions.VerifyRows} {Sh.Quote(tenant)} {Sh.Quote(manifest)}"));
        steps.Add(new(RestoreStepKind.VerifyFiles, $"{tenant}: compare the files with the manifest",
            $"{Functions.VerifyFiles} {Sh.Quote(files)} {Sh.Quote(manifest)}"));
        steps.AddRange(Hooks(t, "post", t.PostRestore));
        return steps;
    }

    /// <summary>A tenant's hook commands, each a step that fails the tenant when it exits non-zero.</summary>
    private static IEnumerable<RestoreStep> Hooks(Tenant t, string stage, IReadOnlyList<string> commands) =>
        commands.Select((command, i) => new RestoreStep(stage == "pre" ? RestoreStepKind.PreHook : RestoreStepKind.PostHook,
            $"{t.Name}: {stage}-restore hook {i + 1} of {commands.Count}",
            $"{Functions.RunHook} {Sh.Quote(t.Name)} {stage} {Sh.Quote(FilesDirectory(t.Name))} {Sh.Quote(command)}"));

    /// <summary>Whether any tenant has hooks: the bootstrap then lets root reach PostgreSQL the way hooks expect.</summary>
    public bool HasHooks => Tenants.Any(t => t.Steps.Any(s => s.Kind is RestoreStepKind.PreHook or RestoreStepKind.PostHook));

    /// <summary>The tags of one part of the tenant's run, for restic's <c>--tag</c>; the run id is the shell's <c>$run</c>.</summary>
    private static string TagFilter(string tenant, BackupPart part)
    {
        const string placeholder = "\u0000";
        var tags = string.Join(',', BackupTags.For(tenant, placeholder, part));
        var at = tags.IndexOf(placeholder, StringComparison.Ordinal);
        return Sh.Quote(tags[..at]) + "\"$run\"" + Sh.Quote(tags[(at + placeholder.Length)..]);
    }

    /// <summary>The tenant ids the health endpoint reports once a tenant is back: its database snapshot ids.</summary>
    public IReadOnlyDictionary<string, string> SnapshotIds =>
        Tenants.ToDictionary(t => t.Tenant.Name, t => t.SnapshotId);

    /// <summary>
    /// The bash functions the steps call, defined once per script. Each returns non-zero on any doubt, so a
    /// tenant fails loudly rather than comes up wrong. Needs restic, jq, psql and sha256sum.
    /// </summary>
    public static class Functions
    {
        public const string BackupRun = "backup_run";
        public const string VerifyRows = "verify_rows";
        public const string VerifyFiles = "verify_files";
        public const string RunHook = "run_hook";

        public static string Render()
        {
            var run = BackupTags.Of(BackupTags.Run, "");
            return $$"""
                # Prints the run id of a tenant's database snapshot: the snapshot must carry the tool, tenant and db-part
                # tags, so an id of another tenant or another part fails here instead of restoring the wrong data.
                {{BackupRun}}() {
                  local run
                  run=$(restic --no-lock snapshots --json "$1" | jq -er --arg tool {{BackupTags.Tool}} --arg tenant "{{BackupTags.Of(BackupTags.Tenant, "")}}$2" \
                    --arg part {{BackupTags.Of(BackupTags.Part, BackupTags.PartName(BackupPart.Database))}} --arg run {{run}} '
                    [.[] | (.tags // []) as $t | select(($t | index([$tool])) and ($t | index([$tenant])) and ($t | index([$part])))
                      | $t[] | select(startswith($run)) | ltrimstr($run) | select(length > 0)]
                    | if length == 1 then .[0] else empty end') || return 1
                  log "$2: database snapshot $1 is from backup run $run" >&2
                  printf '%s\n' "$run"
                }

                # Compares every table's row count in database $1 with the manifest $2; names every difference.
                {{VerifyRows}}() {
                  local tables schema name rows got bad=0
                  tables=$(jq -r '.database.tables[] | [.schema, .name, (.rows | tostring)] | @tsv' "$2") || return 1
                  while IFS=$'\t' read -r schema name rows; do
                    [ -n "$schema" ] || continue
                    # psql quotes the names itself (:"var"), so no table name is ever spliced into SQL.
                    if ! got=$(printf '%s\n' 'SELECT count(*) FROM :"schema".:"name";' |
                        runuser -u postgres -- psql --no-psqlrc -X -q -tA -v ON_ERROR_STOP=1 -v schema="$schema" -v name="$name" -d "$1"); then
                      fail "$1: table $schema.$name is missing ($rows rows in the backup)"; bad=1
                    elif [ "$got" != "$rows" ]; then
                      fail "$1: table $schema.$name has $got rows, the backup had $rows"; bad=1
                    fi
                  done <<< "$tables"
                  return "$bad"
                }

                # Compares the files in directory $1 with the manifest $2: the count, then every file's SHA-256.
                {{VerifyFiles}}() {
                  local want got
                  want=$(jq -er '.files.count' "$2") || return 1
                  got=$(find "$1" -type f | wc -l)
                  if [ "$got" != "$want" ]; then fail "$1 has $got files, the backup had $want"; return 1; fi
                  [ "$want" != 0 ] || return 0
                  jq -r '.files.entries[] | "\(.sha256)  \(.path)"' "$2" > "$2.sha256" || return 1
                  (cd "$1" && sha256sum --check --quiet --strict "$2.sha256") || { fail "$1: files differ from the backup"; return 1; }
                }

                # Runs tenant $1's $2-restore hook $4 (as root, in bash) with the environment the local restore gives it:
                # FAILOVER_TENANT, FAILOVER_FILES_DIR ($3), PGDATABASE and FAILOVER_REHEARSAL (the script sets it, 1 on a
                # rehearsal copy); psql reaches the server as root over the socket.
                # Every line it prints is logged with the tenant's name; its exit code is the hook's (pipefail).
                {{RunHook}}() {
                  FAILOVER_TENANT="$1" FAILOVER_FILES_DIR="$3" PGDATABASE="$1" FAILOVER_REHEARSAL="${FAILOVER_REHEARSAL:-0}" bash -c "$4" 2>&1 |
                    while IFS= read -r line; do log "$1 $2-restore hook: $line"; done
                }
                """;
        }
    }
}

/// <summary>
/// The document the health endpoint serves: which stack and server, the tenants restored and verified (tenant
/// to database snapshot id) and the tenants whose restore failed. Status is <c>ready</c> only when none failed.
/// </summary>
public static class HealthDocument
{
    public static string Render(string stack, string server, IReadOnlyDictionary<string, string> snapshots, IReadOnlyList<string>? failed = null) =>
        JsonSerializer.Serialize(new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["failed"] = failed ?? [],
            ["server"] = server,
            ["snapshots"] = new SortedDictionary<string, string>(snapshots.ToDictionary(k => k.Key, k => k.Value), StringComparer.Ordinal),
            ["stack"] = stack,
            ["status"] = failed is { Count: > 0 } ? "degraded" : "ready",
        });

    /// <summary>A restored tenant's member of <c>snapshots</c>, as the script collects it in <c>restored</c>.</summary>
    public static string SnapshotMember(string tenant, string snapshotId) => JsonSerializer.Serialize(tenant) + ":" + JsonSerializer.Serialize(snapshotId);

    /// <summary>A failed tenant's entry of <c>failed</c>, as the script collects it in <c>failed</c>.</summary>
    public static string FailedEntry(string tenant) => JsonSerializer.Serialize(tenant);

    /// <summary>
    /// Bash that writes <see cref="Render"/>'s document to <paramref name="file"/> from the arrays <c>restored</c>
    /// and <c>failed</c> the restore filled in (in restore order).
    /// </summary>
    public static string ShellWriter(string stack, string server, string file) =>
        "status=ready\n" +
        "if [ \"${#failed[@]}\" -gt 0 ]; then status=degraded; fi\n" +
        "printf '{\"failed\":[%s],\"server\":%s,\"snapshots\":{%s},\"stack\":%s,\"status\":\"%s\"}\\n' " +
        $"\"$(IFS=,; printf '%s' \"${{failed[*]}}\")\" {Sh.Quote(JsonSerializer.Serialize(server))} " +
        $"\"$(IFS=,; printf '%s' \"${{restored[*]}}\")\" {Sh.Quote(JsonSerializer.Serialize(stack))} \"$status\" > {Sh.Quote(file + ".tmp")}\n" +
        $"mv {Sh.Quote(file + ".tmp")} {Sh.Quote(file)}\n";
}

/// <summary>Which vault a standby restores from: one choice, used by the plan, the policies, infra and the run.</summary>
public static class RestoreSource
{
    /// <summary>
    /// <c>failover:restoreFrom</c> when set, else production's first S3 vault (cloud-init restores only from S3; a Storage
    /// Box listed first is skipped, not failed on); a local standby restores from the first directory vault.
    /// </summary>
    /// <exception cref="TopologyException">No such vault, or none the standby can restore from (file, key and fix).</exception>
    public static StackSpec VaultFor(Topology.Topology topology, StackSpec stack) =>
        Choose(topology, stack, out var problem) ?? throw new TopologyException(problem!);

    /// <summary>Why <see cref="VaultFor"/> would fail for this standby, or null when it names a vault.</summary>
    public static TopologyProblem? Problem(Topology.Topology topology, StackSpec stack) =>
        Choose(topology, stack, out var problem) is null ? problem : null;

    private static StackSpec? Choose(Topology.Topology topology, StackSpec stack, out TopologyProblem? problem)
    {
        problem = null;
        var kind = stack.Site.Provider == Provider.Local ? VaultKind.Directory : VaultKind.S3;
        if (stack.RestoreFrom is { } name)
        {
            var named = topology.Find(name);
            if (named is null)
                problem = new(stack.File, "failover:restoreFrom", null, $"vault stack '{name}' does not exist", "name a vault stack");
            else if (named.Vault?.Kind != kind)
                problem = new(stack.File, "failover:restoreFrom", null,
                    $"{named.Name} is a {named.Vault?.Kind.ToString() ?? "non-vault"} stack: {What(kind)}",
                    $"restore from {Article(kind)} vault (set failover:restoreFrom to one)");
            return problem is null ? named : null;
        }
        var first = topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault?.Kind == kind);
        if (first is null)
            problem = new(stack.File, "failover:restoreFrom", null,
                $"none of production's vaults ({string.Join(", ", topology.Backup.Vaults)}) is {Article(kind)} vault: {What(kind)}",
                $"add {Article(kind)} vault to failover:backup.vaults of {topology.Production.Name}, or set failover:restoreFrom");
        return first;
    }

    private static string What(VaultKind kind) => kind == VaultKind.S3
        ? "cloud-init restores only from S3 vaults" : "the local provider restores only from directory vaults";

    private static string Article(VaultKind kind) => kind == VaultKind.S3 ? "an S3" : "a directory";
}
