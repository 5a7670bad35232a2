#!/usr/bin/env bash
# Manifest protocol benchmark (issue 12, point 2): what it costs that, before a round
# replaces a file the stored manifest vouches for, the manifest is stored once more with
# those keys marked `in_progress` and `complete: false`; and what the first round of a
# run pays to read the stored manifest. A checkpoint of FILES x 1 KiB in 100 directories
# (mtimes an hour old), stored to file:// on tmpfs (/dev/shm), file:// on the disk under
# $TMPDIR (skipped when that is tmpfs too) and s3:// on moto_server (a free loopback
# port, ended by pid). Prints one markdown table of medians; every round's and run's
# figures go to stderr.
#
# Usage: bench/manifest.sh [--quick] [FILES]
#   FILES          files in the checkpoint (default 100000; --quick 10000); also env FILES
#   RUNS=N         cycles of warm rounds, one "add" and one "replace" each (default 10; --quick 4)
#   FRESH_RUNS=N   fresh runs with and without a stored manifest, each (default 5; --quick 3)
#   STORES="..."   some of tmpfs, disk, moto (default all three)
#   BASELINE=1     also every warm round with --no-manifest (each store stores every file once more)
#   SUPERVISE=PATH the binary (default build/supervise)
# Needs moto_server (scripts/setup.sh), python3, curl (7.75 or later: --aws-sigv4), GNU time.
#
# What is timed:
# 1. Warm rounds, peers in one process. One supervisor, `--checkpoint path=SRC,url=U,
#    frequency=1s -- bash -c DRIVER`: round 1 stores all FILES into an empty place (its
#    time is shown: every first round of a run costs that, see 2). Then RUNS cycles of
#    two rounds, the order turned each cycle; the driver (the supervised command) makes
#    the change between two rounds:
#      add 1       a new 1 KiB file: the stored manifest does not vouch for its key, so
#                  no marking (one manifest PUT: the round's)
#      replace 1   an existing 1 KiB file rewritten (new contents and mtime): the manifest
#                  is stored marked first, then the file, then the round's manifest (two
#                  manifest PUTs of the same size)
#    Each round is timed from its "Checkpointing data from" line to its "Checkpoint
#    round N of" line (millisecond timestamps) and checked to have stored 1 file,
#    skipped none and logged no warning; the supervisor's CPU time per round
#    (/proc/PID/stat, 10 ms ticks) is read by the driver between rounds, while the
#    supervisor idles. The protocol's cost is replace minus add: the median of the
#    per-cycle differences. With BASELINE=1 the same again with --no-manifest.
# 2. The first round of a fresh run over the checkpoint that 1 stored: a new supervisor,
#    `--checkpoint path=SRC,url=U,frequency=1h,regex=ckpt/d00/f0000000\.bin$ -- true`:
#    it walks all FILES, reads the stored manifest (GET, parse), marks the one file it
#    replaces, stores it and then a manifest of that one file. The regex keeps the round
#    to one file so that the fixed cost shows: a real fresh run stores every file again
#    (a supervisor keeps no record across runs), which costs what round 1 of 1 costs.
#    Peers, alternated: the manifest of 1 stored, against no manifest stored (the GET
#    answers "not found", nothing to mark). Time: the status file's final.seconds; CPU
#    and peak RSS of the whole process: GNU time. Before each run the manifest of 1 is
#    put back (or removed) and `sync` waits for a quiet disk, untimed. A warning of the
#    run (say, that it could not read the stored manifest) is shown under the table.
# 3. The manifest's size: the stored manifest of 1 (FILES and the added files); a marked
#    key adds 19 bytes (`,"in_progress":true`).
# On cores shared with other work, a round waits for a CPU more than it computes: the
# CPU rows are steadier than the wall ones, and a disk's fsync pays for the other work's
# dirty data. The source tree is on /dev/shm (under $TMPDIR when that is no tmpfs); each
# store is removed when its section ends. A full run took 20 minutes on 2 busy cores, 11
# of them moto storing the 100,000 files of round 1 (6 ms a file); STORES="tmpfs disk"
# about 7 (14 with BASELINE=1); --quick about 3.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

quick=0
files=${FILES:-}
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]* | "") echo "usage: bench/manifest.sh [--quick] [FILES]" >&2; exit 2 ;;
    *) files=$1 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  files=${files:-10000} runs=${RUNS:-4} fresh_runs=${FRESH_RUNS:-3}
else
  files=${files:-100000} runs=${RUNS:-10} fresh_runs=${FRESH_RUNS:-5}
fi
[ "$files" -ge 1000 ] || { echo "FILES is at least 1000" >&2; exit 2; }
[ "$runs" -ge 1 ] && [ "$fresh_runs" -ge 1 ] || { echo "RUNS and FRESH_RUNS are at least 1" >&2; exit 2; }
stores=${STORES:-tmpfs disk moto}
require python3 curl sync
[ -x /usr/bin/time ] || { echo "GNU time is not installed: run bench/setup.sh" >&2; exit 2; }

log() { echo "manifest.sh: $*" >&2; }
fail() { echo "manifest.sh: FAILED: $*" >&2; exit 1; }
results=$work/results
mkdir -p "$results"
started=$SECONDS

# --- places -----------------------------------------------------------------------------
# The source tree lives on tmpfs too when there is one: making and removing 100,000 files
# on a busy disk takes minutes, and every round reads it from the page cache anyway.
shm="" src=$work/src/ckpt
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
  shm=$(mktemp -d /dev/shm/supervise-bench.XXXXXX)
  trap 'bench_cleanup; rm -rf "$shm"' EXIT
  src=$shm/src/ckpt
elif [[ " $stores " == *" tmpfs "* ]]; then
  log "/dev/shm is not tmpfs: no tmpfs store"
  stores=${stores//tmpfs/}
fi
if [[ " $stores " == *" disk "* ]] && [ "$(stat -f -c %T "$work")" = tmpfs ]; then
  log "$work is on tmpfs: no disk store (set TMPDIR to a directory on a disk)"
  stores=${stores//disk/}
fi
[[ " $stores " != *" moto "* ]] || require moto_server

# settle: writes out what earlier steps left dirty, then waits until the disk under $work
# is quiet (no write or discard for 0.2 s, at most 30 s): `sync` returns before an ext4
# disk mounted with discard is done.
disk_stat=""
dev=$(realpath "$(df --output=source "$work" | tail -n 1)" 2>/dev/null || true)
[ -r "/sys/class/block/$(basename "$dev")/stat" ] && disk_stat=/sys/class/block/$(basename "$dev")/stat
settle() {
  sync
  [ -n "$disk_stat" ] || return 0
  local before now quiet=0 deadline=$((SECONDS + 30))
  before=$(awk '{ print $5, $7, $9, $12, $14 }' "$disk_stat")
  while [ "$quiet" -lt 4 ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.05
    now=$(awk '{ print $5, $7, $9, $12, $14 }' "$disk_stat")
    if [ "$now" = "$before" ] && [ "$(echo "$now" | cut -d' ' -f3)" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    before=$now
  done
}

# --- moto_server -------------------------------------------------------------------------
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_DEFAULT_REGION=us-east-1
export AWS_SHARED_CREDENTIALS_FILE=$work/no-credentials AWS_CONFIG_FILE=$work/no-config
moto_url=""
# s3 ARGS...: curl, signed for moto (the manifest is read, put back and removed with it)
s3() { curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
         -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
if [[ " $stores " == *" moto "* ]]; then
  moto_port=$(free_port)
  bg moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1
  moto_url=http://127.0.0.1:$moto_port
  wait_until 60 curl -s -o /dev/null "$moto_url/" || { cat "$work/moto.log" >&2; fail "moto_server did not start"; }
  [ "$(s3 -o /dev/null -w '%{http_code}' -X PUT "$moto_url/manifest-bench")" = 200 ] || fail "cannot create the bucket"
fi

# The place of store S's checkpoint NAME (w: with manifests, n: --no-manifest).
url_of() {
  case $1 in
    tmpfs) echo "file://$shm/$2" ;;
    disk) echo "file://$work/disk/$2" ;;
    moto) echo "s3://manifest-bench/$2" ;;
  esac
}
run_env() { [ "$1" != moto ] || echo "AWS_ENDPOINT_URL=$moto_url"; }
# manifest_get S NAME FILE / manifest_put S NAME FILE / manifest_rm S NAME
manifest_get() {
  case $1 in
    moto) [ "$(s3 -o "$3" -w '%{http_code}' "$moto_url/manifest-bench/$2/ckpt.manifest.json")" = 200 ] ;;
    *) cp "$(manifest_path "$1" "$2")" "$3" ;;
  esac
}
manifest_path() { case $1 in tmpfs) echo "$shm/$2/ckpt.manifest.json" ;; disk) echo "$work/disk/$2/ckpt.manifest.json" ;; esac; }
manifest_put() {
  case $1 in
    moto) [ "$(s3 -o /dev/null -w '%{http_code}' -T "$3" "$moto_url/manifest-bench/$2/ckpt.manifest.json")" = 200 ] ;;
    *) cp "$3" "$(manifest_path "$1" "$2")" ;;
  esac
}
manifest_rm() {
  case $1 in
    moto) s3 -o /dev/null -X DELETE "$moto_url/manifest-bench/$2/ckpt.manifest.json" ;;
    *) rm -f "$(manifest_path "$1" "$2")" ;;
  esac
}
store_rm() {
  case $1 in
    tmpfs) rm -rf "${shm:?}/$2" ;;
    disk) rm -rf "$work/disk/$2" ;;
    moto) ;;  # moto holds it in memory until it ends
  esac
}

# --- data --------------------------------------------------------------------------------
log "making $files x 1 KiB files in $src"
python3 - "$src" "$files" <<'PY'
import os, sys, time
root, n = sys.argv[1], int(sys.argv[2])
old = time.time() - 3600  # an hour old: a rewrite is always newer
for d in range(100):
    os.makedirs(f"{root}/d{d:02d}")
for i in range(n):
    p = f"{root}/d{i % 100:02d}/f{i:07d}.bin"
    with open(p, "wb") as f:
        f.write(os.urandom(1024))
    os.utime(p, (old, old))
PY
settle

# rotate N WORD...: the words rotated by N
rotate() { local n=$1; shift; local a=("$@") i; for ((i = 0; i < ${#a[@]}; i++)); do echo "${a[(i + n) % ${#a[@]}]}"; done; }
order=""
for r in $(seq 1 "$runs"); do order+=" $(rotate "$r" add replace | tr '\n' ' ')"; done

# The supervised command of a warm run: after round n-1 it makes the change of round n,
# then waits for round n's line and notes the supervisor's CPU ticks. Its own command
# line must not match the round lines it looks for, so everything comes by environment.
driver='
cpu() { awk "{ print \$14 + \$15 }" /proc/$PPID/stat; }
wait_round() {
  local deadline=$((SECONDS + 7200))
  until grep -q "Checkpoint round $1 of" "$B_LOG"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "no round $1 in 2 hours" >&2; exit 1; }
    sleep 0.02
  done
}
wait_round 1
c0=$(cpu) n=1
for a in $B_ORDER; do
  n=$((n + 1))
  case $a in
    add) head -c 1024 /dev/urandom >"$B_SRC/d00/new-$B_TAG-$n.bin" ;;
    replace) printf -v f "%s/d%02d/f%07d.bin" "$B_SRC" $((n % 100)) "$n"; head -c 1024 /dev/urandom >"$f" ;;
  esac
  wait_round "$n"
  c1=$(cpu); echo "$n $a $((c1 - c0))" >>"$B_ACTIONS"; c0=$c1
done'

tick=$(getconf CLK_TCK)
# warm S MODE: section 1 for store S; MODE w (manifests) or n (--no-manifest).
warm() {
  local s=$1 mode=$2 url tag=$1-$2 flags=()
  url=$(url_of "$s" "$mode")
  [ "$mode" = w ] || flags=(--no-manifest)
  [ "$s" != disk ] || mkdir -p "$work/disk/$mode"
  [ "$s" != tmpfs ] || mkdir -p "$shm/$mode"
  local sv_log=$work/warm-$tag.log actions=$work/warm-$tag.actions status=$work/warm-$tag.json
  : >"$actions"
  local before total
  before=$(find "$src" -type f | wc -l)
  log "$s${flags:+ ${flags[*]}}: round 1 stores $before files, then $runs x (add 1, replace 1)"
  settle
  env $(run_env "$s") B_LOG="$sv_log" B_ORDER="$order" B_SRC="$src" B_TAG="$tag" B_ACTIONS="$actions" \
    "$supervise" --log-level info "${flags[@]}" --status-file "$status" \
    --checkpoint "path=$src,url=$url,frequency=1s" -- bash -c "$driver" 2>"$sv_log" ||
    { tail -n 20 "$sv_log" >&2; fail "the warm run of $tag"; }
  ! grep -E '\] [^ ]+ (warning|warn|error):' "$sv_log" >&2 || fail "warnings in the warm run of $tag (log: $sv_log)"
  # Round n: from its "Checkpointing data from" line to its "Checkpoint round n of" line.
  awk -v out="$results/warm-$tag" -v first="$results/round1-$tag" -v tick="$tick" -v files="$before" '
    function secs(ts,  t) { split(substr(ts, 12, 12), t, ":"); return t[1] * 3600 + t[2] * 60 + t[3] }
    FILENAME == ARGV[1] { act[$1] = $2; cpu[$1] = $3 / tick; acts++; next }
    / Checkpointing data from .*\.\.\.$/ { start = secs($2) }
    / Checkpoint round [0-9]+ of / {
      n = $6 + 0; d = secs($2) - start; if (d < 0) d += 86400
      if (n == 1) {
        if ($0 !~ (": " files " stored, 0 unchanged, 0 skipped, ")) { print "round 1: " $0 > "/dev/stderr"; bad = 1 }
        printf "%.3f\n", d > first; next
      }
      if (!(n in act)) next  # the final round
      if ($0 !~ (": 1 stored, [0-9]+ unchanged, 0 skipped, ")) { print "round " n " (" act[n] "): " $0 > "/dev/stderr"; bad = 1 }
      printf "%s %.3f %.2f %d\n", act[n], d, cpu[n], int((n - 2) / 2) + 1 > out; seen++
    }
    END { if (bad || seen != acts) exit 1 }' "$actions" "$sv_log" || fail "the rounds of $tag (log: $sv_log)"
  total=$(find "$src" -type f | wc -l)
  python3 - "$status" "$total" <<'PY' || fail "the final round of $tag"
import json, sys
c = json.load(open(sys.argv[1]))["checkpoints"][0]
f = c["final"]
assert f["ok"] and f["files_stored"] == 0 and f["files_unchanged"] == int(sys.argv[2]), c
PY
  awk '{ printf "%s %s s, CPU %s s; ", $1, $2, $3 }' "$results/warm-$tag" | sed "s/^/manifest.sh: $tag rounds: /; s/; \$/\n/" >&2
}

# check_manifest FILE COUNT: a complete manifest of COUNT files, nothing in progress
check_manifest() {
  python3 - "$1" "$2" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
assert m["complete"] and not m["in_progress"], "not complete"
assert len(m["files"]) == n and not m["missing"], f'{len(m["files"])} files, {len(m["missing"])} missing, not {n}'
assert not any(f.get("in_progress") for f in m["files"]), "an entry in progress"
PY
}

# fresh S: section 2 (and 3) over the checkpoint that warm S w left.
fresh() {
  local s=$1 url saved=$work/saved-$1.json total
  url=$(url_of "$s" w)
  total=$(find "$src" -type f | wc -l)
  manifest_get "$s" w "$saved" || fail "no manifest stored by the warm run of $s"
  check_manifest "$saved" "$total" || fail "the manifest stored by the warm run of $s"
  echo "$(stat -c %s "$saved") $total" >"$results/size-$s"
  log "$s: $fresh_runs fresh runs each with the manifest of $total files stored and without one"
  local r v st
  for r in $(seq 1 "$fresh_runs"); do
    for v in $(rotate "$r" with without); do
      if [ "$v" = with ]; then manifest_put "$s" w "$saved" || fail "cannot put the manifest back"
      else manifest_rm "$s" w; fi
      settle
      st=$work/fresh-$s-$v-$r.json
      timed "$work/fresh-time" env $(run_env "$s") "$supervise" -q --status-file "$st" \
        --checkpoint "path=$src,url=$url,frequency=1h,regex=ckpt/d00/f0000000\\.bin\$" -- true ||
        fail "the fresh run of $s ($v)"
      # A warning is no failure of the benchmark (it measured what the product does),
      # but it is said under the table, once per kind of run.
      if grep -E '\] [^ ]+ (warning|error):' "$work/last.err" >"$work/warned" && ! grep -qs "^$s $v:" "$results/notes"; then
        sed "s/^\[supervise\] [^ ]* /$s $v: /" "$work/warned" | head -n 3 >>"$results/notes"
      fi
      python3 - "$st" "$v" "$r" "$(tail -n 1 "$work/fresh-time")" >>"$results/fresh-$s" <<'PY' || fail "the fresh run of $s ($v)"
import json, sys
f = json.load(open(sys.argv[1]))["checkpoints"][0]["final"]
assert f["ok"] and f["files_stored"] == 1 and f["files_failed"] == 0, f
wall, cpu, rss = sys.argv[4].split()
print(sys.argv[2], f"{f['seconds']:.4f}", cpu, rss, sys.argv[3])
PY
      manifest_get "$s" w "$work/after.json" && check_manifest "$work/after.json" 1 ||
        fail "the fresh run of $s ($v) did not leave a manifest of its one file"
    done
  done
  manifest_put "$s" w "$saved" || fail "cannot put the manifest back"
  awk '{ printf "%s %s s; ", $1, $2 }' "$results/fresh-$s" | sed "s/^/manifest.sh: $s fresh runs: /; s/; \$/\n/" >&2
}

for s in $stores; do
  warm "$s" w
  fresh "$s"
  store_rm "$s" w
  if [ "${BASELINE:-0}" = 1 ]; then
    warm "$s" n
    store_rm "$s" n
  fi
done
log "done in $((SECONDS - started)) s"

# --- the table ---------------------------------------------------------------------------
python3 - "$results" "$files" "$runs" "$fresh_runs" "$quick" "$(machine)" "$(df --output=fstype "$work" | tail -n 1)" \
  $stores <<'PY'
import os, statistics, sys
res, files, runs, fresh_runs, quick, machine, disk_fs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], \
    sys.argv[5] == "1", sys.argv[6], sys.argv[7]
stores = sys.argv[8:]
med = statistics.median

def rows(name):
    p = os.path.join(res, name)
    return [l.split() for l in open(p)] if os.path.exists(p) else None

def warm(s, mode):  # {action: {cycle: (wall, cpu)}}
    r = rows(f"warm-{s}-{mode}")
    if r is None: return None
    by = {}
    for act, wall, cpu, cycle in r:
        by.setdefault(act, {})[int(cycle)] = (float(wall), float(cpu))
    return by

def f3(v): return "—" if v is None else f"{v:.3f}"
def f2(v): return "—" if v is None else f"{v:.2f}"
def pct(a, b): return "" if a is None or not b else f" ({100 * a / b:+.0f}%)"

table = []
def row(label, cells): table.append(f"| {label} | " + " | ".join(cells) + " |")

W = {s: warm(s, "w") for s in stores}
N = {s: warm(s, "n") for s in stores}
def m(by, act, i=0):
    return None if by is None else med(v[i] for v in by[act].values())
def paired(by, a, b, i=0):  # the median over cycles of a - b
    if by is None: return None
    return med(by[a][c][i] - by[b][c][i] for c in by[a] if c in by[b])

round1 = {s: (lambda r: float(r[0][0]) if r else None)(rows(f"round1-{s}-w")) for s in stores}
row(f"round 1: all {files:,} files into an empty place, s", [f2(round1[s]) for s in stores])
row("round, add 1 file (no marking), s", [f3(m(W[s], "add")) for s in stores])
row("round, replace 1 file (marking first), s", [f3(m(W[s], "replace")) for s in stores])
row("**marking: replace − add, s** (of the add round)",
    [f"**{f3(paired(W[s], 'replace', 'add'))}**{pct(paired(W[s], 'replace', 'add'), m(W[s], 'add'))}" for s in stores])
row("supervisor CPU, add / replace round, s", [f"{f2(m(W[s], 'add', 1))} / {f2(m(W[s], 'replace', 1))}" for s in stores])
row("supervisor CPU, replace − add, s", [f2(paired(W[s], "replace", "add", 1)) for s in stores])
if any(N[s] for s in stores):
    row("`--no-manifest`: round, add 1 / replace 1, s",
        ["—" if N[s] is None else f"{f3(m(N[s], 'add'))} / {f3(m(N[s], 'replace'))}" for s in stores])
    def share(s):
        if N[s] is None or W[s] is None: return "—"
        d = m(W[s], "add") - m(N[s], "add")
        return f"{f3(d)}{pct(d, m(W[s], 'add'))}"
    row("the round's own manifest: add − `--no-manifest` add, s (of the add round)", [share(s) for s in stores])

F = {s: rows(f"fresh-{s}") for s in stores}
def fresh(s, v, i):
    r = F[s]
    return None if not r else med(float(x[i]) for x in r if x[0] == v)
def fresh_paired(s):
    r = F[s]
    if not r: return None
    a = {x[4]: float(x[1]) for x in r if x[0] == "with"}
    b = {x[4]: float(x[1]) for x in r if x[0] == "without"}
    return med(a[k] - b[k] for k in a if k in b)
notes = [l.rstrip("\n") for l in open(os.path.join(res, "notes"))] if os.path.exists(os.path.join(res, "notes")) else []
def mark(s, v): return "¹" if any(n.startswith(f"{s} {v}:") for n in notes) else ""
row("fresh run, first round (1 file stored), no manifest stored, s", [f3(fresh(s, "without", 1)) + mark(s, "without") for s in stores])
row("fresh run, first round (1 file stored), manifest stored: GET, parse, mark, s",
    [f3(fresh(s, "with", 1)) + mark(s, "with") for s in stores])
row("**reading the manifest at a run's start: with − without, s** (of round 1)",
    [f"**{f3(fresh_paired(s))}**{pct(fresh_paired(s), round1[s])}" for s in stores])
row("fresh run, process CPU without / with, s", [f"{f2(fresh(s, 'without', 2))} / {f2(fresh(s, 'with', 2))}" for s in stores])
row("fresh run, peak RSS without / with, MiB",
    ["—" if not F[s] else f"{fresh(s, 'without', 3) / 1024:.0f} / {fresh(s, 'with', 3) / 1024:.0f}" for s in stores])
def size(s):
    r = rows(f"size-{s}")
    if not r: return "—"
    b, n = int(r[0][0]), int(r[0][1])
    return f"{b:,} ({b / n:.0f} per file)"
row("stored manifest, bytes (a marked key: +19)", [size(s) for s in stores])

names = {"tmpfs": "file:// tmpfs", "disk": f"file:// disk ({disk_fs})", "moto": "s3:// moto"}
print(f"Manifest protocol, `bench/manifest.sh{' --quick' if quick else ''} {files}`: {files:,} x 1 KiB files, "
      f"medians of {runs} cycles and {fresh_runs} fresh runs each, on {machine}:")
print()
print("| measure | " + " | ".join(names[s] for s in stores) + " |")
print("|---|" + "---:|" * len(stores))
print("\n".join(table))
print()
if notes:
    print("¹ The run logged: " + "; ".join(f"`{n}`" for n in notes))
    print()
print("Rounds are timed from the supervisor's log lines, fresh runs by the status file's final.seconds; "
      "differences are medians of per-cycle (per-run) differences. What is timed: the top of bench/manifest.sh.")
PY
