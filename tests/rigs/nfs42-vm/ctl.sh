#!/bin/bash
# Send one command to the VM's control port and print the answer.
# usage: ctl.sh [--state DIR] restart-nfsd|ping
set -euo pipefail
STATE=/tmp/smbcopy-nfs42
if [ "${1:-}" = --state ]; then STATE=$2; shift 2; fi
CTL=$(cat "$STATE/ctlport")
exec 3<>"/dev/tcp/127.0.0.1/$CTL"
echo "$1" >&3
timeout 30 head -n 1 <&3
