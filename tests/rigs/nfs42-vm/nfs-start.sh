#!/usr/bin/env bash
# Start a REAL NFSv4.2 server (the Linux kernel nfsd, with COPY/CLONE/OFFLOAD_STATUS/SEEK/ALLOCATE/
# DEALLOCATE) on 127.0.0.1:PORT for tests, using Debian packages only.
#
# How: the host kernel has no nfsd, so a tiny qemu VM (TCG software emulation; KVM here is PVM and
# cannot boot a stock kernel) boots Debian's linux-image-*-cloud-amd64 with a busybox initramfs that
# loads nfsd and exports a btrfs (reflink-capable) disk image as the NFSv4 root "/" (fsid=0),
# AUTH_SYS, no root squash, "insecure" (unprivileged client ports OK). qemu user networking
# forwards 127.0.0.1:PORT -> guest :2049 (restrict=on: the guest can reach nothing else).
# No rpcbind / rpc.mountd / nfsdcld / systemd: the export caches are written straight into the kernel.
#
# usage: nfs-start.sh [--port 20490] [--fs btrfs|xfs|ext4] [--size 4G] [--state DIR] [--mem MiB]
#                     [--threads 8] [--lease 30] [--grace 10] [--selftest] [--timeout 180]
#                     [--ctl-port PORT] [--ext4-size 256M]
#   --ctl-port   forward 127.0.0.1:PORT -> guest control port 2050 ('restart-nfsd', 'ping'; see ctl.sh)
#   --ext4-size  add a second (ext4, no reflink) disk exported as /ext4 (0 = none)
# Prints "NFS42 READY host=127.0.0.1 port=PORT export=/ ..." once OPEN works (grace period over).
# Stop with nfs-stop.sh [--state DIR]. Needs root (apt-get, mkfs on an image file).
set -euo pipefail

PORT=20490 FS=btrfs SIZE=4G STATE=/tmp/nfs42-server MEM=1024 THREADS=8 LEASE=30 GRACE=10
SELFTEST=0 TIMEOUT=180 CTLPORT="" EXT4SIZE=0
CACHE=${NFS42_CACHE:-/var/cache/nfs42-vm}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=$2; shift 2;; --fs) FS=$2; shift 2;; --size) SIZE=$2; shift 2;;
    --state) STATE=$2; shift 2;; --mem) MEM=$2; shift 2;; --threads) THREADS=$2; shift 2;;
    --lease) LEASE=$2; shift 2;; --grace) GRACE=$2; shift 2;; --selftest) SELFTEST=1; shift;;
    --timeout) TIMEOUT=$2; shift 2;; --ctl-port) CTLPORT=$2; shift 2;; --ext4-size) EXT4SIZE=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
log() { echo "nfs-start: $*" >&2; }
T0=$(date +%s.%N)
el() { printf '%.1fs' "$(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo 0)"; }

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
if [ -f "$STATE/qemu.pid" ] && kill -0 "$(cat "$STATE/qemu.pid")" 2>/dev/null; then
  log "already running (pid $(cat "$STATE/qemu.pid")); run nfs-stop.sh --state $STATE first"; exit 1
fi

# ---- 1. host packages (Debian only) ----
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v depmod >/dev/null || need+=(kmod)
command -v cpio >/dev/null || need+=(cpio)
command -v bc >/dev/null || need+=(bc)
case "$FS" in
  btrfs) command -v mkfs.btrfs >/dev/null || need+=(btrfs-progs);;
  xfs) command -v mkfs.xfs >/dev/null || need+=(xfsprogs);;
  ext4) ;;   # no reflink: CLONE -> NOTSUPP, COPY copies the bytes
  *) log "--fs must be btrfs, xfs or ext4"; exit 2;;
esac
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ "$SELFTEST" = 1 ] && ! command -v gcc >/dev/null; then need+=(gcc libc6-dev); fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  if ! apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${need[@]}" >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=900 update >/dev/null
    apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

# ---- 2. guest kernel + initramfs (cached per kernel version and init script) ----
KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$KPKG" ]; then apt-get -o DPkg::Lock::Timeout=900 update >/dev/null
  KPKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
KVER=${KPKG#linux-image-}
KEY=$(cat "$HERE/guest-init.sh" "$HERE/nfstool.c" | sha256sum | cut -c1-12)
BUILD="$CACHE/$KVER-$KEY"
if [ ! -s "$BUILD/initrd.gz" ] || [ ! -s "$BUILD/vmlinuz" ]; then
  log "building guest for $KVER in $BUILD"
  rm -rf "$BUILD.tmp"; mkdir -p "$BUILD.tmp/dl" "$BUILD.tmp/root"
  (cd "$BUILD.tmp/dl" && apt-get -o APT::Sandbox::User=root download "$KPKG" busybox-static >/dev/null)
  dpkg-deb -x "$BUILD.tmp"/dl/linux-image-*.deb "$BUILD.tmp/kern"
  dpkg-deb -x "$BUILD.tmp"/dl/busybox-static_*.deb "$BUILD.tmp/bb"
  depmod -b "$BUILD.tmp/kern" "$KVER"
  R="$BUILD.tmp/root"; mkdir -p "$R"/{bin,dev,proc,sys,lib/modules,export,mnt,tmp,var/lib/nfs}
  cp "$BUILD.tmp/bb/bin/busybox" "$R/bin/busybox"
  cp "$HERE/guest-init.sh" "$R/init"; chmod 755 "$R/init"
  if command -v gcc >/dev/null; then gcc -O2 -static -o "$R/bin/nfstool" "$HERE/nfstool.c" || log "nfstool build failed (selftest unavailable)"; fi
  for m in virtio_pci virtio_blk virtio_net nfsd btrfs xfs ext4 nfsv4; do
    modprobe -d "$BUILD.tmp/kern" -S "$KVER" --show-depends "$m"
  done | awk '$1=="insmod"{print $2}' | awk '!s[$0]++' | while read -r f; do
    cp "$f" "$R/lib/modules/"; basename "$f" >> "$R/modules.list"; done
  (cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$BUILD.tmp/initrd.gz"
  cp "$BUILD.tmp/kern/boot/vmlinuz-$KVER" "$BUILD.tmp/vmlinuz"
  rm -rf "$BUILD"; mkdir -p "$BUILD"; mv "$BUILD.tmp/initrd.gz" "$BUILD.tmp/vmlinuz" "$BUILD/"; rm -rf "$BUILD.tmp"
fi

# ---- 3. fresh backing filesystem (sparse image; reflink-capable) ----
mkdir -p "$STATE"; rm -f "$STATE/disk.img" "$STATE/console.log" "$STATE/ready"
truncate -s "$SIZE" "$STATE/disk.img"
if [ "$FS" = btrfs ]; then mkfs.btrfs -q -f "$STATE/disk.img" >/dev/null 2>&1
elif [ "$FS" = xfs ]; then mkfs.xfs -q -f -m reflink=1 "$STATE/disk.img"
else mkfs.ext4 -q -F "$STATE/disk.img"; fi
rm -f "$STATE/disk2.img"; DISK2=()
if [ "$EXT4SIZE" != 0 ]; then
  truncate -s "$EXT4SIZE" "$STATE/disk2.img"; mkfs.ext4 -q -F "$STATE/disk2.img"
  DISK2=(-drive "file=$STATE/disk2.img,if=virtio,format=raw,cache=unsafe,discard=unmap")
fi
FWD="hostfwd=tcp:127.0.0.1:$PORT-:2049"
[ -n "$CTLPORT" ] && FWD="$FWD,hostfwd=tcp:127.0.0.1:$CTLPORT-:2050"

# ---- 4. boot ----
APPEND="console=ttyS0 panic=-1 quiet nfsvm.fstype=$FS nfsvm.threads=$THREADS nfsvm.lease=$LEASE nfsvm.grace=$GRACE"
[ "$SELFTEST" = 1 ] && APPEND="$APPEND nfsvm.selftest=1"
log "booting $KVER under qemu TCG, 127.0.0.1:$PORT -> guest:2049, $FS $SIZE at $STATE/disk.img"
qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m "$MEM" -nodefaults -display none -no-reboot \
  -kernel "$BUILD/vmlinuz" -initrd "$BUILD/initrd.gz" -append "$APPEND" \
  -serial "file:$STATE/console.log" -monitor none \
  -drive "file=$STATE/disk.img,if=virtio,format=raw,cache=unsafe,discard=unmap" "${DISK2[@]}" \
  -netdev "user,id=n0,restrict=on,$FWD" -device virtio-net-pci,netdev=n0 \
  -daemonize -pidfile "$STATE/qemu.pid"
echo "$PORT" > "$STATE/port"; [ -n "$CTLPORT" ] && echo "$CTLPORT" > "$STATE/ctlport"

# ---- 5. wait: guest prints NFS-READY after nfsd is up and its grace period is over ----
end=$(( $(date +%s) + TIMEOUT ))
until grep -q "NFS-READY" "$STATE/console.log" 2>/dev/null; do
  if ! kill -0 "$(cat "$STATE/qemu.pid")" 2>/dev/null || grep -q "FATAL\|Kernel panic" "$STATE/console.log" 2>/dev/null; then
    log "VM died; console:"; tail -30 "$STATE/console.log" >&2; exit 1; fi
  if [ "$(date +%s)" -ge "$end" ]; then log "timeout; console:"; tail -30 "$STATE/console.log" >&2; exit 1; fi
  sleep 0.5
done
# RPC NULL call to program 100003 v4 through the forwarded port (proves the path end to end)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf '\x80\x00\x00\x28\x00\x00\x42\x42\x00\x00\x00\x00\x00\x00\x00\x02\x00\x01\x86\xa3\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >&3
reply=$(timeout 10 head -c 28 <&3 | od -An -tx1 | tr -d ' \n'); exec 3<&- 3>&-
# expect: record mark 0x80000018, xid 0x4242, REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS
if [ "$reply" != "80000018000042420000000100000000000000000000000000000000" ]; then
  log "NULL ping failed (reply '$reply')"; exit 1; fi
grep "nfsvm:" "$STATE/console.log" | sed 's/^/nfs-start: guest: /' >&2
touch "$STATE/ready"
echo "NFS42 READY host=127.0.0.1 port=$PORT ctl=${CTLPORT:-none} export=/ fs=$FS kernel=$KVER pid=$(cat "$STATE/qemu.pid") state=$STATE boot=$(el)"
