#!/bin/bash
# The test command (README, CI): install dependencies, build the solution with warnings as errors,
# run every unit-test project, then the end-to-end project; print 'N passed, N failed[, N skipped]'
# summed over all test projects (from their trx files) as the last line; exit non-zero on any failure.
#
# env CONFIGURATION        Debug (default) | Release
#     SMBCOPY_E2E_TARGET   gateway (default) | samba   -- which server the end-to-end tests start
#     SKIP_INSTALL=1       do not run tests/install-deps.sh
#     SKIP_E2E=1           unit tests only
#     TEST_RESULTS         trx directory (default artifacts/test-results)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CONFIG=${CONFIGURATION:-Debug}
RESULTS=${TEST_RESULTS:-$ROOT/artifacts/test-results}
export SMBCOPY_E2E_TARGET=${SMBCOPY_E2E_TARGET:-gateway}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
FAILED_STEPS=()
TIMINGS=()
now() { date +%s.%N; }
took() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
banner() { printf '\n===== %s =====\n' "$*"; }

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  banner "install dependencies"; t=$(now)
  bash tests/install-deps.sh || FAILED_STEPS+=("install-deps")
  TIMINGS+=("install $(took "$t") s")
fi

# The slow rigs (NFS VM, LIO VM, tgt) start once per run, in the background while the solution builds, and
# every test project finds them through SMBCOPY_NFS_PORT/_STATE, SMBCOPY_ISCSI_PORTAL, SMBCOPY_TGT_PORTAL.
# A rig that fails to start leaves its variable unset: the fixtures then try once more and fail with its error.
RIGS=$(mktemp -d /tmp/smbcopy-rigs.XXXXXX)
start_rig_iscsi() { # kind
  local dir="$RIGS/$1" port; mkdir -p "$dir"; port=$(tests/rigs/free-port.sh)
  ISCSI_STATE_DIR="$dir" ISCSI_PORT="$port" ISCSI_LUN_SIZE=1G ISCSI_TARGET_KIND=$1 \
    bash tests/rigs/lio-iscsi-vm/target-start.sh > "$dir/start.log" 2>&1 && echo "127.0.0.1:$port" > "$dir/portal"
}
stop_rigs() {
  [ -f "$RIGS/nfs/port" ] && bash tests/rigs/nfs42-vm/stop.sh --state "$RIGS/nfs/state" > /dev/null 2>&1
  for kind in lio tgt; do
    [ -d "$RIGS/$kind" ] && ISCSI_STATE_DIR="$RIGS/$kind" bash tests/rigs/lio-iscsi-vm/target-stop.sh > /dev/null 2>&1
  done
  rm -rf "$RIGS"
}
trap stop_rigs EXIT
RIG_PIDS=()
if [ -z "${SMBCOPY_NFS_PORT:-}" ]; then
  ( mkdir -p "$RIGS/nfs" && bash tests/rigs/nfs42-vm/start.sh --state "$RIGS/nfs/state" \
      > "$RIGS/nfs/port.tmp" 2> "$RIGS/nfs/start.log" && mv "$RIGS/nfs/port.tmp" "$RIGS/nfs/port" ) &
  RIG_PIDS+=($!)
fi
[ -z "${SMBCOPY_ISCSI_PORTAL:-}" ] && { start_rig_iscsi lio & RIG_PIDS+=($!); }
[ -z "${SMBCOPY_TGT_PORTAL:-}" ] && { start_rig_iscsi tgt & RIG_PIDS+=($!); }

banner "build (dotnet build SmbCopy.sln -c $CONFIG -warnaserror)"; t=$(now)
if ! dotnet build SmbCopy.sln -c "$CONFIG" -warnaserror -nologo -clp:NoSummary\;ErrorsOnly -v:q; then
  echo "BUILD FAILED"
  for pid in "${RIG_PIDS[@]}"; do wait "$pid"; done  # then the EXIT trap stops what started
  echo "0 passed, 1 failed"
  exit 1
fi
TIMINGS+=("build $(took "$t") s")

banner "test rigs"; t=$(now)
for pid in "${RIG_PIDS[@]}"; do wait "$pid"; done
if [ -f "$RIGS/nfs/port" ]; then
  export SMBCOPY_NFS_PORT=$(tail -n 1 "$RIGS/nfs/port") SMBCOPY_NFS_STATE="$RIGS/nfs/state"
  echo "NFS server: 127.0.0.1:$SMBCOPY_NFS_PORT"
elif [ -z "${SMBCOPY_NFS_PORT:-}" ]; then echo "NFS rig did not start:"; tail -n 20 "$RIGS/nfs/start.log"; fi
if [ -f "$RIGS/lio/portal" ]; then export SMBCOPY_ISCSI_PORTAL=$(cat "$RIGS/lio/portal"); echo "LIO target: $SMBCOPY_ISCSI_PORTAL"
elif [ -z "${SMBCOPY_ISCSI_PORTAL:-}" ]; then echo "LIO rig did not start:"; tail -n 20 "$RIGS/lio/start.log"; fi
if [ -f "$RIGS/tgt/portal" ]; then export SMBCOPY_TGT_PORTAL=$(cat "$RIGS/tgt/portal"); echo "tgt target: $SMBCOPY_TGT_PORTAL"
elif [ -z "${SMBCOPY_TGT_PORTAL:-}" ]; then echo "tgt rig did not start:"; tail -n 20 "$RIGS/tgt/start.log"; fi
TIMINGS+=("rigs (after build) $(took "$t") s")

# run_tests NAME PROJECT [extra dotnet test args...]
run_tests() {
  local name=$1 proj=$2; shift 2
  banner "test $name ($proj)"; local t; t=$(now)
  dotnet test "$proj" -c "$CONFIG" --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
    --results-directory "$RESULTS" "$@"
  local rc=$?
  TIMINGS+=("$name $(took "$t") s")
  if [ $rc -ne 0 ]; then
    FAILED_STEPS+=("$name")
    [ -f "$RESULTS/$name.trx" ] || echo "crashed" > "$RESULTS/$name.crashed"
  fi
}

# --blame-hang-timeout: a unit-test host with no test starting or ending for 15 minutes (the slowest unit test takes
# about 2) is dumped (mini: thread stacks, ~20 MB, next to the trx) and killed, and the tests it was running are
# named, instead of silently eating CI's 90 minutes: a Storage.Tests host once sat idle after its last printed result
# for ~12 minutes until dotnet test was killed (no summary, no trx).
for proj in tests/*/*.csproj; do
  case $proj in tests/EndToEnd/*|tests/Fuzz/*) continue;; esac  # Fuzz runs on demand: tests/Fuzz/run.sh
  run_tests "$(basename "$proj" .csproj)" "$proj" --blame-hang-timeout 15m --blame-hang-dump-type mini
done
if [ "${SKIP_E2E:-0}" != 1 ]; then
  echo "end-to-end target: $SMBCOPY_E2E_TARGET"
  # --blame-hang-timeout: a hung client or server must not eat CI's 90 minutes
  run_tests SmbCopy.EndToEnd.Tests tests/EndToEnd/SmbCopy.EndToEnd.Tests.csproj --blame-hang-timeout 30m
fi

banner "summary"
printf '%s\n' "${TIMINGS[@]}"
[ ${#FAILED_STEPS[@]} -eq 0 ] || echo "failed steps: ${FAILED_STEPS[*]}"
# Sum the trx counters; a project that died without a trx counts as one failure.
SUMMARY=$(/usr/bin/env python3 - "$RESULTS" <<'PY'
import glob, os, sys, xml.etree.ElementTree as ET
d = sys.argv[1]; p = f = s = 0
for trx in sorted(glob.glob(os.path.join(d, "*.trx"))):
    c = ET.parse(trx).getroot().find(".//{*}ResultSummary/{*}Counters")
    if c is None:
        f += 1; print(f"{os.path.basename(trx)}: no counters", file=sys.stderr); continue
    n = lambda k: int(c.get(k, "0"))
    pp, ff = n("passed"), n("failed") + n("error") + n("timeout") + n("aborted")
    ss = max(n("total") - n("executed"), n("notExecuted"))
    print(f"{os.path.basename(trx)}: {pp} passed, {ff} failed, {ss} skipped (of {n('total')})", file=sys.stderr)
    p += pp; f += ff; s += ss
f += len(glob.glob(os.path.join(d, "*.crashed")))
print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
PY
) || SUMMARY="0 passed, 1 failed"
FAILED=$(echo "$SUMMARY" | sed -E 's/.* ([0-9]+) failed.*/\1/')
echo "$SUMMARY"
[ ${#FAILED_STEPS[@]} -eq 0 ] && [ "$FAILED" = 0 ] || exit 1
