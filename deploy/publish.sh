#!/bin/bash
# Self-contained build of the gateway: no .NET runtime needed on the target (the runtime packs come from NuGet).
# Produces OUT/smbcopy-VERSION-RID/ laid out for deploy/smbcopy.service and a .tar.gz of it:
#   usr/lib/smbcopy/smbcopy (+ its files)   etc/smbcopy/appsettings.json (sample: one Local share)
#   lib/systemd/system/smbcopy.service       usr/share/doc/smbcopy/ (sample configurations, docs)
# usage: deploy/publish.sh [-r linux-x64|linux-arm64] [-o OUT] [-c Release]
# Install on the target (as root):
#   tar -xzf smbcopy-*.tar.gz -C / --strip-components=1 && useradd --system --no-create-home smbcopy \
#   && systemctl daemon-reload && systemctl enable --now smbcopy
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RID=linux-x64 OUT="$ROOT/artifacts/publish" CONFIG=Release
while getopts "r:o:c:" opt; do
  case $opt in
    r) RID=$OPTARG ;; o) OUT=$OPTARG ;; c) CONFIG=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
VERSION=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo dev)
STAGE="$OUT/smbcopy-$VERSION-$RID"
rm -rf "$STAGE"
mkdir -p "$STAGE/usr/lib/smbcopy" "$STAGE/etc/smbcopy" "$STAGE/lib/systemd/system" "$STAGE/usr/share/doc/smbcopy"
# Self-contained, one executable plus native libraries; invariant globalization keeps ICU off the target's
# requirements (names are compared ordinally / case-insensitively without culture data).
dotnet publish "$ROOT/src/Gateway/SmbCopy.Gateway.csproj" -c "$CONFIG" -r "$RID" --self-contained true \
  -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true -p:InvariantGlobalization=true \
  -p:DebugType=none -p:InformationalVersion="$VERSION" -warnaserror -nologo -o "$STAGE/usr/lib/smbcopy"
rm -f "$STAGE/usr/lib/smbcopy/appsettings.json" "$STAGE/usr/lib/smbcopy/"*.pdb "$STAGE/usr/lib/smbcopy/"*.staticwebassets.*
cp "$ROOT/deploy/config/local.json" "$STAGE/etc/smbcopy/appsettings.json"
cp "$ROOT/deploy/smbcopy.service" "$STAGE/lib/systemd/system/"
cp "$ROOT/deploy/config/"*.json "$ROOT/docs/operations.md" "$ROOT/docs/windows.md" "$STAGE/usr/share/doc/smbcopy/"
"$STAGE/usr/lib/smbcopy/smbcopy" --help >/dev/null   # the build runs on this machine (same RID)
tar -C "$OUT" -czf "$STAGE.tar.gz" "$(basename "$STAGE")"
echo "$STAGE.tar.gz"
