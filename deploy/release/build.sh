#!/usr/bin/env bash
# Builds what a release ships: the `dotnet tool` package and one self-contained single-file `failover` binary per
# runtime. Usage: deploy/release/build.sh OUTDIR [VERSION] [RID...]   (default RIDs: every one below)
# The release workflow (.github/workflows/release.yml) runs it on a tag; tests/Failover.Driver.Tests/InstallTests
# runs it for linux-x64. The commit lands in `failover --version` (the SDK's SourceRevisionId from git).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"; shift
version="${1:-}"; [ $# -gt 0 ] && shift
rids=("$@"); [ ${#rids[@]} -gt 0 ] || rids=(linux-x64 linux-arm64 osx-x64 osx-arm64 win-x64)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
props=(); [ -n "$version" ] && props=(-p:Version="$version")
dotnet pack "$here/src/Failover.Driver" -c Release --nologo -v q -o "$out" "${props[@]}"
for rid in "${rids[@]}"; do
  dir="$out/.publish-$rid"
  dotnet publish "$here/src/Failover.Driver" -c Release -r "$rid" --self-contained -p:PublishSingleFile=true \
    -p:DebugType=none --nologo -v q -o "$dir" "${props[@]}"
  name=failover; [ -f "$dir/failover.exe" ] && name=failover.exe
  mv "$dir/$name" "$out/failover-$rid${name#failover}"
  rm -rf "$dir"
done
ls -l "$out"
