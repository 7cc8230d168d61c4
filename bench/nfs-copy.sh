#!/bin/bash
# Issue 5, acceptance 5 (a benchmark, not a test): on a share that lives on an NFSv4.2 export, a server-side copy
# (smbclient `scopy` = FSCTL_SRV_COPYCHUNK_WRITE, which the gateway turns into NFS COPY, or CLONE where the export can
# clone) against a client-side copy of the same file through the gateway (smbclient `get` to a local file, then `put`
# back as the destination: every byte crosses SMB twice and NFS twice). Same gateway, same share, same file, one run;
# medians of RUNS, alternating which method goes first. Shares: `nfs` (export "/", btrfs: the engine clones) and
# `nfsext4` (export "/ext4", ext4: NFS COPY copies the bytes inside the server). The table gives both times and the
# ratio client-side / server-side. /metrics is read around every scopy: the bytes must be offloaded or cloned, none
# streamed, or the run says NO SERVER-SIDE COPY instead of a number (smbclient silently falls back to a client-side
# copy when the server refuses). Every destination is compared with the source (sha256 of a `get`) once per method.
#
# usage: bench/nfs-copy.sh [-r RUNS] [-s SIZE_MIB] [-o RESULTS_MD] [-B]
#   -r RUNS   repetitions (default 5)      -s SIZE_MIB  file size (default 128; the VM's ext4 disk is 512 MiB)
#   -o FILE   results (default bench/results/nfs-<UTC date>.md)
#   -B        do not build (default: dotnet build -c Release src/Gateway first)
# env PORT_BASE (default 5571): gateway SMB on +0, HTTP on +1. SMBCOPY_NFS_PORT / SMBCOPY_NFS_STATE: use a running
# tests/rigs/nfs42-vm server; else one is started (state /tmp/bench-nfs42) and stopped at the end.
# SMBCOPY_GATEWAY_DLL: the gateway to measure (default: the Release build).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/.." && pwd); . "$HERE/lib.sh"
RUNS=5; MIB=128; OUT=""; BUILD=1
while getopts "r:s:o:Bh" o; do
  case $o in
    r) RUNS=$OPTARG;; s) MIB=$OPTARG;; o) OUT=$OPTARG;; B) BUILD=0;;
    *) sed -n 2,20p "$0"; exit 2;;
  esac
done
PORT_BASE=${PORT_BASE:-5571}
GW_PORT=$PORT_BASE; GW_HTTP=$((PORT_BASE + 1))
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
[ -n "$OUT" ] || OUT="$HERE/results/nfs-$STAMP.md"
mkdir -p "$(dirname "$OUT")"

build_gateway nfs

WORK=$(mktemp -d /tmp/bench-nfs.XXXXXX)
STARTED_VM=""; GW_PID=""
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
  [ -n "$STARTED_VM" ] && "$ROOT/tests/rigs/nfs42-vm/stop.sh" --state "$STARTED_VM" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

NFS_PORT=${SMBCOPY_NFS_PORT:-}
if [ -z "$NFS_PORT" ]; then
  STARTED_VM=/tmp/bench-nfs42
  echo "starting the NFS VM (tests/rigs/nfs42-vm)..." >&2
  NFS_PORT=$("$ROOT/tests/rigs/nfs42-vm/start.sh" --state "$STARTED_VM")
fi

NTHASH=64f12cddaa88057e06a81b54e73b949b # Password1
env -u SMBCOPY_NFS_PORT -u SMBCOPY_NFS_STATE -u SMBCOPY_GATEWAY_DLL dotnet "$SMBCOPY_GATEWAY_DLL" \
  --SmbCopy:Smb:Address=127.0.0.1 --SmbCopy:Smb:Port=$GW_PORT --SmbCopy:Http:Address=127.0.0.1 --SmbCopy:Http:Port=$GW_HTTP \
  --SmbCopy:Users:0:Name=alice --SmbCopy:Users:0:NtHash=$NTHASH --SmbCopy:StateDirectory="$WORK/state" \
  --SmbCopy:Shares:0:Name=nfs --SmbCopy:Shares:0:Driver=Nfs --SmbCopy:Shares:0:Server=127.0.0.1 --SmbCopy:Shares:0:Port=$NFS_PORT \
  --SmbCopy:Shares:0:Export=/ \
  --SmbCopy:Shares:1:Name=nfsext4 --SmbCopy:Shares:1:Driver=Nfs --SmbCopy:Shares:1:Server=127.0.0.1 --SmbCopy:Shares:1:Port=$NFS_PORT \
  --SmbCopy:Shares:1:Export=/ext4 >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 120); do
  curl -fs "http://127.0.0.1:$GW_HTTP/healthz/ready" >/dev/null 2>&1 && break
  kill -0 $GW_PID 2>/dev/null || { cat "$WORK/gateway.log" >&2; exit 1; }
  sleep 0.5
done

smb() { # share, commands
  local out
  out=$(smbclient --configfile=/dev/null -p $GW_PORT "//127.0.0.1/$1" -U alice%Password1 -m SMB3_11 -c "$2" 2>&1) \
    || { echo "smbclient $1 '$2' failed: $out" >&2; return 1; }
  if grep -q NT_STATUS_ <<<"$out"; then echo "smbclient $1 '$2': $out" >&2; return 1; fi
}
bytes() { # share method -> smbcopy_copy_bytes_total{share,method} summed
  curl -fs "http://127.0.0.1:$GW_HTTP/metrics" | awk -v s="share=\"$1\"" -v m="method=\"$2\"" \
    '/^smbcopy_copy_bytes_total\{/ && index($0, s) && index($0, m) { t += $NF } END { printf "%.0f", t }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

SRC="$WORK/src.bin"
head -c $((MIB << 20)) /dev/urandom >"$SRC"
SUM=$(sha256sum "$SRC" | cut -d' ' -f1)
NAME="bench-$$"
declare -A RESULT
RAW=""
for share in nfs nfsext4; do
  smb $share "put $SRC $NAME-src.bin"
  server=(); client=(); verdict=""
  for i in $(seq "$RUNS"); do
    order=(server client); [ $((i % 2)) = 0 ] && order=(client server)
    for method in "${order[@]}"; do
      smb $share "del $NAME-dst.bin" 2>/dev/null || true
      if [ $method = server ]; then
        b_off=$(bytes $share offload); b_cl=$(bytes $share clone); b_st=$(bytes $share streamed)
        t0=$(now); smb $share "scopy $NAME-src.bin $NAME-dst.bin"; t1=$(now)
        sleep 1.2 # the exporter caches a scrape for a moment
        d_off=$(( $(bytes $share offload) - b_off )); d_cl=$(( $(bytes $share clone) - b_cl )); d_st=$(( $(bytes $share streamed) - b_st ))
        if [ $((d_off + d_cl)) -lt $((MIB << 20)) ] || [ $d_st != 0 ]; then
          verdict="NO SERVER-SIDE COPY (offload +$d_off, clone +$d_cl, streamed +$d_st)"
        fi
        how="offload +$d_off clone +$d_cl streamed +$d_st"
        t=$(echo "$t1 - $t0" | bc -l); server+=("$t")
      else
        t0=$(now); smb $share "get $NAME-src.bin $WORK/tmp.bin"; smb $share "put $WORK/tmp.bin $NAME-dst.bin"; t1=$(now)
        rm -f "$WORK/tmp.bin"; how="get + put"
        t=$(echo "$t1 - $t0" | bc -l); client+=("$t")
      fi
      if [ "$i" = 1 ]; then
        smb $share "get $NAME-dst.bin $WORK/check.bin"
        [ "$(sha256sum "$WORK/check.bin" | cut -d' ' -f1)" = "$SUM" ] || verdict="DESTINATION DIFFERS ($method)"
        rm -f "$WORK/check.bin"
      fi
      RAW+="| $share | $i | $method | $(printf '%.3f' "$t") | $how |"$'\n'
    done
  done
  smb $share "del $NAME-dst.bin; del $NAME-src.bin" || true
  s=$(printf '%s\n' "${server[@]}" | median); c=$(printf '%s\n' "${client[@]}" | median)
  if [ -n "$verdict" ]; then RESULT[$share]="| $share | $verdict | $c | – |"
  else RESULT[$share]="| $share | $(printf '%.3f' "$s") | $(printf '%.3f' "$c") | $(printf '%.1f' "$(echo "$c / $s" | bc -l)") |"; fi
done

{
  echo "# NFS share: server-side copy (NFS COPY / CLONE) vs client-side copy through the gateway — $STAMP"
  echo
  echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(uname -r); NFS server: Linux 6.1 nfsd in a qemu TCG VM"
  echo "(tests/rigs/nfs42-vm); file $MIB MiB of random data; $RUNS runs, medians; gateway $(basename "$(dirname "$(dirname "$(dirname "$SMBCOPY_GATEWAY_DLL")")")")/$(basename "$(dirname "$(dirname "$SMBCOPY_GATEWAY_DLL")")")."
  echo
  echo "| share (export) | scopy, s | get + put, s | client-side / server-side |"
  echo "|---|---|---|---|"
  echo "${RESULT[nfs]}"
  echo "${RESULT[nfsext4]}"
  echo
  echo "nfs = export \"/\" on btrfs: the copy engine clones (NFS CLONE); nfsext4 = export \"/ext4\": NFS COPY (the server copies)."
  echo
  echo "<details><summary>raw seconds</summary>"
  echo
  echo "| share | run | method | seconds | /metrics delta or steps |"
  echo "|---|---|---|---|---|"
  printf '%s' "$RAW"
  echo
  echo "</details>"
} | tee "$OUT"
echo "written to $OUT" >&2
