#!/usr/bin/env bash
# Idle wake-ups: how often supervise, tini and dumb-init wake up while the command they
# supervise (sleep) does nothing. Counts the voluntary context switches of every thread of
# the supervisor over a window of N seconds and prints a markdown table. Not part of ctest
# (tests/compat/reaping_test.cpp asserts the supervise side over 3 s).
#
# Usage: bench/idle_wakeups.sh [SECONDS]      default 10
#   SUPERVISE=path/to/supervise               default build/supervise
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
supervise=${SUPERVISE:-build/supervise}
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
[ -x "$supervise" ] || { echo "no supervise binary at $supervise (set SUPERVISE=)" >&2; exit 2; }

running=""  # the supervisor being measured; SIGTERM by pid (it forwards it) if we are interrupted
trap '[ -n "$running" ] && kill -TERM "$running" 2>/dev/null; true' EXIT

# Sum of voluntary_ctxt_switches over the threads of pid $1.
switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# Polls (10 s deadline) until pid $1 has a child running sleep.
wait_for_sleep() {
  local deadline=$((SECONDS + 10))
  until ps -o comm= --ppid "$1" | grep -qx sleep; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "sleep never started under pid $1" >&2; return 1; fi
    sleep 0.05
  done
}

# measure NAME ARGV...: the row of one supervisor.
measure() {
  local name=$1
  shift
  "$@" sleep $((seconds + 60)) </dev/null >/dev/null 2>&1 &
  running=$!
  wait_for_sleep "$running"
  local before after
  before=$(switches "$running")
  sleep "$seconds"  # the measurement window
  after=$(switches "$running")
  kill -TERM "$running"
  wait "$running" || true
  running=""
  awk -v name="$name" -v n=$((after - before)) -v s="$seconds" \
    'BEGIN { printf "| %s | %d | %.2f |\n", name, n, n / s }'
}

echo "| supervisor | wake-ups in ${seconds} s | per second |"
echo "|---|---:|---:|"
measure "supervise" "$supervise" --log-level warn --
if [ -x /usr/bin/tini ]; then measure "tini" /usr/bin/tini -s -g --; else echo "| tini | not installed | |"; fi
if [ -x /usr/bin/dumb-init ]; then measure "dumb-init" /usr/bin/dumb-init; else echo "| dumb-init | not installed | |"; fi
