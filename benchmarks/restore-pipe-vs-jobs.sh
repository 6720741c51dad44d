#!/usr/bin/env bash
# Measures, side by side in one run, the two ways a tenant's database can be restored from restic
# (docs/backup-and-restore.md): `restic dump | pg_restore` (one job, no scratch space) against
# `restic restore` to a scratch file then `pg_restore --jobs=N`. Prints the times and their ratio.
# Usage: benchmarks/restore-pipe-vs-jobs.sh [pgbench scale, default 30] [jobs, default 2] [rounds, default 2]
# Needs restic and PostgreSQL; as root the server runs as the postgres OS user. Leaves nothing behind.
set -euo pipefail
scale=${1:-30}; jobs=${2:-2}; rounds=${3:-2}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/failover-bench-XXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PGPASSWORD="bench-$RANDOM$RANDOM" PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
echo "$PGPASSWORD" > "$dir/pw"; [ "$(id -u)" = 0 ] && chown postgres "$dir/pw"
as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pw" >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
export RESTIC_REPOSITORY="$dir/repo" RESTIC_PASSWORD="restic-$RANDOM$RANDOM"
restic init -q >/dev/null
"$bin/createdb" source
"$bin/pgbench" -i -q -s "$scale" source >/dev/null 2>&1
"$bin/pg_dump" -Fc source | restic backup -q --stdin --stdin-filename source.dump >/dev/null
echo "database: $(psql -Atc "select pg_size_pretty(pg_database_size('source'))" -d source), scale $scale, $rounds rounds"

calc() { awk "BEGIN { print $1 }"; }
seconds() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); calc "$e - $s"; }
pipe() { "$bin/createdb" t; restic dump -q latest /source.dump | "$bin/pg_restore" --single-transaction --no-owner -d t; }
file() { "$bin/createdb" t; rm -rf "$dir/scratch"; restic restore -q latest --target "$dir/scratch" && "$bin/pg_restore" --jobs="$jobs" --no-owner -d t "$dir/scratch/source.dump"; }
total_pipe=0; total_file=0
for r in $(seq "$rounds"); do
  p=$(seconds pipe); "$bin/dropdb" t
  f=$(seconds file); "$bin/dropdb" t
  printf 'round %d: pipe (1 job) %6.2f s   scratch file (--jobs=%d) %6.2f s\n' "$r" "$p" "$jobs" "$f"
  total_pipe=$(calc "$total_pipe + $p"); total_file=$(calc "$total_file + $f")
done
printf 'ratio pipe / file = %.2f  (above 1: --jobs is faster here)\n' "$(calc "$total_pipe / $total_file")"
