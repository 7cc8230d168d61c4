#!/bin/bash
# Optional, for bench/ (not needed by the end-to-end tests): loop filesystems under /tmp/peer, so
# that copy offload can be measured on reflink filesystems, as in shared/rigs/samba/setup.sh:
#   btrfs (SIZE) and xfs -m reflink=1 (SIZE), plus a plain ext4 directory /tmp/peer/ext4.
# Packages (btrfs-progs, xfsprogs) come from tests/install-deps.sh. Idempotent. Needs root + loop devices.
# usage: setup-fs.sh [--size 6G]
set -euo pipefail
SIZE=6G
while [ $# -gt 0 ]; do
  case $1 in --size) SIZE=$2; shift;; *) sed -n 2,6p "$0"; exit 2;; esac; shift
done
mkdir -p /tmp/peer /tmp/peer/ext4
mk() {  # mk NAME MKFS...
  local name=$1; shift
  local img=/tmp/peer/$name.img mnt=/tmp/peer/$name
  mkdir -p "$mnt"
  if mountpoint -q "$mnt"; then echo "$mnt already mounted"; return; fi
  if [ ! -f "$img" ]; then truncate -s "$SIZE" "$img"; "$@" "$img" >/dev/null; fi
  mount -o loop "$img" "$mnt"
  echo "mounted $img on $mnt"
}
mk btrfs mkfs.btrfs -q -f
mk xfs mkfs.xfs -q -f -m reflink=1
for d in btrfs xfs; do
  head -c 1M /dev/urandom > /tmp/peer/$d/.reflink-probe
  cp --reflink=always /tmp/peer/$d/.reflink-probe /tmp/peer/$d/.reflink-probe2 && echo "$d: reflink OK"
  rm -f /tmp/peer/$d/.reflink-probe /tmp/peer/$d/.reflink-probe2
done
mount | grep /tmp/peer || true
