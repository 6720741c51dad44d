using System.Text.Json;
using Failover.Core.Backup;
using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// One tenant of a restore point: its database snapshot, its hooks (as indexes into the recipe's
/// <see cref="RestoreRecipe.Hooks"/> table) and its <see cref="RestorePlan"/>, the steps its restore takes, in order.
/// </summary>
public sealed record RecipeTenant(Tenant Tenant, string SnapshotId, string FilesDirectory, IReadOnlyList<int> PreHooks, IReadOnlyList<int> PostHooks,
    RestorePlan Plan)
{
    /// <summary>The steps of the tenant's restore, from its plan.</summary>
    public IReadOnlyList<RestoreStep> Steps => Plan.Steps;

    /// <summary>
    /// The id the user data carries: the first <see cref="RestoreRecipe.SnapshotKeyLength"/> hex digits. restic takes
    /// any unique prefix and refuses an ambiguous one; the server resolves the full id, checks the snapshot's tags
    /// (tool, tenant, database part) and reports the full id, which the driver compares with the one it chose.
    /// </summary>
    public string SnapshotKey => RestoreRecipe.KeyOf(SnapshotId);

    /// <summary>The record's check of the tenant name (the snapshot's tenant tag must hash to it).</summary>
    public string NameCheck => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Tenant.Name)))[..RestoreRecipe.NameCheckLength];
}

/// <summary>
/// The one description of a cloud standby's restore, in the layout <c>failover backup</c> writes
/// (<see cref="BackupLayout"/>, <see cref="BackupTags"/>). A tenant's id in <c>failover:snapshots</c> is its
/// database part's snapshot; its <c>run=</c> tag names the backup set, whose files and manifest parts are
/// found by tags. Per tenant the steps of its <see cref="RestorePlan"/>, which the local restore walks too: manifest
/// first (no manifest, no complete set), the pre-restore hooks, the dump from restic into pg_restore, the files,
/// every table's rows and checksum and every file's digest checked against the manifest, then the post-restore
/// hooks, each step's <see cref="StepVerdict"/> written where the driver's would be. The per-tenant part is data (one line per tenant) that one bash function loops over, so the user
/// data grows by a few bytes per tenant, not by a script; <see cref="BootstrapScript"/> renders it.
/// </summary>
public sealed record RestoreRecipe(
    string Stack,
    string CredentialsFile,
    string SpoolDirectory,
    int PgRestoreJobs,
    IReadOnlyList<RecipeTenant> Tenants)
{
    /// <summary>A rehearsal copy's restore: its hooks see FAILOVER_REHEARSAL=1 (else 0) and can skip what customers would notice.</summary>
    public bool Rehearsal { get; init; }

    /// <summary>Tenants restored at a time: <c>failover:restore.parallelism</c>, as the plan's schedule assumes.</summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>The distinct hook commands of all tenants; tenants refer to them by index, so a shared hook is written once.</summary>
    public IReadOnlyList<string> Hooks { get; init; } = [];

    /// <summary>How long one hook may run before it is killed and its tenant fails: a hung hook must not hang the boot. The local restore's option, <see cref="RestoreOptions.HookTimeout"/>.</summary>
    public TimeSpan HookTimeout { get; init; } = RestoreOptions.Default.HookTimeout;

    /// <summary>48 bits of snapshot id: among a million snapshots a prefix is ambiguous about once in 280 million, and restic refuses it rather than guess.</summary>
    public const int SnapshotKeyLength = 12;

    /// <summary>The part of a snapshot id the user data carries.</summary>
    public static string KeyOf(string snapshotId) => snapshotId.Length <= SnapshotKeyLength ? snapshotId : snapshotId[..SnapshotKeyLength];

    public const string DefaultCredentialsFile = "/etc/failover/restic.env";
    public const string DefaultSpoolDirectory = DataVolume.SpoolDirectory;
    public const string TenantsDirectory = "/srv/tenants";

    /// <summary>The environment variables the credentials file defines; restic reads them.</summary>
    public static readonly IReadOnlyList<string> CredentialVariables =
        ["RESTIC_REPOSITORY", "RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

    /// <summary>Where the standby puts a tenant's files (the files part's contents are at its snapshot root).</summary>
    public static string FilesDirectory(string tenant) => $"{TenantsDirectory}/{tenant}/files";

    /// <summary>
    /// The recipe for a stack's restore point, in restore order (tier first, then smallest first), without the tenants
    /// it leaves out; null when the stack has no <c>failover:snapshots</c>. pg_restore gets one job per vCPU of the data server.
    /// </summary>
    public static RestoreRecipe? For(Topology.Topology topology, StackSpec stack, int pgRestoreJobs)
    {
        if (stack.Snapshots.Count == 0) return null;
        var jobs = Math.Max(1, pgRestoreJobs);
        var byTenant = stack.Snapshots.Where(s => !s.LeftOut).ToDictionary(s => s.Tenant, s => s.SnapshotId!);
        var ordered = RestoreSchedule.Order(topology.Tenants.Where(t => byTenant.ContainsKey(t.Name)), t => t).ToList();
        var hooks = ordered.SelectMany(t => t.PreRestore.Concat(t.PostRestore)).Distinct(StringComparer.Ordinal).ToList();
        var tenants = ordered.Select(t => new RecipeTenant(t, byTenant[t.Name], FilesDirectory(t.Name),
                t.PreRestore.Select(h => hooks.IndexOf(h)).ToList(), t.PostRestore.Select(h => hooks.IndexOf(h)).ToList(), RestorePlan.For(t, jobs)))
            .ToList();
        return new RestoreRecipe(stack.Name, DefaultCredentialsFile, DefaultSpoolDirectory, jobs, tenants)
        {
            Rehearsal = stack.Role == Role.Rehearsal,
            Parallelism = Math.Max(1, topology.RestoreOn(stack).Parallelism),
            Hooks = hooks,
        };
    }

    /// <summary>Whether any tenant has hooks: the bootstrap then lets root reach PostgreSQL the way hooks expect.</summary>
    public bool HasHooks => Hooks.Count > 0;

    /// <summary>The tags of one part of the tenant's run, for restic's <c>--tag</c>, from the shell's <c>$tenant</c> and <c>$run</c>.</summary>
    private static string TagWord(BackupPart part)
    {
        var tags = string.Join(',', BackupTags.For("\u0001", "\u0002", part));
        var word = new System.Text.StringBuilder();
        var literal = new System.Text.StringBuilder();
        void Flush()
        {
            if (literal.Length > 0) word.Append(Sh.Quote(literal.ToString()));
            literal.Clear();
        }
        foreach (var c in tags)
        {
            if (c is not ('\u0001' or '\u0002')) { literal.Append(c); continue; }
            Flush();
            word.Append(c == '\u0001' ? "\"$tenant\"" : "\"$run\"");
        }
        Flush();
        return word.ToString();
    }

    /// <summary>The tenant ids the health endpoint reports once a tenant is back: its database snapshot ids.</summary>
    public IReadOnlyDictionary<string, string> SnapshotIds =>
        Tenants.ToDictionary(t => t.Tenant.Name, t => t.SnapshotId);

    /// <summary>
    /// The tenant records the script loops over, 6.5 bytes each: database snapshot id (its first
    /// <see cref="SnapshotKeyLength"/> hex digits) and the tenant name's check, then pre- and post-hook indexes
    /// (comma-separated, '-' for none) for the tenants with hooks. The name itself comes from the snapshot's tenant tag and
    /// the check refuses a snapshot of another tenant, so a thousand tenants cost some 6.5 KB instead of a name each.
    /// Every field is shell-quoted, so no id or command can break out.
    /// </summary>
    public string RenderData()
    {
        var s = new System.Text.StringBuilder();
        for (var i = 0; i < Hooks.Count; i++) s.Append("hook[").Append(i).Append("]=").Append(Sh.Quote(Hooks[i])).Append('\n');
        s.Append("restore_point ").Append(EncodeRecords(Tenants.Select(t => (t.SnapshotKey, t.NameCheck)), t => Tenants[t].Tenant.Name)).Append('\n');
        static string List(IReadOnlyList<int> xs) => xs.Count == 0 ? "-" : string.Join(',', xs);
        var hooked = Tenants.Select((t, i) => (t, i)).Where(x => x.t.PreHooks.Count + x.t.PostHooks.Count > 0)
            .Select(x => $"{x.i}:{List(x.t.PreHooks)}:{List(x.t.PostHooks)}").ToList();
        foreach (var line in hooked.Chunk(RecordsPerLine)) s.Append("tenant_hooks ").AppendJoin(' ', line).Append('\n');
        return s.ToString();
    }

    /// <summary>
    /// The records as <c>restore_point</c>'s arguments: base64 of <see cref="RecordDigits"/> hex digits each (id, name
    /// check) packed two digits a byte, then <c>n:digits</c> for an id shorter than 12 hex digits. Binary because that is
    /// what compresses: 12 hex digits in text cost gzip ~4.2 bits each, packed ~4 bits each. A snapshot id must be hex, as
    /// restic writes them.
    /// </summary>
    public static string EncodeRecords(IEnumerable<(string Id, string Check)> records, Func<int, string>? tenantOf = null)
    {
        var digits = new System.Text.StringBuilder();
        var shorter = new List<string>();
        var n = 0;
        foreach (var (id, check) in records)
        {
            if (id.Length is 0 or > SnapshotKeyLength || !id.All(char.IsAsciiHexDigitLower) || check.Length != NameCheckLength || !check.All(char.IsAsciiHexDigitLower))
                throw new ArgumentException($"snapshot id '{id}'{(tenantOf is null ? "" : $" of tenant {tenantOf(n)}")} is not a restic id: use the lower-case hex id `restic snapshots` prints");
            if (id.Length < SnapshotKeyLength) shorter.Add($"{n}:{id.Length}");
            digits.Append(id.PadRight(SnapshotKeyLength, '0')).Append(check);
            n++;
        }
        if (digits.Length % 2 == 1) digits.Append('0'); // half a byte of padding, shorter than a record: the loop skips it
        return string.Join(' ', [Convert.ToBase64String(Convert.FromHexString(digits.ToString())), .. shorter]);
    }

    /// <summary>
    /// Where the records of <see cref="RenderData"/> land on a data server that takes them by request
    /// (<see cref="ServerBootstrap.RestorePointByRequest"/>): written by the root unit once their SHA-256 is the pinned one,
    /// sourced by the bootstrap, which checks the hash again.
    /// </summary>
    public const string RestorePointFile = "/var/lib/failover/restore-point";

    /// <summary>SHA-256 of <see cref="RenderData"/>'s UTF-8 bytes, lowercase hex: the pin the user data carries instead of the records.</summary>
    public string RestorePointSha256 => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(RenderData())));

    /// <summary>Hook references per line of the script.</summary>
    public const int RecordsPerLine = 16;

    /// <summary>
    /// Hex digits of SHA-256 of the tenant's name that a record carries: a wrong tenant's snapshot passes 1 time in 16.
    /// Half a byte: it only names a mix-up early, as the driver compares every tenant's full id the server reports with
    /// the one it chose, and 500 bytes at a thousand tenants are the AWS user data's room for the restore progress.
    /// </summary>
    public const int NameCheckLength = 1;

    /// <summary>Hex digits per record: the snapshot key, then the name check.</summary>
    public const int RecordDigits = SnapshotKeyLength + NameCheckLength;

    /// <summary>
    /// The bash functions that restore the tenant records, defined once per script: the bash executor of
    /// <see cref="RestorePlan"/>. <see cref="Functions.RestoreTenant"/> is rendered step by step from
    /// <see cref="RestorePlan.Sequence"/>; each step writes its <see cref="StepVerdict"/> line to VERDICTS, and the first
    /// that fails ends the tenant's restore. Needs restic, jq, psql, sha256sum, timeout, and the variables SPOOL,
    /// TENANTS, STATE, PG_JOBS, HOOK_TIMEOUT and the array SECRETS (values to redact).
    /// </summary>
    public static class Functions
    {
        public const string BackupRun = "snapshot_run";
        public const string VerifyRows = "verify_rows";
        public const string VerifyFiles = "verify_files";
        public const string RunHook = "run_hook";
        public const string RestoreTenant = "restore_tenant";
        public const string RestoreOne = "restore_one";
        public const string RestoreAll = "restore_all";
        public const string WriteHealth = "write_health";
        public const string RestoreProgress = "restore_progress";
        public const string ProgressLoop = "progress_loop";

        /// <summary>Where <see cref="RestoreOne"/> leaves the step verdicts of record n: <c>$STATE/n.verdicts</c>.</summary>
        public static string VerdictsFile(string state, int record) => $"{state}/{record}.verdicts";

        private static string Name(RestoreStepKind kind) => RestorePlan.NameOf(kind);

        /// <summary>A restore step's bash, from the shell's $1..$5 of restore_tenant and its locals (tenant, id, run, manifest, files).</summary>
        private static string Step(RestoreStepKind kind) => kind switch
        {
            RestoreStepKind.FindRun => $$"""
                found=$({{BackupRun}} "$1" "$2") || { record_verdict {{Name(kind)}} "$found"; fail "FAILED to find the backup run: $found"; return 1; }
                read -r id run tenant <<< "$found"
                case "$tenant" in ''|.|..|*/*|-*) step_failed {{Name(kind)}} "tenant name '$tenant' of snapshot $1 is not a directory name"; return 1 ;; esac
                printf '%s' "$tenant" > "$5"
                step_passed {{Name(kind)}}
                manifest="$SPOOL/$tenant.{{BackupLayout.ManifestFileName}}" files="$TENANTS/$tenant/files"
                """,
            RestoreStepKind.FetchManifest => $$"""
                log "$tenant: fetch the manifest of backup run $run"
                restic --no-lock dump --tag {{TagWord(BackupPart.Manifest)}} latest {{Sh.Quote(BackupLayout.ManifestPath)}} > "$manifest" ||
                  { step_failed {{Name(kind)}} "{{RestoreFindings.NoManifest}}"; return 1; }
                step_passed {{Name(kind)}}
                """,
            RestoreStepKind.PreHook or RestoreStepKind.PostHook => $$"""
                n=0
                for i in ${{{(kind == RestoreStepKind.PreHook ? 3 : 4)}}//[,-]/ }; do
                  n=$((n + 1)) code=0
                  {{RunHook}} "$tenant" {{RestorePlan.StageOf(kind)}} "$files" "${hook[$i]}" || code=$?
                  hook_verdict "{{Name(kind)}}-$n" "$code" || return 1
                done
                """,
            RestoreStepKind.CreateDatabase => $$"""
                log "$tenant: create the database"
                runuser -u postgres -- createdb -- "$tenant" || { step_failed {{Name(kind)}} "createdb failed"; return 1; }
                step_passed {{Name(kind)}}
                """,
            RestoreStepKind.FetchDump => $$"""
                log "$tenant: restic dump of snapshot $id into the spool"
                restic --no-lock dump "$id" "/$tenant.dump" > "$SPOOL/$tenant.dump" || { step_failed {{Name(kind)}} "restic dump of the database failed"; return 1; }
                chown postgres "$SPOOL/$tenant.dump"
                step_passed {{Name(kind)}}
                """,
            RestoreStepKind.RestoreDatabase => $$"""
                if [ "$PG_JOBS" = 1 ]; then
                  log "$tenant: restic dump of snapshot $id into pg_restore"
                  restic --no-lock dump "$id" "/$tenant.dump" |
                    runuser -u postgres -- pg_restore --single-transaction --no-owner --no-privileges --exit-on-error --dbname="$tenant" ||
                    { step_failed {{Name(kind)}} "pg_restore failed"; return 1; }
                else
                  log "$tenant: pg_restore with $PG_JOBS parallel jobs"
                  runuser -u postgres -- pg_restore --jobs="$PG_JOBS" --no-owner --no-privileges --exit-on-error --dbname="$tenant" "$SPOOL/$tenant.dump" ||
                    { step_failed {{Name(kind)}} "pg_restore failed"; return 1; }
                fi
                step_passed {{Name(kind)}}
                """,
            RestoreStepKind.RemoveDump => $$"""
                rm -f -- "$SPOOL/$tenant.dump"
                step_passed {{Name(kind)}}
                """,
            RestoreStepKind.RestoreFiles => $$"""
                log "$tenant: restic restore of the files of run $run"
                restic --no-lock restore --tag {{TagWord(BackupPart.Files)}} latest --target "$files" ||
                  { step_failed {{Name(kind)}} "restic restore of the files failed"; return 1; }
                step_passed {{Name(kind)}}
                """,
            RestoreStepKind.VerifyDatabase => $$"""
                found=$({{VerifyRows}} "$tenant" "$manifest") || { step_failed {{Name(kind)}} "$found"; return 1; }
                step_passed {{Name(kind)}}
                """,
            RestoreStepKind.VerifyFiles => $$"""
                found=$({{VerifyFiles}} "$files" "$manifest") || { step_failed {{Name(kind)}} "$found"; return 1; }
                step_passed {{Name(kind)}}
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "a restore step without bash"),
        };

        /// <summary>
        /// The restore's progress for the health document (<see cref="HealthDocument.ProgressOf"/> reads it):
        /// <see cref="RestoreProgress"/> prints a record's line "tenant, last step passed, bytes of its dump and files on
        /// disk, the manifest's total" (the dump's size is kept once seen: remove-dump deletes it); <see cref="ProgressLoop"/>
        /// rewrites the document every PROGRESS_EVERY seconds (5) until STATE/restored exists, under a lock the final
        /// write takes too, so no progress document can land after it.
        /// </summary>
        private static string Progress() => $$"""
                {{RestoreProgress}}() {
                  local d f t s
                  s=$(stat -c %s "$SPOOL/$2.dump" 2> /dev/null) && echo "$s" > "$STATE/$1.dump"
                  [ -s "$STATE/$1.total" ] || jq .bytes "$SPOOL/$2.manifest.json" > "$STATE/$1.total" 2> /dev/null || rm -f "$STATE/$1.total"
                  d=$(cat "$STATE/$1.dump" 2> /dev/null) t=$(cat "$STATE/$1.total" 2> /dev/null) f=$(find "$TENANTS/$2/files" -type f -printf '%s\n' 2> /dev/null | awk '{ s += $1 } END { print s + 0 }')
                  printf '%s\t%s\t%s\t%s\n' "$2" "$(tail -n 1 "$STATE/$1.verdicts" 2> /dev/null | cut -f1)" "$((${d:-0} + ${f:-0}))" "${t:-0}"
                }

                {{ProgressLoop}}() {
                  set +e; trap - ERR
                  while sleep "${PROGRESS_EVERY:-5}"; do
                    { flock 8; [ ! -e "$STATE/restored" ] || exit 0; {{WriteHealth}} "$@" restoring; } 8> "$STATE/health.lock"
                  done
                }
                """;

        /// <summary>
        /// Restores every record <paramref name="parallelism"/> at a time while <see cref="ProgressLoop"/> keeps the health
        /// document at <paramref name="healthFile"/> current (disowned, so restore_all's job count is the restores' alone);
        /// then stops the loop under its lock. STACK, SERVER and STATE must be set.
        /// </summary>
        public static string RestoreWatched(int parallelism, string healthFile) =>
            $"{ProgressLoop} \"$STACK\" \"$SERVER\" {Sh.Quote(healthFile)} & disown\n" +
            $"{RestoreAll} {parallelism}\n" +
            "{ flock 8; : > \"$STATE/restored\"; } 8> \"$STATE/health.lock\"";

        /// <summary>restore_tenant's body: the plan's steps in its order; the spool steps only when PG_JOBS is above 1.</summary>
        private static string Steps() => string.Join('\n', RestorePlan.Sequence.Select(kind =>
        {
            var bash = Step(kind);
            if (!RestorePlan.Applies(kind, 1)) bash = "if [ \"$PG_JOBS\" != 1 ]; then\n" + Indent(bash) + "\nfi";
            return Indent(bash);
        }));

        private static string Indent(string bash) => string.Join('\n', bash.Split('\n').Select(l => "  " + l));

        /// <summary>The hook's environment for env -i, from <see cref="HookContract"/>: the tenant's variables, then libpq's where they are set.</summary>
        private static string HookEnvironment() => string.Join(' ',
            HookContract.Environment("$1", "$3", "$1", "${FAILOVER_REHEARSAL:-0}", "${HOME:-/root}").Select(v => $"{v.Name}=\"{v.Value}\"")
                .Concat(HookContract.ConnectionVariables.Select(v => $"${{{v}+\"{v}=${v}\"}}")));

        /// <summary>The table in psql's quoting of the variables schema and name.</summary>
        private const string Table = ":\"schema\".:\"name\"";

        /// <summary>One psql call on database $1 as postgres, unaligned and tab-separated, stopping at the first error.</summary>
        private const string Psql = "runuser -u postgres -- psql --no-psqlrc -X -q -tA -F \"$tab\" -v ON_ERROR_STOP=1";

        public static string Render()
        {
            var run = BackupTags.Of(BackupTags.Run, "");
            return $$"""
                ids=() checks=() pres=() posts=() hook=() tab=$'\t'
                # The tenant records from $1, base64 of {{RecordDigits}} hex digits each, two a byte: the database snapshot id
                # (a unique prefix, {{SnapshotKeyLength}} digits, zero-padded) and the tenant name's check; then n:digits for each id
                # shorter than {{SnapshotKeyLength}} hex digits.
                restore_point() {
                  local hex i record n digits
                  hex=$(printf '%s' "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n')
                  for ((i = 0; i + {{RecordDigits}} <= ${#hex}; i += {{RecordDigits}})); do
                    ids+=("${hex:i:{{SnapshotKeyLength}}}"); checks+=("${hex:i+{{SnapshotKeyLength}}:{{NameCheckLength}}}"); pres+=(-); posts+=(-)
                  done
                  shift
                  for record in "$@"; do
                    n=${record%%:*} digits=${record#*:}
                    ids[n]=${ids[n]:0:digits}
                  done
                }

                # The hooks of some records, n:pre:post each: record n runs hook[i] for the indexes in pre, then in post.
                tenant_hooks() {
                  local record n pre post
                  for record in "$@"; do
                    IFS=: read -r n pre post <<< "$record"
                    pres[n]=$pre posts[n]=$post
                  done
                }

                # Prints "<full id> <run id> <tenant>" of database snapshot $1, whose tenant's name check must be $2. The
                # snapshot must carry the tool, db-part, tenant and run tags, so an id of another part or of a tenant
                # this record was not written for is refused: the reason is printed instead.
                {{BackupRun}}() {
                  local out verdict tenant
                  # The JSON is stdout alone (a warning on stderr would make it unreadable); the reason of a failure is asked again.
                  if ! out=$(restic --no-lock snapshots --json "$1" 2> /dev/null); then
                    echo "database snapshot $1 refused: restic cannot find it ($(restic --no-lock snapshots "$1" 2>&1 | tail -n 1))"; return 1
                  fi
                  verdict=$(printf '%s' "$out" | jq -r --arg tool {{BackupTags.Tool}} --arg tenant {{BackupTags.Of(BackupTags.Tenant, "")}} \
                    --arg part {{BackupTags.Of(BackupTags.Part, BackupTags.PartName(BackupPart.Database))}} --arg run {{run}} '
                    def one($p): [.[] | select(startswith($p)) | ltrimstr($p) | select(length > 0)] | if length == 1 then .[0] else null end;
                    if type != "array" or length == 0 then "no snapshot has this id"
                    elif length > 1 then "the id is ambiguous (\(length) snapshots)"
                    else .[0] as $s | ($s.tags // []) as $t | ($t | join(",")) as $all
                      | if ($t | index([$tool]) | not) then "it was not written by failover (tags: \($all))"
                        elif ($t | index([$part]) | not) then "it is not a database part (tags: \($all))"
                        elif ($t | one($tenant)) == null then "it has no single tenant tag (tags: \($all))"
                        elif ($t | one($run)) == null then "it has no single run tag (tags: \($all))"
                        else "ok \($s.id) \($t | one($run)) \($t | one($tenant))" end
                    end') || verdict="restic answered something that is not a snapshot list"
                  case "$verdict" in "ok "*) ;; *) echo "database snapshot $1 refused: $verdict"; return 1 ;; esac
                  tenant=${verdict#ok * * }
                  if [ "$(printf '%s' "$tenant" | sha256sum | cut -c1-{{NameCheckLength}})" != "$2" ]; then
                    echo "database snapshot $1 refused: it is a snapshot of tenant '$tenant', not of the tenant this restore point names"; return 1
                  fi
                  log "$tenant: database snapshot $1 is from backup run $(printf '%s' "$verdict" | cut -d' ' -f3)"
                  printf '%s\n' "${verdict#ok }"
                }

                # Prints the tables of database $1, "schema<tab>name<tab>rows<tab>checksum" each, by the checksum SQL the
                # backup used (TableChecksums): the column types' hashes, or the rows' text for a type without one.
                # psql quotes the names itself (:"var"), so no table name is ever spliced into SQL.
                table_sums() {
                  local tables schema name sums sql
                  tables=$(printf '%s\n' {{Sh.Quote(TableChecksums.ListTables + ";")}} | {{Psql}} -d "$1") || return 1
                  while IFS=$'\t' read -r schema name; do
                    [ -n "$schema" ] || continue
                    for sql in {{Sh.Quote(TableChecksums.Hashed(Table) + ";")}} {{Sh.Quote(TableChecksums.AsText(Table) + ";")}}; do
                      sums=$(printf '%s\n' "$sql" | PGOPTIONS={{Sh.Quote(TableChecksums.PgOptions)}} {{Psql}} -v schema="$schema" -v name="$name" -d "$1" 2> /dev/null) && break
                    done || return 1
                    printf '%s\t%s\t%s\n' "$schema" "$name" "$sums"
                  done <<< "$tables"
                }

                # Prints how the restored $1 (tables: "schema<tab>name<tab>rows<tab>checksum", files: "sha256<tab>path" lines on stdin) differs from manifest $2, in the
                # words and order of the driver's check (RestoreFindings): the manifest's entries, then the ones it did not have.
                differences() {
                  jq -rRn --arg what "$1" --slurpfile m "$2" '
                    ($what == "tables") as $db
                    | if $db then [$m[0].database.tables[] | ["\(.schema).\(.name)", (.rows | tostring), .checksum]] else [($m[0].files.entries // [])[] | [.path, .sha256]] end
                    | . as $want | ($want | map({key: .[0], value: 1}) | from_entries) as $known
                    | ([inputs | select(length > 0) | split("\t") | if $db then ["\(.[0]).\(.[1])", .[2], .[3]] else [(.[1:] | join("\t")), .[0]] end | {key: .[0], value: .}] | from_entries) as $got
                    | [($want[] | .[0] as $k | .[1] as $w | $got[$k] as $g
                        | if $g == null then (if $db then "{{RestoreFindings.TableMissing("\\($k)", "\\($w)")}}" else "{{RestoreFindings.FileMissing("\\($k)")}}" end)
                          elif $g[1] != $w then (if $db then "{{RestoreFindings.RowsDiffer("\\($k)", "\\($g[1])", "\\($w)")}}" else "{{RestoreFindings.FileDiffers("\\($k)")}}" end)
                          elif $g[2] != .[2] then "{{RestoreFindings.ContentsDiffer("\\($k)", "\\($w)")}}" else empty end),
                       ($got | keys[] | select($known[.] == null) | if $db then "{{RestoreFindings.ExtraTable("\\(.)")}}" else "{{RestoreFindings.ExtraFile("\\(.)")}}" end)] | join("; ")'
                }

                # Compares every table of database $1 (rows and checksum) with the manifest $2 and prints the differences; non-zero when there is any.
                {{VerifyRows}}() {
                  local found
                  found=$(table_sums "$1") || { echo "the tables of $1 cannot be read"; return 1; }
                  found=$(printf '%s\n' "$found" | differences tables "$2") || return 1
                  [ -z "$found" ] || { printf '%s\n' "$found"; return 1; }
                }

                # Compares the files in directory $1 with the manifest $2 by SHA-256, as verify_rows (-z: names unescaped).
                {{VerifyFiles}}() {
                  local found
                  found=$(cd "$1" && find . -type f -printf '%P\0' | xargs -0 -r sha256sum -z -- | tr '\0' '\n' | sed 's/^\([0-9a-f]*\)  /\1\t/') ||
                    { echo "the files in $1 cannot be read"; return 1; }
                  found=$(printf '%s\n' "$found" | differences files "$2") || return 1
                  [ -z "$found" ] || { printf '%s\n' "$found"; return 1; }
                }

                # Prints $1 with every value of SECRETS replaced, so no hook can print a credential into the journal.
                redact() {
                  local text=$1 secret
                  for secret in "${SECRETS[@]}"; do [ -z "$secret" ] || text=${text//"$secret"/[redacted]}; done
                  printf '%s' "$text"
                }

                # Runs tenant $1's $2-restore hook $4 as HookContract says: {{HookContract.Shell}}, as root, in a clean environment
                # (none of the vault's credentials): PATH, HOME, LANG, FAILOVER_TENANT, FAILOVER_FILES_DIR ($3), PGDATABASE,
                # FAILOVER_REHEARSAL (1 on a rehearsal copy) and libpq's connection variables where set; psql reaches the
                # server as root over the socket. Killed after HOOK_TIMEOUT seconds. Every line it prints is logged, redacted.
                {{RunHook}}() {
                  local line code
                  env -i {{HookEnvironment()}} \
                    timeout --kill-after={{(int)HookContract.KillGrace.TotalSeconds}} "${HOOK_TIMEOUT:-{{(int)HookContract.DefaultTimeout.TotalSeconds}}}" {{HookContract.Shell}} -c "$4" 2>&1 < /dev/null |
                    while IFS= read -r line; do log "$1 $2-restore hook: $(redact "$line")"; done
                  code=${PIPESTATUS[0]}
                  [ "$code" != 124 ] || fail "$1 $2-restore hook: killed after ${HOOK_TIMEOUT:-{{(int)HookContract.DefaultTimeout.TotalSeconds}}}s"
                  return "$code"
                }

                # The verdict of step $1, one StepVerdict line in VERDICTS: record_verdict NAME [REASON] (failed with a reason).
                record_verdict() {
                  if [ "$#" = 1 ]; then printf '%s\tpassed\n' "$1" >> "${VERDICTS:-/dev/null}"
                  else printf '%s\tfailed\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')" >> "${VERDICTS:-/dev/null}"; fi
                }
                step_passed() { record_verdict "$1"; }
                step_failed() { record_verdict "$1" "$2"; fail "$tenant: FAILED $1: $2"; return 1; }
                # A hook's verdict from its exit code $2: 0 passes, 124 is the time limit.
                hook_verdict() {
                  case "$2" in
                    0) step_passed "$1" ;;
                    124) step_failed "$1" "{{RestoreFindings.HookKilled("${HOOK_TIMEOUT:-" + (int)HookContract.DefaultTimeout.TotalSeconds + "}")}}" ;;
                    *) step_failed "$1" "{{RestoreFindings.HookExited("$2")}}" ;;
                  esac
                }

                # Restores the tenant of database snapshot $1 (name check $2), running the hooks hook[i] for the indexes in
                # $3 (before) and $4 (after), step by step as RestorePlan orders them. Writes the tenant's name to $5 once
                # known; prints "<tenant> <full id>" to fd 3 when it is restored and verified (call it with 3>&1 1>&2: what
                # restic and PostgreSQL print goes to the log).
                {{RestoreTenant}}() {
                  local found tenant="" id="" run i n code manifest files
                {{Steps()}}
                  printf '%s %s\n' "$tenant" "$id" >&3
                }

                # Restores record $1 and leaves its verdict in STATE: <n>.ok (its health document member), or nothing after
                # dropping what the failed restore left (database, files, spool), so nothing half-restored can be served.
                # Each step's verdict is in <n>.verdicts.
                {{RestoreOne}}() {
                  local name result VERDICTS="$STATE/$1.verdicts"
                  if result=$({{RestoreTenant}} "${ids[$1]}" "${checks[$1]}" "${pres[$1]}" "${posts[$1]}" "$STATE/$1.name" 3>&1 1>&2); then
                    jq -cn --arg t "${result% *}" --arg id "${result##* }" '{($t): $id}' > "$STATE/$1.ok"
                    log "${result% *}: restored and verified from snapshot ${result##* }"
                  elif [ -s "$STATE/$1.name" ]; then
                    name=$(cat "$STATE/$1.name")
                    fail "$name: restore FAILED; dropping its half-restored database and files"
                    runuser -u postgres -- dropdb --if-exists -- "$name" || fail "$name: could not drop its database"
                    rm -rf -- "${TENANTS:?}/$name" "$SPOOL/$name.dump"
                  fi
                  [ -s "$STATE/$1.ok" ] || : > "$STATE/$1.failed"
                }

                # Restores every record, $1 at a time, in record order (the restore order).
                {{RestoreAll}}() {
                  local i
                  for i in "${!ids[@]}"; do
                    while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do wait -n || true; done
                    {{RestoreOne}} "$i" &
                  done
                  wait || true
                }

                # Writes the health document for stack $1, server $2 to file $3 from the verdicts in STATE. A record without
                # an .ok verdict is failed: named by its tenant, or by its snapshot id when that never resolved to one
                # (failed_count and failed_tenants say which). With $4 = restoring, while the restore runs: status
                # restoring, failed only the records that ended so, and the progress of those under way.
                {{WriteHealth}}() {
                  local i n ok=() bad=() run=()
                  for i in "${!ids[@]}"; do
                    if [ -s "$STATE/$i.ok" ]; then ok+=("$STATE/$i.ok"); continue; fi
                    n=${ids[$i]}
                    [ ! -s "$STATE/$i.name" ] || n=$(cat "$STATE/$i.name")
                    if [ -z "${4:-}" ] || [ -e "$STATE/$i.failed" ]; then bad+=("$n")
                    elif [ -s "$STATE/$i.name" ]; then run+=("$({{RestoreProgress}} "$i" "$n")"); fi
                  done
                  cat "${ok[@]}" /dev/null | jq -cs --arg stack "$1" --arg server "$2" --arg restoring "${4:-}" --arg p "$(printf '%s\n' "${run[@]}")" \
                    '{failed: $ARGS.positional, server: $server, snapshots: (add // {} | to_entries | sort_by(.key) | from_entries), stack: $stack,
                      status: (if ($ARGS.positional | length) > 0 then "{{HealthDocument.Degraded}}" else "{{HealthDocument.Ready}}" end)}
                     + if $restoring == "" then {} else {status: "restoring", {{HealthDocument.ProgressKey}}: ([$p | split("\n")[] | select(length > 0) | split("\t")
                       | {key: .[0], value: {passed: .[1], bytes: (.[2] | tonumber), total: (.[3] | tonumber) } }] | from_entries) } end' --args "${bad[@]}" > "$3.tmp${4:-}"
                  mv "$3.tmp${4:-}" "$3"
                  failed_count=${#bad[@]} failed_tenants="${bad[*]}"
                }
                {{Progress()}}
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
    /// <summary>The member of a document written while the restore runs (status <c>restoring</c>): tenant to its <see cref="TenantProgress"/>.</summary>
    public const string ProgressKey = "progress";

    /// <summary>The status of a document written after the restore when every tenant was restored and verified; the endpoint answers 200 (while its check passes).</summary>
    public const string Ready = "ready";

    /// <summary>The status of a document written after the restore when some tenant failed; 503, yet the tenants it lists were restored and verified.</summary>
    public const string Degraded = "degraded";

    /// <summary>The status of a document written while the restore runs; the endpoint answers it with 503.</summary>
    public const string Restoring = "restoring";

    /// <summary>The status of a data server waiting for its restore point's records (<see cref="ServerBootstrap.RestorePointByRequest"/>); 503.</summary>
    public const string Waiting = "waiting";

    /// <summary>The document of a data server waiting for the signed restore-point request whose records hash to <paramref name="sha256"/>.</summary>
    public static string RenderWaiting(string stack, string server, string sha256) =>
        JsonSerializer.Serialize(new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["failed"] = Array.Empty<string>(),
            ["server"] = server,
            ["snapshots"] = new Dictionary<string, string>(),
            ["stack"] = stack,
            ["status"] = Waiting,
            [Waiting] = $"the restore point (sha256 {sha256}): the driver's signed {BackupControl.RestorePoint} request brings it",
        });

    /// <summary>
    /// A tenant's progress in a health document, or null when the document has none for it (not started, or
    /// written after the restore). Reads what <see cref="RestoreRecipe.Functions.WriteHealth"/> writes while restoring:
    /// <c>{"progress": {"acme": {"passed": "fetch-dump", "bytes": 1200, "total": 4000}}}</c>.
    /// </summary>
    public static TenantProgress? ProgressOf(string body, string tenant)
    {
        if (!body.TrimStart().StartsWith('{')) return null;
        using var doc = JsonDocument.Parse(body);
        if (!doc.RootElement.TryGetProperty(ProgressKey, out var all) || all.ValueKind != JsonValueKind.Object
            || !all.TryGetProperty(tenant, out var p) || p.ValueKind != JsonValueKind.Object)
            return null;
        static long Number(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.TryGetInt64(out var n) ? Math.Max(0, n) : 0;
        var passed = p.TryGetProperty("passed", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
        return new TenantProgress(passed, Number(p, "bytes"), Number(p, "total"));
    }

    public static string Render(string stack, string server, IReadOnlyDictionary<string, string> snapshots, IReadOnlyList<string>? failed = null) =>
        JsonSerializer.Serialize(new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["failed"] = failed ?? [],
            ["server"] = server,
            ["snapshots"] = new SortedDictionary<string, string>(snapshots.ToDictionary(k => k.Key, k => k.Value), StringComparer.Ordinal),
            ["stack"] = stack,
            ["status"] = failed is { Count: > 0 } ? Degraded : Ready,
        });

    /// <summary>
    /// Whether the document was written after the restore ended (<see cref="Ready"/> or <see cref="Degraded"/>): what it
    /// lists as restored is final. Not while restoring or waiting, nor when the endpoint reports its check failing.
    /// </summary>
    public static bool IsFinal(string body)
    {
        if (!body.TrimStart().StartsWith('{')) return false;
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String && s.GetString() is Ready or Degraded;
    }
}

/// <summary>
/// How far a tenant's restore on a cloud server has got: the last step of its <see cref="RestorePlan"/> that passed
/// (empty before the first), the bytes of its database dump and files on the server's disk, and its manifest's total
/// (0 until the manifest is fetched).
/// </summary>
public sealed record TenantProgress(string Passed, long Bytes, long Total)
{
    /// <summary>
    /// The bytes restored: once the files are restored everything is there (what follows only verifies and runs hooks);
    /// before, what is on disk, never above the total. A dump streamed into pg_restore (one job) is not on disk: its
    /// bytes count when the files' restore begins.
    /// </summary>
    public long Done => Total <= 0 ? 0 : PastFiles ? Total : Math.Min(Bytes, Total);

    private bool PastFiles => RestorePlan.Sequence.SkipWhile(k => k != RestoreStepKind.RestoreFiles).Select(k => RestorePlan.NameOf(k))
        .Any(name => Passed == name || Passed.StartsWith(name + "-", StringComparison.Ordinal));
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
