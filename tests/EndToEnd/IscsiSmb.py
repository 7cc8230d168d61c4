#!/usr/bin/python3
"""SMB operations for the iSCSI end-to-end tests and bench/iscsi-copychunk.sh, with impacket as the client.
One operation per run; prints one JSON line (what happened, how long the SMB exchange took).

  IscsiSmb.py --port P --user U --password PW copychunk SRC_SHARE SRC DST_SHARE DST SIZE
      FSCTL_SRV_COPYCHUNK_WRITE of SIZE bytes, 1 MiB chunks, 16 per request (the destination is created)
  IscsiSmb.py ... eof SHARE NAME SIZE            create (overwrite) a file and set its end of file (no data)
  IscsiSmb.py ... dup SRC_SHARE SRC DST_SHARE DST SRC_OFFSET DST_OFFSET LENGTH
      FSCTL_DUPLICATE_EXTENTS_TO_FILE (MS-FSCC 2.3.8) on the open destination
  IscsiSmb.py ... writeat SHARE NAME OFFSET HEX  write bytes into an existing file
  IscsiSmb.py ... sha SHARE NAME OFFSET LENGTH   SHA-256 of a byte range read through the gateway
"""
import argparse, hashlib, json, struct, sys, time

from impacket.smbconnection import SMBConnection
from impacket.smb3structs import (FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_READ_ATTRIBUTES,
                                  FILE_WRITE_ATTRIBUTES, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_SHARE_DELETE,
                                  FILE_OVERWRITE_IF, FILE_OPEN, FILE_NON_DIRECTORY_FILE, SMB2_0_IOCTL_IS_FSCTL)
from impacket.smb3 import SessionError

FSCTL_SRV_REQUEST_RESUME_KEY = 0x00140078
FSCTL_SRV_COPYCHUNK_WRITE = 0x001480F2
FSCTL_DUPLICATE_EXTENTS_TO_FILE = 0x00098344
FILE_END_OF_FILE_INFORMATION = 20
RW = FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES
SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE


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
        return self.smb.create(self.tree(share), name, access, SHARE_ALL, FILE_NON_DIRECTORY_FILE, disposition, 0)

    def close(self, share, fid):
        self.smb.close(self.tree(share), fid)

    def ioctl(self, share, fid, code, blob, max_out):
        return self.smb.ioctl(self.tree(share), fid, code, SMB2_0_IOCTL_IS_FSCTL, blob, 0, max_out)


def copychunk(c, src_share, src_name, dst_share, dst_name, size):
    src = c.create(src_share, src_name, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
    key = c.ioctl(src_share, src, FSCTL_SRV_REQUEST_RESUME_KEY, b"", 32)[:24]
    dst = c.create(dst_share, dst_name)
    chunk, per_request = 1 << 20, 16
    total = 0
    start = time.monotonic()
    for base in range(0, size, chunk * per_request):
        chunks = [(off, off, min(chunk, size - off)) for off in range(base, min(size, base + chunk * per_request), chunk)]
        blob = key + struct.pack("<II", len(chunks), 0) + b"".join(struct.pack("<QQII", s, t, l, 0) for s, t, l in chunks)
        out = c.ioctl(dst_share, dst, FSCTL_SRV_COPYCHUNK_WRITE, blob, 12)
        n, partial, written = struct.unpack("<III", out)
        if n != len(chunks) or partial != 0:
            raise RuntimeError(f"copy-chunk answered {n} chunks, {partial} partial, {written} bytes")
        total += written
    seconds = time.monotonic() - start
    c.close(dst_share, dst)
    c.close(src_share, src)
    return {"written": total, "seconds": seconds}


def eof(c, share, name, size):
    fid = c.create(share, name)
    c.smb.setInfo(c.tree(share), fid, struct.pack("<q", size), fileInfoClass=FILE_END_OF_FILE_INFORMATION)
    c.close(share, fid)
    return {"size": size}


def dup(c, src_share, src_name, dst_share, dst_name, src_off, dst_off, length):
    src = c.create(src_share, src_name, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
    dst = c.create(dst_share, dst_name, RW, FILE_OPEN)
    blob = src + struct.pack("<qqq", src_off, dst_off, length)
    start = time.monotonic()
    status = 0
    try:
        c.ioctl(dst_share, dst, FSCTL_DUPLICATE_EXTENTS_TO_FILE, blob, 0)
    except SessionError as e:
        status = e.get_error_code() & 0xFFFFFFFF
    seconds = time.monotonic() - start
    c.close(dst_share, dst)
    c.close(src_share, src)
    return {"status": status, "seconds": seconds}


def writeat(c, share, name, offset, data):
    fid = c.create(share, name, RW, FILE_OPEN)
    c.smb.write(c.tree(share), fid, data, offset, len(data))
    c.close(share, fid)
    return {"written": len(data)}


def sha(c, share, name, offset, length):
    fid = c.create(share, name, FILE_READ_DATA | FILE_READ_ATTRIBUTES, FILE_OPEN)
    h = hashlib.sha256()
    done = 0
    while done < length:
        try:
            data = c.smb.read(c.tree(share), fid, offset + done, min(1 << 20, length - done))
        except SessionError as e:
            if e.get_error_code() & 0xFFFFFFFF != 0xC0000011:  # STATUS_END_OF_FILE: the file is shorter
                raise
            break
        if not data:
            break
        h.update(data)
        done += len(data)
    c.close(share, fid)
    return {"sha256": h.hexdigest(), "length": done}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="Password1")
    p.add_argument("op", choices=["copychunk", "eof", "dup", "writeat", "sha"])
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    c = Client(a.port, a.user, a.password)
    x = a.args
    if a.op == "copychunk":
        r = copychunk(c, x[0], x[1], x[2], x[3], int(x[4]))
    elif a.op == "eof":
        r = eof(c, x[0], x[1], int(x[2]))
    elif a.op == "dup":
        r = dup(c, x[0], x[1], x[2], x[3], int(x[4]), int(x[5]), int(x[6]))
    elif a.op == "sha":
        r = sha(c, x[0], x[1], int(x[2]), int(x[3]))
    else:
        r = writeat(c, x[0], x[1], int(x[2]), bytes.fromhex(x[3]))
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    try:
        main()
    except SessionError as e:
        print(json.dumps({"error": f"0x{e.get_error_code() & 0xFFFFFFFF:08X}", "message": str(e)}), flush=True)
        sys.exit(1)
