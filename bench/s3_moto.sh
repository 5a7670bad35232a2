#!/usr/bin/env bash
# Checkpoint to a real S3 server (moto_server on loopback): a final checkpoint of 2,000
# files of 4 KiB and of one 256 MiB file, by supervise, `aws s3 sync` and `rclone copy`,
# each to a fresh prefix of the same server in the same run. Prints the median wall time
# and client CPU time (user + system) of RUNS runs, and the ratios to supervise.
# Not part of ctest. Needs moto_server and aws (the machine's Python) and rclone (apt).
#
# Usage: bench/s3_moto.sh [RUNS]          default 3
#   SUPERVISE=path/to/supervise           default build/supervise
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
supervise=$(realpath "${SUPERVISE:-build/supervise}")
for tool in moto_server aws rclone; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done

work=$(mktemp -d /tmp/supervise-bench-s3.XXXXXX)
moto_pid=""
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
deadline=$((SECONDS + 60))
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "moto_server did not start" >&2; exit 1; }
  sleep 0.1
done

export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_PAGER=""
export RCLONE_CONFIG_MOTO_TYPE=s3 RCLONE_CONFIG_MOTO_PROVIDER=Other RCLONE_CONFIG_MOTO_ENDPOINT="$AWS_ENDPOINT_URL"
export RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_MOTO_REGION=us-east-1
aws s3api create-bucket --bucket bench >/dev/null

mkdir -p "$work/small/ckpt" "$work/large/ckpt"
for i in $(seq 1 2000); do head -c 4096 /dev/urandom >"$work/small/ckpt/f$i.bin"; done
head -c $((256 << 20)) /dev/urandom >"$work/large/ckpt/model.bin"

n=0
# time_one COMMAND...: "wall cpu" of one run
time_one() {
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
    echo "failed: $*" >&2; cat "$work/err" >&2; return 1; }
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$work/time"
}
# median_of TOOL DATASET: median wall and cpu over $runs runs, each to a fresh prefix
median_of() {
  local tool=$1 set=$2 results=()
  for _ in $(seq 1 "$runs"); do
    n=$((n + 1))
    case $tool in
      supervise) results+=("$(time_one "$supervise" --log-level warn \
                   --checkpoint "path=$work/$set/ckpt,url=s3://bench/sv$n,frequency=1h" -- true)") ;;
      aws) results+=("$(time_one aws s3 sync --only-show-errors "$work/$set/ckpt" "s3://bench/aws$n/ckpt")") ;;
      # rclone 1.60 cannot use a custom CA bundle with its HTTP transport: plain http here.
      rclone) results+=("$(time_one env -u AWS_CA_BUNDLE rclone copy "$work/$set/ckpt" "moto:bench/rc$n/ckpt")") ;;
    esac
    [ -n "${results[-1]}" ] || return 1
  done
  printf '%s\n' "${results[@]}" | sort -n | awk -v m=$(((runs + 1) / 2)) 'NR == m'
}
# row TOOL DATASET: the medians into $w $c, or the script ends if a run failed
row() {
  median_of "$1" "$2" >"$work/median" || exit 1
  read -r w c <"$work/median"
  [ -n "${w:-}" ] || { echo "no result for $1 on $2" >&2; exit 1; }
}

echo "| data | tool | wall s (median of $runs) | client CPU s | wall vs supervise | CPU vs supervise |"
echo "|---|---|---:|---:|---:|---:|"
for set in small large; do
  label=$([ "$set" = small ] && echo "2,000 x 4 KiB" || echo "1 x 256 MiB")
  row supervise "$set"
  sw=$w sc=$c
  for tool in supervise aws rclone; do
    if [ "$tool" = supervise ]; then w=$sw c=$sc; else row "$tool" "$set"; fi
    awk -v d="$label" -v t="$tool" -v w="$w" -v c="$c" -v sw="$sw" -v sc="$sc" \
      'BEGIN { printf "| %s | %s | %.2f | %.2f | %.1fx | %.1fx |\n", d, t, w, c, w / sw, (sc > 0 ? c / sc : 0) }'
  done
done
