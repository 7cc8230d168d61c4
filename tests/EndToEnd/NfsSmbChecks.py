#!/usr/bin/python3
"""Server-side copy checks on NFS shares of a running SmbCopy gateway, with impacket as the client (issue 5).

  NfsSmbChecks.py --port P --http-port H --user U --password W --nfs nfs --nfs-ext4 nfsext4 --local local \
                  --local-dir /tmp/x --prefix run1 --only dup,cross,restart [--restart-cmd 'ctl.sh --state S restart-nfsd']

The NFS files live in the VM, so every content check reads the file back through the gateway (SMB READ) and compares
its SHA-256 with the bytes written. Groups:
  dup      FSCTL_DUPLICATE_EXTENTS_TO_FILE on the btrfs export's share: status 0, identical, /metrics "clone" bytes grow
           (the NFS CLONE), nothing streamed; on the ext4 export's share: a clean refusal
           (STATUS_INVALID_DEVICE_REQUEST or STATUS_NOT_SUPPORTED), destination unchanged.
  cross    COPYCHUNK NFS share -> local share and back: identical (local file read directly, NFS file read over SMB),
           "streamed" bytes on /metrics for both destinations.
  restart  COPYCHUNK requests of 16 MiB on the ext4 export's share while nfsd restarts (--restart-cmd runs after the
           first request): every response's TotalBytesWritten is exactly the bytes of the source now in the destination
           (read back), nothing else in the destination changed, and the same SMB session's next operations succeed.
Prints PASS/FAIL lines; exit status 0 when every check passed.
"""
import argparse, hashlib, os, re, shlex, struct, subprocess, sys, tempfile, threading, time, urllib.request

from impacket.smbconnection import SMBConnection
from impacket.smb3structs import (FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_READ_ATTRIBUTES,
                                  FILE_WRITE_ATTRIBUTES, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_SHARE_DELETE,
                                  FILE_OVERWRITE_IF, FILE_OPEN, FILE_NON_DIRECTORY_FILE, SMB2_0_IOCTL_IS_FSCTL)
from impacket.smb3 import SessionError

FSCTL_SRV_REQUEST_RESUME_KEY = 0x00140078
FSCTL_SRV_COPYCHUNK = 0x001440F2
FSCTL_DUPLICATE_EXTENTS_TO_FILE = 0x00098344
STATUS_INVALID_DEVICE_REQUEST = 0xC0000010
STATUS_NOT_SUPPORTED = 0xC00000BB
RW = FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES
SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
MiB = 1 << 20

failures = []
passes = 0


def check(ok, what):
    global passes
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    passes += 1 if ok else 0
    if not ok:
        failures.append(what)


def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]


class Client:
    def __init__(self, port, user, password):
        self.port, self.user, self.password = port, user, password
        self.conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port, timeout=300)
        self.conn.login(user, password)
        self.smb = self.conn.getSMBServer()
        self.trees = {}

    def tree(self, share):
        if share not in self.trees:
            self.trees[share] = self.conn.connectTree(share)
        return self.trees[share]

    def create(self, share, name, access=RW, disposition=FILE_OVERWRITE_IF):
        return self.smb.create(self.tree(share), name, access, SHARE_ALL, FILE_NON_DIRECTORY_FILE, disposition, 0)

    def write(self, share, fid, data, offset=0):
        for i in range(0, len(data), MiB):
            part = data[i:i + MiB]
            self.smb.write(self.tree(share), fid, part, offset + i, len(part))

    def read_all(self, share, name):
        """The whole file, fetched with smbclient (impacket's pure-Python signing moves about 1 MiB/s)."""
        with tempfile.TemporaryDirectory() as d:
            local = os.path.join(d, "f")
            self.smbclient(share, f'get "{name}" {local}')
            with open(local, "rb") as f:
                return f.read()

    def put(self, share, name, data):
        with tempfile.TemporaryDirectory() as d:
            local = os.path.join(d, "f")
            with open(local, "wb") as f:
                f.write(data)
            self.smbclient(share, f'put {local} "{name}"')

    def smbclient(self, share, command):
        r = subprocess.run(["smbclient", "--configfile=/dev/null", "-p", str(self.port), f"//127.0.0.1/{share}",
                            "-U", f"{self.user}%{self.password}", "-m", "SMB3_11", "-c", command],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0 or "NT_STATUS_" in r.stdout + r.stderr:
            raise RuntimeError(f"smbclient {share} {command!r}: exit {r.returncode}\n{r.stdout}{r.stderr}")

    def close(self, share, fid):
        self.smb.close(self.tree(share), fid)

    def delete(self, share, name):
        try:
            self.conn.deleteFile(share, name)
        except SessionError:
            pass

    def ioctl(self, share, fid, code, blob, max_out):
        return self.smb.ioctl(self.tree(share), fid, code, SMB2_0_IOCTL_IS_FSCTL, blob, 0, max_out)

    def resume_key(self, share, fid):
        return self.ioctl(share, fid, FSCTL_SRV_REQUEST_RESUME_KEY, b"", 32)[:24]

    def copychunk(self, dst_share, dst, key, chunks):
        """One FSCTL_SRV_COPYCHUNK; returns (status, chunks written, chunk bytes written, total bytes written)."""
        blob = key + struct.pack("<II", len(chunks), 0) + b"".join(struct.pack("<QQII", s, t, l, 0) for s, t, l in chunks)
        try:
            out = self.ioctl(dst_share, dst, FSCTL_SRV_COPYCHUNK, blob, 12)
            return (0,) + struct.unpack("<III", out[:12])
        except SessionError as e:
            status = e.get_error_code() & 0xFFFFFFFF
            # impacket drops the output buffer of an error response; the packet is on the exception when present
            out = b""
            pkt = getattr(e, "packet", None)
            if pkt is not None:
                try:
                    from impacket.smb3structs import SMB2Ioctl_Response
                    resp = SMB2Ioctl_Response(pkt["Data"])
                    out = resp["Buffer"]
                except Exception:  # noqa: BLE001 - no output buffer in the response
                    out = b""
            n, partial, total = struct.unpack("<III", out[:12]) if len(out) >= 12 else (0, 0, 0)
            return status, n, partial, total


def scrape(http_port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10).read().decode()
    values = {}
    for m in re.finditer(r'^smbcopy_copy_bytes_total\{([^}]*)\} (\S+)$', text, re.M):
        tags = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        key = (tags.get("share"), tags.get("method"))
        values[key] = values.get(key, 0) + float(m.group(2))
    return values


def metrics_when(http_port, baseline, key, want):
    deadline = time.time() + 15
    while True:
        values = scrape(http_port)
        if values.get(key, 0) - baseline.get(key, 0) >= want or time.time() > deadline:
            return values
        time.sleep(0.25)


def delta(after, before, key):
    return after.get(key, 0) - before.get(key, 0)


def dup(c, a):
    size = MiB
    for share, can_clone in ((a.nfs, True), (a.nfs_ext4, False)):
        src_name, dst_name = f"{a.prefix}-dup-src.bin", f"{a.prefix}-dup-dst.bin"
        data = os.urandom(size)
        c.put(share, src_name, data)
        src = c.create(share, src_name, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
        dst = c.create(share, dst_name)
        c.close(share, dst)
        c.put(share, dst_name, bytes(size))
        dst = c.create(share, dst_name, disposition=FILE_OPEN)
        before = scrape(a.http_port)
        blob = src + struct.pack("<qqq", 0, 0, size)
        try:
            c.ioctl(share, dst, FSCTL_DUPLICATE_EXTENTS_TO_FILE, blob, 0)
            status = 0
        except SessionError as e:
            status = e.get_error_code() & 0xFFFFFFFF
        c.close(share, dst)
        c.close(share, src)
        got = c.read_all(share, dst_name)
        if can_clone:
            after = metrics_when(a.http_port, before, (share, "clone"), size)
            cloned, streamed = delta(after, before, (share, "clone")), delta(after, before, (share, "streamed"))
            check(status == 0 and got == data and cloned == size and streamed == 0,
                  f"DUPLICATE_EXTENTS_TO_FILE on {share} (btrfs export): status 0x{status:08X}, identical {got == data} "
                  f"(sha {sha(got)} vs {sha(data)}), metrics clone +{cloned:.0f}, streamed +{streamed:.0f}")
        else:
            check(status in (STATUS_INVALID_DEVICE_REQUEST, STATUS_NOT_SUPPORTED) and got == b"\0" * size,
                  f"DUPLICATE_EXTENTS_TO_FILE on {share} (ext4 export, no CLONE): clean refusal 0x{status:08X}, "
                  f"destination unchanged {got == bytes(size)}")
        c.delete(share, src_name)
        c.delete(share, dst_name)


def copy_all(c, src_share, src_name, dst_share, dst_name, size):
    src = c.create(src_share, src_name, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
    key = c.resume_key(src_share, src)
    dst = c.create(dst_share, dst_name)
    total = 0
    for base in range(0, size, 16 * MiB):
        chunks = [(o, o, min(MiB, size - o)) for o in range(base, min(size, base + 16 * MiB), MiB)]
        status, n, partial, written = c.copychunk(dst_share, dst, key, chunks)
        if status != 0:
            raise RuntimeError(f"COPYCHUNK {src_share}/{src_name} -> {dst_share}/{dst_name} at {base}: 0x{status:08X}")
        total += written
    c.close(dst_share, dst)
    c.close(src_share, src)
    return total


def cross(c, a):
    size = 16 * MiB
    data = os.urandom(size)
    name = f"{a.prefix}-cross"
    c.put(a.nfs, name + "-src.bin", data)
    before = scrape(a.http_port)
    n = copy_all(c, a.nfs, name + "-src.bin", a.local, name + "-on-local.bin", size)
    after = metrics_when(a.http_port, before, (a.local, "streamed"), size)
    with open(os.path.join(a.local_dir, name + "-on-local.bin"), "rb") as f:
        local = f.read()
    streamed = delta(after, before, (a.local, "streamed"))
    check(n == size and local == data and streamed == size,
          f"COPYCHUNK {a.nfs} (NFS) -> {a.local} (local): {n} bytes, identical {local == data}, metrics streamed({a.local}) +{streamed:.0f}")
    before = after
    n = copy_all(c, a.local, name + "-on-local.bin", a.nfs, name + "-back.bin", size)
    after = metrics_when(a.http_port, before, (a.nfs, "streamed"), size)
    back = c.read_all(a.nfs, name + "-back.bin")
    streamed = delta(after, before, (a.nfs, "streamed"))
    check(n == size and back == data and streamed == size,
          f"COPYCHUNK {a.local} (local) -> {a.nfs} (NFS): {n} bytes, identical {back == data} (sha {sha(back)} vs {sha(data)}), "
          f"metrics streamed({a.nfs}) +{streamed:.0f}")
    for share, f in ((a.nfs, name + "-src.bin"), (a.nfs, name + "-back.bin"), (a.local, name + "-on-local.bin")):
        c.delete(share, f)


def restart(c, a):
    share = a.nfs_ext4
    size = 64 * MiB
    data = os.urandom(size)
    src_name, dst_name = f"{a.prefix}-rs-src.bin", f"{a.prefix}-rs-dst.bin"
    c.put(share, src_name, data)
    fill = b"\xA5" * size  # what the destination holds before: any byte the copy did not write stays this
    c.put(share, dst_name, fill)
    src = c.create(share, src_name, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
    key = c.resume_key(share, src)
    dst = c.create(share, dst_name)
    results = []
    restarter = None
    t0 = time.time()
    for base in range(0, size, 16 * MiB):
        chunks = [(o, o, MiB) for o in range(base, base + 16 * MiB, MiB)]
        r = c.copychunk(share, dst, key, chunks)
        results.append((base, r, round(time.time() - t0, 2)))
        if restarter is None:
            restarter = threading.Thread(target=lambda: subprocess.run(shlex.split(a.restart_cmd), capture_output=True, timeout=120))
            restarter.start()
            print(f"INFO nfsd restart started after the first request ({time.time() - t0:.2f} s)", flush=True)
    restarter.join()
    print("INFO copy-chunk results (offset, (status, chunks, partial, total), seconds): " + repr(results), flush=True)
    c.close(share, dst)
    c.close(share, src)
    got = c.read_all(share, dst_name)
    exact = True
    detail = []
    for base, (status, n, partial, total), _ in results:
        region_new = got[base:base + 16 * MiB]
        want_written = 16 * MiB if status == 0 else total
        ok = (status == 0 and n == 16 and total == 16 * MiB and region_new == data[base:base + 16 * MiB]) or (
            status != 0 and region_new[:want_written] == data[base:base + want_written]
            and all(region_new[i:i + 4096] in (data[base + i:base + i + 4096], fill[:4096])
                    for i in range(want_written, 16 * MiB, 4096)))
        if not ok:
            exact = False
            kinds = []
            for i in range(0, 16 * MiB, MiB):
                blocks = [("s" if region_new[j:j + 4096] == data[base + j:base + j + 4096] else
                           "f" if region_new[j:j + 4096] == fill[:4096] else "x") for j in range(i, i + MiB, 4096)]
                kinds.append("".join(sorted(set(blocks))))
            detail.append(f"@{base >> 20} MiB status 0x{status:08X} total {total}; per MiB (s=source f=old x=other): {' '.join(kinds)}")
    check(len(got) == size and exact,
          f"COPYCHUNK of {size >> 20} MiB across an nfsd restart: {sum(1 for r in results if r[1][0] == 0)} of {len(results)} requests "
          f"succeeded, every reported byte count matches the destination's content {exact} {detail}")
    # The same SMB session keeps working: write, read back, list.
    probe = os.urandom(MiB)
    c.put(share, f"{a.prefix}-after-restart.bin", probe)
    back = c.read_all(share, f"{a.prefix}-after-restart.bin")
    listed = [f.get_longname() for f in c.conn.listPath(share, f"{a.prefix}-*")]
    check(back == probe and f"{a.prefix}-after-restart.bin" in listed,
          f"after the restart the same SMB session writes, reads back ({back == probe}) and lists ({len(listed)} entries)")
    for f in (src_name, dst_name, f"{a.prefix}-after-restart.bin"):
        c.delete(share, f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="Password1")
    p.add_argument("--nfs", default="nfs")
    p.add_argument("--nfs-ext4", default="nfsext4")
    p.add_argument("--local", default="local")
    p.add_argument("--local-dir", default="")
    p.add_argument("--prefix", default="e2e")
    p.add_argument("--restart-cmd", default="")
    p.add_argument("--only", default="dup,cross")
    a = p.parse_args()
    c = Client(a.port, a.user, a.password)
    only = set(a.only.split(","))
    if "dup" in only:
        dup(c, a)
    if "cross" in only:
        cross(c, a)
    if "restart" in only:
        restart(c, a)
    print(f"{passes} passed, {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
