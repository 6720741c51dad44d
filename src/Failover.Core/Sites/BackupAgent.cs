using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Failover.Core.Backup;

namespace Failover.Core.Sites;

/// <summary>
/// The agent's four files as a data server installs them, rendered once: production's cloud-init writes them, and the
/// start request (<see cref="BackupControl.StartBody"/>) carries the same bytes to a standby after its cutover.
/// </summary>
public sealed record AgentFiles(string Script, string Config, string ServiceUnit, string TimerUnit)
{
    /// <summary>Where each file goes, its mode, and its JSON member in the start request.</summary>
    public static readonly IReadOnlyList<(string Member, string Path, string Mode)> Layout =
    [
        ("script", BackupAgent.ScriptPath, "0700"),
        ("config", BackupAgent.ConfigPath, "0600"),
        ("service", $"/etc/systemd/system/{BackupAgent.Service}", "0644"),
        ("timer", $"/etc/systemd/system/{BackupAgent.Timer}", "0644"),
    ];

    public static AgentFiles Of(BackupPlan plan) =>
        new(BootstrapScript.Compact(BackupAgent.Script()), BackupAgent.RenderConfig(plan), BackupAgent.ServiceUnit(), BackupAgent.TimerUnit(plan.Interval));

    /// <summary>The files in <see cref="Layout"/>'s order.</summary>
    public IReadOnlyList<string> Contents => [Script, Config, ServiceUnit, TimerUnit];

    /// <summary>SHA-256 of the files' UTF-8 bytes, each followed by a NUL: what the server checks before it installs them.</summary>
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(Contents.Select(c => c + "\0")))));

    /// <summary>The start request's <c>agent</c> member.</summary>
    public JsonObject Json()
    {
        var o = new JsonObject();
        foreach (var ((member, _, _), content) in Layout.Zip(Contents)) o[member] = content;
        o["sha256"] = Sha256;
        return o;
    }
}

/// <summary>
/// The backup agent of a serving site's data server, rendered from a <see cref="BackupPlan"/>: one bash script (the
/// same text on every site; the local provider runs it too), its configuration (the plan's tenants, vaults and paths as
/// shell assignments), and a systemd service and timer on <c>failover:backup.schedule</c>. The configuration is data,
/// a few bytes per tenant, so a 1,000-tenant site's user data stays within the providers' limits.
/// </summary>
public static class BackupAgent
{
    public const string ScriptPath = "/usr/local/sbin/failover-backup";
    public const string ConfigPath = "/etc/failover/backup.conf";
    public const string Service = "failover-backup.service";
    public const string Timer = "failover-backup.timer";

    /// <summary>The environment variable that points the script at another configuration (the local provider, tests).</summary>
    public const string ConfigVariable = "FAILOVER_BACKUP_CONF";

    /// <summary>The variable that gives the run its id (else the script makes one, in <c>failover backup</c>'s format).</summary>
    public const string RunIdVariable = "FAILOVER_RUN_ID";

    /// <summary>What the script prints per tenant on stdout: <c>tenant TAB ok|FAILED TAB seconds TAB bytes TAB reason</c>.</summary>
    public const string ResultOk = "ok";
    public const string ResultFailed = "FAILED";

    /// <summary>The configuration the script sources: shell assignments, every value quoted by <see cref="Sh.Quote"/>.</summary>
    public static string RenderConfig(BackupPlan plan)
    {
        var s = new StringBuilder("# Written by failover: what the backup agent backs up, and where to.\n");
        s.Append("SITE=").Append(Sh.Quote(plan.Site)).Append('\n');
        s.Append("FILES_PATTERN=").Append(Sh.Quote(plan.FilesPattern)).Append('\n');
        s.Append("STATE_DIR=").Append(Sh.Quote(plan.StateDirectory)).Append('\n');
        s.Append("LOCK=").Append(Sh.Quote(plan.LockFile)).Append('\n');
        s.Append("PG_AS=").Append(plan.PostgresUser is null ? "''" : Sh.Quote(plan.PostgresUser)).Append('\n');
        s.Append("VAULT_NAMES=(").AppendJoin(' ', plan.Vaults.Select(v => Sh.Quote(v.Vault))).Append(")\n");
        s.Append("VAULT_FILES=(").AppendJoin(' ', plan.Vaults.Select(v => Sh.Quote(v.CredentialsFile))).Append(")\n");
        // Names only, sixteen a line: with gzip a thousand tenants cost a few KB.
        s.Append("TENANTS_FROM=").Append(plan.TenantsFrom is null ? "''" : Sh.Quote(plan.TenantsFrom)).Append('\n');
        s.Append("TENANTS=()\n");
        foreach (var line in plan.Tenants.Chunk(16)) s.Append("TENANTS+=(").AppendJoin(' ', line.Select(Sh.Quote)).Append(")\n");
        return s.ToString();
    }

    /// <summary>The oneshot service the timer starts; its output is the server's journal (identifier failover-backup).</summary>
    public static string ServiceUnit() =>
        "[Unit]\nDescription=failover backup agent: every tenant into every vault\nAfter=network-online.target postgresql.service\nWants=network-online.target\n\n" +
        $"[Service]\nType=oneshot\nExecStart={ScriptPath}\nSyslogIdentifier=failover-backup\nNice=10\nIOSchedulingClass=best-effort\nIOSchedulingPriority=7\n" +
        // 75: another run holds the lock; that run is the one that counts, so this is not a failure of the unit.
        $"SuccessExitStatus={BackupPlan.RefusedExitCode}\n";

    /// <summary>
    /// The timer: first run a minute after it is enabled, then <paramref name="interval"/> after each run started. A
    /// oneshot service still running is not started again, so runs never stack (the script's lock refuses a manual one).
    /// AccuracySec=1s: systemd starts a timer's unit anywhere within the accuracy after its time, to coalesce wake-ups
    /// (systemd.timer(5); default 1min). One wake-up per interval (30 min in the shipped topology) saves nothing worth a
    /// backup started up to that late, so runs start on time.
    /// </summary>
    public static string TimerUnit(TimeSpan interval) =>
        "[Unit]\nDescription=failover backup agent schedule (failover:backup.schedule)\n\n" +
        $"[Timer]\nOnActiveSec=1min\nOnUnitActiveSec={(int)Math.Max(60, interval.TotalSeconds)}s\nAccuracySec=1s\nUnit={Service}\n\n" +
        "[Install]\nWantedBy=timers.target\n";

    /// <summary>
    /// The agent. Needs bash, coreutils, flock (util-linux), restic, jq, psql and pg_dump. Per tenant, the database is
    /// dumped once inside psql's REPEATABLE READ transaction (pg_dump --snapshot), so the counted tables are the dumped
    /// ones, and the stream is split (tee) into one restic per vault: a vault that fails is dropped for the tenant and
    /// named, the others carry on. A failed dump kills every restic before its input ends, so no truncated dump is stored.
    /// The manifest goes only into the vaults that took the tenant's database and files, last. Exit 0 when everything
    /// was backed up, <see cref="BackupPlan.FailedExitCode"/> when anything failed, <see cref="BackupPlan.RefusedExitCode"/>
    /// when another run holds the lock.
    /// </summary>
    public static string Script()
    {
        string Tags(BackupPart part) => $"--tag {BackupTags.Tool} --tag \"{BackupTags.Tenant}=$tenant\" --tag \"{BackupTags.Run}=$RUN_ID\" --tag {BackupTags.Of(BackupTags.Part, BackupTags.PartName(part))}";
        var heartbeatTags = $"--tag {BackupTags.Tool} --tag {BackupTags.Of(BackupTags.Part, BackupPlan.HeartbeatPart)} --tag \"{BackupPlan.SiteTag}=$SITE\" --tag \"{BackupTags.Run}=$RUN_ID\"";
        var psql = TableChecksumPasses.Psql().Replace("'", "'\\''", StringComparison.Ordinal);
        return $$"""
            #!/bin/bash
            # The failover backup agent (written by failover from its backup plan; docs/backup-and-restore.md).
            # Every tenant's database, files and manifest into every vault of the configuration, then a heartbeat per vault.
            set -uo pipefail
            . "${{{ConfigVariable}}:-{{ConfigPath}}}" || { echo "failover-backup: cannot read its configuration" >&2; exit 1; }
            export LC_ALL=C.UTF-8 HOME=${HOME:-/root}
            # A standby's tenants are the ones its restore named (the restore point's records, restored or not).
            if [ -n "${TENANTS_FROM:-}" ]; then
              for f in "$TENANTS_FROM"/*.name; do [ -s "$f" ] && TENANTS+=("$(cat "$f")"); done
            fi
            say() { if [ -n "${INVOCATION_ID:-}" ]; then echo "<$1>failover-backup: $2" >&2; else echo "failover-backup: $2" >&2; fi; }
            log() { say 6 "$*"; }
            fail() { say 3 "$*"; }

            mkdir -p "$STATE_DIR" "$(dirname "$LOCK")" || exit 1
            # PG_AS writes its dump status into the run's folder: it must be able to pass through.
            [ -z "$PG_AS" ] || chmod 0711 "$STATE_DIR"
            exec 9>> "$LOCK" || { fail "cannot open the lock file $LOCK"; exit 1; }
            if ! flock -n 9; then
              fail "another backup run still holds $LOCK (pid $(cat "$LOCK.pid" 2> /dev/null || echo unknown)): this run is refused, runs never stack"
              exit {{BackupPlan.RefusedExitCode}}
            fi
            echo $$ > "$LOCK.pid"
            RUN_ID=${{{RunIdVariable}}:-$(date -u +%Y%m%dT%H%M%SZ)-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')}
            STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
            WORK="$STATE_DIR/run-$RUN_ID"
            rm -rf -- "$STATE_DIR"/run-*; mkdir -p "$WORK" && chmod 0711 "$WORK"
            trap 'rm -rf -- "$WORK"' EXIT
            FAILURES="$WORK/failures.tsv" DONE="$WORK/done.tsv"
            : > "$FAILURES"; : > "$DONE"

            # A failure, by vault ($1, - for all) and tenant ($2, - for all), with its reason ($3): logged and kept for the heartbeat.
            failure() { fail "$([ "$2" = - ] || printf '%s' "$2: ")${3}$([ "$1" = - ] || printf ' (vault %s)' "$1")"; printf '%s\t%s\t%s\n' "$1" "$2" "${3//$'\n'/ }" >> "$FAILURES"; }

            # restic against vault $1 (an index), with that vault's credentials only (read in a subshell, never exported here).
            vault_restic() {
              local i=$1; shift
              ( set -a; . "${VAULT_FILES[$i]}" || exit 1; set +a
                export RESTIC_CACHE_DIR="$STATE_DIR/cache/${VAULT_NAMES[$i]}"
                exec restic "$@" )
            }

            # psql and pg_dump as PG_AS over the socket, or as the caller with the libpq environment.
            pg() { if [ -n "$PG_AS" ]; then runuser -u "$PG_AS" -- "$@"; else "$@"; fi; }

            # The files manifest of directory $1 as JSON: every regular file (symlinks not followed) with size and SHA-256,
            # sorted by path, and the tree checksum: SHA-256 of the sorted "path TAB size TAB sha256" lines.
            scan_files() {
              local path size sum entries tree
              entries=$( (cd "$1" && find . -type f -printf '%P\0' | while IFS= read -r -d '' path; do
                  case "$path" in *$'\n'*) echo "a file name has a line break: $path" >&2; exit 1 ;; esac
                  size=$(stat -c %s -- "$path") && sum=$(sha256sum < "$path") || exit 1
                  printf '%s\t%s\t%s\n' "$size" "${sum%% *}" "$path"
                done) | jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {path: (.[2:] | join("\t")), size: (.[0] | tonumber), sha256: .[1]}) | sort_by(.path)') || return 1
              tree=$(printf '%s' "$entries" | jq -j '.[] | "\(.path)\t\(.size)\t\(.sha256)\n"' | sha256sum) || return 1
              printf '%s' "$entries" | jq --arg tree "${tree%% *}" '{count: length, bytes: (map(.size) | add // 0), treeChecksum: $tree, entries: .}'
            }

            # The vaults this run can write: each one opened once; one that cannot be opened is named and left out.
            LIVE=()
            for i in "${!VAULT_NAMES[@]}"; do
              if out=$(vault_restic "$i" cat config 2>&1 > /dev/null); then LIVE+=("$i")
              else failure "${VAULT_NAMES[$i]}" - "cannot open the vault: $(printf '%s' "$out" | tail -n 1)"; fi
            done

            # Backs up tenant $1 into the vaults whose indexes follow; prints the indexes that got the complete set.
            backup_tenant() {
              local tenant=$1 files w i fd fifo pids=() fds=() good=() captured sha bytes code reason out
              shift
              files=${FILES_PATTERN//\{tenant\}/$tenant} w="$WORK/t-$tenant"
              # psql's pg_dump runs as PG_AS and writes its status here.
              [ -z "$PG_AS" ] || chown "$PG_AS" "$w"
              # A missing directory is more often a wrong path than a tenant without files.
              [ -d "$files" ] || { failure - "$tenant" "files directory $files does not exist (create it empty if the tenant has no files)"; return 1; }
              captured=$(date -u +%Y-%m-%dT%H:%M:%SZ)
              # One restic per vault, each reading its own fifo; the script holds every fifo open too, so no restic sees the
              # end of its input until the dump is known to be whole.
              mkfifo "$w/dump" "$w/count"
              for i in "$@"; do
                fifo="$w/v$i"; mkfifo "$fifo"
                vault_restic "$i" backup --quiet --stdin --stdin-filename "$tenant.dump" {{Tags(BackupPart.Database)}} < "$fifo" > /dev/null 2> "$w/v$i.err" &
                pids[i]=$!
                exec {fd}> "$fifo"; fds[i]=$fd
              done
              wc -c < "$w/count" > "$w/bytes" &
              local wc=$!
              { tee --output-error=warn-nopipe "${@/#/$w/v}" "$w/count" < "$w/dump" 2> /dev/null | sha256sum > "$w/sha"; } &
              local split=$!
              [ -z "$PG_AS" ] || chown "$PG_AS" "$w/dump"
              FAILOVER_TENANT=$tenant FAILOVER_WORK=$w pg psql --no-psqlrc -X -q -tA -F $'\t' -d "$tenant" \
                -f "$w/session.sql" > "$w/tables.tsv" 2> "$w/psql.err" < /dev/null || true
              # psql never reached pg_dump (no such database, no connection): end the dump's input so the splitter stops.
              [ -e "$w/dump.status" ] || : > "$w/dump"
              wait "$split" "$wc"
              code=$(cat "$w/dump.status" 2> /dev/null || echo none)
              reason=""
              if [ "$code" != 0 ]; then
                reason="the database dump failed: $(grep -h -v '^$' "$w/psql.err" "$w/dump.err" 2> /dev/null | grep -v 'hash function' | tail -n 2 | tr '\n' ' ')"
              elif [ "$(grep -c '^T' "$w/tables.tsv")" != "$(grep -c '^C' "$w/tables.tsv")" ]; then
                reason="could not checksum every table: $(grep -v 'hash function' "$w/psql.err" | tail -n 1)"
              fi
              if [ -n "$reason" ]; then
                # Killed before their input ends: restic stores no snapshot of a truncated dump.
                for i in "$@"; do kill "${pids[i]}" 2> /dev/null; done
                for i in "$@"; do fd=${fds[i]}; exec {fd}>&-; done
                wait "${pids[@]}" 2> /dev/null
                failure - "$tenant" "$reason"; return 1
              fi
              for i in "$@"; do fd=${fds[i]}; exec {fd}>&-; done
              for i in "$@"; do
                if wait "${pids[i]}"; then good+=("$i")
                else failure "${VAULT_NAMES[$i]}" "$tenant" "restic could not store the database: $(tail -n 1 "$w/v$i.err")"; fi
              done
              sha=$(cut -d' ' -f1 "$w/sha") bytes=$(tr -d ' ' < "$w/bytes")
              # Hashed before restic reads them: a file changing in between shows at restore, never as a wrong manifest.
              scan_files "$files" > "$w/files.json" 2> "$w/scan.err" || { failure - "$tenant" "cannot read its files: $(tail -n 1 "$w/scan.err")"; return 1; }
              local stored=()
              for i in "${good[@]}"; do
                if out=$(cd "$files" && vault_restic "$i" backup --quiet {{Tags(BackupPart.Files)}} . 2>&1 > /dev/null); then stored+=("$i")
                else failure "${VAULT_NAMES[$i]}" "$tenant" "restic could not store the files: $(printf '%s' "$out" | tail -n 1)"; fi
              done
              jq -n --arg tenant "$tenant" --arg run "$RUN_ID" --arg at "$captured" --argjson dumpBytes "$bytes" --arg sha "$sha" \
                --slurpfile files "$w/files.json" --rawfile tables "$w/tables.tsv" '
                [$tables | split("\n")[] | select(startswith("C\t")) | split("\t")
                  | {schema: .[1], name: .[2], rows: (.[3] | tonumber), checksum: .[4], qualifiedName: "\(.[1]).\(.[2])"}] | sort_by(.schema, .name) as $t
                | {tenant: $tenant, runId: $run, capturedAt: $at,
                   database: {name: $tenant, tables: $t, dumpBytes: $dumpBytes, dumpSha256: $sha},
                   files: $files[0], bytes: ($dumpBytes + $files[0].bytes)}' > "$w/{{BackupLayout.ManifestFileName}}" ||
                { failure - "$tenant" "cannot write its manifest"; return 1; }
              # Last: the manifest is what makes the set complete, in each vault that holds the database and the files.
              for i in "${stored[@]}"; do
                if out=$(vault_restic "$i" backup --quiet --stdin --stdin-filename {{BackupLayout.ManifestFileName}} {{Tags(BackupPart.Manifest)}} < "$w/{{BackupLayout.ManifestFileName}}" 2>&1 > /dev/null)
                then printf '%s\t%s\t%s\n' "$i" "$tenant" "$((bytes + $(jq '.bytes' "$w/files.json")))" >> "$DONE"
                else failure "${VAULT_NAMES[$i]}" "$tenant" "restic could not store the manifest: $(printf '%s' "$out" | tail -n 1)"; fi
              done
              [ "${#stored[@]}" = "$#" ]
            }

            # psql's session per tenant: the checksums and pg_dump in one REPEATABLE READ snapshot. A snapshot cannot be
            # exported from a subtransaction, so ON_ERROR_ROLLBACK (a savepoint per statement) is turned on after the export.
            session() {
              printf '%s\n' 'BEGIN ISOLATION LEVEL REPEATABLE READ;' '{{TableChecksums.SettingsSql.Replace("'", "'\\''", StringComparison.Ordinal)}}' \
                'SELECT pg_export_snapshot() AS failover_snapshot \gset' '\setenv FAILOVER_SNAPSHOT :failover_snapshot' \
                '\set ON_ERROR_ROLLBACK on' '{{psql}}' \
                '\! pg_dump --format=custom --no-password --snapshot="$FAILOVER_SNAPSHOT" --dbname="$FAILOVER_TENANT" > "$FAILOVER_WORK/dump" 2> "$FAILOVER_WORK/dump.err"; echo $? > "$FAILOVER_WORK/dump.status"' \
                'COMMIT;'
            }

            log "backup run $RUN_ID of $SITE: ${#TENANTS[@]} tenants into ${#LIVE[@]} of ${#VAULT_NAMES[@]} vaults"
            for tenant in "${TENANTS[@]}"; do
              t0=$(date +%s)
              mkdir -m 0700 -p "$WORK/t-$tenant" && session > "$WORK/t-$tenant/session.sql"
              if [ "${#LIVE[@]}" = 0 ]; then failure - "$tenant" "no vault could be opened"; result={{ResultFailed}}
              elif backup_tenant "$tenant" "${LIVE[@]}"; then result={{ResultOk}}; log "$tenant: backed up into ${#LIVE[@]} vaults"
              else result={{ResultFailed}}; fi
              b=$(awk -F'\t' -v t="$tenant" '$2 == t { print $3; exit }' "$DONE")
              why=$(awk -F'\t' -v t="$tenant" '$2 == t || $2 == "-" { print $3 }' "$FAILURES" | tail -n 1)
              printf '%s\t%s\t%s\t%s\t%s\n' "$tenant" "$result" "$(($(date +%s) - t0))" "${b:-0}" "$why"
            done

            # The heartbeat of each vault that could be opened: this run, the tenants it holds now, every failure by name.
            FINISHED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
            heartbeat() {
              jq -n --arg site "$SITE" --arg vault "$1" --arg run "$RUN_ID" --arg started "$STARTED" --arg finished "$FINISHED" \
                --argjson tenants "${#TENANTS[@]}" --rawfile done "$DONE" --rawfile failures "$FAILURES" --arg index "$2" '
                [$done | split("\n")[] | select(length > 0) | split("\t") | select($index == "any" or .[0] == $index)] | unique_by(.[1]) as $d
                | {site: $site, vault: $vault, runId: $run, started: $started, finished: $finished, tenants: $tenants,
                   backedUp: ($d | length), bytes: ([$d[] | .[2] | tonumber] | add // 0),
                   failures: [$failures | split("\n")[] | select(length > 0) | split("\t")
                     | {vault: (if .[0] == "-" then null else .[0] end), tenant: (if .[1] == "-" then null else .[1] end), reason: .[2]}]}'
            }
            for i in "${LIVE[@]}"; do
              heartbeat "${VAULT_NAMES[$i]}" "$i" > "$WORK/heartbeat-$i.json"
              vault_restic "$i" backup --quiet --stdin --stdin-filename {{BackupPlan.HeartbeatFileName}} {{heartbeatTags}} < "$WORK/heartbeat-$i.json" > /dev/null 2> "$WORK/heartbeat.err" ||
                fail "could not write the heartbeat into vault ${VAULT_NAMES[$i]}: $(tail -n 1 "$WORK/heartbeat.err")"
            done
            heartbeat - any > "$STATE_DIR/{{BackupPlan.HeartbeatFileName}}.tmp" && mv "$STATE_DIR/{{BackupPlan.HeartbeatFileName}}.tmp" "$STATE_DIR/{{BackupPlan.HeartbeatFileName}}"
            if [ -s "$FAILURES" ]; then
              fail "backup run $RUN_ID finished with $(wc -l < "$FAILURES") failures (named above and in the heartbeat)"; exit {{BackupPlan.FailedExitCode}}
            fi
            log "backup run $RUN_ID finished: ${#TENANTS[@]} tenants in ${#LIVE[@]} vaults"
            """ + "\n";
    }
}
