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
infra_tests=0
if [ -d tests/Failover.Infra.Tests ]; then
  if dotnet restore tests/Failover.Infra.Tests >/dev/null 2>&1; then
    infra_tests=1
  else
    echo "SKIPPED tests/Failover.Infra.Tests: the Pulumi packages cannot be restored on this machine."
    echo "        infra/ is compile-checked against the SDK facade below instead; its decisions are tested in Failover.Core.Tests."
  fi
fi

# With FAILOVER_TEST_RESULTS=DIR each test run also writes a trx file there (per-test durations, for the time budget).
results() { [ -z "${FAILOVER_TEST_RESULTS:-}" ] || echo --logger "trx;LogFileName=$1.trx" --results-directory "$FAILOVER_TEST_RESULTS"; }
# Runs `dotnet test PROJECT ARGS...` on the build made below, its output (blank lines dropped) on stdout.
run_tests() { local p=$1; shift; dotnet test "$p" -c Release --nologo "${quiet[@]}" --no-build "$@" 2>&1 | grep -vE '^\s*$'; return "${PIPESTATUS[0]}"; }

# Most of the run's minutes are the driver's tests, which run at once in two CPU groups of this script's own cgroup (cgroup
# v1's cpu controller, as root; elsewhere all at the default weight):
# - "booted", of a much higher weight: the Debian root the booted servers boot from, then the booted-server tests
#   (CloudDrillTests: one booted world serves the cloud rehearsal of the AWS standby, the drill's failover to standby-hel1 and
#   a planned migration on to the AWS standby; and a bootstrap that fails half way), then the compile-only checks and the
#   install test. The booted tests' minutes are mostly servers booting and restoring, with a CPU often idle, and their waits
#   are what a loaded machine stretches; the root is what a fresh machine builds first (about 4 minutes: debootstrap on one
#   core, about 135 MB of downloads; the tests wait for it on the cache's own lock, and fail naming a failed build).
# - "others", of a low weight: the Core tests, then the rest of the driver's tests (three classes at once), which fill
#   what the first group leaves.
cpu_parent=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' /proc/self/cgroup 2>/dev/null)
cpu_root=$(awk '$3 == "cgroup" && $4 ~ /(^|,)cpu(,|$)/ { print $2; exit }' /proc/mounts 2>/dev/null)
cpu_group() { # NAME SHARES: makes the group; prints its directory
  [ "$(id -u)" = 0 ] && [ -n "$cpu_root" ] && [ -n "$cpu_parent" ] || return 0
  local dir="$cpu_root${cpu_parent%/}/failover-test-$$-$1"
  mkdir -p "$dir" 2>/dev/null && echo "$2" > "$dir/cpu.shares" 2>/dev/null && echo "$dir"
}
in_group() { [ -z "$1" ] || echo "$BASHPID" > "$1/cgroup.procs" 2>/dev/null || true; }
booted_group=$(cpu_group booted 8192) others_group=$(cpu_group others 256)
core_log=$(mktemp) booted_log=$(mktemp) prepare_bin=$(mktemp -d)
trap 'rm -f "$log" "$prepare_log" "$core_log" "$booted_log"; rm -rf "$prepare_bin"; for g in $booted_group $others_group; do rmdir "$g" 2>/dev/null; done' EXIT

# The compile-only checks: the benchmarks are programs run by hand, built here so they do not rot; infra/ against the
# Pulumi SDK facade.
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
booted="FullyQualifiedName~Failover.Driver.Tests.EndToEnd.CloudDrillTests"
install_test="FullyQualifiedName~Failover.Driver.Tests.InstallTests"
# The install test: a release build of the tool package and a single-file binary, minutes of compiling, on no fixed address.
booted_then_checks() {
  local rc=0
  echo "== tests/Failover.Driver.Tests: the booted-server tests (beside the driver's other tests)"
  run_tests tests/Failover.Driver.Tests --filter "$booted" $(results booted) || rc=1
  compile_checks || rc=1
  echo "== tests/Failover.Driver.Tests: the install test"
  run_tests tests/Failover.Driver.Tests --filter "$install_test" $(results install) || rc=1
  return $rc
}

# Built once, before anything runs from bin/; the root is built from a copy of the driver's build, which nothing built
# later (the benchmarks, the install test's package) can change under it.
echo "== building tests/Failover.Core.Tests and tests/Failover.Driver.Tests"
built=1
for p in tests/Failover.Driver.Tests tests/Failover.Core.Tests; do
  if ! dotnet build "$p" -c Release --nologo -v q > "$prepare_log" 2>&1; then
    echo "building $p failed:"; grep -E " error |rror\(s\)" "$prepare_log" | sort -u; built=0; status=1
  fi
done
prepare_pid=""
if [ "$(id -u)" = 0 ] && [ $built = 1 ] && cp -a tests/Failover.Driver.Tests/bin/Release/net10.0/. "$prepare_bin/"; then
  (in_group "$booted_group"; exec timeout 30m dotnet "$prepare_bin/failover.dll" drill --stacks infra/stacks --prepare) > "$prepare_log" 2>&1 &
  prepare_pid=$!
else
  echo "the booted servers' Debian root is not prepared ahead (not root, or the build failed)"
fi

if [ $built = 1 ]; then
  (in_group "$booted_group"; booted_then_checks) > "$booted_log" 2>&1 &
  booted_pid=$!
  (in_group "$others_group"; exec > "$core_log" 2>&1; echo "== tests/Failover.Core.Tests (beside the driver's tests)"
   exec dotnet test tests/Failover.Core.Tests -c Release --nologo "${quiet[@]}" --no-build $(results core)) &
  core_pid=$!
  echo "== tests/Failover.Driver.Tests (the booted-server tests, the compile-only checks and the install test beside them)"
  (in_group "$others_group"
   exec dotnet test tests/Failover.Driver.Tests -c Release --nologo "${quiet[@]}" --no-build $(results driver) \
     --filter "FullyQualifiedName!~${booted#FullyQualifiedName~}&FullyQualifiedName!~${install_test#FullyQualifiedName~}") 2>&1 \
    | tee -a "$log" | grep -vE '^\s*$'
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  if [ -n "$prepare_pid" ] && ! wait "$prepare_pid"; then
    echo "preparing the booted servers' Debian root failed (drill --stacks infra/stacks --prepare):"; tail -20 "$prepare_log"
  fi
  wait "$core_pid" || status=1
  grep -vE '^\s*$' "$core_log" | tee -a "$log"
  wait "$booted_pid" || status=1
  tee -a "$log" < "$booted_log"
else
  compile_checks || status=1
fi

# After the driver's tests and what ran beside them: a build here would share their obj/ and bin/ folders.
if [ $infra_tests = 1 ]; then
  echo "== tests/Failover.Infra.Tests"
  dotnet test tests/Failover.Infra.Tests -c Release --nologo "${quiet[@]}" $(results infra) 2>&1 | tee -a "$log" | grep -vE '^\s*$'
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

# Counted from the summary lines only ("Passed!  - Failed: 0, Passed: 380, ..."): a failed test's printed output may say anything.
sum() { grep -E '^(Passed|Failed)! +- ' "$log" | grep -Eo "$1: +[0-9]+" | awk '{ n += $2 } END { print n + 0 }'; }
passed=$(sum Passed); failed=$(sum Failed); skipped=$(sum Skipped)
[ -n "$passed" ] || passed=0; [ -n "$failed" ] || failed=0; [ -n "$skipped" ] || skipped=0
if [ "$passed" -eq 0 ]; then echo "no test ran"; status=1; fi
[ "$failed" -eq 0 ] || status=1
echo "total: $passed passed, $failed failed, $skipped skipped"
exit $status
