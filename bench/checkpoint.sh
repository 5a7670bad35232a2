#!/usr/bin/env bash
# Checkpoint benchmark (issue 6, items 6-8): supervise's checkpoint against the AWS CLI,
# rclone and cp, to nginx (a PUT-only WebDAV endpoint, not the bottleneck), to
# moto_server and to a file:// store, all in one run. Prints one markdown table of the
# medians of RUNS runs, with each ratio and target; progress goes to stderr.
#
# Usage: bench/checkpoint.sh [--quick]
#   RUNS=N             runs of each measure (default 5; --quick 1)
#   LARGE_MIB=N        size of the large file in MiB (default 1024; --quick 256; at most 2048)
#   NOCHANGE_FILES=N   files of the no-change round (default 100000; --quick 10000)
#   SUPERVISE=PATH     the binary (default build/supervise)
# Needs bench/setup.sh (nginx, aws, rclone, curl, GNU time) and moto_server (scripts/setup.sh).
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
# - 7 large file: one file; MB/s = 10^6 bytes per second of wall time; each copy is
#   checked (size) and deleted after its run.
#   nginx (no multipart): supervise with SUPERVISE_S3_MULTIPART_THRESHOLD=2GiB, aws with
#   s3.multipart_threshold = 2GB (AWS_CONFIG_FILE), rclone --s3-upload-cutoff 5G
#   --s3-disable-checksum (else it reads the file once more for its MD5 first); limit: a
#   raw `curl -T FILE` (loopback + nginx writing its file).
#   moto: everyone's defaults (multipart: supervise 8 MiB parts one at a time, aws 8 MiB
#   parts 10 at a time, rclone 5 MiB parts 4 at a time); limit: `curl -T` (one PUT).
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
# Before every run of 6 and 7: `sync`, then a wait until the disk is quiet (untimed), so
# that no run pays for what the previous one wrote or deleted. Tools take turns: run N
# starts with a different one. A full run takes about 30 minutes on 2 cores, 5 of them
# moto storing the 100,000 files; --quick about 2.
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
require moto_server aws rclone curl python3 dd cp sync
[ -x /usr/bin/time ] || { echo "GNU time is not installed: run bench/setup.sh" >&2; exit 2; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "nginx is not installed: run bench/setup.sh" >&2; exit 2; }

log() { echo "checkpoint.sh: $*" >&2; }
results=$work/results
mkdir -p "$results"

# --- credentials and client configuration: nothing of the user's own is read ------------
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
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
dd if="$large" of=/dev/null bs=4M status=none  # warm: every tool reads it from the page cache
large_nginx() {
  local p=l$2-$1 t=$results/large-ng-$1 stored
  settle
  case $1 in
    supervise) timed "$t" env AWS_ENDPOINT_URL="$ng_url" SUPERVISE_S3_MULTIPART_THRESHOLD=2GiB "$supervise" -q \
                 --checkpoint "path=$work/large/ckpt,url=s3://bench/$p,frequency=1h" -- true ;;
    aws) timed "$t" env AWS_ENDPOINT_URL="$ng_url" AWS_CONFIG_FILE="$work/aws/single-put" aws s3 cp --recursive \
           --only-show-errors "$work/large/ckpt" "s3://bench/$p/ckpt" ;;
    rclone) timed "$t" env -u AWS_CA_BUNDLE rclone copy "${rclone_fast[@]}" --s3-upload-cutoff 5G --s3-disable-checksum \
              "$work/large/ckpt" "ng:bench/$p/ckpt" ;;
    curl) mkdir -p "$ng/root/bench/$p/ckpt"
          timed "$t" curl -sS -f -o /dev/null -T "$large" "$ng_url/bench/$p/ckpt/model.bin" ;;
  esac
  check_tree "$ng/root/bench/$p/ckpt" 1 "$large_bytes"
  rm -rf "$ng/root/bench/$p"
}
large_moto() {
  local p=l$2-$1 t=$results/large-moto-$1
  settle
  case $1 in
    supervise) timed "$t" env AWS_ENDPOINT_URL="$moto_url" "$supervise" -q \
                 --checkpoint "path=$work/large/ckpt,url=s3://bench-large/$p,frequency=1h" -- true ;;
    aws) timed "$t" env AWS_ENDPOINT_URL="$moto_url" aws s3 sync --only-show-errors "$work/large/ckpt" "s3://bench-large/$p/ckpt" ;;
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
  for tool in $(rotate "$r" supervise aws rclone curl); do large_nginx "$tool" "$r"; done
  for tool in $(rotate "$r" supervise aws rclone curl); do large_moto "$tool" "$r"; done
  for tool in $(rotate "$r" supervise rclone cp cpsync dd); do large_file "$tool" "$r"; done
done
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
  local cpu0; cpu0=$(moto_cpu)
  case $2 in
    supervise) timed "$t" env AWS_ENDPOINT_URL="$moto_url" "$supervise" -q --restore \
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
  for tool in $(rotate "$r" supervise aws awssync rclone); do restore_run large "$tool" "$r"; done
done

# Every run's figure, for the spread behind each median (stderr).
for f in "$results"/*; do
  log "runs of $(basename "$f") (wall s): $(awk '{ printf "%s ", $1 }' "$f")"
done

# --- the table ---------------------------------------------------------------------------
f2() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
times_of() { ratio "$1" "$2"; }  # how many times the peer takes supervise's time
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
yes_no() { if "$@"; then echo yes; else echo "**no**"; fi; }

sw=$(med small-ng-supervise 1) aw=$(med small-ng-aws 1) rw=$(med small-ng-rclone 1)
sc=$(med small-ng-supervise 2) ac=$(med small-ng-aws 2) rc=$(med small-ng-rclone 2)
msw=$(med small-moto-supervise 1) maw=$(med small-moto-aws 1) mrw=$(med small-moto-rclone 1)
msc=$(med small-moto-supervise 2) mac=$(med small-moto-aws 2) mrc=$(med small-moto-rclone 2)
a_over=$(awk -v a="$aw" -v s="$sw" 'BEGIN { print a / s }') r_over=$(awk -v a="$rw" -v s="$sw" 'BEGIN { print a / s }')
lb=$large_bytes
lng_s=$(mbps "$lb" "$(med large-ng-supervise 1)") lng_a=$(mbps "$lb" "$(med large-ng-aws 1)")
lng_r=$(mbps "$lb" "$(med large-ng-rclone 1)") lng_l=$(mbps "$lb" "$(med large-ng-curl 1)")
lmo_s=$(mbps "$lb" "$(med large-moto-supervise 1)") lmo_a=$(mbps "$lb" "$(med large-moto-aws 1)")
lmo_r=$(mbps "$lb" "$(med large-moto-rclone 1)") lmo_l=$(mbps "$lb" "$(med large-moto-curl 1)")
lf_s=$(mbps "$lb" "$(med large-file-supervise 1)") lf_r=$(mbps "$lb" "$(med large-file-rclone 1)")
lf_cp=$(mbps "$lb" "$(med large-file-cp 1)") lf_cs=$(mbps "$lb" "$(med large-file-cpsync 1)")
lf_dd=$(mbps "$lb" "$(med large-file-dd 1)") read_l=$(mbps "$lb" "$(med large-read 1)")
# dd copies each block through user space twice; cp's copy_file_range does not. A limit a
# plain copy beats is no limit: the faster of the two fsynced copies is.
lf_l=$(( lf_dd > lf_cs ? lf_dd : lf_cs ))
ns=$(median <"$results/nochange-supervise") na=$(med nochange-aws 1) nr=$(med nochange-rclone 1)
size_label=$([ "$large_mib" -ge 1024 ] && awk -v m="$large_mib" 'BEGIN { printf "%g GiB", m / 1024 }' || echo "$large_mib MiB")
nc_label=$(echo "$nc_files" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta')

echo "Checkpoints, \`bench/checkpoint.sh$([ "$quick" = 1 ] && echo " --quick")\`, medians of $runs run(s), on $(machine):"
echo
echo "| measure | store | supervise | aws | rclone | cp / limit | ratio | target | met? |"
echo "|---|---|---:|---:|---:|---|---|---|---|"
echo "| 6a 2,000 x 4 KiB, wall s | nginx | $(f2 "$sw") | $(f2 "$aw") | $(f2 "$rw") | — | aws $(times_of "$aw" "$sw"), rclone $(times_of "$rw" "$sw") | aws ≥ 10x, rclone > 1x | $(yes_no eval 'ge "$a_over" 10 && ! ge 1 "$r_over"') |"
echo "| 6a 2,000 x 4 KiB, client CPU s | nginx | $(f2 "$sc") | $(f2 "$ac") | $(f2 "$rc") | — | aws $(times_of "$ac" "$sc"), rclone $(times_of "$rc" "$sc") | — | — |"
echo "| 6b 2,000 x 4 KiB, wall s | moto | $(f2 "$msw") | $(f2 "$maw") | $(f2 "$mrw") | — | aws $(times_of "$maw" "$msw"), rclone $(times_of "$mrw" "$msw") | — | — |"
echo "| 6b 2,000 x 4 KiB, client CPU s | moto | $(f2 "$msc") | $(f2 "$mac") | $(f2 "$mrc") | — | aws $(times_of "$mac" "$msc"), rclone $(times_of "$mrc" "$msc") | — | — |"
echo "| 7 $size_label, MB/s | nginx | $lng_s | $lng_a | $lng_r | limit \`curl -T\` $lng_l | $(pct "$lng_s" "$lng_l") of limit | ≥ 80% | $(yes_no ge "$lng_s" "$(awk -v l="$lng_l" 'BEGIN { print 0.8 * l }')") |"
echo "| 7 $size_label, MB/s | moto | $lmo_s | $lmo_a | $lmo_r | limit \`curl -T\` $lmo_l | $(pct "$lmo_s" "$lmo_l") of limit | ≥ 80% | $(yes_no ge "$lmo_s" "$(awk -v l="$lmo_l" 'BEGIN { print 0.8 * l }')") |"
echo "| 7 $size_label, MB/s | file:// | $lf_s | — | $lf_r | cp $lf_cp; limit: the faster of cp+fsync $lf_cs and \`dd conv=fsync\` $lf_dd | $(pct "$lf_s" "$lf_l") of limit | ≥ 80% | $(yes_no ge "$lf_s" "$(awk -v l="$lf_l" 'BEGIN { print 0.8 * l }')") |"
echo "| 7 read limit, MB/s | \`dd\` to /dev/null, page cache warm | — | — | — | $read_l | — | — | — |"
echo "| 8 no-change round, $nc_label x 1 KiB, s | moto | $(awk -v v="$ns" 'BEGIN { printf "%.3f", v }') | $(f2 "$na") | $(f2 "$nr") | — | aws $(times_of "$na" "$ns"), rclone $(times_of "$nr" "$ns") | aws ≥ 10x | $(yes_no ge "$(awk -v a="$na" -v s="$ns" 'BEGIN { print a / s }')" 10) |"
rs=$(med restore-small-supervise 1) ra=$(med restore-small-aws 1) ras=$(med restore-small-awssync 1) rr=$(med restore-small-rclone 1)
aws_best=$(awk -v a="$ra" -v b="$ras" 'BEGIN { print (a < b ? a : b) }')
rl_s=$(mbps "$lb" "$(med restore-large-supervise 1)") rl_a=$(mbps "$lb" "$(med restore-large-aws 1)")
rl_as=$(mbps "$lb" "$(med restore-large-awssync 1)") rl_r=$(mbps "$lb" "$(med restore-large-rclone 1)")
rsv=$(med restore-small-supervise-server 1) rav=$(med restore-small-aws-server 1)
echo "| 9 restore 2,000 x 4 KiB, wall s | moto | $(f2 "$rs") | cp $(f2 "$ra"), sync $(f2 "$ras") | $(f2 "$rr") | moto's own CPU for the requests: $(f2 "$rsv") (supervise's), $(f2 "$rav") (aws cp's) | aws (the faster) $(times_of "$aws_best" "$rs"), rclone $(times_of "$rr" "$rs") | aws ≥ 2x, rclone ≥ 1x | $(yes_no eval 'ge "$(awk -v a="$aws_best" -v s="$rs" "BEGIN { print a / s }")" 2 && ge "$(awk -v a="$rr" -v s="$rs" "BEGIN { print a / s }")" 1') |"
echo "| 9 restore $size_label, MB/s | moto | $rl_s | cp $rl_a, sync $rl_as | $rl_r | — | $(pct "$rl_s" "$(( rl_a > rl_as ? rl_a : rl_as ))") of aws | (the next issue's) | — |"
echo
echo "Ratios: the peer's time over supervise's. Peer flags and what is timed: the comment at the top of bench/checkpoint.sh."
