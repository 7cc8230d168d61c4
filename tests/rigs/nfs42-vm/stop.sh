#!/bin/bash
# Stop the VM started by start.sh (by its pid file) and delete its disk images.
# usage: stop.sh [--state DIR]      (default /tmp/smbcopy-nfs42)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE=/tmp/smbcopy-nfs42
if [ "${1:-}" = --state ]; then STATE=$2; shift 2; fi
exec "$HERE/nfs-stop.sh" --state "$STATE"
