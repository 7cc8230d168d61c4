#!/bin/bash
# Run smbtorture's SMB2 core suites against a target and record one row per test.
#
# usage: run.sh TARGET [-o OUT.tsv]
#   TARGET  samba      start the Samba 4.17 rig (tests/rigs/samba) on a free port, run, stop it
#           gateway    start the built gateway (tests/rigs/gateway) on a free port, run, stop it
#           HOST:PORT  an already running server; credentials and share from the environment:
#                      SMBTORTURE_USER (alice) SMBTORTURE_PASSWORD (alice-Pw1) SMBTORTURE_SHARE (data)
#   -o      output TSV (default tests/smbtorture/results-TARGET.tsv; HOST:PORT needs -o)
# env SUITES (default "smb2.connect smb2.tcon smb2.session smb2.credits"),
#     SUITE_TIMEOUT seconds per suite (default 600),
#     EXCLUDE_TESTS full test names not to run (e.g. smb2.notify.mask-change: waits forever for events
#     only Windows sends); the suite's other tests then run one smbtorture call each.
# TSV columns: suite, test, result (success|failure|skip|error|xfail), detail (first line of reason).
# A test smbtorture lists but never reports (crash, timeout, refused connection) is 'error'.
# Raw smbtorture output goes to OUT-without-.tsv.logs/SUITE.log. Prints a per-suite summary; after a gateway run to the default output, regenerates results.md.
# Exits 0 when the suites ran (whatever they found), non-zero when the harness itself failed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); RIGS="$HERE/../rigs"
TARGET=${1:-}; shift || true
OUT=""
while getopts "o:h" o; do case $o in o) OUT=$OPTARG;; *) sed -n 2,16p "$0"; exit 2;; esac; done
[ -n "$TARGET" ] || { sed -n 2,16p "$0"; exit 2; }
case $OUT in ''|/*) ;; *) OUT="$PWD/$OUT";; esac
SUITES=${SUITES:-"smb2.connect smb2.tcon smb2.session smb2.credits"}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600}
USER_=${SMBTORTURE_USER:-alice}; PASS=${SMBTORTURE_PASSWORD:-alice-Pw1}; SHARE=${SMBTORTURE_SHARE:-data}
command -v smbtorture >/dev/null || { echo "smbtorture not installed (samba-testsuite; tests/install-deps.sh)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/smbtorture-run.XXXXXX)
chmod 755 "$WORK"   # the share lives inside; Samba maps the user to a non-root Unix account
STOP=""; RIG_FAILED=0
cleanup() { [ -n "$STOP" ] && eval "$STOP" >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT
case $TARGET in
  samba|gateway)
    PORT=$(bash "$RIGS/free-port.sh"); HOST=127.0.0.1
    [ -n "$OUT" ] || OUT="$HERE/results-$TARGET.tsv"
    STOP="bash '$RIGS/$TARGET/stop.sh' -b '$WORK/rig'"
    # a server that does not start still gets its table (every test fails to connect); exit 1 at the end
    bash "$RIGS/$TARGET/start.sh" -p "$PORT" -b "$WORK/rig" -u "$USER_" -w "$PASS" -s "$SHARE=$WORK/share" \
      || { RIG_FAILED=1; echo "run.sh: $TARGET did not start; recording every test as failed" >&2; };;
  *:*)
    HOST=${TARGET%:*}; PORT=${TARGET##*:}
    [ -n "$OUT" ] || { echo "HOST:PORT needs -o OUT.tsv" >&2; exit 2; };;
  *) sed -n 2,16p "$0"; exit 2;;
esac

: > "$WORK/rows.tsv"
cd "$WORK"   # smbtorture may leave scratch directories in its working directory
for suite in $SUITES; do
  # expected names: '--list' prints suite.tcase.test; simple tests repeat the last component
  # (--list matches by prefix: 'smb2.session' also lists smb2.session-id, which a run does not include)
  smbtorture --list "$suite" 2>/dev/null \
    | awk -F. -v s="$suite" 'index($0, s ".") == 1 { if (NF > 2 && $NF == $(NF-1)) { NF--; } print }' OFS=. \
    > "$WORK/list" || true
  start=$(date +%s.%N)
  rc=0
  # --configfile=/dev/null: the same defaults on every machine, whatever /etc/samba/smb.conf says
  excluded=$(for e in ${EXCLUDE_TESTS:-}; do case $e in "$suite".*) echo "$e";; esac; done)
  if [ -z "$excluded" ]; then
    timeout -k 10 "$SUITE_TIMEOUT" smbtorture --configfile=/dev/null "//$HOST/$SHARE" -p "$PORT" -U "$USER_%$PASS" \
        --fullname --format=subunit "$suite" > "$WORK/raw.$suite" 2>&1 || rc=$?
  else
    # Tests named in EXCLUDE_TESTS are not run (they hang against this target; the table records them
    # as 'error: not run'); the others run one by one, within the suite's time budget.
    : > "$WORK/raw.$suite"
    deadline=$(( $(date +%s) + SUITE_TIMEOUT ))
    while read -r t; do
      echo "$excluded" | grep -qxF "$t" && continue
      left=$(( deadline - $(date +%s) )); [ "$left" -gt 0 ] || { rc=124; break; }
      timeout -k 10 "$left" smbtorture --configfile=/dev/null "//$HOST/$SHARE" -p "$PORT" -U "$USER_%$PASS" \
          --fullname --format=subunit "$t" >> "$WORK/raw.$suite" 2>&1 || { r=$?; [ "$r" = 124 ] && rc=124; [ "$rc" = 0 ] && rc=$r; }
    done < "$WORK/list"
  fi
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  mkdir -p "${OUT%.tsv}.logs" && cp "$WORK/raw.$suite" "${OUT%.tsv}.logs/$suite.log"
  awk -v suite="$suite" -v rc="$rc" -v listfile="$WORK/list" '
    function clean(s) { gsub(/[\t\r]/, " ", s); return s }
    BEGIN { while ((getline l < listfile) > 0) if (l != "") { order[++n] = l; known[l] = 1 } }
    inreason { if ($0 ~ /^\]/) { inreason = 0 } else if (detail[cur] == "") { detail[cur] = clean($0) } next }
    /^test: / { t = substr($0, 7); started[t] = 1; if (!(t in known)) { order[++n] = t; known[t] = 1 } next }
    /^(success|failure|skip|error|xfail|uxsuccess|failure): / {
      res = substr($0, 1, index($0, ":") - 1); rest = substr($0, length(res) + 3)
      br = 0; if (rest ~ / \[$/) { br = 1; sub(/ \[$/, "", rest) }
      else if (rest ~ / \[.*\]$/) { d = rest; sub(/^[^[]*\[ */, "", d); sub(/ *\]$/, "", d); sub(/ \[.*$/, "", rest); detail[rest] = clean(d) }
      if (res == "uxsuccess") res = "failure"
      result[rest] = res; cur = rest; if (br) inreason = 1
      if (!(rest in known)) { order[++n] = rest; known[rest] = 1 }
      next }
    END {
      for (i = 1; i <= n; i++) { t = order[i]
        if (t in result) { r = result[t]; d = detail[t] }
        else { r = "error"; d = (t in started) ? "started, no result (crash or timeout; smbtorture rc " rc ")" : "not run (smbtorture rc " rc ")" }
        print suite "\t" t "\t" r "\t" d } }
  ' "$WORK/raw.$suite" >> "$WORK/rows.tsv"
  printf '%-14s ran in %6.1f s (smbtorture rc %s)\n' "$suite" "$secs" "$rc"
done
{ printf 'suite\ttest\tresult\tdetail\n'; cat "$WORK/rows.tsv"; } > "$OUT"
echo "wrote $OUT"
awk -F'\t' 'NR > 1 { if (!($1 in tot)) o[++n] = $1; c[$1 FS $3]++; tot[$1]++ }
  END { printf "%-14s %7s %7s %7s %7s %7s\n", "suite", "success", "failure", "skip", "error", "total"
        for (i = 1; i <= n; i++) { k = o[i]; printf "%-14s %7d %7d %7d %7d %7d\n", k, c[k FS "success"], c[k FS "failure"], c[k FS "skip"], c[k FS "error"], tot[k] } }' "$OUT"
if [ "$TARGET" = gateway ] && [ "$OUT" = "$HERE/results-gateway.tsv" ] && [ -f "$HERE/results-samba.tsv" ]; then
  bash "$HERE/compare.sh" "$HERE/results-samba.tsv" "$OUT" > "$HERE/results.md" && echo "wrote $HERE/results.md"
fi
[ "$RIG_FAILED" = 0 ] || exit 1
