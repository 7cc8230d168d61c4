#!/usr/bin/python3
"""Time one FSCTL_DUPLICATE_EXTENTS_TO_FILE (MS-FSCC 2.3.8) of a whole file, as Hyper-V and the
Windows 11 24H2 copy engine clone: create DST, set its end of file to SRC's size (a clone target
must already cover the range, as on ReFS), then one DUPLICATE_EXTENTS of [0, size) and nothing
else is timed (perf_counter around the ioctl round trip). Checks afterwards that DST's first and
last MiB equal SRC's.

Prints 'ok SECONDS' or 'unsupported: STATUS'; exit 0 either way, 2 on a usage or connection problem.

usage: dupextents.py PORT USER PASS SHARE SRC DST
"""
import re
import struct
import sys
import time

from impacket import smb3structs as s
from impacket.smbconnection import SessionError

import benchsmb

FSCTL_DUPLICATE_EXTENTS_TO_FILE = 0x00098344
MIB = 1 << 20


def main():
    session = benchsmb.connect(__doc__)
    if session is None:
        return 2
    raw, tid, src, dst, more = session
    step = "create"
    try:
        sfid, dfid = benchsmb.open_pair(raw, tid, src, dst)
        step = "query size"
        info = raw.queryInfo(tid, sfid, infoType=s.SMB2_0_INFO_FILE, fileInfoClass=s.SMB2_FILE_STANDARD_INFO)
        size = struct.unpack_from("<q", info, 8)[0]  # FileStandardInformation.EndOfFile
        step = "set end of file"
        raw.setInfo(tid, dfid, struct.pack("<q", size), infoType=s.SMB2_0_INFO_FILE, fileInfoClass=s.SMB2_FILE_END_OF_FILE_INFO)
        # DUPLICATE_EXTENTS_DATA: FileHandle (SMB2_FILEID of the source), SourceFileOffset,
        # TargetFileOffset, ByteCount.
        blob = sfid + struct.pack("<qqq", 0, 0, size)
        step = "FSCTL_DUPLICATE_EXTENTS_TO_FILE"
        t0 = time.perf_counter()
        raw.ioctl(tid, dfid, FSCTL_DUPLICATE_EXTENTS_TO_FILE, s.SMB2_0_IOCTL_IS_FSCTL, inputBlob=blob,
                  maxOutputResponse=0)
        elapsed = time.perf_counter() - t0
        step = "read-back"
        same = all(raw.read(tid, sfid, off, MIB) == raw.read(tid, dfid, off, MIB)
                   for off in (0, max(0, size - MIB)))
    except Exception as e:  # noqa: BLE001 - an error status or a malformed answer: not supported
        m = re.search(r"STATUS_[A-Z_]+", str(e))
        print(f"unsupported: {step} -> {m.group(0) if m else type(e).__name__ + ': ' + str(e)}")
        return 0
    finally:
        for f in ("sfid", "dfid"):
            if f in locals():
                try:
                    raw.close(tid, locals()[f])
                except Exception:  # noqa: BLE001
                    pass
    if not same:
        print("unsupported: destination differs from the source after the clone")
        return 0
    print(f"ok {elapsed:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
