#!/usr/bin/env bash
# Checkpoint benchmark (issue 6, items 6-8; issue 15, item 9; issue 16: parts in parallel,
# CRC-32C checksums, ranged restore, the preemption row): supervise's checkpoint against
# the AWS CLI, rclone and cp, to nginx (a PUT-only WebDAV endpoint, not the bottleneck),
# to moto_server and to a file:// store, all in one run. Prints one markdown table of the
# medians of RUNS runs, with each ratio and target (and, with CONCURRENCY_SWEEP, a second
# table); progress goes to stderr.
#
# Usage: bench/checkpoint.sh [--quick]
#   RUNS=N             runs of each measure (default 5; --quick 1)
#   LARGE_MIB=N        size of the large file in MiB (default 1024; --quick 256; at most 2048)
#   NOCHANGE_FILES=N   files of the no-change round (default 100000; --quick 10000)
#   CURL_PARALLEL="N.." the numbers of parallel curl PUTs tried for nginx's limit in 7
#                      (default "4 8"; each at least 2)
#   PREEMPT_FILES=N    files of the preemption checkpoint of 10 (default 8)
#   PREEMPT_MIB=N      the size of each in MiB (default LARGE_MIB / 2: 8 x 512 MiB, 4 GiB;
#                      --quick 8 x 128 MiB; at most 2048)
#   PREEMPT_GRACE=N    the grace period of 10 in seconds (default 30)
#   CONCURRENCY_SWEEP="N.." section 11: the values of SUPERVISE_S3_MAX_CONCURRENT_REQUESTS
#                      to measure, one row each (default none: no section 11)
#   CHUNKSIZE_SWEEP="S.." with it: values of SUPERVISE_S3_MULTIPART_CHUNKSIZE, each paired
#                      with each concurrency (default: only the part size in effect)
#   SUPERVISE=PATH     the binary (default build/supervise)
#   STORES_ONLY=1      section 12 alone (its table only): the stores side by side
#   SUPERVISE_S3_MAX_CONCURRENT_REQUESTS, SUPERVISE_S3_MULTIPART_CHUNKSIZE: passed on to
#                      every supervise run when set (default supervise's own defaults); the
#                      table prints the memory bound they make (concurrency x part size)
# Needs bench/setup.sh (nginx, aws, rclone, curl, GNU time), moto_server and Azurite
# (scripts/setup.sh installs Azurite into tools/azurite).
#
# What is timed, and how each tool is set up (the fastest correct settings found here):
# - 6 small files: 2,000 x 4 KiB; a final checkpoint `supervise -q --checkpoint
#   path=DIR,url=s3://bench/P,frequency=1h -- true` (the whole process), each run to a
#   fresh prefix. Every run's copy is checked where it landed (count, bytes, and for nginx
#   a checksum of the contents); nginx's are deleted after the last run.
#   (a) nginx: `aws s3 cp --recursive` (one PUT per file, nothing else; the default 10
#   threads: 4, 20 and 50 are no faster). rclone: `--s3-no-check-bucket` (else it creates
#   the bucket, nginx answers 409 in HTML and rclone retries for minutes), `--no-check-dest`
#   (else it lists the prefix, which nginx cannot answer), `--s3-no-head` (else a HEAD after
#   every PUT: 2.5x slower); one HEAD of the destination stays (404). --transfers 4-64 are
#   alike: default 4.
#   (b) moto: `aws s3 sync` and `rclone copy` with the same flags (all optional there).
#   Targets (issue 16) for 6b and 9's small restore: at least 1.5x aws, more than rclone.
# - 7 large file: one file; MB/s = 10^6 bytes per second of wall time; each copy is
#   checked (size) and deleted after its run. Client CPU (user + system, GNU time) per GiB
#   and peak RSS (GNU time's maximum resident set) come from the same runs.
#   nginx (no multipart): supervise with SUPERVISE_S3_MULTIPART_THRESHOLD=2GiB, aws with
#   s3.multipart_threshold = 2GB (AWS_CONFIG_FILE), rclone --s3-upload-cutoff 5G
#   --s3-disable-checksum (else it reads the file once more for its MD5 first). Limit: the
#   best of a raw `curl -T FILE` (one PUT: loopback + nginx writing its file) and N
#   parallel curls for each N of CURL_PARALLEL (the file split beforehand, untimed, into N
#   byte ranges of equal size with `split -n N`, each range a file in the page cache, each
#   PUT by its own `curl -T` to its own URL, all started at once; the time is until the
#   last ends): one PUT may be bound by one core, N are what the loopback and nginx take.
#   Target: supervise at least 85% of that limit.
#   moto: everyone's defaults (multipart: supervise SUPERVISE_S3_MULTIPART_CHUNKSIZE parts,
#   SUPERVISE_S3_MAX_CONCURRENT_REQUESTS at a time; aws `s3 cp` 8 MiB parts 10 at a time;
#   rclone `copy` 5 MiB parts 4 at a time); `curl -T` (one PUT) for reference. Targets:
#   at least 1.2x aws and 1.5x rclone.
#   Checksums on vs off: supervise runs twice in each round, once with its defaults
#   (CRC-32C on every request) and once as "supervise-nock" with
#   AWS_REQUEST_CHECKSUM_CALCULATION=when_required and AWS_RESPONSE_CHECKSUM_VALIDATION=
#   when_required, to both stores, interleaved with the others; target: on at most 10%
#   slower than off. (A binary that does not read the two variables runs the same code
#   twice: the row then shows the noise between two equal runs.)
#   Memory: the bound printed beside supervise's peak RSS is SUPERVISE_S3_MAX_CONCURRENT_
#   REQUESTS x SUPERVISE_S3_MULTIPART_CHUNKSIZE (parts in flight, each buffered whole), the
#   values from the environment when set, else the defaults `supervise --help` names, else
#   those of include/supervise/s3/config.hpp (the row says which).
#   file://: supervise (each file written beside, fsynced, renamed), `cp`, `cp` then
#   `sync FILE` (fsync, as supervise does), `rclone copy --ignore-checksum` (no fsync;
#   without the flag it hashes both sides: 3x slower); limit: the faster of `dd bs=4M
#   conv=fsync` and cp + fsync (dd copies through user space twice and can be the slower).
#   Read limit: `dd if=FILE of=/dev/null bs=4M`, page cache warm (the file was just read).
# - 9 restore from moto into an empty directory: see the section's comment.
# - 8 no-change round, against moto (nginx cannot list): NOCHANGE_FILES x 1 KiB in 100
#   directories, mtimes an hour old. One supervisor with frequency=1s stores them all in
#   round 1 (untimed) and then runs RUNS no-change rounds (2 .. RUNS+1), each timed from
#   its "Checkpointing data from" line to its round line (millisecond timestamps), each
#   checked to say "0 stored, N unchanged". aws and rclone then decide about the same
#   stored copy (both compare the upload time with the local mtime, and the size): an
#   untimed `aws s3 sync` first checks that it holds everything (it must upload nothing),
#   then RUNS timed runs each of `aws s3 sync` (defaults) and `rclone sync --fast-list
#   --update --use-server-modtime` (without them rclone HEADs every object for its mtime:
#   about 10x slower; `--checksum` is about 30% slower), each checked to transfer nothing.
# - 10 preemption, to nginx: the GiB of a checkpoint present at SIGTERM that are stored
#   whole within the grace period: see the section's comment.
# - 11 concurrency sweep (only with CONCURRENCY_SWEEP): see the section's comment.
# - 12 the stores: supervise alone against moto (s3://) and Azurite (azure://, the Azure
#   storage emulator of scripts/setup.sh) for the same work: see the section's comment.
#   Indicative only: an emulator is not Azure, and moto is not S3.
# Before every run of 6, 7, 9, 10 and 11: `sync`, then a wait until the disk is quiet
# (untimed), so that no run pays for what the previous one wrote or deleted. Tools take
# turns: run N starts with a different one. A full run takes roughly 45 minutes on 2 cores
# (estimated: 30 before sections 10 and 11), 5 of them moto storing the 100,000 files and
# up to 8 the preemption runs; --quick took 8 minutes with builds running beside it.
source "$(dirname "$0")/lib.sh"

quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: bench/checkpoint.sh [--quick]" >&2; exit 2 ;;
esac
if [ "$quick" = 1 ]; then
  runs=${RUNS:-1} large_mib=${LARGE_MIB:-256} nc_files=${NOCHANGE_FILES:-10000}
else
  runs=${RUNS:-5} large_mib=${LARGE_MIB:-1024} nc_files=${NOCHANGE_FILES:-100000}
fi
[ "$large_mib" -le 2048 ] || { echo "LARGE_MIB is at most 2048 (the single-PUT threshold)" >&2; exit 2; }
small_files=2000 small_size=4096
curl_parallel=${CURL_PARALLEL-4 8}
pre_files=${PREEMPT_FILES:-8} pre_mib=${PREEMPT_MIB:-$((large_mib / 2))} grace=${PREEMPT_GRACE:-30}
sweep_c=${CONCURRENCY_SWEEP:-} sweep_k=${CHUNKSIZE_SWEEP:-}
for v in $curl_parallel; do
  [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 2 ] && [ "$v" -le 64 ] || { echo "CURL_PARALLEL: $v is not a number from 2 to 64" >&2; exit 2; }
done
for v in "$pre_files" "$pre_mib" "$grace"; do
  [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || { echo "PREEMPT_FILES, PREEMPT_MIB, PREEMPT_GRACE: $v is not a whole number above 0" >&2; exit 2; }
done
[ "$pre_mib" -le 2048 ] || { echo "PREEMPT_MIB is at most 2048 (the single-PUT threshold)" >&2; exit 2; }
for v in $sweep_c; do [[ $v =~ ^[0-9]+$ ]] || { echo "CONCURRENCY_SWEEP: $v is not a number" >&2; exit 2; }; done
for v in $sweep_k; do [[ $v =~ ^[0-9]+([KMG](i?B)?)?$ ]] || { echo "CHUNKSIZE_SWEEP: $v is not a size (8MiB, 16M, 8388608)" >&2; exit 2; }; done
[ -z "$sweep_k" ] || [ -n "$sweep_c" ] || { echo "CHUNKSIZE_SWEEP needs CONCURRENCY_SWEEP" >&2; exit 2; }
stores_only=${STORES_ONLY:-0}
[ "$stores_only" != 1 ] || nc_files=0  # section 12 needs only the small and the large files
require moto_server aws curl python3 cmp
[ "$stores_only" = 1 ] || require rclone dd cp sync split pgrep timeout
[ -x /usr/bin/time ] || { echo "GNU time is not installed: run bench/setup.sh" >&2; exit 2; }
azurite_bin=tools/azurite/node_modules/.bin/azurite-blob
[ -x "$azurite_bin" ] || { echo "Azurite is not installed (no $azurite_bin): run scripts/setup.sh" >&2; exit 2; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ "$stores_only" = 1 ] || [ -x "$nginx_bin" ] || { echo "nginx is not installed: run bench/setup.sh" >&2; exit 2; }

log() { echo "checkpoint.sh: $*" >&2; }
results=$work/results
mkdir -p "$results"

# --- credentials and client configuration: nothing of the user's own is read ------------
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
# Checksums are on (every tool's default) unless a run turns them off itself.
unset AWS_REQUEST_CHECKSUM_CALCULATION AWS_RESPONSE_CHECKSUM_VALIDATION
export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
mkdir -p "$work/aws"
export AWS_CONFIG_FILE=$work/aws/config AWS_SHARED_CREDENTIALS_FILE=$work/aws/credentials
: >"$AWS_CONFIG_FILE"
printf '[default]\ns3 =\n    multipart_threshold = 2GB\n' >"$work/aws/single-put"
export RCLONE_CONFIG=$work/rclone.conf
: >"$RCLONE_CONFIG"
rclone_remote() {  # rclone_remote NAME ENDPOINT: an S3 remote from the environment
  local n=${1^^}
  export "RCLONE_CONFIG_${n}_TYPE=s3" "RCLONE_CONFIG_${n}_PROVIDER=Other" "RCLONE_CONFIG_${n}_ENDPOINT=$2" \
    "RCLONE_CONFIG_${n}_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" "RCLONE_CONFIG_${n}_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" \
    "RCLONE_CONFIG_${n}_REGION=us-east-1"
}
rclone_fast=(--s3-no-check-bucket --no-check-dest --s3-no-head)

# --- nginx: PUTs land as files under $ng_root/<bucket>/<key> ----------------------------
ng=$work/nginx
if [ "$stores_only" != 1 ]; then
mkdir -p "$ng/root/bench" "$ng/tmp" "$ng/logs"
ng_port=$(free_port)
{
  [ "$(id -u)" -eq 0 ] && echo "user $(id -un) $(id -gn);"
  cat <<CONF
worker_processes auto;
error_log $ng/logs/error.log warn;
pid $ng/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $ng/tmp/client;
  proxy_temp_path $ng/tmp/proxy;
  fastcgi_temp_path $ng/tmp/fastcgi;
  uwsgi_temp_path $ng/tmp/uwsgi;
  scgi_temp_path $ng/tmp/scgi;
  server {
    listen 127.0.0.1:$ng_port;
    root $ng/root;
    client_max_body_size 0;
    client_body_buffer_size 1m;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
CONF
} >"$ng/nginx.conf"
bg "$nginx_bin" -p "$ng" -c "$ng/nginx.conf" -g 'daemon off;' >"$ng/logs/stderr.log" 2>&1
ng_url=http://127.0.0.1:$ng_port
wait_until 20 curl -s -o /dev/null "$ng_url/" || { cat "$ng/logs/error.log" >&2; exit 1; }
rclone_remote ng "$ng_url"
fi

# --- moto_server -------------------------------------------------------------------------
moto_port=$(free_port)
bg moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1
moto_pid=$bg_pid
# moto_cpu: the CPU seconds moto_server has used so far (user + system).
moto_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$moto_pid/stat"; }
moto_url=http://127.0.0.1:$moto_port
wait_until 60 curl -s -o /dev/null "$moto_url/" || { echo "moto_server did not start" >&2; exit 1; }
rclone_remote moto "$moto_url"
for b in bench-small bench-large bench-nc; do
  AWS_ENDPOINT_URL=$moto_url aws s3api create-bucket --bucket "$b" >/dev/null
done

# --- data --------------------------------------------------------------------------------
log "making $small_files x $small_size B, 1 x $large_mib MiB and $nc_files x 1 KiB files in $work"
python3 - "$work" "$small_files" "$small_size" "$nc_files" <<'PY'
import os, sys, time
work, n_small, size, n_many = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(f"{work}/small/ckpt")
for i in range(n_small):
    with open(f"{work}/small/ckpt/f{i:05d}.bin", "wb") as f:
        f.write(os.urandom(size))
old = time.time() - 3600  # an hour old: no tool may see it as newer than its upload
for d in range(100):
    os.makedirs(f"{work}/many/ckpt/d{d:02d}")
for i in range(n_many):
    p = f"{work}/many/ckpt/d{i % 100:02d}/f{i:07d}.bin"
    with open(p, "wb") as f:
        f.write(os.urandom(1024))
    os.utime(p, (old, old))
PY
mkdir -p "$work/large/ckpt"
large=$work/large/ckpt/model.bin
head -c $((large_mib << 20)) /dev/urandom >"$large"
large_bytes=$((large_mib << 20))
small_bytes=$((small_files * small_size))
tree_sum() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 cat | cksum); }
small_sum=$(tree_sum "$work/small/ckpt")

# --- checks ------------------------------------------------------------------------------
fail() { echo "checkpoint.sh: FAILED: $*" >&2; exit 1; }
# check_tree DIR COUNT BYTES [SUM]: DIR holds COUNT files of BYTES in all (and contents SUM)
check_tree() {
  local got
  got=$(find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{ n++; b += $1 } END { printf "%d %d", n, b }')
  [ "$got" = "$2 $3" ] || fail "$1 holds $got (files bytes), not $2 $3"
  [ -z "${4:-}" ] || [ "$(tree_sum "$1")" = "$4" ] || fail "$1: contents differ from the source"
}
# check_moto BUCKET PREFIX COUNT BYTES: the objects under s3://BUCKET/PREFIX/
check_moto() {
  local got
  got=$(AWS_ENDPOINT_URL=$moto_url aws s3 ls --recursive --summarize "s3://$1/$2/" |
    awk '/Total Objects:/ { n = $3 } /Total Size:/ { b = $3 } END { printf "%d %d", n, b }')
  [ "$got" = "$3 $4" ] || fail "s3://$1/$2/ on moto holds $got (objects bytes), not $3 $4"
}
moto_rm() { AWS_ENDPOINT_URL=$moto_url aws s3 rm --recursive --only-show-errors "s3://$1/$2/" >/dev/null; }

# settle: writes out what earlier runs left dirty, then waits until the disk under $work
# is quiet (no write or discard for 0.2 s, at most 30 s): `sync` returns before the disk
# is done (ext4 mounted with discard trims what the last run deleted), and a run started
# then took 1.5x as long (supervise 0.28 s instead of 0.19 s, rclone 1.09 s instead of 0.63 s).
disk_stat=""
dev=$(realpath "$(df --output=source "$work" | tail -n 1)" 2>/dev/null || true)
[ -r "/sys/class/block/$(basename "$dev")/stat" ] && disk_stat=/sys/class/block/$(basename "$dev")/stat
settle() {
  sync
  [ -n "$disk_stat" ] || return 0
  local before now quiet=0 deadline=$((SECONDS + 30))
  before=$(awk '{ print $5, $7, $9, $12, $14 }' "$disk_stat")  # writes, sectors, in flight, discards, sectors
  while [ "$quiet" -lt 4 ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.05
    now=$(awk '{ print $5, $7, $9, $12, $14 }' "$disk_stat")
    if [ "$now" = "$before" ] && [ "$(echo "$now" | cut -d' ' -f3)" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    before=$now
  done
}

# rotate N WORD...: the words rotated by N (run N starts with a different tool)
rotate() { local n=$1; shift; local a=("$@") i; for ((i = 0; i < ${#a[@]}; i++)); do echo "${a[(i + n) % ${#a[@]}]}"; done; }
# med FILE COLUMN: the median of a column of a results file
med() { awk -v c="$2" '{ print $c }' "$results/$1" | median; }

# sv_env TOOL: the environment of a variant of supervise, one assignment a line:
# supervise (its defaults), supervise-nock (checksums off: issue 16's on/off row),
# sweep-cN and sweep-cN-kSIZE (section 11).
sv_env() {
  case $1 in
    supervise) ;;
    supervise-nock) printf '%s\n' AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required ;;
    sweep-c*) local v=${1#sweep-c}
              echo "SUPERVISE_S3_MAX_CONCURRENT_REQUESTS=${v%%-k*}"
              [[ $v != *-k* ]] || echo "SUPERVISE_S3_MULTIPART_CHUNKSIZE=${v#*-k}" ;;
  esac
}

# --- the memory bound of supervise's parts in flight -------------------------------------
# to_bytes SIZE: 8MiB, 16M, 1G, 8388608 in bytes (K, M, G are binary, as supervise reads them)
to_bytes() {
  awk -v s="$1" 'BEGIN { if (!match(s, /^[0-9]+/)) exit 1; n = substr(s, 1, RLENGTH); u = toupper(substr(s, RLENGTH + 1, 1))
    printf "%.0f\n", n * (u == "K" ? 1024 : u == "M" ? 1048576 : u == "G" ? 1073741824 : 1) }'
}
mib_of() { awk -v b="$1" 'BEGIN { printf "%g MiB", b / 1048576 }'; }
help_text=$("$supervise" --help 2>/dev/null || true)
# help_default VAR: the X of "(default X)" in VAR's entry of `supervise --help`, or nothing
help_default() {
  awk -v v="$1" '
    $1 == v { on = 1; text = $0; next }
    on && (/^  [A-Z]/ || /^[^ ]/ || /^$/) { exit }
    on { text = text " " $0 }
    END { if (match(text, /\(default [^)]*\)/)) { split(substr(text, RSTART + 9, RLENGTH - 10), w, /[ ;,]/); print w[1] } }' <<<"$help_text"
}
# header_default NAME: the value of the constant NAME in include/supervise/s3/config.hpp
# ("16", "8ull << 20"), in bytes or as a number, or nothing
header_default() {
  awk -v n="$1" '$0 ~ ("constexpr.* " n " = ") { sub(/.*= */, ""); sub(/;.*/, ""); gsub(/[uUlL]/, "")
    k = split($0, a, /<</); v = a[1] + 0; if (k == 2) v = v * 2 ^ (a[2] + 0); printf "%.0f\n", v; exit }' \
    include/supervise/s3/config.hpp 2>/dev/null || true
}
# setting VAR HEADER_NAME: "VALUE|WHERE FROM" for one of supervise's S3 settings
setting() {
  local v=${!1:-}
  if [ -n "$v" ]; then echo "$v|the environment"; return; fi
  v=$(help_default "$1")
  if [ -n "$v" ]; then echo "$v|--help"; return; fi
  v=$(header_default "$2")
  if [ -n "$v" ]; then echo "$v|config.hpp (--help names none)"; return; fi
  echo "|unknown"
}
conc_setting=$(setting SUPERVISE_S3_MAX_CONCURRENT_REQUESTS kDefaultConcurrentRequests)
part_setting=$(setting SUPERVISE_S3_MULTIPART_CHUNKSIZE kDefaultPartSize)
conc=${conc_setting%%|*} part=${part_setting%%|*}
knows() { grep -q "$1" <<<"$help_text"; }
# bound_text C SIZE: "C x SIZE = N MiB"
bound_text() {
  if [ -z "$1" ] || [ -z "$2" ]; then echo "unknown"; return; fi
  local b; b=$(to_bytes "$2")
  echo "$1 x $(mib_of "$b") = $(mib_of "$(awk -v c="$1" -v b="$b" 'BEGIN { printf "%.0f", c * b }')")"
}
bound=$(bound_text "$conc" "$part")
bound_note="concurrency from ${conc_setting#*|}; part size from ${part_setting#*|}"
for v in SUPERVISE_S3_MAX_CONCURRENT_REQUESTS SUPERVISE_S3_MULTIPART_CHUNKSIZE; do
  knows "$v" || log "note: $supervise --help does not name $v: this binary may not read it"
done

# --- 12 the stores: moto and Azurite ------------------------------------------------------
# supervise alone, the same work against each store: the 2,000 x 4 KiB files of 6 and the
# large file of 7, each stored to a fresh prefix (a final checkpoint, `-q --checkpoint
# path=DIR,url=URL,frequency=1h -- true`, the whole process timed) and then restored from
# it into an empty directory (`-q --restore ... -- true`). moto: s3://, supervise's
# defaults as in 7 for the upload; the restore with SUPERVISE_S3_MULTIPART_CHUNKSIZE=5GiB
# (one GET per object, as the README advises for moto, which reads the whole object for
# every ranged GET: 1 GiB in 128 ranges ran into the down-store rule here). Azurite: azure://devstoreaccount1/bench/PREFIX with the well-known development key
# (SharedKey), supervise's Azure defaults (SUPERVISE_AZURE_BLOCK_SIZE,
# SUPERVISE_AZURE_MAX_CONCURRENT_REQUESTS, from the environment when set), Azurite started
# here (`azurite-blob --location` under $work: blobs on disk, metadata in memory).
# Each copy is checked where it landed (count and bytes; restored trees also by contents).
# Stores take turns: run N starts with a different one. Indicative only: an emulator is
# not the service (Azurite is one Node.js process; moto one Python process).
az_key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
az_client() { python3 tests/azure/azurite_client.py --endpoint "$az_url" "$@"; }
# check_azure PREFIX COUNT BYTES: the blobs under bench/PREFIX/ on Azurite
check_azure() {
  local got
  got=$(az_client list bench --prefix "$1/" |
    python3 -c 'import json, sys; b = json.load(sys.stdin); print(len(b), sum(x["size"] for x in b))')
  [ "$got" = "$2 $3" ] || fail "azure bench/$1/ on Azurite holds $got (blobs bytes), not $2 $3"
}
start_azurite() {
  [ -z "${az_url:-}" ] || return 0
  local port; port=$(free_port)
  mkdir -p "$work/azurite"
  bg "$azurite_bin" --blobHost 127.0.0.1 --blobPort "$port" --location "$work/azurite" --silent \
    --skipApiVersionCheck --loose --disableTelemetry >"$work/azurite.log" 2>&1
  az_url=http://127.0.0.1:$port/devstoreaccount1
  wait_until 60 curl -s -o /dev/null "http://127.0.0.1:$port/" || { cat "$work/azurite.log" >&2; fail "Azurite did not start"; }
  az_client create-container bench || fail "cannot create Azurite's container"
}
# store_run STORE small|large RUN: stores, then restores, one of the two works
store_run() {
  local store=$1 kind=$2 r=$3 p=st$3-$2 src count bytes sum="" url ev=() down=() d
  case $kind in
    small) src=$work/small/ckpt count=$small_files bytes=$small_bytes sum=$small_sum ;;
    large) src=$work/large/ckpt count=1 bytes=$large_bytes ;;
  esac
  case $store in
    moto) url=s3://bench-$kind/$p ev=(AWS_ENDPOINT_URL="$moto_url") down=(SUPERVISE_S3_MULTIPART_CHUNKSIZE=5GiB) ;;
    azurite) url=azure://devstoreaccount1/bench/$p
             ev=(AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY="$az_key" AZURE_STORAGE_SERVICE_ENDPOINT="$az_url") ;;
  esac
  settle
  timed "$results/stores-$store-$kind-up" env "${ev[@]}" "$supervise" -q --checkpoint "path=$src,url=$url,frequency=1h" -- true
  case $store in
    moto) check_moto "bench-$kind" "$p/ckpt" "$count" "$bytes" ;;
    azurite) check_azure "$p/ckpt" "$count" "$bytes" ;;
  esac
  d=$work/restored/stores-$store-$kind-$r/ckpt
  mkdir -p "$(dirname "$d")"
  settle
  timed "$results/stores-$store-$kind-down" env "${ev[@]}" "${down[@]}" "$supervise" -q --restore --checkpoint "path=$d,url=$url,frequency=1h" -- true
  check_tree "$d" "$count" "$bytes" "$sum"
  [ "$kind" = small ] || cmp -s "$large" "$d/model.bin" || fail "$store: the restored large file differs"
  rm -rf "$(dirname "$d")"
  [ "$store" != moto ] || [ "$kind" = small ] || moto_rm "bench-$kind" "$p"
}
stores_section() {
  start_azurite
  local r store
  for r in $(seq 1 "$runs"); do
    log "12: moto and Azurite, $small_files small files and the $large_mib MiB file up and back, run $r of $runs"
    for store in $(rotate "$r" moto azurite); do store_run "$store" small "$r"; done
    for store in $(rotate "$r" moto azurite); do store_run "$store" large "$r"; done
  done
}
stores_table() {
  local label store name
  label=$([ "$large_mib" -ge 1024 ] && awk -v m="$large_mib" 'BEGIN { printf "%g GiB", m / 1024 }' || echo "$large_mib MiB")
  echo "Section 12, the stores: supervise alone, the same work to each emulator and back, medians of $runs run(s), on $(machine). Indicative only: an emulator is not the cloud's service."
  echo
  echo "| store | 2,000 x 4 KiB up, s | 2,000 x 4 KiB restore, s | $label up, MB/s | $label restore, MB/s | $label up, client CPU s | $label up, peak RSS MiB | $label restore, peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for store in moto azurite; do
    name=$([ "$store" = moto ] && echo "moto (s3://; restore in one GET per object)" || echo "Azurite $(node -p 'require("./tools/azurite/node_modules/azurite/package.json").version' 2>/dev/null) (azure://)")
    echo "| $name | $(awk -v v="$(med "stores-$store-small-up" 1)" 'BEGIN { printf "%.2f", v }') | $(awk -v v="$(med "stores-$store-small-down" 1)" 'BEGIN { printf "%.2f", v }') | $(awk -v b="$large_bytes" -v s="$(med "stores-$store-large-up" 1)" 'BEGIN { printf "%.0f", b / 1e6 / s }') | $(awk -v b="$large_bytes" -v s="$(med "stores-$store-large-down" 1)" 'BEGIN { printf "%.0f", b / 1e6 / s }') | $(awk -v v="$(med "stores-$store-large-up" 2)" 'BEGIN { printf "%.2f", v }') | $(awk -v k="$(med "stores-$store-large-up" 3)" 'BEGIN { printf "%.0f", k / 1024 }') | $(awk -v k="$(med "stores-$store-large-down" 3)" 'BEGIN { printf "%.0f", k / 1024 }') |"
  done
}
if [ "$stores_only" = 1 ]; then
  stores_section
  stores_table
  exit 0
fi

# --- 6 small files -----------------------------------------------------------------------
small_nginx() {  # small_nginx TOOL RUN (run 0: a warm-up, not counted)
  local p=s$2-$1 t=$results/small-ng-$1
  [ "$2" != 0 ] || t=$work/warm-up
  settle
  case $1 in
    supervise) timed "$t" env AWS_ENDPOINT_URL="$ng_url" "$supervise" -q --checkpoint \
                 "path=$work/small/ckpt,url=s3://bench/$p,frequency=1h" -- true ;;
    aws) timed "$t" env AWS_ENDPOINT_URL="$ng_url" aws s3 cp --recursive --only-show-errors \
           "$work/small/ckpt" "s3://bench/$p/ckpt" ;;
    rclone) timed "$t" env -u AWS_CA_BUNDLE rclone copy "${rclone_fast[@]}" "$work/small/ckpt" "ng:bench/$p/ckpt" ;;
  esac
  check_tree "$ng/root/bench/$p/ckpt" "$small_files" "$small_bytes" "$small_sum"
}
small_moto() {
  local p=s$2-$1 t=$results/small-moto-$1
  settle
  case $1 in
    supervise) timed "$t" env AWS_ENDPOINT_URL="$moto_url" "$supervise" -q --checkpoint \
                 "path=$work/small/ckpt,url=s3://bench-small/$p,frequency=1h" -- true ;;
    aws) timed "$t" env AWS_ENDPOINT_URL="$moto_url" aws s3 sync --only-show-errors \
           "$work/small/ckpt" "s3://bench-small/$p/ckpt" ;;
    rclone) timed "$t" env -u AWS_CA_BUNDLE rclone copy "${rclone_fast[@]}" "$work/small/ckpt" "moto:bench-small/$p/ckpt" ;;
  esac
  check_moto bench-small "$p/ckpt" "$small_files" "$small_bytes"
}
# The copies stay until the end of the section: deleting 2,000 files just written makes
# the next run's file creation in nginx wait on the file system's journal (0.15 s became
# 0.5 s for supervise). A first untimed run of each tool warms nginx and the page cache.
log "6: warm-up"
for tool in supervise aws rclone; do small_nginx "$tool" 0; done
for r in $(seq 1 "$runs"); do
  log "6: $small_files small files, run $r of $runs"
  for tool in $(rotate "$r" supervise aws rclone); do small_nginx "$tool" "$r"; done
  for tool in $(rotate "$r" supervise aws rclone); do small_moto "$tool" "$r"; done
done

rm -rf "$ng/root/bench"/s*-*

# --- 7 large file ------------------------------------------------------------------------
# nginx's limit with N connections: the file in N byte ranges, each a file of its own
# (split once, untimed, and so in the page cache), each PUT by its own curl.
for n in $curl_parallel; do
  mkdir -p "$work/large/parts-$n"
  split -n "$n" -a 3 -d "$large" "$work/large/parts-$n/p"
done
curl_tools=""
for n in $curl_parallel; do curl_tools+=" curl$n"; done
dd if="$large" of=/dev/null bs=4M status=none  # warm: every tool reads it from the page cache
large_nginx() {
  local p=l$2-$1 t=$results/large-ng-$1 ev=() count=1
  settle
  case $1 in
    supervise | supervise-nock)
      mapfile -t ev < <(sv_env "$1")
      timed "$t" env AWS_ENDPOINT_URL="$ng_url" SUPERVISE_S3_MULTIPART_THRESHOLD=2GiB "${ev[@]}" "$supervise" -q \
        --checkpoint "path=$work/large/ckpt,url=s3://bench/$p,frequency=1h" -- true ;;
    aws) timed "$t" env AWS_ENDPOINT_URL="$ng_url" AWS_CONFIG_FILE="$work/aws/single-put" aws s3 cp --recursive \
           --only-show-errors "$work/large/ckpt" "s3://bench/$p/ckpt" ;;
    rclone) timed "$t" env -u AWS_CA_BUNDLE rclone copy "${rclone_fast[@]}" --s3-upload-cutoff 5G --s3-disable-checksum \
              "$work/large/ckpt" "ng:bench/$p/ckpt" ;;
    curl) mkdir -p "$ng/root/bench/$p/ckpt"
          timed "$t" curl -sS -f -o /dev/null -T "$large" "$ng_url/bench/$p/ckpt/model.bin" ;;
    curl[0-9]*)  # N curls at once, one byte range each; the time is until the last ends
      count=${1#curl}
      mkdir -p "$ng/root/bench/$p/ckpt"
      timed "$t" bash -c 'url=$1; shift; pids=()
        for f; do curl -sS -f -o /dev/null -T "$f" "$url/${f##*/}" & pids+=($!); done
        rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done; exit "$rc"' \
        bash "$ng_url/bench/$p/ckpt" "$work/large/parts-$count"/p* ;;
  esac
  check_tree "$ng/root/bench/$p/ckpt" "$count" "$large_bytes"
  rm -rf "$ng/root/bench/$p"
}
large_moto() {
  local p=l$2-$1 t=$results/large-moto-$1 ev=()
  settle
  case $1 in
    supervise | supervise-nock | sweep-*)
      mapfile -t ev < <(sv_env "$1")
      timed "$t" env AWS_ENDPOINT_URL="$moto_url" "${ev[@]}" "$supervise" -q \
        --checkpoint "path=$work/large/ckpt,url=s3://bench-large/$p,frequency=1h" -- true ;;
    aws) timed "$t" env AWS_ENDPOINT_URL="$moto_url" aws s3 cp --recursive --only-show-errors "$work/large/ckpt" "s3://bench-large/$p/ckpt" ;;
    rclone) timed "$t" env -u AWS_CA_BUNDLE rclone copy "${rclone_fast[@]}" "$work/large/ckpt" "moto:bench-large/$p/ckpt" ;;
    curl) timed "$t" curl -sS -f -o /dev/null -T "$large" "$moto_url/bench-large/$p/ckpt/model.bin" ;;
  esac
  check_moto bench-large "$p/ckpt" 1 "$large_bytes"
  moto_rm bench-large "$p"
}
large_file() {
  local d=$work/fstore/$1-$2 t=$results/large-file-$1
  mkdir -p "$d"
  settle
  case $1 in
    supervise) timed "$t" "$supervise" -q --checkpoint "path=$work/large/ckpt,url=file://$d,frequency=1h" -- true ;;
    rclone) timed "$t" rclone copy --ignore-checksum "$work/large/ckpt" "$d/ckpt" ;;
    cp) timed "$t" cp "$large" "$d/model.bin" ;;
    cpsync) timed "$t" sh -c 'cp "$1" "$2" && sync "$2"' sh "$large" "$d/model.bin" ;;
    dd) timed "$t" dd if="$large" of="$d/model.bin" bs=4M conv=fsync status=none ;;
  esac
  case $1 in
    supervise | rclone) check_tree "$d/ckpt" 1 "$large_bytes" ;;
    *) check_tree "$d" 1 "$large_bytes" ;;
  esac
  rm -rf "$d"
}
for r in $(seq 1 "$runs"); do
  log "7: one $large_mib MiB file, run $r of $runs"
  timed "$results/large-read" dd if="$large" of=/dev/null bs=4M status=none
  for tool in $(rotate "$r" supervise supervise-nock aws rclone curl $curl_tools); do large_nginx "$tool" "$r"; done
  for tool in $(rotate "$r" supervise supervise-nock aws rclone curl); do large_moto "$tool" "$r"; done
  for tool in $(rotate "$r" supervise rclone cp cpsync dd); do large_file "$tool" "$r"; done
done
rm -rf "$work/large/parts-"*
sync

# --- 8 no-change round -------------------------------------------------------------------
last=$((runs + 1))
log "8: supervise stores $nc_files files to moto in round 1 (moto takes about 3 ms a file), then $runs no-change rounds"
sv_log=$work/nochange-supervise.log
# The command ends once round $last is logged; its own command line must not match, so
# the round number comes through the environment.
env AWS_ENDPOINT_URL="$moto_url" NC_LAST="$last" NC_LOG="$sv_log" \
  "$supervise" --log-level info --status-file "$work/nochange-status.json" \
  --checkpoint "path=$work/many/ckpt,url=s3://bench-nc/sv,frequency=1s" -- bash -c '
    deadline=$((SECONDS + 7200))
    until grep -q "Checkpoint round $NC_LAST of" "$NC_LOG"; do
      [ "$SECONDS" -lt "$deadline" ] || { echo "no round $NC_LAST in 2 hours" >&2; exit 1; }
      sleep 0.2
    done' 2>"$sv_log" || { cat "$sv_log" >&2; fail "the no-change supervisor"; }
# Round n: from its "Checkpointing data from" line to its "Checkpoint round n of" line.
awk -v files="$nc_files" -v last="$last" -v out="$results/nochange-supervise" '
  function secs(ts,  t) { split(substr(ts, 12, 12), t, ":"); return t[1] * 3600 + t[2] * 60 + t[3] }
  / Checkpointing data from .*\.\.\.$/ { start = secs($2) }
  / Checkpoint round [0-9]+ of / {
    n = $6 + 0; d = secs($2) - start; if (d < 0) d += 86400
    if (n == 1) { printf "round 1 (stores everything): %.1f s\n", d > "/dev/stderr"; next }
    if (n > last) next
    if ($0 !~ (": 0 stored, " files " unchanged, 0 skipped")) { print "round " n " was not a no-change round: " $0 > "/dev/stderr"; bad = 1 }
    printf "%.4f\n", d > out; seen++
  }
  END { if (bad || seen != last - 1) exit 1 }' "$sv_log" || fail "supervise's no-change rounds (log: $sv_log)"
python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["checkpoints"][0]; f = c["final"]
assert f["ok"] and f["files_unchanged"] == int(sys.argv[2]) and f["files_stored"] == 0, c' \
  "$work/nochange-status.json" "$nc_files" || fail "the final no-change round"

log "8: aws s3 sync checks that supervise's copy is complete (untimed)"
AWS_ENDPOINT_URL=$moto_url aws s3 sync --no-progress "$work/many/ckpt" s3://bench-nc/sv/ckpt >"$work/settle.out"
[ ! -s "$work/settle.out" ] || fail "aws s3 sync found supervise's copy incomplete: $(wc -l <"$work/settle.out") uploads, e.g. $(head -1 "$work/settle.out")"
nochange_peer() {
  local t=$results/nochange-$1
  case $1 in
    aws) timed "$t" env AWS_ENDPOINT_URL="$moto_url" aws s3 sync --no-progress "$work/many/ckpt" s3://bench-nc/sv/ckpt
         [ ! -s "$work/last.out" ] || fail "aws s3 sync did something: $(head -1 "$work/last.out")" ;;
    rclone) timed "$t" env -u AWS_CA_BUNDLE rclone sync -v --s3-no-check-bucket --fast-list --update --use-server-modtime \
              "$work/many/ckpt" moto:bench-nc/sv/ckpt
            ! grep -E ': (Copied|Updated|Deleted)' "$work/last.err" >&2 || fail "rclone sync did something" ;;
  esac
}
for r in $(seq 1 "$runs"); do
  log "8: aws and rclone decide about $nc_files unchanged files, run $r of $runs"
  for tool in $(rotate "$r" aws rclone); do nochange_peer "$tool"; done
done

# --- 9 restore ---------------------------------------------------------------------------
# Into an empty directory: the copy supervise stored in 6b's first run (2,000 x 4 KiB and
# its manifest) and one large file stored here once (untimed), each from moto.
# supervise: `--restore` and `true` (the whole process: manifest, files, the final round
# that stores nothing); aws: `aws s3 cp --recursive` and `aws s3 sync` (defaults: 10
# threads); rclone: `copy` with the flags of 6. Every copy is checked (count, bytes, and
# the contents' checksum for the small files), then deleted. moto's own CPU time during
# each run is recorded too: moto serves requests under Python's GIL, one core at most, so
# its CPU seconds for the 2,000 GETs are the floor of any client's wall time.
# Issue 16's targets: the large file at least 1.2x `aws s3 cp` (supervise may fetch
# ranges of it in parallel), the small files at least 1.5x aws (the faster of cp and sync)
# and more than rclone. The large file is also restored by "supervise-nock" (response
# checksums not validated, AWS_RESPONSE_CHECKSUM_VALIDATION=when_required, as in 7), and
# client CPU per GiB and peak RSS come from the same runs (GNU time).
log "9: the large file stored once for the restore (untimed)"
env AWS_ENDPOINT_URL="$moto_url" "$supervise" -q --checkpoint "path=$work/large/ckpt,url=s3://bench-large/restore,frequency=1h" \
  -- true || fail "storing the large file for the restore"
restore_run() {  # restore_run small|large TOOL RUN
  local d=$work/restored/$1-$2-$3 t=$results/restore-$1-$2 src count bytes sum=""
  case $1 in
    small) src=bench-small/s1-supervise count=$small_files bytes=$small_bytes sum=$small_sum ;;
    large) src=bench-large/restore count=1 bytes=$large_bytes ;;
  esac
  mkdir -p "$d"
  settle
  local cpu0 ev=(); cpu0=$(moto_cpu)
  case $2 in
    supervise | supervise-nock | sweep-*)
      mapfile -t ev < <(sv_env "$2")
      timed "$t" env AWS_ENDPOINT_URL="$moto_url" "${ev[@]}" "$supervise" -q --restore \
        --checkpoint "path=$d/ckpt,url=s3://$src,frequency=1h" -- true ;;
    aws) timed "$t" env AWS_ENDPOINT_URL="$moto_url" aws s3 cp --recursive --only-show-errors "s3://$src/ckpt" "$d/ckpt" ;;
    awssync) timed "$t" env AWS_ENDPOINT_URL="$moto_url" aws s3 sync --only-show-errors "s3://$src/ckpt" "$d/ckpt" ;;
    rclone) timed "$t" env -u AWS_CA_BUNDLE rclone copy "${rclone_fast[@]}" "moto:$src/ckpt" "$d/ckpt" ;;
  esac
  awk -v a="$cpu0" -v b="$(moto_cpu)" 'BEGIN { printf "%.2f\n", b - a }' >>"$t-server"
  check_tree "$d/ckpt" "$count" "$bytes" "$sum"
  rm -rf "$d"
}
for r in $(seq 1 "$runs"); do
  log "9: restore, run $r of $runs"
  for tool in $(rotate "$r" supervise aws awssync rclone); do restore_run small "$tool" "$r"; done
  for tool in $(rotate "$r" supervise supervise-nock aws awssync rclone); do restore_run large "$tool" "$r"; done
done

# --- 10 preemption -----------------------------------------------------------------------
# The GiB of a checkpoint present at SIGTERM that are stored whole at nginx within the
# grace period. The checkpoint: PREEMPT_FILES x PREEMPT_MIB of random bytes (default 8 x
# 512 MiB; --quick 8 x 128 MiB), mtimes an hour old, read once before each run (untimed:
# every tool reads it from the page cache).
# supervise: `supervise --grace-period 30s --checkpoint path=DIR,url=s3://bench/P,
# frequency=1h -- sleep 1000` with SUPERVISE_S3_MULTIPART_THRESHOLD=2GiB (nginx takes no
# multipart: one PUT per file, as for 7's nginx row), under `timeout -s KILL` (grace +
# 15 s) as a safety net only. Once its `sleep` runs (no round has run: the first is an
# hour away), SIGTERM goes to supervise; it forwards it, `sleep` ends, and the final
# round stores what it can until the grace period ends (the round is cancelled 2 s
# before, so that it can clean up). Timed from the SIGTERM to supervise's exit.
# aws and rclone do the same work with 7's nginx settings (`aws s3 cp --recursive` with
# multipart_threshold = 2GB: its default 10 files at a time; `rclone copy` with the flags
# of 6 and --s3-upload-cutoff 5G --s3-disable-checksum: its default 4 at a time) under
# `timeout -k 5 -s TERM 30`, timed from their start (their start-up counts, as a preStop
# hook's would; supervise is already running).
# What is stored: nginx renames a PUT's body into place only once all of it has arrived
# (an interrupted PUT leaves nothing), so after the tool's exit every file at the sink is
# compared with its source (size, then `cmp`); one that differs fails the run, the GiB of
# those equal are the figure. supervise's status file must agree: a final round it calls
# ok must have stored everything.
# The 30 s bind only for a checkpoint larger than the tools store in that time, and nginx
# writes what goes beyond the kernel's dirty limit (20% of memory, about 4.6 GiB here) at
# the disk's speed (about 320 MB/s on this machine's disk), which would make the row a
# measure of the disk. At the default 4 GiB every tool may store it all; then the seconds
# decide, and the met? column says "all stored" and whether supervise was done first.
pre_dir=$work/preempt/ckpt
pre_bytes=$((pre_files * (pre_mib << 20)))
pre_gib=$(awk -v b="$pre_bytes" 'BEGIN { printf "%g", b / 2 ^ 30 }')
log "10: making the preemption checkpoint, $pre_files x $pre_mib MiB"
mkdir -p "$pre_dir"
for i in $(seq 1 "$pre_files"); do head -c $((pre_mib << 20)) /dev/urandom >"$pre_dir/part$(printf %03d "$i").bin"; done
touch -d '1 hour ago' "$pre_dir"/*
# preempt_count DEST: the bytes of the files at DEST, each checked to equal its source
preempt_count() {
  local f g whole=0
  for g in "$1"/*; do
    [ -e "$g" ] || continue
    f=$pre_dir/${g##*/}
    [ -f "$f" ] && [ "$(stat -c %s "$g")" = "$(stat -c %s "$f")" ] && cmp -s "$f" "$g" ||
      fail "$g is not a whole copy of $f ($(stat -c %s "$g") bytes)"
    whole=$((whole + $(stat -c %s "$f")))
  done
  echo "$whole"
}
preempt_run() {  # preempt_run TOOL RUN
  local p=pre$2-$1 t0 t1 rc=0 stored cmd=()
  cat "$pre_dir"/* >/dev/null
  settle
  case $1 in
    supervise)
      local st=$work/preempt-status.json sv_log=$work/preempt-supervise.log tpid spid="" cpid deadline=$((SECONDS + 30))
      rm -f "$st"
      bg timeout -s KILL $((grace + 15)) env AWS_ENDPOINT_URL="$ng_url" SUPERVISE_S3_MULTIPART_THRESHOLD=2GiB \
        "$supervise" --log-level info --grace-period "${grace}s" --status-file "$st" \
        --checkpoint "path=$pre_dir,url=s3://bench/$p,frequency=1h" -- sleep 1000 2>"$sv_log"
      tpid=$bg_pid
      until spid=$(pgrep -P "$tpid") && pgrep -x -P "$spid" sleep >/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || { cat "$sv_log" >&2; fail "supervise did not start its command in 30 s"; }
        sleep 0.02
      done
      cpid=$(pgrep -x -P "$spid" sleep)
      t0=$(date +%s.%N)
      kill -TERM "$spid"
      wait "$tpid" || rc=$?
      t1=$(date +%s.%N)
      unbg "$tpid"
      if [ "$rc" = 137 ]; then  # killed by the safety net: its command may be left
        kill "$cpid" 2>/dev/null || true
        cat "$sv_log" >&2; fail "supervise still ran $((grace + 15)) s after its start"
      fi
      [ -s "$st" ] || { cat "$sv_log" >&2; fail "supervise wrote no status (exit $rc)"; } ;;
    aws | rclone)
      if [ "$1" = aws ]; then
        cmd=(env AWS_ENDPOINT_URL="$ng_url" AWS_CONFIG_FILE="$work/aws/single-put" aws s3 cp --recursive --only-show-errors
             "$pre_dir" "s3://bench/$p/ckpt")
      else
        cmd=(env -u AWS_CA_BUNDLE rclone copy "${rclone_fast[@]}" --s3-upload-cutoff 5G --s3-disable-checksum
             "$pre_dir" "ng:bench/$p/ckpt")
      fi
      t0=$(date +%s.%N)
      timeout -k 5 -s TERM "$grace" "${cmd[@]}" >"$work/last.out" 2>"$work/last.err" || rc=$?
      t1=$(date +%s.%N)
      case $rc in 0 | 124 | 137) ;; *) tail -n 20 "$work/last.err" >&2; fail "$1 failed (exit $rc)" ;; esac ;;
  esac
  stored=$(preempt_count "$ng/root/bench/$p/ckpt")
  if [ "$1" = supervise ]; then
    python3 - "$st" "$stored" "$pre_bytes" <<'PY' || fail "supervise's status disagrees with the sink (log: $sv_log)"
import json, sys
f = json.load(open(sys.argv[1]))["checkpoints"][0].get("final") or {}
print(f"checkpoint.sh: 10: supervise's final round: ok {f.get('ok')}, {f.get('files_stored')} files stored "
      f"({f.get('bytes_stored')} bytes), {f.get('files_failed')} failed", file=sys.stderr)
if f.get("ok") and int(sys.argv[2]) != int(sys.argv[3]):
    sys.exit("its final round is ok, but not every file is at the sink")
PY
    [ "$stored" = "$pre_bytes" ] || grep -E ' (warning|error): ' "$sv_log" | tail -n 3 | sed 's/^/checkpoint.sh: 10: supervise: /' >&2
  fi
  awk -v b="$stored" -v a="$t0" -v z="$t1" -v rc="$rc" 'BEGIN { printf "%.4f %.3f %d\n", b / 2 ^ 30, z - a, rc }' \
    >>"$results/preempt-$1"
  log "10: $1 stored $(awk -v b="$stored" 'BEGIN { printf "%.3f", b / 2 ^ 30 }') of $pre_gib GiB whole, $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }') s (exit $rc)"
  rm -rf "$ng/root/bench/$p"
}
for r in $(seq 1 "$runs"); do
  log "10: preemption, $pre_files x $pre_mib MiB to nginx, grace period $grace s, run $r of $runs"
  for tool in $(rotate "$r" supervise aws rclone); do preempt_run "$tool" "$r"; done
done
rm -rf "$work/preempt"
sync

# --- 11 concurrency sweep ----------------------------------------------------------------
# Only with CONCURRENCY_SWEEP (and CHUNKSIZE_SWEEP), so that the defaults can be chosen by
# measurement. For each value C (and size S), supervise with
# SUPERVISE_S3_MAX_CONCURRENT_REQUESTS=C (and SUPERVISE_S3_MULTIPART_CHUNKSIZE=S) stores
# the large file to moto as in 7 and restores it from moto as in 9 (the copy stored there
# once); RUNS runs, the configurations taking turns. A second table: a row each, with
# MB/s, client CPU per GiB, peak RSS and the bound C x S, up and down.
sweep_tools=()
for c in $sweep_c; do
  if [ -z "$sweep_k" ]; then sweep_tools+=("sweep-c$c"); else for k in $sweep_k; do sweep_tools+=("sweep-c$c-k$k"); done; fi
done
if [ "${#sweep_tools[@]}" -gt 0 ]; then
  knows SUPERVISE_S3_MAX_CONCURRENT_REQUESTS ||
    log "11: $supervise --help does not name SUPERVISE_S3_MAX_CONCURRENT_REQUESTS: the rows may all be one configuration"
  dd if="$large" of=/dev/null bs=4M status=none
  for r in $(seq 1 "$runs"); do
    log "11: sweep of ${sweep_tools[*]}, run $r of $runs"
    for tool in $(rotate "$r" "${sweep_tools[@]}"); do
      large_moto "$tool" "$r"
      restore_run large "$tool" "$r"
    done
  done
fi

# Every run's figure, for the spread behind each median (stderr).
for f in "$results"/*; do
  case $f in
    */preempt-*) log "runs of $(basename "$f") (GiB stored, s): $(awk '{ printf "%s/%s ", $1, $2 }' "$f")" ;;
    *-server) log "runs of $(basename "$f") (moto's CPU s): $(awk '{ printf "%s ", $1 }' "$f")" ;;
    *) log "runs of $(basename "$f") (wall s, CPU s, peak RSS KiB): $(awk '{ printf "%s/%s/%s ", $1, $2, $3 }' "$f")" ;;
  esac
done

stores_section

# --- the table ---------------------------------------------------------------------------
f2() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
times_of() { ratio "$1" "$2"; }  # how many times the peer takes supervise's time
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
over() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }
max() { awk 'BEGIN { m = ARGV[1]; for (i = 2; i < ARGC; i++) if (ARGV[i] + 0 > m + 0) m = ARGV[i]; print m }' "$@"; }
yes_no() { if "$@"; then echo yes; else echo "**no**"; fi; }
lb=$large_bytes
per_gib() { awk -v c="$1" -v b="$lb" 'BEGIN { printf "%.2f", c / (b / 2 ^ 30) }'; }  # CPU s of the large file, per GiB
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }  # KiB (GNU time's %M) in MiB
slower() { awk -v on="$1" -v off="$2" 'BEGIN { printf "%+.1f%%", 100 * (on / off - 1) }'; }  # wall on vs off

sw=$(med small-ng-supervise 1) aw=$(med small-ng-aws 1) rw=$(med small-ng-rclone 1)
sc=$(med small-ng-supervise 2) ac=$(med small-ng-aws 2) rc=$(med small-ng-rclone 2)
msw=$(med small-moto-supervise 1) maw=$(med small-moto-aws 1) mrw=$(med small-moto-rclone 1)
msc=$(med small-moto-supervise 2) mac=$(med small-moto-aws 2) mrc=$(med small-moto-rclone 2)
a_over=$(over "$aw" "$sw") r_over=$(over "$rw" "$sw")
# 7: wall, CPU and RSS medians of each tool, to nginx and to moto
for store in ng moto; do
  for tool in supervise supervise-nock aws rclone curl; do
    v=${store}_${tool//-/_}
    printf -v "${v}_t" %s "$(med "large-$store-$tool" 1)"
    printf -v "${v}_c" %s "$(med "large-$store-$tool" 2)"
    printf -v "${v}_m" %s "$(med "large-$store-$tool" 3)"
  done
done
lng_s=$(mbps "$lb" "$ng_supervise_t") lng_a=$(mbps "$lb" "$ng_aws_t") lng_r=$(mbps "$lb" "$ng_rclone_t")
lng_l1=$(mbps "$lb" "$ng_curl_t")
lng_l=$lng_l1 lng_ltext="\`curl -T\` $lng_l1"
for n in $curl_parallel; do
  v=$(mbps "$lb" "$(med "large-ng-curl$n" 1)")
  lng_ltext+=", $n curls $v"
  lng_l=$(max "$lng_l" "$v")
done
lmo_s=$(mbps "$lb" "$moto_supervise_t") lmo_a=$(mbps "$lb" "$moto_aws_t")
lmo_r=$(mbps "$lb" "$moto_rclone_t") lmo_l=$(mbps "$lb" "$moto_curl_t")
lf_s=$(mbps "$lb" "$(med large-file-supervise 1)") lf_r=$(mbps "$lb" "$(med large-file-rclone 1)")
lf_cp=$(mbps "$lb" "$(med large-file-cp 1)") lf_cs=$(mbps "$lb" "$(med large-file-cpsync 1)")
lf_dd=$(mbps "$lb" "$(med large-file-dd 1)") read_l=$(mbps "$lb" "$(med large-read 1)")
# dd copies each block through user space twice; cp's copy_file_range does not. A limit a
# plain copy beats is no limit: the faster of the two fsynced copies is.
lf_l=$(( lf_dd > lf_cs ? lf_dd : lf_cs ))
ns=$(median <"$results/nochange-supervise") na=$(med nochange-aws 1) nr=$(med nochange-rclone 1)
size_label=$([ "$large_mib" -ge 1024 ] && awk -v m="$large_mib" 'BEGIN { printf "%g GiB", m / 1024 }' || echo "$large_mib MiB")
nc_label=$(echo "$nc_files" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta')
# 9
rs=$(med restore-small-supervise 1) ra=$(med restore-small-aws 1) ras=$(med restore-small-awssync 1) rr=$(med restore-small-rclone 1)
aws_best=$(awk -v a="$ra" -v b="$ras" 'BEGIN { print (a < b ? a : b) }')
rsv=$(med restore-small-supervise-server 1) rav=$(med restore-small-aws-server 1)
for tool in supervise supervise-nock aws awssync rclone; do
  v=rl_${tool//-/_}
  printf -v "${v}_t" %s "$(med "restore-large-$tool" 1)"
  printf -v "${v}_c" %s "$(med "restore-large-$tool" 2)"
  printf -v "${v}_m" %s "$(med "restore-large-$tool" 3)"
done
rl_s=$(mbps "$lb" "$rl_supervise_t") rl_a=$(mbps "$lb" "$rl_aws_t") rl_as=$(mbps "$lb" "$rl_awssync_t") rl_r=$(mbps "$lb" "$rl_rclone_t")
# 10
for tool in supervise aws rclone; do
  printf -v "pre_${tool}_g" %s "$(med "preempt-$tool" 1)"
  printf -v "pre_${tool}_t" %s "$(med "preempt-$tool" 2)"
done
pre_all=$(awk -v b="$pre_bytes" 'BEGIN { print b / 2 ^ 30 - 0.0001 }')  # all of it, less the rounding of %.4f
# pre_met: supervise stored more than both peers; else, for each peer it did not beat,
# whether both stored everything and supervise was done first.
pre_met() {
  local peer g t out=() all=1
  for peer in aws rclone; do
    g=pre_${peer}_g t=pre_${peer}_t
    if gt "$pre_supervise_g" "${!g}"; then out+=("$peer yes")
    else
      all=0
      if ge "$pre_supervise_g" "$pre_all" && ge "${!g}" "$pre_all"; then
        out+=("$peer: all stored by both, supervise $(gt "${!t}" "$pre_supervise_t" && echo sooner || echo "**not sooner**")")
      else out+=("$peer **no**"); fi
    fi
  done
  if [ "$all" = 1 ]; then echo yes; else local IFS=';'; echo "${out[*]}" | sed 's/;/; /g'; fi
}

echo "Checkpoints, \`bench/checkpoint.sh$([ "$quick" = 1 ] && echo " --quick")\`, medians of $runs run(s), on $(machine):"
echo
echo "| measure | store | supervise | aws | rclone | cp / limit | ratio | target | met? |"
echo "|---|---|---:|---:|---:|---|---|---|---|"
echo "| 6a 2,000 x 4 KiB, wall s | nginx | $(f2 "$sw") | $(f2 "$aw") | $(f2 "$rw") | — | aws $(times_of "$aw" "$sw"), rclone $(times_of "$rw" "$sw") | aws ≥ 10x, rclone > 1x | $(yes_no eval 'ge "$a_over" 10 && ! ge 1 "$r_over"') |"
echo "| 6a 2,000 x 4 KiB, client CPU s | nginx | $(f2 "$sc") | $(f2 "$ac") | $(f2 "$rc") | — | aws $(times_of "$ac" "$sc"), rclone $(times_of "$rc" "$sc") | — | — |"
echo "| 6b 2,000 x 4 KiB, wall s | moto | $(f2 "$msw") | $(f2 "$maw") | $(f2 "$mrw") | — | aws $(times_of "$maw" "$msw"), rclone $(times_of "$mrw" "$msw") | aws ≥ 1.5x, rclone > 1x | $(yes_no eval 'ge "$(over "$maw" "$msw")" 1.5 && gt "$(over "$mrw" "$msw")" 1') |"
echo "| 6b 2,000 x 4 KiB, client CPU s | moto | $(f2 "$msc") | $(f2 "$mac") | $(f2 "$mrc") | — | aws $(times_of "$mac" "$msc"), rclone $(times_of "$mrc" "$msc") | — | — |"
echo "| 7 $size_label, MB/s | nginx | $lng_s | $lng_a | $lng_r | limit: the best of $lng_ltext | $(pct "$lng_s" "$lng_l") of limit | ≥ 85% | $(yes_no ge "$lng_s" "$(awk -v l="$lng_l" 'BEGIN { print 0.85 * l }')") |"
echo "| 7 $size_label, MB/s | moto | $lmo_s | $lmo_a | $lmo_r | \`curl -T\` $lmo_l (one PUT; supervise at $(pct "$lmo_s" "$lmo_l")) | aws $(times_of "$moto_aws_t" "$moto_supervise_t"), rclone $(times_of "$moto_rclone_t" "$moto_supervise_t") | aws ≥ 1.2x, rclone ≥ 1.5x | $(yes_no eval 'ge "$(over "$moto_aws_t" "$moto_supervise_t")" 1.2 && ge "$(over "$moto_rclone_t" "$moto_supervise_t")" 1.5') |"
echo "| 7 $size_label, checksums on vs off, MB/s | moto | on $lmo_s, off $(mbps "$lb" "$moto_supervise_nock_t") | — | — | — | on $(slower "$moto_supervise_t" "$moto_supervise_nock_t") wall | on ≤ 10% slower | $(yes_no ge "$(awk -v o="$moto_supervise_nock_t" 'BEGIN { print 1.1 * o }')" "$moto_supervise_t") |"
echo "| 7 $size_label, checksums on vs off, MB/s | nginx | on $lng_s, off $(mbps "$lb" "$ng_supervise_nock_t") | — | — | — | on $(slower "$ng_supervise_t" "$ng_supervise_nock_t") wall | on ≤ 10% slower | $(yes_no ge "$(awk -v o="$ng_supervise_nock_t" 'BEGIN { print 1.1 * o }')" "$ng_supervise_t") |"
echo "| 7 $size_label up, client CPU s per GiB | moto | $(per_gib "$moto_supervise_c") | $(per_gib "$moto_aws_c") | $(per_gib "$moto_rclone_c") | \`curl -T\` $(per_gib "$moto_curl_c") | aws $(times_of "$moto_aws_c" "$moto_supervise_c"), rclone $(times_of "$moto_rclone_c" "$moto_supervise_c") | reported | — |"
echo "| 7 $size_label up, client CPU s per GiB | nginx | $(per_gib "$ng_supervise_c") | $(per_gib "$ng_aws_c") | $(per_gib "$ng_rclone_c") | \`curl -T\` $(per_gib "$ng_curl_c") | aws $(times_of "$ng_aws_c" "$ng_supervise_c"), rclone $(times_of "$ng_rclone_c" "$ng_supervise_c") | reported | — |"
echo "| 7 $size_label up, peak RSS MiB | moto | $(mib "$moto_supervise_m") | $(mib "$moto_aws_m") | $(mib "$moto_rclone_m") | supervise's bound: $bound ($bound_note) | — | reported | — |"
echo "| 7 $size_label up, peak RSS MiB | nginx | $(mib "$ng_supervise_m") | $(mib "$ng_aws_m") | $(mib "$ng_rclone_m") | one PUT each (no parts) | — | reported | — |"
echo "| 7 $size_label, MB/s | file:// | $lf_s | — | $lf_r | cp $lf_cp; limit: the faster of cp+fsync $lf_cs and \`dd conv=fsync\` $lf_dd | $(pct "$lf_s" "$lf_l") of limit | ≥ 80% | $(yes_no ge "$lf_s" "$(awk -v l="$lf_l" 'BEGIN { print 0.8 * l }')") |"
echo "| 7 read limit, MB/s | \`dd\` to /dev/null, page cache warm | — | — | — | $read_l | — | — | — |"
echo "| 8 no-change round, $nc_label x 1 KiB, s | moto | $(awk -v v="$ns" 'BEGIN { printf "%.3f", v }') | $(f2 "$na") | $(f2 "$nr") | — | aws $(times_of "$na" "$ns"), rclone $(times_of "$nr" "$ns") | aws ≥ 10x | $(yes_no ge "$(over "$na" "$ns")" 10) |"
echo "| 9 restore 2,000 x 4 KiB, wall s | moto | $(f2 "$rs") | cp $(f2 "$ra"), sync $(f2 "$ras") | $(f2 "$rr") | moto's own CPU for the requests: $(f2 "$rsv") (supervise's), $(f2 "$rav") (aws cp's) | aws (the faster) $(times_of "$aws_best" "$rs"), rclone $(times_of "$rr" "$rs") | aws ≥ 1.5x, rclone > 1x | $(yes_no eval 'ge "$(over "$aws_best" "$rs")" 1.5 && gt "$(over "$rr" "$rs")" 1') |"
echo "| 9 restore $size_label, MB/s | moto | $rl_s | cp $rl_a, sync $rl_as | $rl_r | — | aws cp $(times_of "$rl_aws_t" "$rl_supervise_t"), rclone $(times_of "$rl_rclone_t" "$rl_supervise_t") | aws cp ≥ 1.2x | $(yes_no ge "$(over "$rl_aws_t" "$rl_supervise_t")" 1.2) |"
echo "| 9 restore $size_label, checksums validated vs not, MB/s | moto | on $rl_s, off $(mbps "$lb" "$rl_supervise_nock_t") | — | — | — | on $(slower "$rl_supervise_t" "$rl_supervise_nock_t") wall | — | — |"
echo "| 9 restore $size_label, client CPU s per GiB | moto | $(per_gib "$rl_supervise_c") | cp $(per_gib "$rl_aws_c"), sync $(per_gib "$rl_awssync_c") | $(per_gib "$rl_rclone_c") | — | aws cp $(times_of "$rl_aws_c" "$rl_supervise_c"), rclone $(times_of "$rl_rclone_c" "$rl_supervise_c") | reported | — |"
echo "| 9 restore $size_label, peak RSS MiB | moto | $(mib "$rl_supervise_m") | cp $(mib "$rl_aws_m"), sync $(mib "$rl_awssync_m") | $(mib "$rl_rclone_m") | supervise's bound: $bound | — | reported | — |"
echo "| 10 preemption: GiB of $pre_gib GiB ($pre_files files) stored whole within a $grace s grace period | nginx | $(f2 "$pre_supervise_g") | $(f2 "$pre_aws_g") | $(f2 "$pre_rclone_g") | — | supervise over aws $(ratio "$pre_supervise_g" "$pre_aws_g"), over rclone $(ratio "$pre_supervise_g" "$pre_rclone_g") | more than aws and rclone | $(pre_met) |"
echo "| 10 preemption: s until the tool ended (supervise: from SIGTERM) | nginx | $(f2 "$pre_supervise_t") | $(f2 "$pre_aws_t") | $(f2 "$pre_rclone_t") | — | aws $(times_of "$pre_aws_t" "$pre_supervise_t"), rclone $(times_of "$pre_rclone_t" "$pre_supervise_t") | — | — |"
echo
echo "Ratios: the peer's time (or CPU) over supervise's; for the GiB of 10, supervise's over the peer's. Peer flags and what is timed: the comment at the top of bench/checkpoint.sh."
echo
stores_table

if [ "${#sweep_tools[@]}" -gt 0 ]; then
  echo
  echo "Section 11, the concurrency sweep, $size_label to and from moto, medians of $runs run(s)$(knows SUPERVISE_S3_MAX_CONCURRENT_REQUESTS || echo " (this binary's --help does not name SUPERVISE_S3_MAX_CONCURRENT_REQUESTS: it may have run one configuration throughout)"):"
  echo
  echo "| SUPERVISE_S3_MAX_CONCURRENT_REQUESTS | SUPERVISE_S3_MULTIPART_CHUNKSIZE | bound | up MB/s | up CPU s per GiB | up peak RSS MiB | restore MB/s | restore CPU s per GiB | restore peak RSS MiB |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|---:|"
  for tool in "${sweep_tools[@]}"; do
    v=${tool#sweep-c} c=${v%%-k*} k=$part
    [[ $v != *-k* ]] || k=${v#*-k}
    echo "| $c | $(mib_of "$(to_bytes "$k")")$([[ $v == *-k* ]] || echo " (${part_setting#*|})") | $(bound_text "$c" "$k") | $(mbps "$lb" "$(med "large-moto-$tool" 1)") | $(per_gib "$(med "large-moto-$tool" 2)") | $(mib "$(med "large-moto-$tool" 3)") | $(mbps "$lb" "$(med "restore-large-$tool" 1)") | $(per_gib "$(med "restore-large-$tool" 2)") | $(mib "$(med "restore-large-$tool" 3)") |"
  done
fi
