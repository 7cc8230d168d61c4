#!/bin/busybox sh
# /init of the NFS test VM (busybox initramfs). Runs the Linux kernel nfsd, NFSv4.1/4.2 only,
# exporting /dev/vda (btrfs or xfs, made on the host) as the NFSv4 root "/" (fsid=0).
# No rpcbind / rpc.mountd / nfsdcld: export caches are written straight into the kernel.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
exec >/dev/console 2>&1
log() { echo "nfsvm: $*"; }
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1"=*) echo "${w#*=}";; esac; done; }
for m in $(cat /modules.list); do insmod /lib/modules/$m || log "insmod $m failed"; done
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
FSTYPE=$(arg nfsvm.fstype); FSTYPE=${FSTYPE:-btrfs}
THREADS=$(arg nfsvm.threads); THREADS=${THREADS:-8}
LEASE=$(arg nfsvm.lease); LEASE=${LEASE:-30}
GRACE=$(arg nfsvm.grace); GRACE=${GRACE:-10}
mkdir -p /export /var/lib/nfs/v4recovery /mnt
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.2; done
mount -t "$FSTYPE" -o noatime /dev/vda /export || { log "FATAL: cannot mount /dev/vda as $FSTYPE"; poweroff -f; }
chmod 1777 /export
mount -t nfsd nfsd /proc/fs/nfsd
echo "-3 +4 +4.0 +4.1 +4.2" > /proc/fs/nfsd/versions
echo 1048576 > /proc/fs/nfsd/max_block_size || log "max_block_size failed"   # 1 MiB READ/WRITE/rsize (default scales with guest RAM)
echo "$LEASE" > /proc/fs/nfsd/nfsv4leasetime
echo "$GRACE" > /proc/fs/nfsd/nfsv4gracetime
echo "tcp 2049" > /proc/fs/nfsd/portlist || log "portlist failed"
echo "$THREADS" > /proc/fs/nfsd/threads
# Export caches (what rpc.mountd would answer), expiry far in the future. A script, because an nfsd restart
# (threads 0 -> N, see nfsctl below) flushes them and nothing else would answer the upcalls (NFS4ERR_DELAY forever).
# Flags 0x2402 = NFSEXP_INSECURE_PORT|NFSEXP_NOSUBTREECHECK|NFSEXP_FSID; no root squash; anon 65534.
# SmbCopy: an optional second disk (/dev/vdb, ext4: no reflink) is exported as /ext4 (fsid=1) below the root, so
# one VM serves both a clone-capable and a clone-less file system.
if [ -b /dev/vdb ]; then
  mkdir -p /export/ext4
  if mount -t ext4 -o noatime /dev/vdb /export/ext4; then chmod 1777 /export/ext4; log "second export: /ext4 (ext4, fsid=1)"
  else log "cannot mount /dev/vdb as ext4"; fi
fi
cat > /bin/nfsexports <<'EXPORTS'
#!/bin/sh
EXP=2147483647
for ip in 10.0.2.2 127.0.0.1; do printf 'nfsd %s %s gw\n' "$ip" "$EXP" > /proc/net/rpc/auth.unix.ip/channel || echo "nfsvm: auth.unix.ip failed"; done
printf 'gw 1 \\x00000000 %s /export\n' "$EXP" > /proc/net/rpc/nfsd.fh/channel || echo "nfsvm: nfsd.fh failed"
printf 'gw /export %s 9218 65534 65534 0\n' "$EXP" > /proc/net/rpc/nfsd.export/channel || echo "nfsvm: nfsd.export failed"
if grep -q ' /export/ext4 ' /proc/mounts; then
  printf 'gw 1 \\x01000000 %s /export/ext4\n' "$EXP" > /proc/net/rpc/nfsd.fh/channel || echo "nfsvm: nfsd.fh ext4 failed"
  printf 'gw /export/ext4 %s 9218 65534 65534 1\n' "$EXP" > /proc/net/rpc/nfsd.export/channel || echo "nfsvm: nfsd.export ext4 failed"
fi
EXPORTS
chmod 755 /bin/nfsexports
/bin/nfsexports
log "nfsd versions: $(cat /proc/fs/nfsd/versions) threads: $(cat /proc/fs/nfsd/threads) max_block_size: $(cat /proc/fs/nfsd/max_block_size) lease: $LEASE grace: $GRACE fs: $FSTYPE"
log "NFS-SERVING (grace period of ${GRACE}s running: OPEN/LOCK get NFS4ERR_GRACE until it ends)"
sleep "$GRACE"; sleep 1
if grep -q nfsvm.selftest /proc/cmdline; then
  # In-guest Linux NFSv4.2 client: copy_file_range() -> COPY, FICLONE -> CLONE; then server op counters.
  nfstool mount 127.0.0.1:/ /mnt nfs4 "vers=4.2,addr=127.0.0.1,clientaddr=127.0.0.1,sec=sys" && log "selftest: client mounted"
  mkdir -p /mnt/.selftest
  dd if=/dev/urandom of=/mnt/.selftest/a bs=1M count=8 2>/dev/null; sync
  nfstool cfr /mnt/.selftest/a /mnt/.selftest/b && cmp /mnt/.selftest/a /mnt/.selftest/b && log "selftest: COPY ok"
  nfstool clone /mnt/.selftest/a /mnt/.selftest/c && cmp /mnt/.selftest/a /mnt/.selftest/c && log "selftest: CLONE ok"
  rm -rf /mnt/.selftest; umount /mnt
  log "selftest: server $(grep proc4ops /proc/net/rpc/nfsd)"
fi
# SmbCopy: control port 2050 (forwarded by the host as --ctl-port): one command per connection.
#   restart-nfsd  -> stop every nfsd thread (all NFSv4 state is dropped, connections close), start
#                    them again (new boot verifier, new grace period): a server restart without a reboot.
#   ping          -> pong
cat > /bin/nfsctl <<'CTL'
#!/bin/sh
read -r cmd
case "$cmd" in
  restart-nfsd)
    T=$(cat /proc/fs/nfsd/threads)
    echo 0 > /proc/fs/nfsd/threads
    sleep 1
    echo "tcp 2049" > /proc/fs/nfsd/portlist 2>/dev/null
    echo "$T" > /proc/fs/nfsd/threads
    /bin/nfsexports > /dev/console 2>&1
    echo "nfsvm: nfsd restarted (threads $(cat /proc/fs/nfsd/threads))" > /dev/console
    echo "OK restarted threads=$(cat /proc/fs/nfsd/threads)";;
  ping) echo pong;;
  *) echo "ERR unknown command";;
esac
CTL
chmod 755 /bin/nfsctl
nc -ll -p 2050 -e /bin/nfsctl &
log "NFS-READY port 2049"
while true; do sleep 3600; done
