#!/usr/bin/env bash
# The integration path under valgrind (memcheck): a spec with a declared file, a file://
# checkpoint every second, exit actions, a status file and a termination log; an invalid
# spec; a stop by SIGTERM. Any memory error or definite/indirect leak fails (exit 99).
# Usage: valgrind_test.sh SUPERVISE_BINARY
set -euo pipefail
bin=$1
command -v valgrind >/dev/null || { echo "valgrind is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
work=$(mktemp -d /tmp/supervise-valgrind.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"' EXIT
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work/data"
echo hello >"$work/data/a.txt"
cat >"$work/spec.yaml" <<SPEC
name: vg
command: [/bin/sh, -c, "cat $work/out/run.txt >/dev/null && sleep 1.5; exit 3"]
files:
- path: $work/out/run.txt
  contents: hi
checkpoint:
- path: $work/data
  url: file://$work/store
  frequency: 1s
exitActions:
  RESCHEDULE: 3
SPEC
rc=0; "${vg[@]}" "$bin" --spec "$work/spec.yaml" --status-file "$work/st.json" --termination-log "$work/tl" || rc=$?
[ "$rc" -eq 3 ] || fail "spec run: exit $rc (99: valgrind found errors)"
grep -q '"action": "RESCHEDULE"' "$work/st.json" || fail "spec run: status $(cat "$work/st.json")"
[ -f "$work/store/data/a.txt" ] || fail "spec run: checkpoint not stored"

printf 'command: [true]\nfiles:\n- path: relative\n  contents: x\n' >"$work/bad.yaml"
rc=0; "${vg[@]}" "$bin" --spec "$work/bad.yaml" --status-file "$work/bad.json" 2>"$work/bad.err" || rc=$?
[ "$rc" -eq 125 ] || fail "invalid spec: exit $rc (99: valgrind found errors): $(cat "$work/bad.err")"

"${vg[@]}" "$bin" --status-file "$work/stop.json" -- sleep 60 &
pid=$!
deadline=$((SECONDS + 60))
until pgrep -P "$pid" -x sleep >/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || fail "sleep never started under valgrind"
  sleep 0.1
done
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 143 ] || fail "stop: exit $rc (99: valgrind found errors)"
grep -q '"requested_by": "SIGTERM"' "$work/stop.json" || fail "stop: status $(cat "$work/stop.json")"
echo "valgrind: 3 runs clean"
