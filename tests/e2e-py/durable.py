#!/usr/bin/python3
"""python3-impacket: a durable handle survives a lost TCP connection ([MS-SMB2] 3.3.5.9.6/.10, 3.3.5.9.7/.12).

Opens a file with a batch oplock and a durable-handle request (v1 "DHnQ" or v2 "DH2Q"), writes to it, drops the
TCP connection without closing anything, logs on again on a new connection and reconnects the open ("DHnC" /
"DH2C"): the server must answer with the same persistent FileId and the batch oplock, and the data written
before the drop must read back through the reconnected handle. Then a reconnect of the now-connected open must
fail with STATUS_OBJECT_NAME_NOT_FOUND.

Called by tests/EndToEnd (DurableHandleTests) and usable by hand:
  /usr/bin/python3 tests/e2e-py/durable.py --port 4450 --user alice --password alice-Pw1 --share data --version 2
Prints one 'key: value' line per step and 'RESULT: OK' at the end; exit 0 on success, 1 on a failed check."""
import argparse
import os
import struct
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logon import check, fix_311_preauth_hash, require_signing  # noqa: E402

from impacket import smb3  # noqa: E402
from impacket.smb3structs import (SMB2_DIALECT_311, SMB2_OPLOCK_LEVEL_BATCH, FILE_READ_DATA,  # noqa: E402
                                  FILE_WRITE_DATA, FILE_NON_DIRECTORY_FILE, FILE_OVERWRITE_IF,
                                  FILE_ATTRIBUTE_NORMAL, SMB2CreateContext, SMB2Create_Response)
from impacket.smb3 import SessionError  # noqa: E402

last_answer = {}


def capture_answers():
    """Keep the last answer impacket received, to read the CREATE response's oplock level and contexts."""
    original = smb3.SMB3.recvSMB

    def recv(self, *args, **kwargs):
        ans = original(self, *args, **kwargs)
        last_answer["packet"] = ans
        return ans

    smb3.SMB3.recvSMB = recv


def context(name, data):
    """An SMB2_CREATE_CONTEXT (2.2.13.2): name at 16 padded to 8, data after it."""
    c = SMB2CreateContext()
    pad = (8 - len(name) % 8) % 8
    c["Next"] = 0
    c["NameOffset"] = 16
    c["NameLength"] = len(name)
    c["Reserved"] = 0
    c["DataOffset"] = 16 + len(name) + pad
    c["DataLength"] = len(data)
    c["Buffer"] = name + b"\0" * pad + data
    return c


def create_response():
    r = SMB2Create_Response(last_answer["packet"]["Data"])
    return r["OplockLevel"], r["FileID"].getData(), r["Buffer"]


def connect(a):
    conn = smb3.SMB3(a.host, a.host, sess_port=a.port, preferredDialect=SMB2_DIALECT_311, timeout=30)
    conn.login(a.user, a.password, "")
    return conn, conn.connectTree(a.share)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--share", default="data")
    p.add_argument("--version", type=int, choices=(1, 2), default=1)
    a = p.parse_args()
    require_signing()
    fix_311_preauth_hash()
    capture_answers()

    name = f"durable-v{a.version}-{os.getpid()}.dat"
    create_guid = uuid.uuid4().bytes_le
    if a.version == 1:
        request = context(b"DHnQ", b"\0" * 16)
    else:
        request = context(b"DH2Q", struct.pack("<II", 0, 0) + b"\0" * 8 + create_guid)

    conn, tid = connect(a)
    fid = conn.create(tid, name, FILE_READ_DATA | FILE_WRITE_DATA, 0, FILE_NON_DIRECTORY_FILE, FILE_OVERWRITE_IF,
                      FILE_ATTRIBUTE_NORMAL, oplockLevel=SMB2_OPLOCK_LEVEL_BATCH, createContexts=[request])
    oplock, file_id, contexts = create_response()
    persistent = struct.unpack("<Q", file_id[:8])[0]
    print(f"open: {name} oplock=0x{oplock:02x} persistent=0x{persistent:x} contexts={contexts!r}")
    check(oplock == SMB2_OPLOCK_LEVEL_BATCH, "a batch oplock")
    check((b"DHnQ" if a.version == 1 else b"DH2Q") in contexts, "the durable-handle response context")
    payload = os.urandom(5000)
    conn.write(tid, fid, payload, 0, len(payload))
    print(f"write: {len(payload)} bytes")

    # Drop the TCP connection: no CLOSE, no TREE_DISCONNECT, no LOGOFF.
    conn._NetBIOSSession.close()
    print("disconnect: TCP connection closed")

    conn2, tid2 = connect(a)
    if a.version == 1:
        reconnect = context(b"DHnC", file_id)
    else:
        reconnect = context(b"DH2C", file_id + create_guid + struct.pack("<I", 0))
    fid2 = conn2.create(tid2, name, FILE_READ_DATA | FILE_WRITE_DATA, 0, FILE_NON_DIRECTORY_FILE, FILE_OVERWRITE_IF,
                        FILE_ATTRIBUTE_NORMAL, oplockLevel=SMB2_OPLOCK_LEVEL_BATCH, createContexts=[reconnect])
    oplock2, file_id2, _ = create_response()
    persistent2 = struct.unpack("<Q", file_id2[:8])[0]
    print(f"reconnect: oplock=0x{oplock2:02x} persistent=0x{persistent2:x}")
    check(persistent2 == persistent, "the same persistent FileId after the reconnect")
    check(oplock2 == SMB2_OPLOCK_LEVEL_BATCH, "the batch oplock kept")
    got = conn2.read(tid2, fid2, 0, len(payload))
    check(got == payload, "the data written before the disconnect reads back through the reconnected open")
    print(f"read: {len(got)} bytes identical")

    try:
        conn2.create(tid2, name, FILE_READ_DATA, 0, FILE_NON_DIRECTORY_FILE, FILE_OVERWRITE_IF, FILE_ATTRIBUTE_NORMAL,
                     createContexts=[reconnect])
        check(False, "a second reconnect of a connected open fails")
    except SessionError as e:
        status = e.get_error_code()
        print(f"second reconnect: 0x{status:08x}")
        check(status == 0xC0000034, "STATUS_OBJECT_NAME_NOT_FOUND for a connected open")

    conn2.close(tid2, fid2)
    conn2.remove(a.share, name)
    conn2.logoff()
    print("RESULT: OK")


if __name__ == "__main__":
    main()
