#!/usr/bin/python3
"""End-to-end server-side copy checks against a running SmbCopy gateway, with impacket as the client.

  srvcopy_e2e.py --port 5542 --http-port 15542 --share btrfs=/tmp/sc-btrfs/a --share btrfs2=/tmp/sc-btrfs/b \
                 --share xfs=/tmp/sc-xfs/a --share ext4=/tmp/sc-ext4/a [--only odx,dup,chunk]

Each --share names a share of the gateway (btrfs and btrfs2 on one btrfs file system, xfs with reflink, ext4) and
the local directory behind it (the script checks file contents and
shared extents there). Checks:
  1. ODX: OFFLOAD_READ on one share, OFFLOAD_WRITE on another, destination identical; the token is refused
     (STATUS_INVALID_TOKEN) once its source range has been overwritten; ODX into a share on another file system.
  2. DUPLICATE_EXTENTS_TO_FILE_EX with and without DUPLICATE_EXTENTS_DATA_EX_SOURCE_ATOMIC on a reflink share
     (extents shared afterwards); an atomic clone on a share that cannot clone is refused, never turned into a copy.
  3. COPYCHUNK inside the ext4 share (copy_file_range: method "offload") and from btrfs to ext4 (method "streamed"),
     each copy's method visible on /metrics.
Exit status 0 when every check passed.
"""
import argparse, os, re, struct, subprocess, sys, urllib.request

from impacket.smbconnection import SMBConnection
from impacket.smb3structs import (FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_READ_ATTRIBUTES,
                                  FILE_WRITE_ATTRIBUTES, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_SHARE_DELETE,
                                  FILE_OVERWRITE_IF, FILE_OPEN, FILE_NON_DIRECTORY_FILE, SMB2_0_IOCTL_IS_FSCTL)
from impacket.smb3 import SessionError

FSCTL_SRV_REQUEST_RESUME_KEY = 0x00140078
FSCTL_SRV_COPYCHUNK = 0x001440F2
FSCTL_DUPLICATE_EXTENTS_TO_FILE_EX = 0x000983E8
FSCTL_OFFLOAD_READ = 0x00094264
FSCTL_OFFLOAD_WRITE = 0x00098268
STATUS_INVALID_TOKEN = 0xC0000465
STATUS_INVALID_DEVICE_REQUEST = 0xC0000010
STATUS_INVALID_PARAMETER = 0xC000000D
ATOMIC = 0x1
RW = FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES
SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE

failures = []
passes = 0


def check(ok, what):
    global passes
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    passes += 1 if ok else 0
    if not ok:
        failures.append(what)


class Client:
    def __init__(self, port, user, password):
        self.conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port)
        self.conn.login(user, password)
        self.smb = self.conn.getSMBServer()
        self.trees = {}

    def tree(self, share):
        if share not in self.trees:
            self.trees[share] = self.conn.connectTree(share)
        return self.trees[share]

    def create(self, share, name, access=RW, disposition=FILE_OVERWRITE_IF):
        tid = self.tree(share)
        return tid, self.smb.create(tid, name, access, SHARE_ALL, FILE_NON_DIRECTORY_FILE, disposition, 0)

    def write(self, share, fid, data, offset=0):
        tid = self.tree(share)
        step = 1 << 20
        for i in range(0, len(data), step):
            self.smb.write(tid, fid, data[i:i + step], offset + i, len(data[i:i + step]))

    def close(self, share, fid):
        self.smb.close(self.tree(share), fid)

    def ioctl(self, share, fid, code, blob, max_out):
        return self.smb.ioctl(self.tree(share), fid, code, SMB2_0_IOCTL_IS_FSCTL, blob, 0, max_out)


def status_of(e):
    return e.get_error_code() & 0xFFFFFFFF


def metrics(http_port, baseline=None, key=None, want=0):
    """The smbcopy_copy_bytes_total counters by (share, method). The exporter caches scrapes for a moment: with a
    baseline, poll until the counter of key has grown by want (or 10 s passed)."""
    import time
    deadline = time.time() + 10
    while True:
        values = scrape(http_port)
        if baseline is None or values.get(key, 0) - baseline.get(key, 0) >= want or time.time() > deadline:
            return values
        time.sleep(0.25)


def scrape(http_port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10).read().decode()
    values = {}
    for m in re.finditer(r'^smbcopy_copy_bytes_total\{([^}]*)\} (\S+)$', text, re.M):
        tags = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        values[(tags.get("share"), tags.get("method"))] = float(m.group(2))
    return values


def shared_extents(path):
    out = subprocess.run(["filefrag", "-v", path], capture_output=True, text=True).stdout
    rows = [l for l in out.splitlines() if re.match(r'^\s*\d+:', l)]
    return len(rows), sum(1 for l in rows if "shared" in l)


def same(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def odx(c, dirs, port):
    size = 4 << 20
    data = os.urandom(size)
    _, src = c.create("btrfs", "odx-src.bin")
    c.write("btrfs", src, data)
    out = c.ioctl("btrfs", src, FSCTL_OFFLOAD_READ, struct.pack("<IIIIQQ", 32, 0, 0, 0, 0, size), 528)
    _, flags, transfer = struct.unpack_from("<IIQ", out)
    token = out[16:528]
    check(transfer == size, f"OFFLOAD_READ token for {size} bytes (TransferLength {transfer})")
    for share in ("btrfs2", "ext4"):
        _, dst = c.create(share, "odx-dst.bin")
        out = c.ioctl(share, dst, FSCTL_OFFLOAD_WRITE, struct.pack("<IIQQQ", 544, 0, 0, size, 0) + token, 16)
        written = struct.unpack_from("<IIQ", out)[2]
        c.close(share, dst)
        check(written == size and same(os.path.join(dirs["btrfs"], "odx-src.bin"), os.path.join(dirs[share], "odx-dst.bin")),
              f"OFFLOAD_WRITE on share {share}: {written} bytes, destination identical")
    # Overwrite part of the source range: the token must be refused.
    c.write("btrfs", src, b"\x55" * 4096, offset=1 << 20)
    _, dst = c.create("btrfs2", "odx-dst2.bin")
    try:
        c.ioctl("btrfs2", dst, FSCTL_OFFLOAD_WRITE, struct.pack("<IIQQQ", 544, 0, 0, size, 0) + token, 16)
        check(False, "OFFLOAD_WRITE with a token whose source range was overwritten is refused")
    except SessionError as e:
        check(status_of(e) == STATUS_INVALID_TOKEN,
              f"OFFLOAD_WRITE with a token whose source range was overwritten: 0x{status_of(e):08X} (want STATUS_INVALID_TOKEN)")
    c.close("btrfs2", dst)
    c.close("btrfs", src)


DUP_SIZE = 1 << 20


def dup_ex(c, dirs, share, flags):
    size = DUP_SIZE
    name = f"dup-{share}-{flags}"
    _, src = c.create(share, name + "-src.bin")
    c.write(share, src, os.urandom(size))
    _, dst = c.create(share, name + "-dst.bin")
    c.write(share, dst, b"\0" * size)  # the target must already be this large
    blob = struct.pack("<Q", 0x30) + src + struct.pack("<qqqII", 0, 0, size, flags, 0)
    try:
        c.ioctl(share, dst, FSCTL_DUPLICATE_EXTENTS_TO_FILE_EX, blob, 0)
        status = 0
    except SessionError as e:
        status = status_of(e)
    c.close(share, dst)
    c.close(share, src)
    return status, os.path.join(dirs[share], name + "-src.bin"), os.path.join(dirs[share], name + "-dst.bin")


def duplicate_extents(c, dirs):
    for share in ("xfs", "btrfs"):
        for flags, label in ((0, "without"), (ATOMIC, "with")):
            status, src, dst = dup_ex(c, dirs, share, flags)
            n, shared = shared_extents(dst)
            check(status == 0 and same(src, dst) and n > 0 and shared == n,
                  f"DUPLICATE_EXTENTS_TO_FILE_EX {label} SOURCE_ATOMIC on {share}: status 0x{status:08X}, identical, {shared}/{n} extents shared")
    # ext4 cannot clone. Atomic: refused, and the destination keeps its old bytes (zeros), never half or fully
    # copied. Without the flag the gateway refuses too (the share does not announce block refcounting), or copies;
    # either way the destination is all old bytes or all new ones.
    status, src, dst = dup_ex(c, dirs, "ext4", 0)
    with open(dst, "rb") as f:
        unchanged = f.read() == b"\0" * DUP_SIZE
    check((status == STATUS_INVALID_DEVICE_REQUEST and unchanged) or (status == 0 and same(src, dst)),
          f"DUPLICATE_EXTENTS_TO_FILE_EX without SOURCE_ATOMIC on ext4: 0x{status:08X}, destination "
          + ("unchanged" if unchanged else "identical" if same(src, dst) else "CHANGED"))
    status, src, dst = dup_ex(c, dirs, "ext4", ATOMIC)
    with open(dst, "rb") as f:
        unchanged = f.read() == b"\0" * DUP_SIZE
    check(status == STATUS_INVALID_DEVICE_REQUEST and unchanged,
          f"atomic DUPLICATE_EXTENTS_TO_FILE_EX on ext4 refused (0x{status:08X}), destination unchanged: {unchanged}")


def copy_chunk(c, src_share, src_name, dst_share, dst_name, size):
    _, src = c.create(src_share, src_name, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
    key = c.ioctl(src_share, src, FSCTL_SRV_REQUEST_RESUME_KEY, b"", 32)[:24]
    _, dst = c.create(dst_share, dst_name)
    chunk, per_request = 1 << 20, 16
    total = 0
    for base in range(0, size, chunk * per_request):
        chunks = [(off, off, min(chunk, size - off)) for off in range(base, min(size, base + chunk * per_request), chunk)]
        blob = key + struct.pack("<II", len(chunks), 0) + b"".join(struct.pack("<QQII", s, t, l, 0) for s, t, l in chunks)
        out = c.ioctl(dst_share, dst, FSCTL_SRV_COPYCHUNK, blob, 12)
        n, partial, written = struct.unpack("<III", out)
        assert n == len(chunks) and partial == 0, (n, partial, written)
        total += written
    c.close(dst_share, dst)
    c.close(src_share, src)
    return total


def copy_chunks(c, dirs, port):
    size = 8 << 20
    for share in ("ext4", "btrfs"):
        _, f = c.create(share, "cc-src.bin")
        c.write(share, f, os.urandom(size))
        c.close(share, f)
    before = metrics(port)
    n = copy_chunk(c, "ext4", "cc-src.bin", "ext4", "cc-dst.bin", size)
    after = metrics(port, before, ("ext4", "offload"), size)
    delta = after.get(("ext4", "offload"), 0) - before.get(("ext4", "offload"), 0)
    check(n == size and same(os.path.join(dirs["ext4"], "cc-src.bin"), os.path.join(dirs["ext4"], "cc-dst.bin")) and delta == size,
          f"COPYCHUNK inside ext4: {n} bytes, identical, metrics offload(ext4) +{delta:.0f}")
    before = after
    n = copy_chunk(c, "btrfs", "cc-src.bin", "ext4", "cc-from-btrfs.bin", size)
    after = metrics(port, before, ("ext4", "streamed"), size)
    delta = after.get(("ext4", "streamed"), 0) - before.get(("ext4", "streamed"), 0)
    check(n == size and same(os.path.join(dirs["btrfs"], "cc-src.bin"), os.path.join(dirs["ext4"], "cc-from-btrfs.bin")) and delta == size,
          f"COPYCHUNK btrfs share -> ext4 share: {n} bytes, identical, metrics streamed(ext4) +{delta:.0f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=5542)
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="Password1")
    p.add_argument("--http-port", type=int, default=0, help="the gateway's HTTP port (default: --port + 10000)")
    p.add_argument("--share", action="append", default=[], help="name=local directory")
    p.add_argument("--only", default="odx,dup,chunk", help="comma-separated groups of checks: odx, dup, chunk")
    a = p.parse_args()
    dirs = dict(s.split("=", 1) for s in a.share)
    http_port = a.http_port or a.port + 10000
    only = set(a.only.split(","))
    for need in ("btrfs", "btrfs2", "xfs", "ext4"):
        if need not in dirs:
            sys.exit(f"--share {need}=DIR is required")
    c = Client(a.port, a.user, a.password)
    if "odx" in only:
        odx(c, dirs, http_port)
    if "dup" in only:
        duplicate_extents(c, dirs)
    if "chunk" in only:
        copy_chunks(c, dirs, http_port)
    print(f"{passes} passed, {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
