#!/usr/bin/python3
"""Does the server do server-side copy-chunk? (MS-SMB2 3.3.5.15.6)

smbclient's `scopy` silently falls back to READ + WRITE through the client when the server answers
FSCTL_SRV_COPYCHUNK_WRITE with STATUS_INVALID_DEVICE_REQUEST (source3/libsmb/clireadwrite.c,
cli_splice), so a scopy time alone does not prove that the server copied anything. This probe asks
for a resume key on SRC and copies its first CHUNK bytes into DST with one COPYCHUNK_WRITE, then
reads DST back. Prints 'ok' or 'unsupported: <status/why>'; exit 0 either way, 2 on a usage or
connection problem.

usage: copychunk-probe.py PORT USER PASS SHARE SRC DST [CHUNK]
"""
import re
import sys

from impacket import smb3structs as s
from impacket.smbconnection import SessionError

import benchsmb


def main():
    session = benchsmb.connect(__doc__)
    if session is None:
        return 2
    raw, tid, src, dst, more = session
    chunk = int(more[0]) if more else 65536
    try:
        sfid, dfid = benchsmb.open_pair(raw, tid, src, dst)
    except SessionError as e:
        print(f"cannot open files: {e}", file=sys.stderr)
        return 2
    step = "FSCTL_SRV_REQUEST_RESUME_KEY"
    try:
        key = raw.ioctl(tid, sfid, s.FSCTL_SRV_REQUEST_RESUME_KEY, s.SMB2_0_IOCTL_IS_FSCTL,
                        maxOutputResponse=32)
        c = s.SRV_COPYCHUNK()
        c["SourceOffset"], c["TargetOffset"], c["Length"] = 0, 0, chunk
        req = s.SRV_COPYCHUNK_COPY()
        req["SourceKey"], req["ChunkCount"], req["Chunks"] = key[:24], 1, c.getData()
        step = "FSCTL_SRV_COPYCHUNK_WRITE"
        out = raw.ioctl(tid, dfid, s.FSCTL_SRV_COPYCHUNK_WRITE, s.SMB2_0_IOCTL_IS_FSCTL,
                        inputBlob=req.getData(), maxOutputResponse=12)
        resp = s.SRV_COPYCHUNK_RESPONSE(out)
        step = "read-back"
        want = raw.read(tid, sfid, 0, chunk)
        got = raw.read(tid, dfid, 0, chunk)
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
    if resp["TotalBytesWritten"] != chunk or want != got:
        print(f"unsupported: copy-chunk answered {resp['TotalBytesWritten']} bytes, content "
              f"{'equal' if want == got else 'different'}")
        return 0
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
