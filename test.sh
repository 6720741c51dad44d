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

log=$(mktemp) checks_log=$(mktemp) prepare_log=$(mktemp)
trap 'rm -f "$log" "$checks_log" "$prepare_log"; [ -z "${prepare_bin:-}" ] || rm -rf "$prepare_bin"' EXIT
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

# The booted-server tests boot containers from a cached Debian 12 root that a fresh machine builds first (about 4 minutes:
# debootstrap on one core, and about 135 MB of downloads). It is built from the start, at low priority, beside the other
# tests; the booted tests wait for it (the cache's own file lock) if it is not ready by then. A failed build is reported
# there, and the booted tests then fail naming it. It runs from a copy of the build: the driver tests' own build rewrites
# the assemblies in place while it runs.
prepare_pid="" prepare_bin=$(mktemp -d)
if [ "$(id -u)" = 0 ] && dotnet build tests/Failover.Driver.Tests -c Release --nologo -v q > "$prepare_log" 2>&1 \
   && cp -a tests/Failover.Driver.Tests/bin/Release/net10.0/. "$prepare_bin/"; then
  nice -n 10 timeout 30m dotnet "$prepare_bin/failover.dll" drill --stacks infra/stacks --prepare > "$prepare_log" 2>&1 &
  prepare_pid=$!
else
  echo "the booted servers' Debian root is not prepared ahead (not root, or the build failed: the driver's tests say why)"
fi

# The booted-server tests (CloudDrillTests) boot containers and format volumes: they run by themselves after the rest of
# the driver's tests, so their load on two cores does not stretch boot and restore waits. One booted world serves the cloud
# rehearsal (the AWS standby), the drill's failover (to standby-hel1) and a planned migration (on to the AWS standby);
# beside it, a bootstrap that fails half way.
booted="FullyQualifiedName~Failover.Driver.Tests.EndToEnd.CloudDrillTests"
# The compile-only checks (the benchmarks are programs run by hand, built here so they do not rot; infra/ against the
# Pulumi SDK facade) and the install test (a release build of the tool package and a single-file binary: minutes of
# compiling, on no fixed address) run beside the booted-server tests, whose minutes are mostly servers booting and
# restoring, with a CPU often idle while they wait.
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
beside_booted() {
  local rc=0
  compile_checks || rc=1
  echo "== tests/Failover.Driver.Tests: the install test (beside the booted-server tests)"
  dotnet test tests/Failover.Driver.Tests -c Release --nologo "${quiet[@]}" --no-build --filter "$install_test" 2>&1 | grep -vE '^\s*$'
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
  return $rc
}
checks_pid=""

for p in "${projects[@]}"; do
  echo "== $p"
  filter=()
  [ "$p" = tests/Failover.Driver.Tests ] && filter=(--filter "FullyQualifiedName!~Failover.Driver.Tests.EndToEnd.CloudDrillTests&FullyQualifiedName!~${install_test#FullyQualifiedName~}")
  dotnet test "$p" -c Release --nologo "${quiet[@]}" "${filter[@]}" 2>&1 | tee -a "$log" | grep -vE '^\s*$'
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  if [ "$p" = tests/Failover.Driver.Tests ]; then
    beside_booted > "$checks_log" 2>&1 &
    checks_pid=$!
    if [ -n "$prepare_pid" ] && ! wait "$prepare_pid"; then
      echo "preparing the booted servers' Debian root failed (drill --stacks infra/stacks --prepare):"; tail -20 "$prepare_log"
    fi
    echo "== $p: the booted-server tests, without other tests (the compile-only checks and the install test run beside them)"
    dotnet test "$p" -c Release --nologo "${quiet[@]}" --no-build --filter "$booted" 2>&1 | tee -a "$log" | grep -vE '^\s*$'
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  fi
  # What ran beside the booted tests ends before the next project builds: they would share obj/ and bin/ folders.
  if [ -n "$checks_pid" ] && [ "$checks_pid" != done ]; then wait "$checks_pid" || status=1; tee -a "$log" < "$checks_log"; checks_pid=done; fi
done

[ -n "$checks_pid" ] || { compile_checks || status=1; }

# Counted from the summary lines only ("Passed!  - Failed: 0, Passed: 380, ..."): a failed test's printed output may say anything.
sum() { grep -E '^(Passed|Failed)! +- ' "$log" | grep -Eo "$1: +[0-9]+" | awk '{ n += $2 } END { print n + 0 }'; }
passed=$(sum Passed); failed=$(sum Failed); skipped=$(sum Skipped)
[ -n "$passed" ] || passed=0; [ -n "$failed" ] || failed=0; [ -n "$skipped" ] || skipped=0
if [ "$passed" -eq 0 ]; then echo "no test ran"; status=1; fi
[ "$failed" -eq 0 ] || status=1
echo "total: $passed passed, $failed failed, $skipped skipped"
exit $status
