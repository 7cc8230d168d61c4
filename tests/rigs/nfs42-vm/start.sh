#!/bin/bash
# Start the NFSv4.2 test server VM for the storage tests (once per test run) and print its NFS port
# on stdout (one line, nothing else); everything else goes to stderr.
# Free host ports are picked for NFS and for the control port (restart-nfsd; see ctl.sh).
# The VM exports "/" (btrfs, CLONE-capable) and "/ext4" (ext4: CLONE -> NFS4ERR_NOTSUPP).
# Guest kernel/initramfs cache: $NFS42_CACHE (default /var/cache/nfs42-vm).
# usage: start.sh [--state DIR] [extra nfs-start.sh options]      (default state /tmp/smbcopy-nfs42)
# Stop with stop.sh --state DIR. Needs root.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE=/tmp/smbcopy-nfs42
if [ "${1:-}" = --state ]; then STATE=$2; shift 2; fi
PORT=$("$HERE/../free-port.sh"); CTL=$("$HERE/../free-port.sh")
while [ "$CTL" = "$PORT" ]; do CTL=$("$HERE/../free-port.sh"); done
"$HERE/nfs-start.sh" --port "$PORT" --ctl-port "$CTL" --state "$STATE" --size 4G --ext4-size 512M "$@" >&2
echo "$PORT"
