#!/bin/bash
# Start the built SmbCopy gateway (smbcopy.dll) on 127.0.0.1, the same way the end-to-end
# GatewayFixture does, for scripts (tests/smbtorture/run.sh gateway) and by hand. Builds nothing:
# run `dotnet build SmbCopy.sln` first.
#
# usage: start.sh [-p PORT] [-H HTTPPORT] [-b BASEDIR] [-u USER] [-w PASS] [-s NAME=PATH]...
#   -p PORT     SMB port (default 4460)      -H HTTPPORT  HTTP port (default: a free one)
#   -b BASEDIR  state dir, log, pid (default /tmp/smbcopy-gateway)
#   -u USER / -w PASS   the one user (default alice / alice-Pw1); the NT hash is passed, not the password
#   -s SHARE    NAME=PATH, repeatable (default data=BASEDIR/share-data)
# env CONFIGURATION (default Debug) picks src/Gateway/bin/$CONFIGURATION/net10.0/smbcopy.dll;
#     SMBCOPY_GATEWAY_DLL overrides the path.
# Stop with stop.sh -b BASEDIR.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../../.." && pwd)
PORT=4460; HTTP=""; BASE=/tmp/smbcopy-gateway; SMBUSER=alice; SMBPASS='alice-Pw1'; SHARES=()
while getopts "p:H:b:u:w:s:h" o; do
  case $o in
    p) PORT=$OPTARG;; H) HTTP=$OPTARG;; b) BASE=$OPTARG;; u) SMBUSER=$OPTARG;; w) SMBPASS=$OPTARG;;
    s) SHARES+=("$OPTARG");; *) sed -n 2,14p "$0"; exit 2;;
  esac
done
[ ${#SHARES[@]} -eq 0 ] && SHARES=("data=$BASE/share-data")
[ -z "$HTTP" ] && HTTP=$(bash "$HERE/../free-port.sh")
DLL=${SMBCOPY_GATEWAY_DLL:-$ROOT/src/Gateway/bin/${CONFIGURATION:-Debug}/net10.0/smbcopy.dll}
[ -f "$DLL" ] || { echo "$DLL not built (dotnet build SmbCopy.sln)" >&2; exit 1; }
if [ -f "$BASE/gateway.pid" ] && kill -0 "$(cat "$BASE/gateway.pid")" 2>/dev/null; then
  echo "gateway already running with pid $(cat "$BASE/gateway.pid") (base $BASE)" >&2; exit 1
fi
mkdir -p "$BASE/state" "$BASE/log"
NTHASH=$(/usr/bin/python3 -c 'import sys; from impacket.ntlm import compute_nthash; print(compute_nthash(sys.argv[1]).hex())' "$SMBPASS")
ARGS=(--SmbCopy:Smb:Address=127.0.0.1 "--SmbCopy:Smb:Port=$PORT" --SmbCopy:Http:Address=127.0.0.1
      "--SmbCopy:Http:Port=$HTTP" "--SmbCopy:Users:0:Name=$SMBUSER" "--SmbCopy:Users:0:NtHash=$NTHASH"
      "--SmbCopy:StateDirectory=$BASE/state")
i=0
for s in "${SHARES[@]}"; do
  name=${s%%=*}; path=${s#*=}; mkdir -p "$path"
  ARGS+=("--SmbCopy:Shares:$i:Name=$name" "--SmbCopy:Shares:$i:Driver=Local" "--SmbCopy:Shares:$i:Path=$path")
  i=$((i+1))
done
cd "$BASE"
# the gateway reads SMBCOPY_* variables as configuration and rejects unknown keys: pass none
for v in $(compgen -e | grep -i '^SMBCOPY_' || true); do unset "$v"; done
setsid dotnet "$DLL" "${ARGS[@]}" </dev/null >"$BASE/log/gateway.out" 2>&1 &
PID=$!
echo "$PID" > "$BASE/gateway.pid"
for _ in $(seq 1 300); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then
    echo "gateway pid $PID listening on 127.0.0.1:$PORT (http $HTTP) user $SMBUSER"; exit 0
  fi
  kill -0 "$PID" 2>/dev/null || { echo "gateway exited (code $(wait "$PID"; echo $?)) before listening:" >&2; tail -30 "$BASE/log/gateway.out" >&2; rm -f "$BASE/gateway.pid"; exit 1; }
  sleep 0.1
done
echo "gateway did not listen on $PORT within 30 s:" >&2; tail -30 "$BASE/log/gateway.out" >&2; exit 1
