#!/usr/bin/env bash
# Process benchmarks of issue 6, items 1-5: supervise against tini, dumb-init and
# catatonit (and plain /bin/true for start-up), side by side in one run. Prints one
# markdown table (medians and ratios to tini) under a heading naming the machine.
#
#   1. start-up: `X /bin/true`, hyperfine -N, runs pooled over interleaved rounds
#   2. peak RSS (VmHWM) of the supervisor process alone while it supervises `sleep`
#   3. reaping: a command that orphans 10,000 grandchildren (bench/tools/orphans.cpp)
#      under each supervisor as PID 1 of a new PID namespace (unshare --pid --fork
#      --mount-proc), so dumb-init, which is no subreaper otherwise, is in the race too;
#      wall time until unshare returns, i.e. until the namespace is empty. Then one run
#      each with python as PID 1 (which reaps nothing) counts what the supervisor left.
#   4. signal latency: kill(supervisor, SIGTERM) until the handler of the supervised
#      command runs, CLOCK_MONOTONIC both ends (bench/tools/sigbench.cpp), 1,000 signals
#      to each, round robin, one in flight; all pinned to one CPU, and free (10 runs);
#      supervise gets --stop-timeout/--grace-period 1h so the stop its first SIGTERM
#      starts does not end the run (it forwards them all).
#   5. idle cost: voluntary context switches (all threads) and CPU time (schedstat) of
#      the supervisor over a window while `sleep` runs; the four run at the same time.
#   6. signal storm (issue 13): tests/tools/storm sends 100,000 signals (4 in 5
#      real-time, queued) to the supervisor as PID 1 of a new PID namespace while the
#      command's children keep exiting; half-way the command exits with 42. Measured:
#      the command's exit until the supervisor has ended (both CLOCK_MONOTONIC), and
#      whether 42 came out (a forward after the reap would make it a signal death).
#
# Usage: bench/process.sh [--quick] [--idle SECONDS]
#   --quick          fewer runs and a 10 s idle window: a fast check (about a minute)
#   --idle SECONDS   the idle window (default 60, 10 with --quick)
#   SUPERVISE=path   the binary (default build/supervise)
# Needs what bench/setup.sh installs (tini, dumb-init, catatonit, hyperfine) and c++.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

quick=0
idle_seconds=""
idle_given=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --idle) idle_seconds=${2:-}; idle_given=1; shift ;;
    -h | --help) sed -n '2,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--quick] [--idle SECONDS]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  idle_seconds=${idle_seconds:-10}
  startup_rounds=2 startup_runs=30 reap_rounds=3 storm_rounds=3
else
  idle_seconds=${idle_seconds:-60}
  startup_rounds=5 startup_runs=100 reap_rounds=10 storm_rounds=10
fi
storm_signals=100000
case $idle_seconds in '' | *[!0-9]*) echo "--idle takes whole seconds" >&2; exit 2 ;; esac
orphans_count=10000
signals_total=1000
signal_rounds=10
require hyperfine unshare taskset c++ python3 tini dumb-init catatonit ps

names=(supervise tini dumb-init catatonit)
# The command line of each supervisor, to which the supervised command is appended.
prefix() {
  case $1 in
    supervise) echo "$supervise --" ;;
    tini) echo "tini -s --" ;;  # -s: a subreaper when not PID 1
    dumb-init) echo "dumb-init" ;;
    catatonit) echo "catatonit --" ;;
  esac
}

log() { echo "== $*" >&2; }

log "building bench/tools into $work"
for tool in sigbench orphans; do
  c++ -O2 -std=c++20 -o "$work/$tool" "bench/tools/$tool.cpp"
done
c++ -O2 -std=c++20 -pthread -o "$work/storm" tests/tools/storm.cpp

declare -A val  # val[measure,name]

# 1. Start-up. Every round runs all five commands once more (one hyperfine each round),
# so a change of the machine's load hits them alike; the times of all rounds are pooled.
log "start-up: $startup_rounds rounds of $startup_runs runs"
startup_cmds=()
for n in "${names[@]}"; do startup_cmds+=("$(prefix "$n") /bin/true"); done
startup_cmds+=("/bin/true")
for ((r = 1; r <= startup_rounds; r++)); do
  hyperfine -N --warmup 10 --runs "$startup_runs" --style none \
    --export-json "$work/startup.$r.json" "${startup_cmds[@]}" >/dev/null 2>>"$work/hyperfine.err" ||
    { cat "$work/hyperfine.err" >&2; exit 1; }
done
python3 - "$work" "$startup_rounds" >"$work/startup.txt" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
pooled = {}
for r in range(1, rounds + 1):
    for i, res in enumerate(json.load(open(f"{work}/startup.{r}.json"))["results"]):
        pooled.setdefault(i, []).extend(res["times"])
for i in sorted(pooled):
    print(f"{statistics.median(pooled[i]) * 1000:.3f}")
EOF
mapfile -t startup_ms <"$work/startup.txt"
for i in "${!names[@]}"; do val[startup,${names[$i]}]=${startup_ms[$i]}; done
val[startup,true]=${startup_ms[4]}

# 3. Reaping, in interleaved rounds; wall time by bash's microsecond clock.
log "reaping: $reap_rounds rounds of $orphans_count orphans under each supervisor"
for ((r = 1; r <= reap_rounds; r++)); do
  for n in "${names[@]}"; do
    # shellcheck disable=SC2046 # the prefix is split into words on purpose
    start=$EPOCHREALTIME
    unshare --pid --fork --mount-proc $(prefix "$n") "$work/orphans" "$orphans_count" >/dev/null 2>&1 ||
      { echo "reaping run under $n failed" >&2; exit 1; }
    end=$EPOCHREALTIME
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f\n", b - a }' >>"$work/reap.$n"
  done
done
# What is left when the supervisor is not PID 1: PID 1 is python, which reaps nothing,
# so an orphan the supervisor did not reap stays (as a zombie) until the count.
left_py='
import os, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(sum(1 for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()))'
for n in "${names[@]}"; do
  val[reap,$n]=$(median <"$work/reap.$n")
  # shellcheck disable=SC2046
  val[left,$n]=$(unshare --pid --fork --mount-proc python3 -c "$left_py" $(prefix "$n") "$work/orphans" "$orphans_count")
done

# 4. Signal latency: one driver, the four supervisors side by side, signals round robin.
# Twice: all on one CPU (taskset), which compares the code paths; and free, where the
# scheduler's placement decides (a wake-up on the other CPU costs an IPI, tens of µs in
# a VM) and changes from run to run: $signal_rounds runs of fresh processes, pooled.
sig_args=()
for n in "${names[@]}"; do
  [ ${#sig_args[@]} -eq 0 ] || sig_args+=(:::)
  if [ "$n" = supervise ]; then
    sig_args+=("$supervise" --stop-timeout 1h --grace-period 1h --)
  else
    # shellcheck disable=SC2207
    sig_args+=($(prefix "$n"))
  fi
done
term=$(kill -l TERM)
log "signal latency: $signals_total SIGTERMs to each supervisor, round robin, on CPU 0"
taskset -c 0 "$work/sigbench" drive "$work" "$signals_total" "$term" -- "${sig_args[@]}" >"$work/sig.pinned"
log "signal latency: $signals_total SIGTERMs to each supervisor, round robin, $signal_rounds runs, any CPU"
for ((r = 1; r <= signal_rounds; r++)); do
  "$work/sigbench" drive "$work" $((signals_total / signal_rounds)) "$term" -- "${sig_args[@]}" >>"$work/sig.free"
done
for mode in pinned free; do
  for i in "${!names[@]}"; do
    n=${names[$i]}
    awk -v k="$i" '$1 == k { print $2 }' "$work/sig.$mode" >"$work/sig.$mode.$n"
    got=$(wc -l <"$work/sig.$mode.$n")
    [ "$got" -eq "$signals_total" ] || { echo "$n: $got of $signals_total signals measured" >&2; exit 1; }
    val[p50$mode,$n]=$(percentile 50 <"$work/sig.$mode.$n")
    val[p99$mode,$n]=$(percentile 99 <"$work/sig.$mode.$n")
  done
done

# 6. Signal storm, interleaved rounds.
log "signal storm: $storm_rounds rounds of $storm_signals signals to each supervisor as PID 1"
for ((r = 1; r <= storm_rounds; r++)); do
  for n in "${names[@]}"; do
    # shellcheck disable=SC2046
    line=$("$work/storm" drive "$storm_signals" -- $(prefix "$n") 2>/dev/null) ||
      { echo "storm run under $n failed" >&2; exit 1; }
    sed -n 's/.*exit_to_end_ms=\([0-9.]*\).*/\1/p' <<<"$line" >>"$work/storm.$n"
    sed -n 's/^exit_status=\([0-9]*\).*/\1/p' <<<"$line" >>"$work/storm.code.$n"
  done
done
for n in "${names[@]}"; do
  val[storm,$n]=$(median <"$work/storm.$n")
  val[stormkept,$n]=$(grep -cx 42 "$work/storm.code.$n" || true)
done

# 2 and 5. Idle cost and peak RSS: the four supervise `sleep` at the same time.
log "idle: ${idle_seconds} s window, the four supervisors side by side"
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'; }
# CPU time of every thread in ns: schedstat's run time, else utime+stime (tick resolution).
cpu_ns() {
  if [ -r "/proc/$1/schedstat" ]; then
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ n += $1 } END { printf "%d\n", n }'
  else
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%d\n", ($12 + $13) * 1e9 / hz }' "/proc/$1/stat"
  fi
}
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
runs_sleep() { ps -o comm= --ppid "$1" | grep -qx sleep; }
# end_bg PID: SIGTERM (each supervisor forwards it to sleep and exits), wait, forget.
end_bg() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${bench_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  bench_pids=("${keep[@]}")
}
declare -A pid
for n in "${names[@]}"; do
  # shellcheck disable=SC2046
  bg $(prefix "$n") sleep $((idle_seconds + 600)) </dev/null >/dev/null 2>&1
  pid[$n]=$bg_pid
done
for n in "${names[@]}"; do wait_until 10 runs_sleep "${pid[$n]}"; done
for n in "${names[@]}"; do
  sw0[${pid[$n]}]=$(switches "${pid[$n]}")
  cpu0[${pid[$n]}]=$(cpu_ns "${pid[$n]}")
done
sleep "$idle_seconds"  # the measurement window
for n in "${names[@]}"; do
  p=${pid[$n]}
  val[wake,$n]=$(($(switches "$p") - sw0[p]))
  val[cpu,$n]=$(awk -v a="${cpu0[$p]}" -v b="$(cpu_ns "$p")" 'BEGIN { printf "%d\n", (b - a) / 1000 }')
  val[rss,$n]=$(hwm_kib "$p")
  val[threads,$n]=$(ls "/proc/$p/task" | wc -l)
done
for n in "${names[@]}"; do end_bg "${pid[$n]}"; done

# The table.
verdict() {  # verdict VALUE OP LIMIT: yes or no
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { v += 0; ok = op == "<=" ? v <= l : v < l; print ok ? "yes" : "no" }'
}
ratio_num() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print ""; else print a / b }'; }
row() {  # row MEASURE KEY FORMAT TRUE TARGET MET
  local m=$1 k=$2 f=$3 cells="" n
  for n in "${names[@]}"; do cells+=" $(printf "$f" "${val[$k,$n]}") |"; done
  echo "| $m |$cells $4 | $(ratio "${val[$k,supervise]}" "${val[$k,tini]}") | $5 | $6 |"
}
ratio_met() {  # ratio_met KEY MAX
  local r; r=$(ratio_num "${val[$1,supervise]}" "${val[$1,tini]}")
  [ -n "$r" ] && verdict "$r" "<=" "$2" || echo "n/a"
}

echo "### Process benchmarks: $(machine)"
echo
echo "| measure | supervise | tini | dumb-init | catatonit | /bin/true | supervise vs tini | target | met? |"
echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
row "start-up \`X /bin/true\`, median wall (ms)" startup "%.2f" "$(printf %.2f "${val[startup,true]}")" "≤ 1.3x tini" "$(ratio_met startup 1.3)"
row "peak RSS of the supervisor over \`sleep\` (KiB)" rss "%d" "—" "≤ 3x tini" "$(ratio_met rss 3)"
row "reap $orphans_count orphans as PID 1, median wall (s)" reap "%.3f" "—" "≤ 1.2x tini" "$(ratio_met reap 1.2)"
row "processes left when not PID 1 (subreaper)" left "%d" "—" "0" "$([ "${val[left,supervise]}" = 0 ] && echo yes || echo no)"
row "SIGTERM to the command's handler, one CPU, p50 (µs)" p50pinned "%.1f" "—" "" ""
row "SIGTERM to the command's handler, one CPU, p99 (µs)" p99pinned "%.1f" "—" "< 1000 µs" "$(verdict "${val[p99pinned,supervise]}" "<" 1000)"
row "SIGTERM to the command's handler, any CPU, p50 (µs)" p50free "%.1f" "—" "" ""
row "SIGTERM to the command's handler, any CPU, p99 (µs)" p99free "%.1f" "—" "< 1000 µs" "$(verdict "${val[p99free,supervise]}" "<" 1000)"
row "storm of $storm_signals signals as PID 1: command exit to supervisor end, median (ms)" storm "%.1f" "—" "≤ 1x tini" "$(ratio_met storm 1)"
row "storm: runs in which the command's exit code 42 came out (of $storm_rounds)" stormkept "%d" "—" "all" "$([ "${val[stormkept,supervise]}" = "$storm_rounds" ] && echo yes || echo no)"
row "idle: wake-ups in ${idle_seconds} s" wake "%d" "—" "" ""
row "idle: CPU time in ${idle_seconds} s (µs)" cpu "%d" "—" "" ""
echo
echo "Start-up: hyperfine -N, $((startup_rounds * startup_runs)) runs each over $startup_rounds interleaved rounds." \
  "Reaping: $reap_rounds interleaved runs each; tini -s, the others as they come." \
  "Signals: $signals_total each (after 3 unmeasured), round robin, one in flight; one CPU: all pinned to CPU 0;" \
  "any CPU: pooled over $signal_rounds runs of fresh processes; supervise with --stop-timeout 1h --grace-period 1h." \
  "Storm: $storm_rounds interleaved runs each (tests/tools/storm.cpp)." \
  "Idle: the four side by side; threads: supervise ${val[threads,supervise]}, tini ${val[threads,tini]}," \
  "dumb-init ${val[threads,dumb-init]}, catatonit ${val[threads,catatonit]}. Command: \`bench/process.sh$([ "$quick" = 1 ] && echo " --quick")$([ "$idle_given" = 1 ] && echo " --idle $idle_seconds")\`."
