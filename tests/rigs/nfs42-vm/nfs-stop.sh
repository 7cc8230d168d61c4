#!/usr/bin/env bash
# Stop the NFSv4.2 test server VM started by nfs-start.sh (by its pid file only) and
# delete its disk image.  usage: nfs-stop.sh [--state DIR] [--keep-disk]
set -euo pipefail
STATE=/tmp/nfs42-server KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in --state) STATE=$2; shift 2;; --keep-disk) KEEP=1; shift;; *) echo "unknown option $1" >&2; exit 2;; esac
done
if [ -f "$STATE/qemu.pid" ]; then
  pid=$(cat "$STATE/qemu.pid")
  if kill -0 "$pid" 2>/dev/null && grep -q qemu-system "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "nfs-stop: stopped qemu pid $pid"
  else
    echo "nfs-stop: not running (stale pid $pid)"
  fi
  rm -f "$STATE/qemu.pid" "$STATE/ready"
else
  echo "nfs-stop: nothing to stop in $STATE"
fi
[ "$KEEP" = 1 ] || rm -f "$STATE/disk.img" "$STATE/disk2.img"
