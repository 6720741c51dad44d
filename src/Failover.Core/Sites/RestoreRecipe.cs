using System.Text.Json;
using Failover.Core.Backup;
using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>What one restore step does, so the log reports progress in the domain's words.</summary>
public enum RestoreStepKind { FindRun, FetchManifest, PreHook, CreateDatabase, FetchDump, RestoreDatabase, RemoveDump, RestoreFiles, VerifyDatabase, VerifyFiles, PostHook }

/// <summary>One step of a tenant's restore, as <see cref="RestoreRecipe.Functions"/> carries it out.</summary>
public sealed record RestoreStep(RestoreStepKind Kind, string Title);

/// <summary>
/// One tenant of a restore point: its database snapshot, its hooks (as indexes into the recipe's
/// <see cref="RestoreRecipe.Hooks"/> table) and the steps its restore takes, in order.
/// </summary>
public sealed record TenantRestore(Tenant Tenant, string SnapshotId, string FilesDirectory, IReadOnlyList<int> PreHooks, IReadOnlyList<int> PostHooks,
    IReadOnlyList<RestoreStep> Steps)
{
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
/// found by tags. Per tenant: manifest first (no manifest, no complete set), the tenant's pre-restore hooks,
/// the dump from restic into pg_restore, the files, row counts and file digests checked against the
/// manifest, then its post-restore hooks (the same <c>hooks</c> of <c>failover:tenants</c> the local restore
/// runs). The per-tenant part is data (one line per tenant) that one bash function loops over, so the user
/// data grows by a few bytes per tenant, not by a script; <see cref="BootstrapScript"/> renders it.
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

    /// <summary>Tenants restored at a time: <c>failover:restore.parallelism</c>, as the plan's schedule assumes.</summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>The distinct hook commands of all tenants; tenants refer to them by index, so a shared hook is written once.</summary>
    public IReadOnlyList<string> Hooks { get; init; } = [];

    /// <summary>How long one hook may run before it is killed and its tenant fails: a hung hook must not hang the boot.</summary>
    public static readonly TimeSpan HookTimeout = TimeSpan.FromMinutes(10);

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
    /// The recipe for a stack's restore point, in restore order (tier first, then smallest first); null when
    /// the stack has no <c>failover:snapshots</c>. pg_restore gets one job per vCPU of the data server.
    /// </summary>
    public static RestoreRecipe? For(Topology.Topology topology, StackSpec stack, int pgRestoreJobs)
    {
        if (stack.Snapshots.Count == 0) return null;
        var jobs = Math.Max(1, pgRestoreJobs);
        var byTenant = stack.Snapshots.ToDictionary(s => s.Tenant, s => s.SnapshotId);
        var ordered = RestoreSchedule.Order(topology.Tenants.Where(t => byTenant.ContainsKey(t.Name)), t => t).ToList();
        var hooks = ordered.SelectMany(t => t.PreRestore.Concat(t.PostRestore)).Distinct(StringComparer.Ordinal).ToList();
        var tenants = ordered.Select(t => new TenantRestore(t, byTenant[t.Name], FilesDirectory(t.Name),
                t.PreRestore.Select(h => hooks.IndexOf(h)).ToList(), t.PostRestore.Select(h => hooks.IndexOf(h)).ToList(), StepsFor(t, jobs)))
            .ToList();
        return new RestoreRecipe(stack.Name, DefaultCredentialsFile, DefaultSpoolDirectory, jobs, tenants)
        {
            Rehearsal = stack.Role == Role.Rehearsal,
            Parallelism = Math.Max(1, topology.RestoreOn(stack).Parallelism),
            Hooks = hooks,
        };
    }

    private static IReadOnlyList<RestoreStep> StepsFor(Tenant t, int jobs)
    {
        var tenant = t.Name;
        List<RestoreStep> steps =
        [
            new(RestoreStepKind.FindRun, $"{tenant}: find the backup run of its database snapshot"),
            // The manifest is written last: fetching it first refuses an incomplete set before any data moves.
            new(RestoreStepKind.FetchManifest, $"{tenant}: fetch the manifest of that run"),
            .. t.PreRestore.Select((_, i) => new RestoreStep(RestoreStepKind.PreHook, $"{tenant}: pre-restore hook {i + 1} of {t.PreRestore.Count}")),
            new(RestoreStepKind.CreateDatabase, $"{tenant}: create the database"),
        ];
        if (jobs == 1)
            // One job reads the dump straight from restic: no spool space, one transaction.
            steps.Add(new(RestoreStepKind.RestoreDatabase, $"{tenant}: restic dump of {BackupLayout.DumpPath(tenant)} into pg_restore"));
        else
        {
            // pg_restore runs parallel jobs only from a seekable file, not from a pipe: restic writes the dump
            // into a spool file first, which is removed as soon as the database is loaded.
            steps.Add(new(RestoreStepKind.FetchDump, $"{tenant}: restic dump of {BackupLayout.DumpPath(tenant)} into the spool"));
            steps.Add(new(RestoreStepKind.RestoreDatabase, $"{tenant}: pg_restore with {jobs} parallel jobs"));
            steps.Add(new(RestoreStepKind.RemoveDump, $"{tenant}: remove the spooled dump"));
        }
        steps.Add(new(RestoreStepKind.RestoreFiles, $"{tenant}: restic restore of the files of that run"));
        steps.Add(new(RestoreStepKind.VerifyDatabase, $"{tenant}: compare row counts with the manifest"));
        steps.Add(new(RestoreStepKind.VerifyFiles, $"{tenant}: compare the files with the manifest"));
        steps.AddRange(t.PostRestore.Select((_, i) => new RestoreStep(RestoreStepKind.PostHook, $"{tenant}: post-restore hook {i + 1} of {t.PostRestore.Count}")));
        return steps;
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
    /// The tenant records the script loops over, 8 bytes each: database snapshot id (its first
    /// <see cref="SnapshotKeyLength"/> hex digits), the tenant name's check, pre- and post-hook indexes
    /// (comma-separated, '-' for none). The name itself comes from the snapshot's tenant tag and the check refuses a
    /// snapshot of another tenant, so a thousand tenants cost some 8 KB instead of a name each.
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
    /// The records as <c>restore_point</c>'s arguments: base64 of 7 bytes each (id, name check), then <c>n:digits</c>
    /// for an id shorter than 12 hex digits. Binary because that is what compresses: 12 hex digits in text cost gzip
    /// ~4.2 bits each, the same 6 bytes ~6 bits per base64 character. A snapshot id must be hex, as restic writes them.
    /// </summary>
    public static string EncodeRecords(IEnumerable<(string Id, string Check)> records, Func<int, string>? tenantOf = null)
    {
        var bytes = new List<byte>();
        var shorter = new List<string>();
        var n = 0;
        foreach (var (id, check) in records)
        {
            if (id.Length is 0 or > SnapshotKeyLength || !id.All(char.IsAsciiHexDigitLower) || check.Length != 2 || !check.All(char.IsAsciiHexDigitLower))
                throw new ArgumentException($"snapshot id '{id}'{(tenantOf is null ? "" : $" of tenant {tenantOf(n)}")} is not a restic id: use the lower-case hex id `restic snapshots` prints");
            if (id.Length < SnapshotKeyLength) shorter.Add($"{n}:{id.Length}");
            bytes.AddRange(Convert.FromHexString(id.PadRight(SnapshotKeyLength, '0')));
            bytes.Add(Convert.FromHexString(check)[0]);
            n++;
        }
        return string.Join(' ', [Convert.ToBase64String(bytes.ToArray()), .. shorter]);
    }

    /// <summary>Hook references per line of the script.</summary>
    public const int RecordsPerLine = 16;

    /// <summary>Hex digits of SHA-256 of the tenant's name that a record carries: a wrong tenant's snapshot passes 1 time in 256.</summary>
    public const int NameCheckLength = 2;

    /// <summary>
    /// The bash functions that restore the tenant records, defined once per script. Each returns non-zero on any
    /// doubt, so a tenant fails loudly rather than comes up wrong. Needs restic, jq, psql, sha256sum, timeout, and
    /// the variables SPOOL, TENANTS, STATE, PG_JOBS, HOOK_TIMEOUT and the array SECRETS (values to redact).
    /// </summary>
    public static class Functions
    {
        public const string BackupRun = "snapshot_run";
        public const string VerifyRows = "verify_rows";
        public const string VerifyFiles = "verify_files";
        public const string RunHook = "run_hook";
        public const string RestoreTenant = "restore_tenant";
        public const string RestoreAll = "restore_all";
        public const string WriteHealth = "write_health";

        public static string Render()
        {
            var run = BackupTags.Of(BackupTags.Run, "");
            return $$"""
                ids=() checks=() pres=() posts=() hook=()
                # The tenant records from $1, base64 of 7 bytes each: the database snapshot id (a unique prefix, 6 bytes, zero-
                # padded) and the tenant name's check; then n:digits for each id shorter than 12 hex digits.
                restore_point() {
                  local hex record n digits
                  while read -r hex; do
                    [ "${#hex}" = 14 ] || continue
                    ids+=("${hex:0:12}"); checks+=("${hex:12:2}"); pres+=(-); posts+=(-)
                  done < <(printf '%s' "$1" | base64 -d | od -An -v -tx1 -w7 | tr -d ' ')
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
                # this record was not written for is refused, with the reason logged.
                {{BackupRun}}() {
                  local out verdict tenant
                  if ! out=$(restic --no-lock snapshots --json "$1" 2>&1); then
                    fail "FAILED to find the backup run: database snapshot $1 refused: restic cannot find it ($(printf '%s' "$out" | tail -n 1))"; return 1
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
                  case "$verdict" in
                    "ok "*) ;;
                    *) fail "FAILED to find the backup run: database snapshot $1 refused: $verdict"; return 1 ;;
                  esac
                  tenant=${verdict#ok * * }
                  if [ "$(printf '%s' "$tenant" | sha256sum | cut -c1-{{NameCheckLength}})" != "$2" ]; then
                    fail "FAILED to find the backup run: database snapshot $1 refused: it is a snapshot of tenant '$tenant', not of the tenant this restore point names"; return 1
                  fi
                  log "$tenant: database snapshot $1 is from backup run $(printf '%s' "$verdict" | cut -d' ' -f3)"
                  printf '%s\n' "${verdict#ok }"
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

                # Prints $1 with every value of SECRETS replaced, so no hook can print a credential into the journal.
                redact() {
                  local text=$1 secret
                  for secret in "${SECRETS[@]}"; do [ -z "$secret" ] || text=${text//"$secret"/[redacted]}; done
                  printf '%s' "$text"
                }

                # Runs tenant $1's $2-restore hook $4 (as root, in bash) in a clean environment: none of the vault's
                # credentials, only PATH, HOME, FAILOVER_TENANT, FAILOVER_FILES_DIR ($3), PGDATABASE and FAILOVER_REHEARSAL
                # (1 on a rehearsal copy), as the local restore gives it; psql reaches the server as root over the socket.
                # It is killed after HOOK_TIMEOUT seconds. Every line it prints is logged, redacted, with the tenant's name.
                {{RunHook}}() {
                  local line code
                  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
                    FAILOVER_TENANT="$1" FAILOVER_FILES_DIR="$3" PGDATABASE="$1" FAILOVER_REHEARSAL="${FAILOVER_REHEARSAL:-0}" \
                    timeout --kill-after=10 "${HOOK_TIMEOUT:-600}" bash -c "$4" 2>&1 < /dev/null |
                    while IFS= read -r line; do log "$1 $2-restore hook: $(redact "$line")"; done
                  code=${PIPESTATUS[0]}
                  [ "$code" != 124 ] || fail "$1 $2-restore hook: killed after ${HOOK_TIMEOUT:-600}s"
                  return "$code"
                }

                # Restores the tenant of database snapshot $1 (name check $2), running the hooks hook[i] for the indexes in
                # $3 (before) and $4 (after). Writes the tenant's name to $5 once known; prints "<tenant> <full id>" to fd 3
                # when it is restored and verified (call it with 3>&1 1>&2: what restic and PostgreSQL print goes to the log).
                {{RestoreTenant}}() {
                  local found tenant id run i manifest files
                  found=$({{BackupRun}} "$1" "$2") || return 1
                  read -r id run tenant <<< "$found"
                  case "$tenant" in ''|.|..|*/*|-*) fail "tenant name '$tenant' of snapshot $1 is not a directory name"; return 1 ;; esac
                  printf '%s' "$tenant" > "$5"
                  manifest="$SPOOL/$tenant.{{BackupLayout.ManifestFileName}}" files="$TENANTS/$tenant/files"
                  log "$tenant: fetch the manifest of backup run $run"
                  restic --no-lock dump --tag {{TagWord(BackupPart.Manifest)}} latest {{Sh.Quote(BackupLayout.ManifestPath)}} > "$manifest" ||
                    { fail "$tenant: FAILED to fetch the manifest of run $run (an incomplete backup set)"; return 1; }
                  for i in ${3//[,-]/ }; do {{RunHook}} "$tenant" pre "$files" "${hook[$i]}" || { fail "$tenant: FAILED: pre-restore hook $i"; return 1; }; done
                  log "$tenant: create the database"
                  runuser -u postgres -- createdb -- "$tenant" || return 1
                  if [ "$PG_JOBS" = 1 ]; then
                    log "$tenant: restic dump of snapshot $id into pg_restore"
                    restic --no-lock dump "$id" "/$tenant.dump" |
                      runuser -u postgres -- pg_restore --single-transaction --no-owner --no-privileges --exit-on-error --dbname="$tenant" ||
                      { fail "$tenant: FAILED to restore the database"; return 1; }
                  else
                    log "$tenant: restic dump of snapshot $id, then pg_restore with $PG_JOBS parallel jobs"
                    restic --no-lock dump "$id" "/$tenant.dump" > "$SPOOL/$tenant.dump" || { fail "$tenant: FAILED to fetch the dump"; return 1; }
                    chown postgres "$SPOOL/$tenant.dump"
                    runuser -u postgres -- pg_restore --jobs="$PG_JOBS" --no-owner --no-privileges --exit-on-error --dbname="$tenant" "$SPOOL/$tenant.dump" ||
                      { fail "$tenant: FAILED to restore the database"; return 1; }
                    rm -f -- "$SPOOL/$tenant.dump"
                  fi
                  log "$tenant: restic restore of the files of run $run"
                  restic --no-lock restore --tag {{TagWord(BackupPart.Files)}} latest --target "$files" ||
                    { fail "$tenant: FAILED to restore the files"; return 1; }
                  {{VerifyRows}} "$tenant" "$manifest" || { fail "$tenant: FAILED: row counts differ from the manifest"; return 1; }
                  {{VerifyFiles}} "$files" "$manifest" || { fail "$tenant: FAILED: files differ from the manifest"; return 1; }
                  for i in ${4//[,-]/ }; do {{RunHook}} "$tenant" post "$files" "${hook[$i]}" || { fail "$tenant: FAILED: post-restore hook $i"; return 1; }; done
                  printf '%s %s\n' "$tenant" "$id" >&3
                }

                # Restores record $1 and leaves its verdict in STATE: <n>.ok (its health document member), or nothing after
                # dropping what the failed restore left (database, files, spool), so nothing half-restored can be served.
                restore_one() {
                  local name result
                  if result=$({{RestoreTenant}} "${ids[$1]}" "${checks[$1]}" "${pres[$1]}" "${posts[$1]}" "$STATE/$1.name" 3>&1 1>&2); then
                    jq -cn --arg t "${result% *}" --arg id "${result##* }" '{($t): $id}' > "$STATE/$1.ok"
                    log "${result% *}: restored and verified from snapshot ${result##* }"
                  elif [ -s "$STATE/$1.name" ]; then
                    name=$(cat "$STATE/$1.name")
                    fail "$name: restore FAILED; dropping its half-restored database and files"
                    runuser -u postgres -- dropdb --if-exists -- "$name" || fail "$name: could not drop its database"
                    rm -rf -- "${TENANTS:?}/$name" "$SPOOL/$name.dump"
                  fi
                }

                # Restores every record, $1 at a time, in record order (the restore order).
                {{RestoreAll}}() {
                  local i
                  for i in "${!ids[@]}"; do
                    while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do wait -n || true; done
                    restore_one "$i" &
                  done
                  wait || true
                }

                # Writes the health document for stack $1, server $2 to file $3 from the verdicts in STATE. A record without
                # an .ok verdict is failed: named by its tenant, or by its snapshot id when that never resolved to one
                # (failed_count and failed_tenants say which).
                {{WriteHealth}}() {
                  local i ok=() bad=()
                  for i in "${!ids[@]}"; do
                    if [ -s "$STATE/$i.ok" ]; then ok+=("$STATE/$i.ok")
                    elif [ -s "$STATE/$i.name" ]; then bad+=("$(cat "$STATE/$i.name")")
                    else bad+=("${ids[$i]}"); fi
                  done
                  cat "${ok[@]}" /dev/null | jq -cs --arg stack "$1" --arg server "$2" \
                    '{failed: $ARGS.positional, server: $server, snapshots: (add // {} | to_entries | sort_by(.key) | from_entries), stack: $stack,
                      status: (if ($ARGS.positional | length) > 0 then "degraded" else "ready" end)}' --args "${bad[@]}" > "$3.tmp"
                  mv "$3.tmp" "$3"
                  failed_count=${#bad[@]} failed_tenants="${bad[*]}"
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
