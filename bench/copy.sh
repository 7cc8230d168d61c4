#!/bin/bash
# Server-side copy, SmbCopy gateway vs Samba 4.17, side by side in ONE run (issue 4, acceptance 5).
# Both servers run at once with one share per file system: btrfs and xfs (-m reflink=1) loop images
# made here (as tests/rigs/samba/setup-fs.sh does, but private to this run), and a directory on the
# root fs (ext4 here). Samba's btrfs share loads vfs_btrfs (its only clone path); SMB 3.1.1, signing.
#
#   scopy   smbclient `scopy` (FSCTL_SRV_REQUEST_RESUME_KEY + FSCTL_SRV_COPYCHUNK_WRITE, 16 x 1 MiB
#           chunks per request, one request at a time) of a SIZE_MIB file of random data; caches
#           dropped and the target deleted before each run; wall time of the whole smbclient call
#           (connect + auth + tree + opens + copy); content compared after the last run of each server;
#           smbclient's /proc/PID/io rchar sampled (a client-side fallback would read the whole file);
#           whether the copy's extents are shared with the source (filefrag -v) on btrfs / xfs.
#   dupext  bench/dupextents.py: one FSCTL_DUPLICATE_EXTENTS_TO_FILE of the whole file into a target
#           whose end of file was set first; only the ioctl's round trip is timed. One untimed warm-up.
#
# usage: bench/copy.sh [-r RUNS] [-s SIZE_MIB] [-o RESULTS_MD] [-B] [-k]
#   -r RUNS (default 5), -s SIZE_MIB (default 1024), -o FILE (default bench/results/copy-<date>.md),
#   -B no build (default: dotnet build -c Release src/Gateway), -k keep the work directory
# env PORT_BASE (default 5571): Samba on +0, gateway SMB on +1, gateway HTTP on +2.
# Needs root (loop mounts, drop_caches, Samba's useradd), mkfs.btrfs, mkfs.xfs, smbd, smbclient,
# python3-impacket (/usr/bin/python3), dotnet.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/.." && pwd); . "$HERE/lib.sh"; RIGS="$ROOT/tests/rigs"
RUNS=5; MIB=1024; OUT=""; BUILD=1; KEEP=0
while getopts "r:s:o:Bkh" o; do
  case $o in
    r) RUNS=$OPTARG;; s) MIB=$OPTARG;; o) OUT=$OPTARG;; B) BUILD=0;; k) KEEP=1;;
    *) sed -n 2,21p "$0"; exit 2;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (loop mounts, drop_caches, samba rig)" >&2; exit 2; }
PORT_BASE=${PORT_BASE:-5571}
SAMBA_PORT=$PORT_BASE; GW_PORT=$((PORT_BASE + 1)); GW_HTTP=$((PORT_BASE + 2))
PASS=bench-Pw1; SMBUSER=alice; PY=/usr/bin/python3
STAMP=$(date -u +%Y-%m-%dT%H%MZ); LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
[ -n "$OUT" ] || OUT="$HERE/results/copy-$STAMP.md"
mkdir -p "$(dirname "$OUT")"

build_gateway copy

WORK=$(mktemp -d /tmp/bench-copy.XXXXXX); chmod 755 "$WORK"
FSS=(btrfs xfs ext4)
SERVERS=(samba smbcopy)
declare -A PORT=([samba]=$SAMBA_PORT [smbcopy]=$GW_PORT) SRVPID
cleanup() {
  bash "$RIGS/gateway/stop.sh" -b "$WORK/smbcopy" >/dev/null 2>&1 || true
  bash "$RIGS/samba/stop.sh" -b "$WORK/samba" >/dev/null 2>&1 || true
  for f in btrfs xfs; do mountpoint -q "$WORK/$f" && umount "$WORK/$f"; done
  if [ "$KEEP" = 1 ]; then echo "kept $WORK (unmounted)" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- file systems and servers
IMG=$(( MIB * 3 + 1024 ))M  # source + one copy per server, plus room for metadata
mkdir -p "$WORK/btrfs" "$WORK/xfs" "$WORK/ext4"
truncate -s "$IMG" "$WORK/btrfs.img" "$WORK/xfs.img"
mkfs.btrfs -q -f "$WORK/btrfs.img" >/dev/null; mount -o loop "$WORK/btrfs.img" "$WORK/btrfs"
mkfs.xfs -q -f -m reflink=1 "$WORK/xfs.img" >/dev/null; mount -o loop "$WORK/xfs.img" "$WORK/xfs"
declare -A DIR
for f in "${FSS[@]}"; do for s in "${SERVERS[@]}"; do
  DIR[$f,$s]="$WORK/$f/$s"; mkdir -p "${DIR[$f,$s]}"; chmod 0777 "${DIR[$f,$s]}"
done; done
bash "$RIGS/samba/start.sh" -p "$SAMBA_PORT" -b "$WORK/samba" -u "$SMBUSER" -w "$PASS" \
  -s "btrfs=${DIR[btrfs,samba]}:btrfs" -s "xfs=${DIR[xfs,samba]}" -s "ext4=${DIR[ext4,samba]}" >&2
bash "$RIGS/gateway/start.sh" -p "$GW_PORT" -H "$GW_HTTP" -b "$WORK/smbcopy" -u "$SMBUSER" -w "$PASS" \
  -s "btrfs=${DIR[btrfs,smbcopy]}" -s "xfs=${DIR[xfs,smbcopy]}" -s "ext4=${DIR[ext4,smbcopy]}" >&2
SRVPID[samba]=$(cat "$WORK/samba/smbd.pid"); SRVPID[smbcopy]=$(cat "$WORK/smbcopy/gateway.pid")

log "generating $MIB MiB of random data, one plain (unshared) copy per share"
head -c "${MIB}M" /dev/urandom > "$WORK/src.bin"
for f in "${FSS[@]}"; do for s in "${SERVERS[@]}"; do
  cp --reflink=never "$WORK/src.bin" "${DIR[$f,$s]}/bench.bin"; chmod 0666 "${DIR[$f,$s]}/bench.bin"
done; done

# ---------------------------------------------------------------- measuring helpers
declare -A R F C SHARED
cpu_since() { [ "$2" = samba ] && sleep 0.3; printf "%.2f" "$(echo "($(srv_cpu "$2") - $1) / $(getconf CLK_TCK)" | bc -l)"; }
scopy() {  # scopy SERVER FS: runs smbclient scopy, sets RC, RCHAR (most bytes smbclient read), OUTPUT
  local srv=$1 fs=$2 pid r
  smbclient --configfile=/dev/null -p "${PORT[$srv]}" "//127.0.0.1/$fs" -U "$SMBUSER%$PASS" \
    -m SMB3_11 --client-protection=sign -c 'scopy bench.bin copy.bin' >"$WORK/last.out" 2>&1 &
  pid=$!; RCHAR=0; RC=0
  while kill -0 $pid 2>/dev/null; do
    r=$(awk '/^rchar/ {print $2}' /proc/$pid/io 2>/dev/null || true)
    [ -n "$r" ] && [ "$r" -gt "$RCHAR" ] && RCHAR=$r
    sleep 0.02
  done
  wait $pid || RC=$?
  if [ $RC = 0 ] && grep -qE 'NT_STATUS_[A-Z_]+|[Ee]rror|[Ff]ailed' "$WORK/last.out"; then RC=1; fi
}

# ---------------------------------------------------------------- scopy
for f in "${FSS[@]}"; do
  log "scopy of $MIB MiB on $f: $RUNS runs per server"
  new_order "$RUNS"
  for i in $(seq "$RUNS"); do
    for s in $(order "$i"); do
      [ -n "${F[scopy-$f,$s]:-}" ] && continue
      rm -f "${DIR[$f,$s]}/copy.bin"; drop_caches
      c0=$(srv_cpu "$s"); t0=$(now); scopy "$s" "$f"; t1=$(now)
      if [ $RC != 0 ]; then
        F[scopy-$f,$s]=$(grep -oE 'NT_STATUS_[A-Z_]+' "$WORK/last.out" | head -1 || echo "exit $RC"); continue
      fi
      C[scopy-$f,$s]+="$(cpu_since "$c0" "$s") "
      if [ "$RCHAR" -gt $((MIB * 1024 * 1024 / 4)) ]; then
        F[scopy-$f,$s]="client-side fallback: smbclient read $((RCHAR / 1048576)) MiB"; continue
      fi
      R[scopy-$f,$s]+="$(printf "%.3f" "$(echo "$t1 - $t0" | bc)") "
    done
  done
  for s in "${SERVERS[@]}"; do
    [ -n "${F[scopy-$f,$s]:-}" ] && continue
    cmp -s "$WORK/src.bin" "${DIR[$f,$s]}/copy.bin" || { F[scopy-$f,$s]="WRONG CONTENT"; R[scopy-$f,$s]=""; }
    if [ "$f" != ext4 ]; then
      SHARED[$f,$s]=$(filefrag -v "${DIR[$f,$s]}/copy.bin" 2>/dev/null | awk '/^ *[0-9]+:/ { n++; if ($0 ~ /shared/) sh++ } END { printf "%d/%d extents shared", sh, n }')
    fi
    rm -f "${DIR[$f,$s]}/copy.bin"
  done
done

# ---------------------------------------------------------------- duplicate extents
for f in "${FSS[@]}"; do
  log "duplicate extents of $MIB MiB on $f: $RUNS runs per server"
  for s in "${SERVERS[@]}"; do  # warm-up (JIT, first open), untimed; also tells whether it is supported
    out=$($PY "$HERE/dupextents.py" "${PORT[$s]}" "$SMBUSER" "$PASS" "$f" bench.bin dup.bin 2>&1 | tail -1)
    [ "${out%% *}" = ok ] || F[dupext-$f,$s]=${out#unsupported: }
  done
  new_order "$RUNS"
  for i in $(seq "$RUNS"); do
    for s in $(order "$i"); do
      [ -n "${F[dupext-$f,$s]:-}" ] && continue
      rm -f "${DIR[$f,$s]}/dup.bin"; drop_caches
      c0=$(srv_cpu "$s")
      out=$($PY "$HERE/dupextents.py" "${PORT[$s]}" "$SMBUSER" "$PASS" "$f" bench.bin dup.bin 2>&1 | tail -1)
      if [ "${out%% *}" = ok ]; then R[dupext-$f,$s]+="${out#ok } "; C[dupext-$f,$s]+="$(cpu_since "$c0" "$s") "
      else F[dupext-$f,$s]=${out#unsupported: }; fi
    done
  done
  for s in "${SERVERS[@]}"; do rm -f "${DIR[$f,$s]}/dup.bin"; done
done

# ---------------------------------------------------------------- report
cell() {  # cell TEST SERVER UNIT MEDIAN -> text
  local t=$1 s=$2 u=$3 m=$4
  if [ -z "$m" ]; then echo "${F[$t,$s]:+not done: ${F[$t,$s]}}"; return 0; fi
  if [ "$u" = ms ]; then printf '%.1f ms' "$(echo "$m * 1000" | bc -l)"; else printf '%.3f s' "$m"; fi
  [ -n "${F[$t,$s]:-}" ] && printf ' (%s)' "${F[$t,$s]}"
  return 0
}
TESTS=(scopy-btrfs scopy-xfs scopy-ext4 dupext-btrfs dupext-xfs dupext-ext4)
TABLE="| test | Samba 4.17 | SmbCopy | SmbCopy/Samba (time, lower is better) | server CPU Samba / SmbCopy (s, median) |
|---|---|---|---|---|"
for t in "${TESTS[@]}"; do
  u=s; [ "${t%%-*}" = dupext ] && u=ms
  ma=$(echo "${R[$t,samba]:-}" | median); mb=$(echo "${R[$t,smbcopy]:-}" | median)
  a=$(cell "$t" samba $u "$ma"); b=$(cell "$t" smbcopy $u "$mb")
  ratio="—"
  if [ -n "$ma" ] && [ -n "$mb" ]; then ratio=$(printf '%.2f' "$(echo "$mb / $ma" | bc -l)"); fi
  ca=$(echo "${C[$t,samba]:-}" | median); cb=$(echo "${C[$t,smbcopy]:-}" | median)
  fs=${t#*-}; label="${t%%-*} $MIB MiB on $fs"
  [ "${t%%-*}" = scopy ] && [ "$fs" != ext4 ] && label+=" (${SHARED[$fs,samba]:-?} / ${SHARED[$fs,smbcopy]:-?})"
  TABLE+=$'\n'"| $label | $a | $b | $ratio | ${ca:-—} / ${cb:-—} |"
done
GW_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
GW_DIRTY=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | grep -q . && echo ' (src modified)' || true)
{
  echo "# Server-side copy: SmbCopy vs Samba — $STAMP"
  echo
  echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, Linux $(uname -r); load before run: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- file systems: btrfs and xfs (reflink=1) loop images of $IMG in $WORK, ext4 = $(findmnt -n -o SOURCE --target "$WORK")"
  echo "- servers: Samba $(smbd --version | awk '{print $2}') (vfs_btrfs on the btrfs share) and SmbCopy $GW_COMMIT$GW_DIRTY, Release, .NET $(dotnet --version 2>/dev/null); SMB 3.1.1, signing"
  echo "- $RUNS runs per server, each first in half of them (shuffled, ORDER_SEED=$ORDER_SEED); medians; scopy = wall time of the whole smbclient call, caches dropped; dupext = the ioctl's round trip (impacket)"
  echo "- scopy rows on btrfs/xfs: extents of the copy shared with the source (filefrag -v), Samba / SmbCopy"
  echo
  echo "$TABLE"
  echo
  echo "Raw seconds per run (in run order):"
  echo
  for t in "${TESTS[@]}"; do
    for s in "${SERVERS[@]}"; do echo "- $t $s: ${R[$t,$s]:-none}${F[$t,$s]:+ — ${F[$t,$s]}}; server CPU s: ${C[$t,$s]:-none}"; done
  done
} > "$OUT"
echo; echo "$TABLE"; echo; echo "results written to $OUT"
