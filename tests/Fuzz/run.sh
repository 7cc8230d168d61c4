#!/usr/bin/env bash
# On-demand AFL++ fuzzing of SmbCopy.Protocol's request parsers through SharpFuzz (docs/fuzzing.md).
# Not part of CI. Usage: tests/Fuzz/run.sh [DURATION]    DURATION: seconds or 30s/10m/2h, default 10m
# Environment: FUZZ_WORK (default /tmp/smbcopy-fuzz) holds the published binaries and afl's findings.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${FUZZ_WORK:-/tmp/smbcopy-fuzz}"
duration="${1:-10m}"
case "$duration" in
  *h) seconds=$(( ${duration%h} * 3600 )) ;;
  *m) seconds=$(( ${duration%m} * 60 )) ;;
  *s) seconds=${duration%s} ;;
  *)  seconds=$duration ;;
esac

# 1. Tools: afl++ from Debian, the SharpFuzz instrumenter as a global dotnet tool.
if ! command -v afl-fuzz >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y afl++
fi
export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null; then
  dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0
fi

# 2. Publish the harness, keep an uninstrumented copy (an instrumented assembly run outside afl-fuzz
#    writes to a coverage map that does not exist and dies), then instrument only the assembly under
#    test: the harness and SharpFuzz itself must stay uninstrumented.
rm -rf "$work/bin" "$work/plain"
mkdir -p "$work"
dotnet publish "$here/SmbCopy.Fuzz.csproj" -c Release -o "$work/bin" --nologo -v quiet
cp -r "$work/bin" "$work/plain"
sharpfuzz "$work/bin/SmbCopy.Protocol.dll"
plain=(dotnet "$work/plain/SmbCopy.Fuzz.dll")

# 3. Seed corpus: regenerate tests/Fuzz/seeds from the generator (it also checks every seed parses).
"${plain[@]}" --write-seeds "$here/seeds"

# 4. Fuzz. dotnet is not an afl-instrumented binary (SharpFuzz speaks the fork-server protocol itself),
#    so the binary check is skipped; the generous timeout covers the runtime's start-up.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
export AFL_AUTORESUME=1
status=0
timeout --signal=INT --kill-after=60 $(( seconds + 120 )) \
  afl-fuzz -V "$seconds" -t 5000 -m none -i "$here/seeds" -o "$work/findings" \
  -- dotnet "$work/bin/SmbCopy.Fuzz.dll" --afl || status=$?
echo "afl-fuzz exited with $status"

# 5. Every crash becomes a regression input, named by target and content hash; print how each fails.
mkdir -p "$here/regressions"
new=()
for crash in "$work"/findings/*/crashes/id:*; do
  [ -f "$crash" ] || continue
  hash="$(sha256sum "$crash" | cut -c1-12)"
  name="$("${plain[@]}" --name "$crash")"
  dest="$here/regressions/afl-$name-$hash.bin"
  if [ ! -f "$dest" ]; then cp "$crash" "$dest"; new+=("$dest"); fi
done
hangs=$(find "$work"/findings/*/hangs -name 'id:*' 2>/dev/null | wc -l)
grep -hE 'execs_done|corpus_count|saved_crashes|saved_hangs|run_time' "$work"/findings/*/fuzzer_stats 2>/dev/null || true
echo "new regression inputs: ${#new[@]}; hangs (not copied, see $work/findings/*/hangs): $hangs"
if [ ${#new[@]} -gt 0 ]; then
  "${plain[@]}" --replay "${new[@]}" || true
  exit 1
fi
