# Shared helpers of the bench/ scripts (sourced, not run).
# Every script: `source "$(dirname "$0")/lib.sh"`; it cds to the repository root, sets
# $supervise (env SUPERVISE, default build/supervise) and $work (a temporary directory
# removed at exit, with every process started through `bg` ended by pid).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
supervise=$(realpath "${SUPERVISE:-build/supervise}")
[ -x "$supervise" ] || { echo "no supervise binary at $supervise: run scripts/build.sh or set SUPERVISE=" >&2; exit 2; }
work=$(mktemp -d /tmp/supervise-bench.XXXXXX)
bench_pids=()
bench_cleanup() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap bench_cleanup EXIT

# bg CMD...: start CMD in the background; it is ended by pid at exit. Sets $bg_pid.
bg() { "$@" & bg_pid=$!; bench_pids+=("$bg_pid"); }
# unbg PID: PID, started by bg, has been waited for: it is not to be ended at exit.
unbg() { local p keep=(); for p in "${bench_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; bench_pids=("${keep[@]}"); }

# require TOOL...: ends the script with a hint when one is missing.
require() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "$t is not installed: run bench/setup.sh" >&2; exit 2; }
  done
}

# free_port: a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds; fails after SECONDS.
wait_until() {
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "timed out after ${limit}s waiting for: $*" >&2; return 1; }
    sleep 0.05
  done
}

# median: the median of the numbers on stdin, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# percentile P: the P-th percentile (nearest rank) of the numbers on stdin.
percentile() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) exit 1; i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; print v[i] }'; }

# ratio A B: A / B with two decimals and an x ("1.25x"); "n/a" when B is zero or empty.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b + 0 == 0) print "n/a"; else printf "%.2fx\n", a / b }'; }

# timed OUT CMD...: runs CMD (stdout and stderr to $work/last.out/err) and appends
# "wall user+sys peak_rss_kib" to the file OUT. Fails, showing stderr, when CMD fails.
timed() {
  local out=$1; shift
  if ! /usr/bin/time -f "%e %U %S %M" -o "$work/last.time" "$@" >"$work/last.out" 2>"$work/last.err"; then
    echo "failed: $*" >&2; tail -n 20 "$work/last.err" >&2; return 1
  fi
  awk '{ printf "%.4f %.4f %d\n", $1, $2 + $3, $4 }' "$work/last.time" >>"$out"
}

# machine: one line describing this machine, for the table's heading.
machine() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  printf '%s, %s cores, %s GiB, Linux %s, %s\n' "${cpu:-unknown CPU}" "$(nproc)" \
    "$(awk '/^MemTotal/ { printf "%d", $2 / 1048576 + 0.5 }' /proc/meminfo)" "$(uname -r)" \
    "$(. /etc/os-release && echo "$PRETTY_NAME")"
}
