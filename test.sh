#!/usr/bin/env bash
# The test command of the README and of CI: builds and runs every test project that can be built here,
# compile-checks infra/ against the Pulumi SDK facade when ../shared/pulumi-facade exists, and ends
# with one line "total: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Tools some tests run for real (the rendered cloud-init is checked with shellcheck and jq, the HTML
# evidence report is rendered in headless chromium, the booted servers are built by debootstrap and booted by
# systemd-nspawn); the server packages (postgresql, restic, pdns, and ceph-mon ceph-osd radosgw ceph-common for the real
# S3 on 127.0.4.x: tests/fixtures/ceph-rgw) are installed by the test fixtures themselves.
missing=""
for tool in shellcheck:shellcheck jq:jq chromium:chromium debootstrap:debootstrap systemd-nspawn:systemd-container; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages:$missing"
  (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null) \
    || echo "could not install$missing: the tests that need them will fail and say so"
fi

log=$(mktemp) prepare_log=$(mktemp)
# Quiet, but a failed test prints its message, stack trace and output (a CI log is all one has of a failure).
quiet=(-v q --logger "console;verbosity=minimal")
status=0

# Projects that need the Pulumi NuGet packages cannot be restored everywhere: run them only where
# the packages restore, and say so when they are skipped.
projects=(tests/Failover.Core.Tests tests/Failover.Driver.Tests)
skipped_projects=0
if [ -d tests/Failover.Infra.Tests ]; then
  if dotnet restore tests/Failover.Infra.Tests >/dev/null 2>&1; then
    projects+=(tests/Failover.Infra.Tests)
  else
    echo "SKIPPED tests/Failover.Infra.Tests: the Pulumi packages cannot be restored on this machine."
    echo "        infra/ is compile-checked against the SDK facade below instead; its decisions are tested in Failover.Core.Tests."
    skipped_projects=1
  fi
fi

# With FAILOVER_TEST_RESULTS=DIR each test run also writes a trx file there (per-test durations, for the time budget).
results() { [ -z "${FAILOVER_TEST_RESULTS:-}" ] || echo --logger "trx;LogFileName=$1.trx" --results-directory "$FAILOVER_TEST_RESULTS"; }

# CPU weights for the driver's two test runs, which run at once (below): a group of this script's own cgroup (cgroup v1's
# cpu controller, as root) per run. Elsewhere both run at the default weight.
cpu_parent=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' /proc/self/cgroup 2>/dev/null)
cpu_root=$(awk '$3 == "cgroup" && $4 ~ /(^|,)cpu(,|$)/ { print $2; exit }' /proc/mounts 2>/dev/null)
cpu_group() { # NAME SHARES: makes the group; prints its directory
  [ "$(id -u)" = 0 ] && [ -n "$cpu_root" ] && [ -n "$cpu_parent" ] || return 0
  local dir="$cpu_root${cpu_parent%/}/failover-test-$$-$1"
  mkdir -p "$dir" 2>/dev/null && echo "$2" > "$dir/cpu.shares" 2>/dev/null && echo "$dir"
}
in_group() { [ -z "$1" ] || echo "$BASHPID" > "$1/cgroup.procs" 2>/dev/null || true; }
trap 'rm -f "$log" "$prepare_log" "${booted_log:-}"; [ -z "${prepare_bin:-}" ] || rm -rf "$prepare_bin"; for g in $cpu_groups; do rmdir "$g" 2>/dev/null; done' EXIT

# The booted-server tests (CloudDrillTests) boot containers from a cached Debian 12 root and format volumes: one booted
# world serves the cloud rehearsal (the AWS standby), the drill's failover (to standby-hel1) and a planned migration (on to
# the AWS standby); beside it, a bootstrap that fails half way. Their minutes are mostly servers booting and restoring, with
# a CPU often idle, so they run beside the rest of the driver's tests, in a CPU group of a much higher weight (their
# waits for boots and restores are what a loaded machine stretches; the other tests fill what they leave). Before them, the
# Debian root that a fresh machine builds first (about 4 minutes: debootstrap on one core, and about 135 MB of downloads),
# in the same group; a failed build is reported after the driver's tests, and the booted tests then fail naming it. The
# driver's tests are built once, before anything runs from bin/ (the root is built from a copy of it all the same: a build
# of the benchmarks or the install test below rewrites the projects' assemblies).
booted="FullyQualifiedName~Failover.Driver.Tests.EndToEnd.CloudDrillTests"
booted_group=$(cpu_group booted 8192) others_group=$(cpu_group others 256)
cpu_groups="$booted_group $others_group"
prepare_pid="" prepare_bin=$(mktemp -d) booted_log=$(mktemp)
if dotnet build tests/Failover.Driver.Tests -c Release --nologo -v q > "$prepare_log" 2>&1; then driver_built=1; else driver_built=0; fi
if [ "$(id -u)" = 0 ] && [ $driver_built = 1 ] && cp -a tests/Failover.Driver.Tests/bin/Release/net10.0/. "$prepare_bin/"; then
  (in_group "$booted_group"; exec timeout 30m dotnet "$prepare_bin/failover.dll" drill --stacks infra/stacks --prepare) > "$prepare_log" 2>&1 &
  prepare_pid=$!
else
  echo "the booted servers' Debian root is not prepared ahead (not root, or the build failed: the driver's tests say why)"
fi

# The compile-only checks (the benchmarks are programs run by hand, built here so they do not rot; infra/ against the
# Pulumi SDK facade) and the install test (a release build of the tool package and a single-file binary: minutes of
# compiling, on no fixed address) run after the driver's other tests, beside the end of the booted-server tests.
compile_checks() {
  local rc=0
  if [ -d benchmarks/Failover.Benchmarks ]; then
    echo "== benchmarks (build only)"
    out=$(dotnet build benchmarks/Failover.Benchmarks -c Release --nologo -v q 2>&1) || rc=1
    echo "$out" | grep -E " error |rror\(s\)" | sort -u
  fi
  facade=../shared/pulumi-facade/check.sh
  if [ -d infra ] && [ -x "$facade" ]; then
    dirs="infra src/Failover.Core"
    [ -d tests/Failover.Infra.Tests ] && dirs="$dirs tests/Failover.Infra.Tests"
    echo "== Pulumi SDK facade compile check: $dirs"
    if "$facade" . $dirs; then echo "facade check: passed"; else echo "facade check: FAILED"; rc=1; fi
  elif [ -d infra ]; then
    echo "SKIPPED the Pulumi SDK facade compile check: ../shared/pulumi-facade is not here."
  fi
  return $rc
}
install_test="FullyQualifiedName~Failover.Driver.Tests.InstallTests"
checks_done=0

for p in "${projects[@]}"; do
  echo "== $p"
  if [ "$p" != tests/Failover.Driver.Tests ]; then
    dotnet test "$p" -c Release --nologo "${quiet[@]}" $(results "$(basename "$p")") 2>&1 | tee -a "$log" | grep -vE '^\s*$'
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    continue
  fi
  if [ $driver_built = 0 ]; then
    echo "building $p failed:"; grep -E " error |rror\(s\)" "$prepare_log" | sort -u; status=1
    continue
  fi
  (in_group "$booted_group"; exec dotnet test "$p" -c Release --nologo "${quiet[@]}" --no-build --filter "$booted" $(results booted)) > "$booted_log" 2>&1 &
  booted_pid=$!
  (in_group "$others_group"
   exec dotnet test "$p" -c Release --nologo "${quiet[@]}" --no-build $(results driver) \
     --filter "FullyQualifiedName!~${booted#FullyQualifiedName~}&FullyQualifiedName!~${install_test#FullyQualifiedName~}") 2>&1 \
    | tee -a "$log" | grep -vE '^\s*$'
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  if [ -n "$prepare_pid" ] && ! wait "$prepare_pid"; then
    echo "preparing the booted servers' Debian root failed (drill --stacks infra/stacks --prepare):"; tail -20 "$prepare_log"
  fi
  (in_group "$others_group"
   rc=0
   compile_checks || rc=1
   echo "== $p: the install test (beside the booted-server tests)"
   dotnet test "$p" -c Release --nologo "${quiet[@]}" --no-build --filter "$install_test" $(results install) 2>&1 | grep -vE '^\s*$'
   [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
   exit $rc) 2>&1 | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  checks_done=1
  wait "$booted_pid" || status=1
  echo "== $p: the booted-server tests (beside the driver's other tests)"
  grep -vE '^\s*$' "$booted_log" | tee -a "$log"
done

[ $checks_done = 1 ] || { compile_checks || status=1; }

# Counted from the summary lines only ("Passed!  - Failed: 0, Passed: 380, ..."): a failed test's printed output may say anything.
sum() { grep -E '^(Passed|Failed)! +- ' "$log" | grep -Eo "$1: +[0-9]+" | awk '{ n += $2 } END { print n + 0 }'; }
passed=$(sum Passed); failed=$(sum Failed); skipped=$(sum Skipped)
[ -n "$passed" ] || passed=0; [ -n "$failed" ] || failed=0; [ -n "$skipped" ] || skipped=0
if [ "$passed" -eq 0 ]; then echo "no test ran"; status=1; fi
[ "$failed" -eq 0 ] || status=1
echo "total: $passed passed, $failed failed, $skipped skipped"
exit $status
