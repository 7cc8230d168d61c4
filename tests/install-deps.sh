#!/bin/bash
# Install what the tests need on a fresh Debian 12 machine (as root): the Samba 4.17 peer
# (smbd), its clients (smbclient, smbtorture from samba-testsuite), python3-impacket, tshark and
# dumpcap, and the filesystem tools bench/ uses. Idempotent: when every package is already
# installed it touches nothing and takes well under a second.
# usage: tests/install-deps.sh          env APT_FORCE=1 to run apt-get even if all are installed
set -euo pipefail
PACKAGES=(
  samba samba-vfs-modules smbclient samba-testsuite   # the peer, smbclient, smbtorture
  python3 python3-impacket                            # second client implementation
  tshark                                              # dumpcap + tshark (wireshark-common: text2pcap)
  btrfs-progs xfsprogs e2fsprogs                      # reflink filesystems for bench/ (tests/rigs/samba/setup-fs.sh)
  procps passwd bc coreutils                          # pgrep (rig stop), useradd (rig user), bc (timings), timeout
  chromium                                            # headless browser: the status page test (tests/EndToEnd/OperationsTests.cs)
  systemd                                             # systemd-analyze verify of deploy/smbcopy.service
)
missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && [ "${APT_FORCE:-0}" != 1 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  [ "$(id -u)" = 0 ] || { echo "install-deps: missing ${missing[*]}; run as root" >&2; exit 1; }
  echo "install-deps: installing ${missing[*]:-(forced)}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 -q update
  # --no-install-recommends keeps it small, --no-upgrade leaves present packages alone; samba-vfs-modules is named explicitly (streams_xattr).
  # tshark asks whether non-root may capture: noninteractive takes the default (no); CI runs as root.
  apt-get -o DPkg::Lock::Timeout=900 -q install -y --no-install-recommends --no-upgrade "${PACKAGES[@]}"
fi
command -v dotnet >/dev/null || { echo "install-deps: dotnet (the .NET 10 SDK) is not on PATH" >&2; exit 1; }
for t in smbd smbclient smbtorture tshark dumpcap text2pcap chromium systemd-analyze; do
  command -v "$t" >/dev/null || { echo "install-deps: $t missing after install" >&2; exit 1; }
done
/usr/bin/python3 -c 'import impacket' || { echo "install-deps: /usr/bin/python3 cannot import impacket" >&2; exit 1; }
