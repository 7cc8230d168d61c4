#!/bin/bash
# SmbCopy gateway vs Samba 4.17, side by side in ONE run (shared, noisy machines: never compare
# numbers from different runs). Both servers run at once, on the same file system (a fresh
# directory under /tmp on the root fs), with the same user, SMB 3.1.1 and mandatory signing
# (smbclient --client-protection=sign; both negotiate AES-128-GMAC). Every measurement is
# repeated RUNS times, each server first in half of the runs (shuffled), and reported as a median.
#
#   1. put / get of one SIZE_MIB file of random data (generated once), MiB/s from wall time of
#      the whole smbclient call (connect + auth + open + transfer + close). Page cache dropped
#      before every put (source re-read into cache afterwards) and before every get; get
#      writes to /dev/null, one extra untimed get per server is compared byte for byte.
#   2. smbclient `ls` of a directory of NFILES empty files (same names on both shares; one
#      untimed warm-up listing per server, caches warm).
#   3. server-side copy: smbclient `scopy` (FSCTL_SRV_COPYCHUNK_WRITE) of the SIZE_MIB file.
#      Samba does copy_file_range. If the gateway refuses it, the table says so (no number).
#   0. connect: smbclient `-c pwd` (negotiate + session setup + tree connect), for context.
#
# usage: bench/run.sh [-r RUNS] [-s SIZE_MIB] [-n NFILES] [-o RESULTS_MD] [-B] [-k]
#   -r RUNS      repetitions per server (default 5)      -s SIZE_MIB   file size (default 1024)
#   -n NFILES    files in the listed directory (10000)    -o FILE       results (bench/results/<date>.md)
#   -B           do not build (default: dotnet build -c Release src/Gateway first)
#   -k           keep the work directory (/tmp/bench-smbcopy.*)
# env PORT_BASE (default 5561): Samba on +0, gateway SMB on +1, gateway HTTP on +2.
# Needs root (drop_caches, Samba's useradd), smbd, smbclient, python3-impacket, dotnet.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/.." && pwd); . "$HERE/lib.sh"; RIGS="$ROOT/tests/rigs"
RUNS=5; MIB=1024; NFILES=10000; OUT=""; BUILD=1; KEEP=0
while getopts "r:s:n:o:Bkh" o; do
  case $o in
    r) RUNS=$OPTARG;; s) MIB=$OPTARG;; n) NFILES=$OPTARG;; o) OUT=$OPTARG;; B) BUILD=0;; k) KEEP=1;;
    *) sed -n 2,27p "$0"; exit 2;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (drop_caches, samba rig)" >&2; exit 2; }
PORT_BASE=${PORT_BASE:-5561}
SAMBA_PORT=$PORT_BASE; GW_PORT=$((PORT_BASE + 1)); GW_HTTP=$((PORT_BASE + 2))
PASS=bench-Pw1; SMBUSER=alice
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
[ -n "$OUT" ] || OUT="$HERE/results/$STAMP.md"
mkdir -p "$(dirname "$OUT")"

build_gateway smbcopy

WORK=$(mktemp -d /tmp/bench-smbcopy.XXXXXX); chmod 755 "$WORK"
SERVERS=(samba smbcopy)
declare -A SHARE=([samba]="$WORK/samba-share" [smbcopy]="$WORK/smbcopy-share")
declare -A PORT=([samba]=$SAMBA_PORT [smbcopy]=$GW_PORT)
declare -A SRVPID
cleanup() {
  bash "$RIGS/gateway/stop.sh" -b "$WORK/smbcopy" >/dev/null 2>&1 || true
  bash "$RIGS/samba/stop.sh" -b "$WORK/samba" >/dev/null 2>&1 || true
  if [ "$KEEP" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT


bash "$RIGS/samba/start.sh" -p "$SAMBA_PORT" -b "$WORK/samba" -u "$SMBUSER" -w "$PASS" -s "data=${SHARE[samba]}" >&2
bash "$RIGS/gateway/start.sh" -p "$GW_PORT" -H "$GW_HTTP" -b "$WORK/smbcopy" -u "$SMBUSER" -w "$PASS" -s "data=${SHARE[smbcopy]}" >&2
chmod 0777 "${SHARE[smbcopy]}"
SRVPID[samba]=$(cat "$WORK/samba/smbd.pid"); SRVPID[smbcopy]=$(cat "$WORK/smbcopy/gateway.pid")

# smb SERVER COMMANDS [extra smbclient args...]: output in $WORK/last.out, returns smbclient's status,
# or 1 if it printed an NT_STATUS error (smbclient -c does not always exit non-zero).
smb() {
  local srv=$1 cmds=$2; shift 2
  local rc=0
  timeout 600 smbclient --configfile=/dev/null -p "${PORT[$srv]}" //127.0.0.1/data -U "$SMBUSER%$PASS" \
    -m SMB3_11 --client-protection=sign "$@" -c "$cmds" >"$WORK/last.out" 2>&1 || rc=$?
  if [ $rc = 0 ] && grep -vE 'NT_STATUS_(OK|MORE_PROCESSING_REQUIRED)\b' "$WORK/last.out" | grep -qE 'NT_STATUS_[A-Z_]+|[Ee]rror|[Ff]ailed'; then rc=1; fi
  return $rc
}
# first NT_STATUS (or the last line) of the last smbclient output, for failure reports
why() { grep -oE 'NT_STATUS_[A-Z_]+' "$WORK/last.out" | head -1 || true; }
failure() { local w; w=$(why); [ -n "$w" ] || w=$(tail -1 "$WORK/last.out" | cut -c1-60); echo "${w:-exit $1}"; }

# results: R[test,server] = space-separated seconds; F[test,server] = failure text
declare -A R F
record() {  # record TEST SERVER START RC
  local t=$1 s=$2 start=$3 rc=$4 end; end=$(now)
  if [ "$rc" = 0 ]; then R[$t,$s]+="$(printf "%.3f" "$(echo "$end - $start" | bc)") "
  else F[$t,$s]=$(failure "$rc"); log "$t on $s failed: ${F[$t,$s]}"; fi
}
# server CPU seconds (user + system): the gateway process; smbd's main process plus its reaped
# children (smbd forks one child per connection, reaped when the connection ends). On a loaded
# machine this is steadier than wall time: it does not count time spent waiting for a core.
declare -A C
CPU0=0
begin() { CPU0=$(srv_cpu "$1"); T0=$(now); }
end_cpu() {  # end_cpu TEST SERVER RC
  [ "$3" = 0 ] || return 0
  [ "$2" = samba ] && sleep 0.3  # let smbd reap the connection's child
  C[$1,$2]+="$(printf "%.2f" "$(echo "($(srv_cpu "$2") - $CPU0) / $(getconf CLK_TCK)" | bc -l)") "
}

# ---------------------------------------------------------------- checks and data
declare -A SIGNING
for s in "${SERVERS[@]}"; do
  if timeout 60 smbclient --configfile=/dev/null -p "${PORT[$s]}" //127.0.0.1/data -U "$SMBUSER%$PASS" \
       -m SMB3_11 --client-protection=sign -d 10 -c pwd >"$WORK/last.out" 2>&1; then
    id=$(grep -oE 'sign_algo_id=[0-9]+' "$WORK/last.out" | head -1 | cut -d= -f2 || true)
    case ${id:-none} in 0) SIGNING[$s]="HMAC-SHA256";; 1) SIGNING[$s]="AES-128-CMAC";; 2) SIGNING[$s]="AES-128-GMAC";; *) SIGNING[$s]="NOT SIGNED?";; esac
  else
    echo "cannot connect to $s: $(failure $?)" >&2; tail -20 "$WORK/last.out" >&2; exit 1
  fi
done
log "signing: samba ${SIGNING[samba]}, smbcopy ${SIGNING[smbcopy]}"

log "generating $MIB MiB of random data"
head -c "${MIB}M" /dev/urandom > "$WORK/src.bin"
log "creating $NFILES files in many/ on both shares"
for s in "${SERVERS[@]}"; do
  python3 - "${SHARE[$s]}/many" "$NFILES" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(n):
    open(os.path.join(d, "file%05d.txt" % i), "wb").close()
PY
  chmod -R a+rwX "${SHARE[$s]}/many"
done

# ---------------------------------------------------------------- 0. connect
new_order "$RUNS"
for i in $(seq "$RUNS"); do
  for s in $(order "$i"); do
    begin "$s"; t=$T0; rc=0; smb "$s" pwd || rc=$?; record connect "$s" "$t" $rc; end_cpu connect "$s" $rc
  done
done

# ---------------------------------------------------------------- 1. put / get
log "put: $RUNS x $MIB MiB per server"
new_order "$RUNS"
for i in $(seq "$RUNS"); do
  for s in $(order "$i"); do
    rm -f "${SHARE[$s]}/bench.bin"; drop_caches; cat "$WORK/src.bin" >/dev/null
    begin "$s"; t=$T0; rc=0; smb "$s" "put $WORK/src.bin bench.bin" || rc=$?; record put "$s" "$t" $rc; end_cpu put "$s" $rc
    if [ $rc = 0 ] && ! cmp -s "$WORK/src.bin" "${SHARE[$s]}/bench.bin"; then
      F[put,$s]="WRONG CONTENT after put"; log "put on $s: ${F[put,$s]}"
    fi
  done
done
# get and scopy need bench.bin on both shares, whatever put did
for s in "${SERVERS[@]}"; do
  cmp -s "$WORK/src.bin" "${SHARE[$s]}/bench.bin" 2>/dev/null || cp "$WORK/src.bin" "${SHARE[$s]}/bench.bin"
  chmod 0666 "${SHARE[$s]}/bench.bin"
done

log "get: $RUNS x $MIB MiB per server"
new_order "$RUNS"
for i in $(seq "$RUNS"); do
  for s in $(order "$i"); do
    [ -n "${F[get,$s]:-}" ] && continue  # a server that failed once is not asked again
    drop_caches
    begin "$s"; t=$T0; rc=0; smb "$s" "get bench.bin /dev/null" || rc=$?; record get "$s" "$t" $rc; end_cpu get "$s" $rc
  done
done
for s in "${SERVERS[@]}"; do  # content check, untimed
  [ -n "${F[get,$s]:-}" ] && continue
  rm -f "$WORK/back.bin"
  if ! smb "$s" "get bench.bin $WORK/back.bin" || ! cmp -s "$WORK/src.bin" "$WORK/back.bin"; then
    F[get,$s]="WRONG CONTENT after get"; R[get,$s]=""; log "get on $s: ${F[get,$s]}"
  fi
  rm -f "$WORK/back.bin"
done

# ---------------------------------------------------------------- 2. ls
log "ls of $NFILES files: $RUNS runs per server"
declare -A LSCOUNT
for s in "${SERVERS[@]}"; do
  if smb "$s" 'ls many\*'; then LSCOUNT[$s]=$(grep -c 'file[0-9]\{5\}\.txt' "$WORK/last.out" || true)
  else F[ls,$s]=$(failure $?); log "ls on $s failed: ${F[ls,$s]}"; fi
  if [ -z "${F[ls,$s]:-}" ] && [ "${LSCOUNT[$s]}" != "$NFILES" ]; then
    F[ls,$s]="listed ${LSCOUNT[$s]} of $NFILES files"; log "ls on $s: ${F[ls,$s]}"
  fi
done
new_order "$RUNS"
for i in $(seq "$RUNS"); do
  for s in $(order "$i"); do
    [ -n "${F[ls,$s]:-}" ] && continue
    begin "$s"; t=$T0; rc=0; smb "$s" 'ls many\*' || rc=$?; record ls "$s" "$t" $rc; end_cpu ls "$s" $rc
  done
done

# ---------------------------------------------------------------- 3. scopy
# smbclient's scopy silently falls back to READ + WRITE through the client when the server answers
# INVALID_DEVICE_REQUEST, so: (a) probe copy-chunk with impacket first; (b) watch how many bytes the
# timed smbclient reads (/proc/PID/io rchar, sampled): a real server-side copy reads a few KiB.
log "scopy (server-side copy-chunk) of $MIB MiB: $RUNS runs per server"
declare -A PROBE
for s in "${SERVERS[@]}"; do
  PROBE[$s]=$(/usr/bin/python3 "$HERE/copychunk-probe.py" "${PORT[$s]}" "$SMBUSER" "$PASS" data bench.bin probe.bin 2>&1 | tail -1)
  rm -f "${SHARE[$s]}/probe.bin"
  log "copy-chunk probe on $s: ${PROBE[$s]}"
  [ "${PROBE[$s]}" = ok ] || F[scopy,$s]="copy-chunk probe: ${PROBE[$s]}"
done
smb_rchar() {  # like smb, and sets RCHAR = the most bytes smbclient was seen to have read
  local srv=$1 cmds=$2 rc=0 pid r
  smbclient --configfile=/dev/null -p "${PORT[$srv]}" //127.0.0.1/data -U "$SMBUSER%$PASS" \
    -m SMB3_11 --client-protection=sign -c "$cmds" >"$WORK/last.out" 2>&1 &
  pid=$!; RCHAR=0
  while kill -0 $pid 2>/dev/null; do
    r=$(awk '/^rchar/ {print $2}' /proc/$pid/io 2>/dev/null || true)
    [ -n "$r" ] && [ "$r" -gt "$RCHAR" ] && RCHAR=$r
    sleep 0.05
  done
  wait $pid || rc=$?
  if [ $rc = 0 ] && grep -qE 'NT_STATUS_[A-Z_]+|[Ee]rror|[Ff]ailed' "$WORK/last.out"; then rc=1; fi
  return $rc
}
new_order "$RUNS"
for i in $(seq "$RUNS"); do
  for s in $(order "$i"); do
    [ -n "${F[scopy,$s]:-}" ] && continue
    rm -f "${SHARE[$s]}/copy.bin"; drop_caches
    begin "$s"; t=$T0; rc=0; smb_rchar "$s" 'scopy bench.bin copy.bin' || rc=$?; record scopy "$s" "$t" $rc; end_cpu scopy "$s" $rc
    if [ $rc = 0 ] && ! cmp -s "$WORK/src.bin" "${SHARE[$s]}/copy.bin"; then
      F[scopy,$s]="WRONG CONTENT after scopy"; R[scopy,$s]=""; log "scopy on $s: ${F[scopy,$s]}"
    elif [ $rc = 0 ] && [ "$RCHAR" -gt $((MIB * 1024 * 1024 / 4)) ]; then
      F[scopy,$s]="client-side fallback: smbclient read $((RCHAR / 1048576)) MiB"; R[scopy,$s]=""; log "scopy on $s: ${F[scopy,$s]}"
    fi
  done
done
rm -f "${SHARE[samba]}/copy.bin" "${SHARE[smbcopy]}/copy.bin"

# ---------------------------------------------------------------- report
count() { tr ' ' '\n' | grep -vc '^$' || true; }
# cell TEST SERVER KIND: CELL = "value (n/RUNS)" or "FAILED (why)"; V[server] = the value for the ratio
declare -A V; CELL=""
cell() { CELL=$(cell_text "$@"); V[$2]=$(cat "$WORK/v" 2>/dev/null || true); rm -f "$WORK/v"; }
cell_text() {
  local t=$1 s=$2 kind=$3 m n
  m=$(echo "${R[$t,$s]:-}" | median); n=$(echo "${R[$t,$s]:-}" | count)
  rm -f "$WORK/v"
  if [ -n "${F[$t,$s]:-}" ] && [ -z "$m" ]; then
    case ${F[$t,$s]} in
      "copy-chunk probe"*|"client-side fallback"*) echo "NO SERVER-SIDE COPY (${F[$t,$s]})";;
      *) echo "FAILED (${F[$t,$s]})";;
    esac
    return
  fi
  [ -z "$m" ] && { echo "no data"; return; }
  local note=""; [ "$n" != "$RUNS" ] && note=" ($n/$RUNS ok${F[$t,$s]:+, ${F[$t,$s]}})"
  case $kind in
    rate) local v; v=$(echo "$MIB / $m" | bc -l); echo "$v" > "$WORK/v"; printf '%.0f MiB/s (%.2f s)%s' "$v" "$m" "$note";;
    ms)   echo "$m" > "$WORK/v"; printf '%.0f ms%s' "$(echo "$m * 1000" | bc -l)" "$note";;
    s)    echo "$m" > "$WORK/v"; printf '%.3f s%s' "$m" "$note";;
  esac
}
ratio() {  # SmbCopy/Samba of the shown metric, and what it means
  local kind=$1
  if [ -z "${V[samba]}" ] || [ -z "${V[smbcopy]}" ]; then echo "—"; return; fi
  local r; r=$(echo "${V[smbcopy]} / ${V[samba]}" | bc -l)
  if [ "$kind" = rate ]; then printf '%.2f (higher is better)' "$r"; else printf '%.2f (lower is better)' "$r"; fi
}
ROWS=(
  "connect|connect + auth + tree (smbclient pwd)|ms"
  "put|put $MIB MiB|rate"
  "get|get $MIB MiB (cold cache)|rate"
  "ls|ls of $NFILES files|ms"
  "scopy|scopy $MIB MiB (server-side copy)|s"
)
cpu_cell() {  # median server CPU seconds of TEST for both servers and their ratio
  local t=$1 a b
  a=$(echo "${C[$t,samba]:-}" | median); b=$(echo "${C[$t,smbcopy]:-}" | median)
  if [ -z "$a" ] || [ -z "$b" ]; then printf '%s / %s' "${a:+$(printf '%.2f' "$a")}" "${b:+$(printf '%.2f' "$b")}"; return; fi
  if [ "$(echo "$a > 0" | bc)" = 1 ]; then printf '%.2f / %.2f s (×%.2f)' "$a" "$b" "$(echo "$b / $a" | bc -l)"
  else printf '%.2f / %.2f s' "$a" "$b"; fi
}
TABLE="| test | Samba 4.17 | SmbCopy | SmbCopy/Samba | server CPU Samba / SmbCopy |
|---|---|---|---|---|"
for row in "${ROWS[@]}"; do
  IFS='|' read -r t label kind <<<"$row"
  cell "$t" samba "$kind"; a=$CELL
  cell "$t" smbcopy "$kind"; b=$CELL
  TABLE+=$'\n'"| $label | $a | $b | $(ratio "$kind") | $(cpu_cell "$t") |"
done

GW_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
GW_DIRTY=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | grep -q . && echo ' (src modified)' || true)
MACHINE="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, Linux $(uname -r)"
FS="$(findmnt -n -o FSTYPE --target "$WORK") ($(findmnt -n -o SOURCE --target "$WORK"), $WORK)"
{
  echo "# SmbCopy vs Samba — $STAMP"
  echo
  echo "- machine: $MACHINE; load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- file system (both shares): $FS"
  echo "- servers: Samba $(smbd --version | awk '{print $2}') (tests/rigs/samba, server signing = mandatory) and SmbCopy $GW_COMMIT$GW_DIRTY, Release build, .NET $(dotnet --version 2>/dev/null)"
  echo "- client: smbclient $(smbclient --version | awk '{print $2}') -m SMB3_11 --client-protection=sign; signing negotiated: Samba ${SIGNING[samba]}, SmbCopy ${SIGNING[smbcopy]}"
  echo "- $RUNS runs per server per test, each server first in half of them (shuffled, ORDER_SEED=$ORDER_SEED); medians; times are wall clock of the whole smbclient call"
  echo "- put: caches dropped, source file re-read into cache, target deleted first; get: caches dropped, to /dev/null; content checked with cmp (put: every run, get/scopy: once/every run)"
  echo "- server CPU: user+system seconds of the gateway process / of smbd and its reaped per-connection child, medians; steadier than wall time on a loaded machine"
  echo "- ls: caches warm, one untimed listing first; scopy: caches dropped, target deleted first"
  echo
  echo "$TABLE"
  echo
  echo "Raw seconds per run (in run order):"
  echo
  for t in connect put get ls scopy; do
    for s in "${SERVERS[@]}"; do echo "- $t $s: ${R[$t,$s]:-none}${F[$t,$s]:+ — ${F[$t,$s]}}; server CPU s: ${C[$t,$s]:-none}"; done
  done
} > "$OUT"
echo
echo "$TABLE"
echo
echo "results written to $OUT"
