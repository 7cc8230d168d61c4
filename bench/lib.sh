# Shared by bench/run.sh, bench/copy.sh and bench/nfs-copy.sh (sourced; expects ROOT, BUILD and SRVPID where used).

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# build_gateway NAME: a Release build of src/Gateway unless -B was given (BUILD=0); sets SMBCOPY_GATEWAY_DLL.
build_gateway() {
  if [ "$BUILD" = 1 ]; then
    echo "building the gateway (Release)..." >&2
    (cd "$ROOT" && dotnet build -c Release src/Gateway -v q -nologo >"/tmp/bench-$1-build.log" 2>&1) \
      || { tail -30 "/tmp/bench-$1-build.log" >&2; exit 1; }
  fi
  export SMBCOPY_GATEWAY_DLL=${SMBCOPY_GATEWAY_DLL:-$ROOT/src/Gateway/bin/Release/net10.0/smbcopy.dll}
  [ -f "$SMBCOPY_GATEWAY_DLL" ] || { echo "$SMBCOPY_GATEWAY_DLL missing (drop -B)" >&2; exit 1; }
}

# srv_cpu SERVER: user+system ticks of the gateway process / of smbd plus its reaped per-connection children.
srv_cpu() {
  local f; f=$(sed 's/.*) //' "/proc/${SRVPID[$1]}/stat" 2>/dev/null) || { echo 0; return; }
  echo "$f" | awk -v s="$1" '{ t = $12 + $13; if (s == "samba") t += $14 + $15; print t }'
}

# median: of the numbers on stdin (space or newline separated); prints nothing for none.
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Which server goes first in run i: per test (call new_order RUNS before its loop), a shuffled list with each server
# first in half the runs. A fixed ABBA pattern aliased with a periodic slow-down of this VM (every 2nd or 4th 1 GiB
# write into the page cache copied ~3x slower, whichever server made it: probably first touch of guest memory the
# host had taken back) and charged every slow run to one server. ORDER_SEED reproduces a run's orders.
ORDER_SEED=${ORDER_SEED:-$RANDOM}; RANDOM=$ORDER_SEED
new_order() {
  local n=$1 i j t; FIRST=()
  for ((i = 0; i < n; i++)); do FIRST[i]=$((i % 2)); done
  for ((i = n - 1; i > 0; i--)); do j=$((RANDOM % (i + 1))); t=${FIRST[i]}; FIRST[i]=${FIRST[j]}; FIRST[j]=$t; done
}
order() { if [ "${FIRST[$(($1 - 1))]}" = 0 ]; then echo samba smbcopy; else echo smbcopy samba; fi; }
