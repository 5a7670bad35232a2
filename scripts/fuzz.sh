#!/usr/bin/env bash
# Fuzzing (README "Hardening"): builds the libFuzzer targets of fuzz/ with clang into
# build-fuzz (core library with coverage feedback, ASan and UBSan), runs each for
# SECONDS (default 30) on a fresh copy of its seed corpus (fuzz/corpus/<target>) with its
# dictionary, and prints one row per target: executions, corpus size, result.
#   scripts/fuzz.sh [SECONDS]
# Environment: FUZZ_TARGETS="duration cli" runs only those; FUZZ_BUILD_DIR (build-fuzz).
# Fails when a target crashed, leaked, timed out (10 s on one input) or went over 2 GiB:
# the input is kept in build-fuzz/crashes/<target>/ and printed as hex. Make it a
# regression: copy it to fuzz/regressions/<target>/ (ctest fuzz.replay.<target>).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
root=$PWD

# -O1 -g without NDEBUG: asserts stay on, stacks stay readable.
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" -DSUPERVISE_FUZZ=ON -DSUPERVISE_BUILD_TESTS=OFF \
  -DSUPERVISE_STATIC_DEPS=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
cmake --build "$build_dir" --target fuzz -j"$(nproc)"

if [[ -n ${FUZZ_TARGETS-} ]]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  # The list of fuzz/targets.cmake, in its order.
  read -r -a targets <<<"$(sed -n '/^set(SUPERVISE_FUZZ_TARGETS/,/)/p' fuzz/targets.cmake |
    tr -d '()' | sed 's/set//; s/SUPERVISE_FUZZ_TARGETS//' | tr '\n' ' ')"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
if [[ -x $symbolizer ]]; then export ASAN_SYMBOLIZER_PATH=$symbolizer; fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rows=()
failed=0
for t in "${targets[@]}"; do
  bin=$build_dir/fuzz/fuzz_$t
  corpus=$build_dir/corpus/$t
  crashes=$build_dir/crashes/$t
  log=$build_dir/logs/$t.log
  rm -rf "$corpus"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  cp fuzz/corpus/"$t"/* "$corpus"/
  dict=()
  [[ -f fuzz/$t.dict ]] && dict=(-dict="$root/fuzz/$t.dict")
  echo "fuzz: $t for ${seconds}s ($log)"
  rc=0
  "$bin" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [[ -n $runs ]] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
  [[ -n $runs ]] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  if ((rc == 0)); then
    result=ok
  else
    failed=1
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    kind=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer): [a-z-]+|runtime error|fuzz property failed' "$log" || true)
    result="FAILED (exit $rc${kind:+: $kind}) ${input:-no input saved}"
    echo "fuzz: $t failed; the end of its log:" >&2
    tail -n 40 "$log" >&2
    if [[ -n $input && -f $input ]]; then
      echo "fuzz: the input ($(stat -c %s "$input") bytes, first 4 KiB as hex):" >&2
      head -c 4096 "$input" | od -A d -t x1z -v >&2
    fi
  fi
  rows+=("| $t | ${runs:-?} | $files ($bytes bytes) | $result |")
done

echo
echo "fuzzing, ${seconds}s per target:"
echo "| target | executions | corpus (files) | result |"
echo "|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"
exit "$failed"
