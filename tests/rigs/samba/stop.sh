#!/bin/bash
# Stop the private smbd started by start.sh (and only it): the PID recorded in
# BASEDIR/smbd.pid, its descendants, and any process whose command line names this instance's
# smb.conf (samba-dcerpcd / rpcd_* helpers that smbd spawned on demand).  Signals go to explicit PIDs.
# usage: stop.sh [-b BASEDIR]      (default /tmp/smbcopy-samba)
set -uo pipefail
BASE=/tmp/smbcopy-samba
while getopts "b:h" o; do case $o in b) BASE=$OPTARG;; *) sed -n 2,6p "$0"; exit 2;; esac; done
PIDFILE="$BASE/smbd.pid"; CONF=$(cat "$BASE/conf.path" 2>/dev/null || echo "$BASE/smb.conf")

descendants() { local p; for p in $(pgrep -P "$1" 2>/dev/null); do echo "$p"; descendants "$p"; done; }

PIDS=()
if [ -f "$PIDFILE" ]; then
  MAIN=$(cat "$PIDFILE")
  if kill -0 "$MAIN" 2>/dev/null; then PIDS+=("$MAIN"); PIDS+=($(descendants "$MAIN")); fi
fi
# helpers that outlive / were re-parented from smbd but carry our config path
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  if { tr "\0" " " < "$d/cmdline"; } 2>/dev/null | grep -qF -- "$CONF"; then PIDS+=("$p"); fi
done
mapfile -t PIDS < <(printf '%s\n' "${PIDS[@]}" | grep -v '^$' | sort -un)
if [ ${#PIDS[@]} -eq 0 ]; then echo "no smbd for $BASE running"; rm -f "$PIDFILE"; exit 0; fi
echo "stopping pids: ${PIDS[*]}"
kill -TERM "${PIDS[@]}" 2>/dev/null
for i in $(seq 1 50); do
  alive=(); for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
  [ ${#alive[@]} -eq 0 ] && break
  sleep 0.1
done
if [ ${#alive[@]} -gt 0 ]; then echo "SIGKILL: ${alive[*]}"; kill -KILL "${alive[@]}" 2>/dev/null; fi
rm -f "$PIDFILE"
echo "stopped"
