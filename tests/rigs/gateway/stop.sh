#!/bin/bash
# Stop the gateway started by start.sh -b BASEDIR (default /tmp/smbcopy-gateway): its PID only.
set -uo pipefail
BASE=/tmp/smbcopy-gateway
while getopts "b:h" o; do case $o in b) BASE=$OPTARG;; *) sed -n 2,2p "$0"; exit 2;; esac; done
[ -f "$BASE/gateway.pid" ] || { echo "no gateway for $BASE"; exit 0; }
PID=$(cat "$BASE/gateway.pid")
if kill -0 "$PID" 2>/dev/null; then
  kill -TERM "$PID"
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
fi
rm -f "$BASE/gateway.pid"; echo "stopped"
