#!/bin/bash
# Benchmark (issue 6, acceptance 6): copy-chunk through the gateway onto iSCSI volumes on the same LIO target,
# EXTENDED COPY vs the READ/WRITE fallback, as a ratio. Not a test; not part of tests/run.sh.
#
#   bench/iscsi-copychunk.sh [-r RUNS] [-s MiB] [-B]     (-B: do not build; uses the existing build of CONFIGURATION)
#
# One gateway, three shares on one iSCSI session: src (LUN 0, 0-512 MiB), xcopy (LUN 1, 0-384 MiB) and readwrite
# (LUN 1, 384-768 MiB, ExtendedCopy=false). A SIZE MiB random file is put on src once; then RUNS times, alternating
# which goes first, FSCTL_SRV_COPYCHUNK_WRITE of the whole file (1 MiB chunks, 16 per request; tests/EndToEnd/IscsiSmb.py)
# from src to xcopy and from src to readwrite, the destination deleted first. The time is the client's, from the
# first copy-chunk request to the last response. Each run also records the driver's counters from /metrics (SCSI
# commands by kind, data bytes through the gateway) to show what each method did; the last copies are hashed.
# The target: SMBCOPY_ISCSI_PORTAL (LIO, LUNs 0 and 1 of 1 GiB), else tests/rigs/lio-iscsi-vm is started and stopped.
# Writes bench/results/iscsi-<UTC date>.md. Ports: PORT_BASE (5570) for SMB, +10000 for HTTP.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=5 SIZE=64 BUILD=1
while getopts "r:s:B" o; do case $o in r) RUNS=$OPTARG;; s) SIZE=$OPTARG;; B) BUILD=0;; *) exit 2;; esac; done
CONFIG=${CONFIGURATION:-Release}
PORT=${PORT_BASE:-5570}; HTTP=$((PORT + 10000))
IQN=${SMBCOPY_ISCSI_IQN:-iqn.2003-01.org.linux-iscsi.gateway:target}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/bench-iscsi.XXXXXX)
RIG=""; GW=""
cleanup() {
  [ -n "$GW" ] && kill "$GW" 2>/dev/null && wait "$GW" 2>/dev/null || true
  [ -n "$RIG" ] && ISCSI_STATE_DIR="$RIG" bash tests/rigs/lio-iscsi-vm/target-stop.sh >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${SMBCOPY_ISCSI_PORTAL:-}" ]; then
  RIG="$WORK/rig"; mkdir -p "$RIG"; p=$(tests/rigs/free-port.sh)
  ISCSI_STATE_DIR="$RIG" ISCSI_PORT="$p" ISCSI_LUN_SIZE=1G bash tests/rigs/lio-iscsi-vm/target-start.sh >"$WORK/rig.log" 2>&1 \
    || { cat "$WORK/rig.log"; exit 1; }
  SMBCOPY_ISCSI_PORTAL="127.0.0.1:$p"
fi
[ $BUILD = 1 ] && dotnet build src/Gateway -c "$CONFIG" -nologo -v:q -clp:ErrorsOnly >/dev/null
DLL=src/Gateway/bin/$CONFIG/net10.0/smbcopy.dll
MIB=$((1024 * 1024 / 512))
share() { # index name lun firstMiB MiB xcopy
  local k="--SmbCopy:Shares:$1:"
  echo "${k}Name=$2 ${k}Driver=Iscsi ${k}Portal=$SMBCOPY_ISCSI_PORTAL ${k}Target=$IQN ${k}Lun=$3 ${k}Metadata=$WORK/$2.db" \
       "${k}FirstLba=$(($4 * MIB)) ${k}Blocks=$(($5 * MIB)) ${k}ExtendedCopy=$6 ${k}Format=true"
}
# the gateway reads SMBCOPY_* variables as configuration: none of ours reach it
# shellcheck disable=SC2046
env $(env | grep -o '^SMBCOPY_[A-Za-z0-9_]*' | sed 's/^/-u /') dotnet "$DLL" --SmbCopy:Smb:Address=127.0.0.1 --SmbCopy:Smb:Port=$PORT --SmbCopy:Http:Address=127.0.0.1 --SmbCopy:Http:Port=$HTTP \
  --SmbCopy:Users:0:Name=alice --SmbCopy:Users:0:NtHash=64f12cddaa88057e06a81b54e73b949b --SmbCopy:StateDirectory="$WORK/state" \
  $(share 0 src 0 0 512 true) $(share 1 xcopy 1 0 384 true) $(share 2 readwrite 1 384 384 false) >"$WORK/gateway.log" 2>&1 &
GW=$!
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$HTTP/healthz/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$HTTP/healthz/ready" >/dev/null || { tail -50 "$WORK/gateway.log"; exit 1; }

smb() { smbclient --configfile=/dev/null -p $PORT "//127.0.0.1/$1" -U alice%Password1 -m SMB3_11 -c "$2"; }
op() { $PY tests/EndToEnd/IscsiSmb.py --port $PORT --password Password1 "$@"; }
head -c $((SIZE * 1024 * 1024)) /dev/urandom > "$WORK/src.bin"
SRC_SHA=$(sha256sum "$WORK/src.bin" | cut -d' ' -f1)
smb src "put $WORK/src.bin src.bin" >/dev/null 2>&1
metrics() { curl -s "http://127.0.0.1:$HTTP/metrics" | grep -E '^smbcopy_iscsi_(commands|bytes)_total' || true; }

: > "$WORK/runs"
for i in $(seq 1 "$RUNS"); do
  order="xcopy readwrite"; [ $((i % 2)) = 0 ] && order="readwrite xcopy"
  for dst in $order; do
    smb $dst "del c.bin" >/dev/null 2>&1 || true
    sleep 1; metrics > "$WORK/m0"
    out=$(op copychunk src src.bin $dst c.bin $((SIZE * 1024 * 1024)))
    sleep 1; metrics > "$WORK/m1"
    echo "$dst $i $out $(paste -sd'|' "$WORK/m0") @@ $(paste -sd'|' "$WORK/m1")" >> "$WORK/runs"
  done
done
XSHA=$(op sha xcopy c.bin 0 $((SIZE * 1024 * 1024)) | $PY -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')
RSHA=$(op sha readwrite c.bin 0 $((SIZE * 1024 * 1024)) | $PY -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')

OUT=bench/results/iscsi-$(date -u +%Y-%m-%dT%H%MZ).md
$PY - "$WORK/runs" "$SIZE" "$RUNS" "$SRC_SHA" "$XSHA" "$RSHA" "$SMBCOPY_ISCSI_PORTAL" > "$OUT" <<'PY'
import json, re, statistics, sys, platform, os
runs, size, n, src, xs, rs, portal = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
def parse(blob):
    v = {}
    for line in blob.split("|"):
        m = re.match(r'(smbcopy_iscsi_\w+)\{([^}]*)\} (\S+)', line)
        if m:
            kind = re.search(r'(kind|direction)="([^"]*)"', m.group(2))
            key = m.group(1) + ":" + (kind.group(2) if kind else "")
            v[key] = v.get(key, 0) + float(m.group(3))
    return v
rows = {"xcopy": [], "readwrite": []}
for line in open(runs):
    dst, i, rest = line.split(" ", 2)
    js, _, m = rest.partition("} ")
    r = json.loads(js + "}")
    m0, _, m1 = m.partition(" @@ ")
    a, b = parse(m0), parse(m1.strip())
    d = {k: b.get(k, 0) - a.get(k, 0) for k in b}
    rows[dst].append((r["seconds"], d))
def med(dst): return statistics.median(s for s, _ in rows[dst])
def cmds(dst):
    d = rows[dst][-1][1]
    return (f'{d.get("smbcopy_iscsi_commands_total:extended_copy", 0):.0f} EXTENDED COPY, {d.get("smbcopy_iscsi_commands_total:read", 0):.0f} READ, '
            f'{d.get("smbcopy_iscsi_commands_total:write", 0):.0f} WRITE, '
            f'{(d.get("smbcopy_iscsi_bytes_total:in", 0) + d.get("smbcopy_iscsi_bytes_total:out", 0)) / 2**20:.1f} MiB through the gateway')
x, rw = med("xcopy"), med("readwrite")
print(f"# iSCSI copy-chunk: EXTENDED COPY vs READ/WRITE fallback ({size} MiB, {n} runs)\n")
print(f"LIO 6.1 in a qemu TCG VM (tests/rigs/lio-iscsi-vm) at {portal}; gateway → LUN 0 (src) → LUN 1 (destinations), one iSCSI "
      f"session; FSCTL_SRV_COPYCHUNK_WRITE, 1 MiB chunks, 16 per request (impacket); host: {platform.node()}, "
      f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}.\n")
print("| method | median | MiB/s | runs (s) | SCSI commands of the last run |\n|---|---|---|---|---|")
for dst, label in (("xcopy", "EXTENDED COPY (array)"), ("readwrite", "READ/WRITE through the gateway")):
    m = med(dst)
    print(f"| {label} | {m * 1000:.0f} ms | {size / m:.1f} | {' '.join(f'{s:.2f}' for s, _ in rows[dst])} | {cmds(dst)} |")
print(f"\n**Ratio: EXTENDED COPY is {rw / x:.1f}× faster** (median READ/WRITE / median EXTENDED COPY).\n")
print(f"Destination hashes: EXTENDED COPY {'identical' if xs == src else 'DIFFERENT'}, READ/WRITE {'identical' if rs == src else 'DIFFERENT'} (sha256 {src[:16]}…).")
PY
cat "$OUT"
