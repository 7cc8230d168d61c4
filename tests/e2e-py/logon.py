#!/usr/bin/python3
"""python3-impacket against an SMB server: negotiate one dialect with signing required, log on,
list shares, connect a tree, write a file, list and read it back, disconnect.

Called by tests/EndToEnd (ImpacketTests) and usable by hand:
  /usr/bin/python3 tests/e2e-py/logon.py --port 4450 --user alice --password alice-Pw1 --share data --dialect 3.1.1
  ... --expect-failure STATUS_LOGON_FAILURE    (succeeds only if log-on fails with that status)
Prints one 'key: value' line per step and 'RESULT: OK' at the end; exit 0 on success, 1 on a
failed check, 2 on usage errors. Uses the Debian python3 (python3-impacket 0.10)."""
import argparse
import io
import os
import sys

from impacket import smb3
from impacket.smb3structs import SMB2_DIALECT_30, SMB2_DIALECT_311
from impacket.smbconnection import SMBConnection, SessionError

DIALECTS = {"3.1.1": SMB2_DIALECT_311, "3.0": SMB2_DIALECT_30}


def require_signing():
    """impacket signs only when the server asks; make the client require it (sets the
    SIGNING_REQUIRED bit in NEGOTIATE and signs every request after SESSION_SETUP)."""
    original = smb3.SMB3.negotiateSession

    def negotiate(self, *args, **kwargs):
        self.RequireMessageSigning = True
        return original(self, *args, **kwargs)

    smb3.SMB3.negotiateSession = negotiate


def fix_311_preauth_hash():
    """impacket 0.10 (Debian 12) does not seed Session.PreauthIntegrityHashValue from the
    connection's at NTLM log-on ([MS-SMB2] 3.2.5.3.1; fixed upstream in 0.11, fortra/impacket#1373),
    so its 3.1.1 signing key is wrong and every signed request after SESSION_SETUP fails. Seed it
    the way 0.11 does; harmless for 3.0 and for fixed versions."""
    original = smb3.SMB3.login

    def login(self, *args, **kwargs):
        self._Session["PreauthIntegrityHashValue"] = self._Connection["PreauthIntegrityHashValue"]
        return original(self, *args, **kwargs)

    smb3.SMB3.login = login


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--share", default="data")
    p.add_argument("--dialect", choices=sorted(DIALECTS), default="3.1.1")
    p.add_argument("--expect-failure", metavar="STATUS", help="expect log-on to fail with this NT status name")
    a = p.parse_args()

    require_signing()
    fix_311_preauth_hash()
    dialect = DIALECTS[a.dialect]
    conn = SMBConnection(a.host, a.host, sess_port=a.port, preferredDialect=dialect, timeout=30)
    print(f"dialect: 0x{conn.getDialect():04x}")
    check(conn.getDialect() == dialect, f"negotiated dialect 0x{dialect:04x}")

    try:
        conn.login(a.user, a.password, domain="")
    except SessionError as e:
        status = e.getErrorString()[0]
        print(f"login: {status}")
        if a.expect_failure:
            check(status == a.expect_failure, f"log-on fails with {a.expect_failure}")
            print("RESULT: OK")
            return
        raise
    check(not a.expect_failure, f"log-on fails with {a.expect_failure}, but it succeeded")
    session = conn._SMBConnection._Session
    print(f"login: ok guest={conn.isGuestSession()} signing_required={conn.isSigningRequired()} "
          f"signing_active={session['SigningActivated']}")
    check(not conn.isGuestSession(), "an authenticated (non-guest) session")
    check(conn.isSigningRequired() and session["SigningActivated"], "signing required and active")

    names = [s["shi1_netname"][:-1] for s in conn.listShares()]
    print(f"shares: {','.join(names)}")
    check(a.share in names, f"share {a.share} listed")
    check("IPC$" in names, "IPC$ listed")

    tid = conn.connectTree(a.share)
    print(f"tree: {a.share} tid={tid}")
    check(tid != 0, "a tree id")
    conn.disconnectTree(tid)

    name = f"impacket-{a.dialect}-{os.getpid()}.txt"
    payload = os.urandom(70000)
    conn.putFile(a.share, name, io.BytesIO(payload).read)
    listed = [f.get_longname() for f in conn.listPath(a.share, "*")]
    check(name in listed, f"{name} in the directory listing")
    got = bytearray()
    conn.getFile(a.share, name, got.extend)
    check(bytes(got) == payload, "file read back equals file written")
    conn.deleteFile(a.share, name)
    print(f"file: {name} {len(payload)} bytes written, listed, read back, deleted")
    conn.logoff()
    print("RESULT: OK")


if __name__ == "__main__":
    main()
