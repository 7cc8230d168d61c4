"""What bench/dupextents.py and bench/copychunk-probe.py share: the command line, the session, and a
source/destination pair of opens (impacket). Imported from the scripts' own directory."""
import sys

from impacket import smb3structs as s
from impacket.smbconnection import SMBConnection

READ_ACCESS = s.FILE_READ_DATA | s.FILE_READ_ATTRIBUTES | s.READ_CONTROL
WRITE_ACCESS = READ_ACCESS | s.FILE_WRITE_DATA | s.FILE_WRITE_ATTRIBUTES
SHARING = s.FILE_SHARE_READ | s.FILE_SHARE_WRITE | s.FILE_SHARE_DELETE


def connect(doc):
    """argv: PORT USER PASS SHARE SRC DST [more...]. Returns (raw, tid, src, dst, more), or None after printing
    the usage line (taken from the script's docstring) or why the connection failed."""
    if len(sys.argv) < 7:
        print(doc.strip().splitlines()[-1], file=sys.stderr)
        return None
    port, user, password, share, src, dst = sys.argv[1:7]
    try:
        conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=int(port))
        conn.login(user, password)
        tid = conn.connectTree(share)
    except Exception as e:  # noqa: BLE001 - any failure to connect is a usage problem here
        print(f"cannot connect: {e}", file=sys.stderr)
        return None
    return conn.getSMBServer(), tid, src, dst, sys.argv[7:]


def open_pair(raw, tid, src, dst):
    """SRC opened for reading, DST created or truncated for writing; returns their file ids."""
    sfid = raw.create(tid, src, READ_ACCESS, SHARING, s.FILE_NON_DIRECTORY_FILE, s.FILE_OPEN, 0)
    dfid = raw.create(tid, dst, WRITE_ACCESS, SHARING, s.FILE_NON_DIRECTORY_FILE, s.FILE_OVERWRITE_IF, 0)
    return sfid, dfid
