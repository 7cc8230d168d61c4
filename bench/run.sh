#!/bin/bash
# Skeleton: smbclient put/get throughput of one file against samba or gateway (tests/rigs/*),
# median of RUNS, printed as TSV. Copy-chunk and duplicate-extents measurements are still to do.
# usage: bench/run.sh samba|gateway [SIZE_MIB (default 256)] [SHARE_DIR (default a temp dir on /tmp)]
# env RUNS (default 3)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); RIGS="$HERE/../tests/rigs"
TARGET=${1:?samba or gateway}; MIB=${2:-256}; RUNS=${RUNS:-3}
WORK=$(mktemp -d /tmp/smbcopy-bench.XXXXXX); chmod 755 "$WORK"
SHARE_DIR=${3:-$WORK/share}
PORT=$(bash "$RIGS/free-port.sh"); PASS=bench-Pw1
trap 'bash "$RIGS/$TARGET/stop.sh" -b "$WORK/rig" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
bash "$RIGS/$TARGET/start.sh" -p "$PORT" -b "$WORK/rig" -u alice -w "$PASS" -s "data=$SHARE_DIR"
head -c "${MIB}M" /dev/urandom > "$WORK/src.bin"
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
secs() { local t; t=$(date +%s.%N); "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; exit 1; }; echo "$(date +%s.%N) - $t" | bc; }
smb() { smbclient --configfile=/dev/null -p "$PORT" //127.0.0.1/data -U "alice%$PASS" -m SMB3_11 -c "$1"; }
put=$(for _ in $(seq "$RUNS"); do secs smb "put $WORK/src.bin bench.bin"; done | median)
get=$(for _ in $(seq "$RUNS"); do sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; secs smb "get bench.bin $WORK/back.bin"; done | median)
cmp "$WORK/src.bin" "$WORK/back.bin"
printf 'target\tsize_mib\tput_s\tget_s\tput_mib_s\tget_mib_s\n'
printf '%s\t%s\t%s\t%s\t%.0f\t%.0f\n' "$TARGET" "$MIB" "$put" "$get" "$(echo "$MIB / $put" | bc -l)" "$(echo "$MIB / $get" | bc -l)"
