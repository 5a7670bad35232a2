// Compatibility: reaping and teardown (SPEC.md "Processes and signals") under supervise,
// tini and dumb-init. supervise is held to the spec; what the peers do is recorded, and
// their stable behaviour is asserted too, so that the recorded table stays true.
//
// The test process is a child subreaper while a test runs (LeftoverReaper): whatever a
// peer leaves behind when it exits is reparented here, killed by pid and reaped, instead
// of ending up with a PID 1 that may never reap it. Readiness is polled (the scripts
// write pid files), never waited for with a fixed sleep; the only fixed window is the
// idle measurement, which measures over a window by design.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"

namespace {

using namespace test_support;
using compat::Peer;

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The stop timeout every scenario here uses, and the slack on top of it that two busy
// cores may need.
constexpr auto kStopTimeout = seconds(1);
constexpr const char* kStopTimeoutText = "1s";
constexpr auto kMargin = seconds(6);

// ---------------------------------------------------------------------------------------
// Processes, as /proc shows them.

struct ProcStat {
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  pid_t tpgid = 0;
};

// "pid (comm) state ppid pgrp session tty_nr tpgid ...": comm may hold spaces and
// parentheses, so the fields are read from the last ')'.
std::optional<ProcStat> proc_stat(pid_t pid) {
  std::string text;
  try {
    text = read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const std::exception&) {
    return std::nullopt;
  }
  auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text.substr(close + 1));
  ProcStat s;
  int tty_nr = 0;
  in >> s.state >> s.ppid >> s.pgrp >> s.session >> tty_nr >> s.tpgid;
  if (!in) return std::nullopt;
  return s;
}

std::string comm_of(pid_t pid) {
  try {
    auto text = read_file("/proc/" + std::to_string(pid) + "/comm");
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  } catch (const std::exception&) {
    return "";
  }
}

bool exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    auto s = proc_stat(pid);
    if (s && s->ppid == parent) out.push_back(pid);
  }
  return out;
}

// What became of a process a scenario left behind.
enum class Fate { kGone, kUnreaped, kRunning };

Fate fate_of(pid_t pid) {
  if (!exists(pid)) return Fate::kGone;
  auto s = proc_stat(pid);
  if (!s) return Fate::kGone;
  return s->state == 'Z' ? Fate::kUnreaped : Fate::kRunning;
}

std::string describe(Fate f) {
  switch (f) {
    case Fate::kGone:
      return "gone";
    case Fate::kUnreaped:
      return "ended, not reaped by the peer (left to the reaper above)";
    case Fate::kRunning:
      return "still running";
  }
  return "?";
}

// A pid file is complete once it is not empty: the scripts write it with one echo.
bool has_content(const fs::path& path) {
  std::error_code ec;
  return fs::file_size(path, ec) > 0 && !ec;
}

pid_t read_pid(const fs::path& path) {
  return static_cast<pid_t>(std::stol(read_file(path)));
}

std::vector<pid_t> read_pids(const fs::path& path) {
  std::vector<pid_t> out;
  for (const auto& line : lines(read_file(path)))
    if (!line.empty()) out.push_back(static_cast<pid_t>(std::stol(line)));
  return out;
}

std::size_t count_existing(const std::vector<pid_t>& pids) {
  std::size_t n = 0;
  for (pid_t p : pids) n += exists(p) ? 1 : 0;
  return n;
}

// Voluntary context switches of every thread of pid: each one is a wake-up after the
// process went to sleep.
long voluntary_switches(pid_t pid) {
  long total = 0;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string status;
    try {
      status = read_file(task.path() / "status");
    } catch (const std::exception&) {
      continue;
    }
    for (const auto& line : lines(status))
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
        total += std::stol(line.substr(line.find(':') + 1));
  }
  return total;
}

// The SigIgn mask of /proc/<pid>/status has bit N-1 set for an ignored signal N.
bool ignores_sigterm(pid_t pid) {
  try {
    for (const auto& line : lines(read_file("/proc/" + std::to_string(pid) + "/status")))
      if (line.rfind("SigIgn:", 0) == 0)
        return (std::stoull(line.substr(7), nullptr, 16) >> (SIGTERM - 1)) & 1;
  } catch (const std::exception&) {
  }
  return false;
}

// Kills (by pid) the processes a scenario left behind that were reparented to this test,
// and reaps them. A pid whose parent is not this process is not ours any more: untouched.
void end_leftovers(const std::vector<pid_t>& pids) {
  for (pid_t p : pids) {
    auto s = proc_stat(p);
    if (!s || s->ppid != ::getpid()) continue;
    ::kill(p, SIGKILL);
    while (::waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

// Makes the test process a child subreaper for the test's lifetime; at the end every
// child still here (what the peers left behind, a tmux server) is killed by pid and
// reaped. Declared before anything that starts processes, so it is destroyed last.
class LeftoverReaper {
 public:
  LeftoverReaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
  ~LeftoverReaper() {
    // A killed child's own children come here in turn: repeat until none is left.
    for (int round = 0; round < 50; ++round) {
      auto children = children_of(::getpid());
      if (children.empty()) break;
      for (pid_t p : children) ::kill(p, SIGKILL);
      for (pid_t p : children)
        while (::waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  }
  LeftoverReaper(const LeftoverReaper&) = delete;
  LeftoverReaper& operator=(const LeftoverReaper&) = delete;
};

// ---------------------------------------------------------------------------------------
// Running a command under a peer.

std::vector<std::string> under(const Peer& peer, const std::vector<std::string>& command) {
  auto argv = peer.prefix(compat::Target::kGroup, kStopTimeoutText);
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::unique_ptr<Started> start_argv(const std::vector<std::string>& argv, RunOptions options = {}) {
  options.program = argv.front();
  return start({argv.begin() + 1, argv.end()}, options);
}

Run run_argv(const std::vector<std::string>& argv, RunOptions options = {}) {
  options.program = argv.front();
  return run({argv.begin() + 1, argv.end()}, options);
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string shell_words(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + quote(a);
  return out;
}

// Waits for the end of started and returns the wall-clock time it was seen to end at.
std::chrono::system_clock::time_point ended_at(Started& started,
                                               std::chrono::milliseconds deadline) {
  eventually([&] { return !started.running(); }, deadline);
  return std::chrono::system_clock::now();
}

// A `date +%s%N` written by a script.
std::chrono::system_clock::time_point read_date_ns(const fs::path& path) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(std::stoll(read_file(path)))));
}

long ms(std::chrono::system_clock::duration d) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(d).count());
}

class CompatTest : public testing::TestWithParam<Peer> {
 protected:
  // Writes a script into the test's directory; returns its path.
  std::string script(const std::string& name, const std::string& text) {
    std::string path = dir_ / name;
    write_file(path, text);
    return path;
  }

  LeftoverReaper leftovers_;
  TempDir dir_;
};

// ---------------------------------------------------------------------------------------
// 1. Orphans: 200 grandchildren whose parents are gone, as a subreaper and as PID 1.

// $1: directory. Makes 200 orphans that end within 0.2 s (their pids in pids), and a probe
// orphan to see who adopts them; then polls (60 s deadline) until the supervisor ($PPID)
// has no child but this shell, and writes "zombies others supervisor adopter comm".
constexpr const char* kOrphansScript = R"sh(d=$1
sup=$PPID
i=0
while [ $i -lt 200 ]; do
  ( sleep 0.2 & echo $! >> "$d/pids" )
  i=$((i + 1))
done
( sleep 300 & echo $! > "$d/probe" )
probe=$(cat "$d/probe")
adopter=$(ps -o ppid= -p "$probe" | tr -d ' ')
comm=$(ps -o comm= -p "$adopter")
kill -KILL "$probe"
end=$(( $(date +%s) + 60 ))
while :; do
  left=$(ps -o pid=,stat= --ppid "$sup" | awk -v me=$$ '$1 != me')
  [ -z "$left" ] && break
  [ "$(date +%s)" -ge "$end" ] && break
  sleep 0.02
done
zombies=$(printf '%s\n' "$left" | awk '$2 ~ /^Z/' | wc -l)
others=$(printf '%s\n' "$left" | grep -c .)
echo "$zombies $others $sup $adopter $comm" > "$d/result"
)sh";

struct OrphansResult {
  int zombies = -1;
  int others = -1;
  pid_t supervisor = 0;
  pid_t adopter = 0;
  std::string adopter_comm;
};

OrphansResult read_orphans_result(const fs::path& path) {
  OrphansResult r;
  std::istringstream in(read_file(path));
  in >> r.zombies >> r.others >> r.supervisor >> r.adopter >> r.adopter_comm;
  return r;
}

class ReapOrphans : public CompatTest {};

TEST_P(ReapOrphans, AsASubreaperNotPid1) {
  const Peer& peer = GetParam();
  RunOptions options;
  options.timeout = seconds(150);
  auto r = run_argv(under(peer, {"/bin/sh", script("orphans.sh", kOrphansScript), dir_.path()}),
                    options);
  ASSERT_FALSE(r.timed_out) << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto res = read_orphans_result(dir_ / "result");
  auto pids = read_pids(dir_ / "pids");
  ASSERT_EQ(pids.size(), 200u);
  bool adopted = res.adopter == res.supervisor;

  // Who is left once the peer is gone: with a peer that reaps, nobody.
  std::size_t left = 0;
  for (pid_t p : pids) left += fate_of(p) == Fate::kGone ? 0 : 1;
  std::string observed =
      adopted ? "orphans adopted by " + peer.name + "; " + std::to_string(res.zombies) +
                    " zombie(s) after the deadline, " + std::to_string(left) +
                    " of 200 left after it exited"
              : "orphans NOT adopted: they go to pid " + std::to_string(res.adopter) + " (" +
                    res.adopter_comm + ", the nearest subreaper above " + peer.name +
                    "; without one, the host's PID 1)";
  compat::record("200 orphans, not PID 1", peer, observed,
                 adopted && res.zombies == 0 && left == 0);

  EXPECT_EQ(res.zombies, 0);
  EXPECT_EQ(res.others, 0) << "children of the supervisor still there at the deadline";
  if (peer.is_supervise || peer.name == "tini") {
    EXPECT_TRUE(adopted) << peer.name << ": orphan adopted by " << res.adopter << " ("
                         << res.adopter_comm << "), not by the supervisor " << res.supervisor;
    EXPECT_EQ(res.adopter_comm, peer.is_supervise ? "supervise" : "tini");
    EXPECT_EQ(left, 0u) << "orphans left behind (alive or unreaped)";
  } else {
    // dumb-init is no subreaper: the orphans skip it and come to this test.
    EXPECT_FALSE(adopted);
    EXPECT_EQ(res.adopter, ::getpid());
    // They are ours to reap.
    for (pid_t p : pids)
      eventually([&] { return ::waitpid(p, nullptr, WNOHANG) != 0; }, seconds(20));
  }
}

TEST_P(ReapOrphans, AsPid1OfANewPidNamespace) {
  const Peer& peer = GetParam();
  auto argv = under(peer, {"/bin/sh", script("orphans.sh", kOrphansScript), dir_.path()});
  argv.insert(argv.begin(), {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc"});
  RunOptions options;
  options.timeout = seconds(150);
  auto r = run_argv(argv, options);
  ASSERT_FALSE(r.timed_out) << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto res = read_orphans_result(dir_ / "result");
  EXPECT_EQ(lines(read_file(dir_ / "pids")).size(), 200u);
  compat::record("200 orphans, PID 1 of a PID namespace", peer,
                 "pid " + std::to_string(res.supervisor) + " (" + res.adopter_comm +
                     ") adopts them; " + std::to_string(res.zombies) + " zombie(s)",
                 res.adopter == 1 && res.zombies == 0 && res.others == 0);
  EXPECT_EQ(res.supervisor, 1);
  EXPECT_EQ(res.adopter, 1);
  EXPECT_EQ(res.zombies, 0);
  EXPECT_EQ(res.others, 0) << "children of PID 1 still there at the deadline";
}

INSTANTIATE_TEST_SUITE_P(Peers, ReapOrphans, testing::ValuesIn(compat::peers()), compat::peer_name);

// ---------------------------------------------------------------------------------------
// 2. A burst: 400 children that end together with the main process (exit 7).

// $1: directory. 400 orphans read from one fifo whose only writer is this shell (fd 4,
// closed in each of them), so they all see EOF the moment the shell exits.
constexpr const char* kBurstScript = R"sh(d=$1
mkfifo "$d/fifo"
exec 4<>"$d/fifo"
exec 3<"$d/fifo"
i=0
while [ $i -lt 400 ]; do
  ( cat <&3 >/dev/null 4>&- & echo $! >> "$d/pids" )
  i=$((i + 1))
done
exit 7
)sh";

class ReapBurst : public CompatTest {};

TEST_P(ReapBurst, FourHundredChildrenEndingWithTheMainProcess) {
  const Peer& peer = GetParam();
  RunOptions options;
  options.timeout = seconds(150);
  auto r =
      run_argv(under(peer, {"/bin/sh", script("burst.sh", kBurstScript), dir_.path()}), options);
  // Right after the supervisor ended: whatever exists now was left behind by it.
  auto pids = read_pids(dir_ / "pids");
  std::size_t left = count_existing(pids);
  ASSERT_FALSE(r.timed_out) << r.err;
  ASSERT_EQ(pids.size(), 400u);
  compat::record("burst: 400 children end with the main process (exit 7)", peer,
                 "exit " + std::to_string(r.exit_code) + "; " + std::to_string(left) +
                     " of 400 left behind (running or unreaped) when it exited, this run",
                 r.exit_code == 7 && left == 0);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  if (peer.is_supervise) {
    EXPECT_EQ(left, 0u) << "children left behind (running or unreaped)";
  } else {
    // What the peer left still ends on its own: every reader sees EOF with the main gone.
    bool all_ended = eventually(
        [&] {
          for (pid_t p : pids)
            if (fate_of(p) == Fate::kRunning) return false;
          return true;
        },
        seconds(30));
    EXPECT_TRUE(all_ended) << "the fifo readers should see EOF when the main process exits";
  }
  end_leftovers(pids);
}

INSTANTIATE_TEST_SUITE_P(Peers, ReapBurst, testing::ValuesIn(compat::peers()), compat::peer_name);

// ---------------------------------------------------------------------------------------
// 3. Teardown: the main process exits 5 and leaves processes behind.

// $1: directory, then the kinds of leftover to make. Each leftover writes its pid to
// leftover.<kind>; the main process exits once all are in place, after writing the time
// to main_exit.
constexpr const char* kTeardownScript = R"sh(d=$1
shift
for kind in "$@"; do
  case $kind in
    group) sh -c 'echo $$ > "$1/leftover.group"; exec sleep 300' sh "$d" & ;;
    setsid) setsid sh -c 'echo $$ > "$1/leftover.setsid"; exec sleep 300' sh "$d" & ;;
    ignores-term) sh -c 'trap "" TERM; echo $$ > "$1/leftover.ignores-term"; exec sleep 300' sh "$d" & ;;
  esac
done
for kind in "$@"; do
  while [ ! -s "$d/leftover.$kind" ]; do sleep 0.01; done
done
date +%s%N > "$d/main_exit"
exit 5
)sh";

struct TeardownOutcome {
  Run run;
  std::map<std::string, Fate> leftovers;  // by kind
  long after_main_ms = 0;                 // from the main process's exit to the supervisor's
};

class Teardown : public CompatTest {
 protected:
  TeardownOutcome teardown(const std::vector<std::string>& kinds) {
    const Peer& peer = GetParam();
    std::vector<std::string> command = {"/bin/sh", script("teardown.sh", kTeardownScript),
                                        dir_.path()};
    command.insert(command.end(), kinds.begin(), kinds.end());
    auto started = start_argv(under(peer, command));
    auto end = ended_at(*started, seconds(60));
    TeardownOutcome out;
    out.run = started->wait(seconds(1));
    EXPECT_FALSE(out.run.timed_out) << out.run.err;
    if (!fs::exists(dir_ / "main_exit")) {
      ADD_FAILURE() << "the main process never got to its exit: " << out.run.err;
      return out;
    }
    out.after_main_ms = ms(end - read_date_ns(dir_ / "main_exit"));
    std::vector<pid_t> pids;
    std::string observed = "exit " + std::to_string(out.run.exit_code) + " after " +
                           std::to_string(out.after_main_ms) + " ms;";
    bool all_gone = true;
    for (const auto& kind : kinds) {
      pid_t pid = read_pid(dir_ / ("leftover." + kind));
      pids.push_back(pid);
      // A peer's SIGTERM may still be on its way when the peer is gone already.
      if (!peer.is_supervise)
        eventually([&] { return fate_of(pid) != Fate::kRunning; }, milliseconds(500));
      out.leftovers[kind] = fate_of(pid);
      all_gone = all_gone && out.leftovers[kind] == Fate::kGone;
      observed += std::string(kind == kinds.front() ? " " : ", ") +
                  (kinds.size() > 1 ? kind + " " : "leftover ") + describe(out.leftovers[kind]);
    }
    std::string scenario = "teardown: main exits 5 leaving ";
    for (std::size_t i = 0; i < kinds.size(); ++i) scenario += (i ? " + " : "") + kinds[i];
    compat::record(scenario + " (stop timeout 1s)", peer, observed,
                   out.run.exit_code == 5 && all_gone);
    end_leftovers(pids);
    return out;
  }
};

TEST_P(Teardown, GrandchildInTheGroupGetsSigterm) {
  auto out = teardown({"group"});
  EXPECT_EQ(out.run.exit_code, 5) << out.run.err;
  if (GetParam().is_supervise) {
    EXPECT_EQ(out.leftovers["group"], Fate::kGone);
    EXPECT_LT(out.after_main_ms, 800) << "SIGTERM ends it: no wait for the stop timeout";
  } else if (GetParam().name == "tini") {
    EXPECT_EQ(out.leftovers["group"], Fate::kRunning) << "tini exits without signalling leftovers";
  } else {
    EXPECT_NE(out.leftovers["group"], Fate::kRunning) << "dumb-init sends SIGTERM to the group";
  }
}

TEST_P(Teardown, GrandchildThatCalledSetsidGetsSigterm) {
  auto out = teardown({"setsid"});
  EXPECT_EQ(out.run.exit_code, 5) << out.run.err;
  if (GetParam().is_supervise) {
    EXPECT_EQ(out.leftovers["setsid"], Fate::kGone);
    EXPECT_LT(out.after_main_ms, 800) << "SIGTERM ends it: no wait for the stop timeout";
  } else {
    EXPECT_EQ(out.leftovers["setsid"], Fate::kRunning)
        << "out of the group, out of the peer's reach";
  }
}

TEST_P(Teardown, GrandchildIgnoringSigtermGetsSigkillAfterTheStopTimeout) {
  auto out = teardown({"ignores-term"});
  EXPECT_EQ(out.run.exit_code, 5) << out.run.err;
  if (GetParam().is_supervise) {
    EXPECT_EQ(out.leftovers["ignores-term"], Fate::kGone);
    EXPECT_GE(out.after_main_ms, 900) << "SIGKILL only after the stop timeout of 1 s";
    EXPECT_LT(out.after_main_ms, ms(kStopTimeout + kMargin));
  } else {
    EXPECT_EQ(out.leftovers["ignores-term"], Fate::kRunning) << "no peer sends SIGKILL";
  }
}

TEST_P(Teardown, AllThreeKindsAtOnce) {
  auto out = teardown({"group", "setsid", "ignores-term"});
  EXPECT_EQ(out.run.exit_code, 5) << out.run.err;
  const Peer& peer = GetParam();
  if (peer.is_supervise) {
    for (const auto& [kind, fate] : out.leftovers) EXPECT_EQ(fate, Fate::kGone) << kind;
    EXPECT_GE(out.after_main_ms, 900) << "SIGKILL only after the stop timeout of 1 s";
    EXPECT_LT(out.after_main_ms, ms(kStopTimeout + kMargin));
  } else {
    EXPECT_EQ(out.leftovers["group"] == Fate::kRunning, peer.name == "tini");
    EXPECT_EQ(out.leftovers["setsid"], Fate::kRunning);
    EXPECT_EQ(out.leftovers["ignores-term"], Fate::kRunning);
  }
}

// ---------------------------------------------------------------------------------------
// Processes that appear after the SIGKILL sweep. Four leftovers in sessions of their own,
// ignoring SIGTERM, fork `sleep 300` (which inherits the ignored SIGTERM) and kill it again,
// in a loop. When the stop timeout is over, whatever they forked after the supervisor
// listed its descendants is orphaned to the supervisor once they are killed: it must get
// SIGKILL too (SPEC.md: "after --stop-timeout what still runs gets SIGKILL"; "a grandchild
// ... does not keep the supervisor waiting beyond --stop-timeout"). It is a race (about one
// run in seven on two cores), so the scenario runs up to 100 times with a stop timeout of
// 100 ms; one run left waiting is a failure.
constexpr const char* kForkersScript = R"sh(d=$1
for i in 1 2 3 4; do
  setsid sh -c 'trap "" TERM; echo $$ > "$1/forker.$2"; while :; do sleep 300 & kill -KILL $!; wait $!; done' sh "$d" $i &
done
for i in 1 2 3 4; do
  while [ ! -s "$d/forker.$i" ]; do sleep 0.01; done
done
exit 4
)sh";

// BUG: supervise sends SIGKILL once, to the descendants it lists when the stop timeout
// fires. A process forked after that listing by a leftover being killed is orphaned to
// supervise and only ever gets SIGTERM (on SIGCHLD, signal_leftovers(SIGTERM)); when it
// ignores SIGTERM supervise waits for it forever (here: sleep 300).
TEST(TeardownRace, ProcessesForkedDuringTheSigkillSweepAreKilledToo) {
  LeftoverReaper leftovers;
  TempDir dir;
  write_file(dir / "forkers.sh", kForkersScript);
  Peer supervise{"supervise", true};
  int runs = 0;
  for (; runs < 100; ++runs) {
    std::string run_dir = dir / ("run" + std::to_string(runs));
    fs::create_directories(run_dir);
    auto argv = supervise.prefix(compat::Target::kGroup, "100ms");
    for (const auto& a : {std::string("/bin/sh"), dir / "forkers.sh", run_dir}) argv.push_back(a);
    auto started = start_argv(argv);
    // The main process exits as soon as the forkers run: the stop timeout (100 ms) plus the
    // margin is all a run may take.
    bool ended = eventually([&] { return !started->running(); }, kMargin);
    ASSERT_TRUE(fs::exists(run_dir + "/forker.4")) << "the forkers never started";
    if (ended) {
      auto r = started->wait(seconds(1));
      ASSERT_EQ(r.exit_code, 4) << r.err;
      continue;
    }
    std::string waiting_for;
    std::vector<pid_t> escaped = children_of(started->pid());
    for (pid_t p : escaped) {
      auto s = proc_stat(p);
      waiting_for += " " + std::to_string(p) + " (" + comm_of(p) + ", state " +
                     (s ? std::string(1, s->state) : "?") +
                     (ignores_sigterm(p) ? ", SIGTERM ignored" : "") + ")";
    }
    compat::record("teardown: a process forked during the SIGKILL sweep", supervise,
                   "run " + std::to_string(runs + 1) + ": still waiting " +
                       std::to_string(ms(kMargin)) +
                       " ms after the start (stop timeout 100 ms) for" + waiting_for,
                   false);
    ADD_FAILURE() << "run " << runs + 1 << ": supervise still waits " << ms(kMargin)
                  << " ms after its start (stop timeout 100 ms) for" << waiting_for
                  << "; it never sent SIGKILL to it";
    // These are the test's own processes: kill them by pid; supervise then ends by itself.
    for (pid_t p : escaped) ::kill(p, SIGKILL);
    auto r = started->wait(seconds(30));
    EXPECT_FALSE(r.timed_out) << "supervise did not end with the escaped processes gone";
    EXPECT_EQ(r.exit_code, 4) << r.err;
    return;
  }
  compat::record("teardown: a process forked during the SIGKILL sweep", supervise,
                 std::to_string(runs) + " runs, each ended within the stop timeout", true);
}

// ---------------------------------------------------------------------------------------
// 4. A grandchild that ignores SIGTERM (and SIGHUP) and holds stdout: a pipe, a terminal.

constexpr const char* kHolderScript = R"sh(d=$1
sh -c 'trap "" TERM HUP; echo $$ > "$1/leftover"; exec sleep 300' sh "$d" &
while [ ! -s "$d/leftover" ]; do sleep 0.01; done
exit 3
)sh";

TEST_P(Teardown, GrandchildHoldingAPipeDoesNotKeepThePipelineWaiting) {
  const Peer& peer = GetParam();
  auto command = under(peer, {"/bin/sh", script("holder.sh", kHolderScript), dir_.path()});
  // The supervisor's exit code goes to a file: the pipeline's status is cat's.
  std::string pipeline =
      "{ " + shell_words(command) + "; echo $? > " + quote(dir_ / "code") + "; } | cat";
  auto started = start_argv({"/bin/sh", "-c", pipeline});
  auto began = std::chrono::system_clock::now();
  ASSERT_TRUE(eventually([&] { return has_content(dir_ / "leftover"); }, seconds(30)));
  pid_t leftover = read_pid(dir_ / "leftover");

  if (peer.is_supervise) {
    bool ended = eventually([&] { return !started->running(); }, kStopTimeout + kMargin);
    long took = ms(std::chrono::system_clock::now() - began);
    auto fate = fate_of(leftover);
    std::string code = fs::exists(dir_ / "code") ? read_file(dir_ / "code") : "none\n";
    compat::record("grandchild ignoring SIGTERM holds a stdout pipe (exit 3)", peer,
                   "exit " + code.substr(0, code.size() - 1) + "; pipeline ended after " +
                       std::to_string(took) + " ms; grandchild " + describe(fate),
                   ended && code == "3\n" && fate == Fate::kGone);
    EXPECT_TRUE(ended) << "the pipeline still waits " << ms(kStopTimeout + kMargin) << " ms later";
    EXPECT_EQ(code, "3\n");
    EXPECT_EQ(fate, Fate::kGone);
    EXPECT_GE(took, 900) << "SIGKILL after the stop timeout of 1 s";
    end_leftovers({leftover});
    return;
  }
  // A peer exits at once; the grandchild then holds the pipe and cat waits for it.
  ASSERT_TRUE(eventually([&] { return has_content(dir_ / "code"); }, seconds(30)));
  long exited_after = ms(std::chrono::system_clock::now() - began);
  std::string code = read_file(dir_ / "code");
  EXPECT_EQ(code, "3\n");
  bool ended = eventually([&] { return !started->running(); }, kStopTimeout + seconds(2));
  compat::record("grandchild ignoring SIGTERM holds a stdout pipe (exit 3)", peer,
                 "exit " + code.substr(0, code.size() - 1) + " after " +
                     std::to_string(exited_after) + " ms; " +
                     (ended ? "pipeline ended" : "pipeline still blocked 3 s later") +
                     "; grandchild " + describe(fate_of(leftover)),
                 ended && fate_of(leftover) == Fate::kGone);
  EXPECT_FALSE(ended) << "expected the grandchild to keep the pipe open";
  EXPECT_EQ(fate_of(leftover), Fate::kRunning);
  end_leftovers({leftover});
  EXPECT_TRUE(eventually([&] { return !started->running(); }, seconds(20)))
      << "the pipeline should end with the grandchild";
}

TEST_P(Teardown, GrandchildHoldingTheTerminalDoesNotKeepTheSupervisorWaiting) {
  const Peer& peer = GetParam();
  auto command = under(peer, {"/bin/sh", script("holder.sh", kHolderScript), dir_.path()});
  RunOptions options;
  options.env = {"SHELL=/bin/sh"};
  auto started =
      start_argv({"/usr/bin/script", "-qec", shell_words(command), "/dev/null"}, options);
  auto began = std::chrono::system_clock::now();
  bool ended = eventually([&] { return !started->running(); },
                          peer.is_supervise ? kStopTimeout + kMargin : seconds(30));
  long took = ms(std::chrono::system_clock::now() - began);
  auto r = started->wait(seconds(1));
  ASSERT_TRUE(fs::exists(dir_ / "leftover")) << r.out << r.err;
  pid_t leftover = read_pid(dir_ / "leftover");
  auto fate = fate_of(leftover);
  compat::record("grandchild ignoring SIGTERM and SIGHUP holds the terminal (script, exit 3)", peer,
                 "exit " + std::to_string(r.exit_code) + " after " + std::to_string(took) +
                     " ms; grandchild " + describe(fate),
                 ended && r.exit_code == 3 && fate == Fate::kGone);
  EXPECT_TRUE(ended);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  if (peer.is_supervise) {
    EXPECT_EQ(fate, Fate::kGone);
    EXPECT_GE(took, 900) << "SIGKILL after the stop timeout of 1 s";
  } else {
    EXPECT_EQ(fate, Fate::kRunning) << "the peer leaves it on the hung-up terminal";
  }
  end_leftovers({leftover});
}

INSTANTIATE_TEST_SUITE_P(Peers, Teardown, testing::ValuesIn(compat::peers()), compat::peer_name);

// ---------------------------------------------------------------------------------------
// 5. The terminal: the command's group in the foreground, the terminal back, Ctrl-C.

// Pid, process group, terminal foreground group and session of the command ($1: file).
constexpr const char* kForegroundScript = R"sh(echo "$$ $(ps -o pgid=,tpgid=,sid= -p $$)" > "$1"
)sh";

class TerminalGroup : public CompatTest {};

TEST_P(TerminalGroup, CommandGroupIsTheForegroundGroup) {
  const Peer& peer = GetParam();
  auto command = under(peer, {"/bin/sh", script("fg.sh", kForegroundScript), dir_ / "fg"});
  RunOptions options;
  options.env = {"SHELL=/bin/sh"};
  options.timeout = seconds(60);
  auto r = run_argv({"/usr/bin/script", "-qec", shell_words(command), "/dev/null"}, options);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(fs::exists(dir_ / "fg")) << r.out << r.err;
  std::istringstream in(read_file(dir_ / "fg"));
  pid_t pid = 0, pgid = 0, tpgid = 0, sid = 0;
  in >> pid >> pgid >> tpgid >> sid;
  ASSERT_TRUE(in) << read_file(dir_ / "fg");
  bool foreground = pgid == pid && tpgid == pgid;
  compat::record("under script: the command's group is the terminal's foreground group", peer,
                 std::string(pgid == pid ? "own group" : "parent's group") +
                     (sid == pid ? ", own session" : "") + "; tpgid " + std::to_string(tpgid) +
                     (foreground ? " (foreground)" : " (not the foreground)"),
                 foreground);
  if (peer.name == "dumb-init") {
    // setsid in the child; the terminal stays the controlling terminal of the shell's
    // session, so the child's new session has none.
    EXPECT_EQ(sid, pid);
    EXPECT_EQ(tpgid, -1);
  } else {
    EXPECT_EQ(pgid, pid) << "the command runs in its own process group";
    EXPECT_EQ(tpgid, pgid) << "and that group is the terminal's foreground group";
  }
}

INSTANTIATE_TEST_SUITE_P(Peers, TerminalGroup, testing::ValuesIn(compat::peers()),
                         compat::peer_name);

// $1: directory. Writes its pid (main) and the supervisor's (sup); a grandchild ignoring
// SIGTERM stays (pid in leftover) until the file release exists; the main process exits 0
// once the grandchild is in place.
constexpr const char* kTakeBackScript = R"sh(d=$1
echo $$ > "$d/main"
echo $PPID > "$d/sup"
sh -c 'trap "" TERM; echo $$ > "$1/leftover"; while [ ! -e "$1/release" ]; do sleep 0.02; done' sh "$d" &
while [ ! -s "$d/leftover" ]; do sleep 0.01; done
exit 0
)sh";

TEST(TerminalTakeBack, SuperviseGetsTheTerminalBackWhenTheCommandEnds) {
  LeftoverReaper leftovers;
  TempDir dir;
  write_file(dir / "takeback.sh", kTakeBackScript);
  // A long stop timeout: the grandchild keeps supervise running until the test is done.
  std::vector<std::string> command = {SUPERVISE_BIN, "--log-level", "warn",    "--stop-timeout",
                                      "60s",         "--",          "/bin/sh", dir / "takeback.sh",
                                      dir.path()};
  RunOptions options;
  options.env = {"SHELL=/bin/sh"};
  auto started =
      start_argv({"/usr/bin/script", "-qec", shell_words(command), "/dev/null"}, options);
  ASSERT_TRUE(eventually([&] { return has_content(dir / "leftover"); }, seconds(30)));
  pid_t main = read_pid(dir / "main");
  pid_t sup = read_pid(dir / "sup");
  // Once the main process is reaped, the terminal's foreground group is supervise's own.
  std::optional<ProcStat> s;
  bool back = eventually(
      [&] {
        s = proc_stat(sup);
        return !exists(main) && s && s->tpgid == s->pgrp;
      },
      seconds(20));
  Peer supervise{"supervise", true};
  compat::record("the supervisor's group gets the terminal back after the command", supervise,
                 s ? "tpgid " + std::to_string(s->tpgid) + ", supervisor's group " +
                         std::to_string(s->pgrp) + ", command's group " + std::to_string(main)
                   : "supervisor gone",
                 back);
  EXPECT_TRUE(back);
  write_file(dir / "release", "");
  auto r = started->wait(seconds(30));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// Ctrl-C in a tmux pane running `<peer> sleep 300`; the pane stays (remain-on-exit) so its
// exit status can be read.
class TerminalCtrlC : public CompatTest {
 protected:
  test_support::Run tmux(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/tmux", "-S", dir_ / "sock", "-f",
                                     dir_ / "tmux.conf"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions options;
    options.env = {"TERM=xterm"};
    options.timeout = seconds(30);
    return run_argv(argv, options);
  }
  ~TerminalCtrlC() override {
    if (fs::exists(dir_ / "sock")) tmux({"kill-server"});
  }
};

constexpr const char* kSleepScript = R"sh(echo $$ > "$1"
exec sleep 300
)sh";

TEST_P(TerminalCtrlC, SleepGetsSigintFromTheTerminal) {
  const Peer& peer = GetParam();
  write_file(dir_ / "tmux.conf", "set -g remain-on-exit on\n");
  std::vector<std::string> args = {"new-session", "-d", "-x", "80", "-y", "24", "--"};
  auto command = under(peer, {"/bin/sh", script("sleep.sh", kSleepScript), dir_ / "pid"});
  args.insert(args.end(), command.begin(), command.end());
  auto created = tmux(args);
  ASSERT_EQ(created.exit_code, 0) << created.err;

  // Ready: the command is sleep, in the terminal's foreground group.
  pid_t pid = 0;
  bool ready = eventually(
      [&] {
        if (!has_content(dir_ / "pid")) return false;
        pid = read_pid(dir_ / "pid");
        auto s = proc_stat(pid);
        return comm_of(pid) == "sleep" && s && s->tpgid == s->pgrp;
      },
      seconds(30));
  ASSERT_TRUE(ready) << "sleep never ran in the foreground group";
  ASSERT_EQ(tmux({"send-keys", "C-c"}).exit_code, 0);

  // "dead:status:signal". The pane reads as dead (its terminal closed) before tmux has
  // collected the exit status, and tmux 3.3a sometimes leaves the pane's process a zombie
  // until its next SIGCHLD: a job (run-shell true) makes the server reap again.
  std::string status, code, signal;
  bool dead = eventually(
      [&] {
        status =
            tmux({"display-message", "-p", "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}"})
                .out;
        auto fields = lines(status);
        if (fields.empty()) return false;
        std::istringstream in(fields.front());
        std::string is_dead;
        std::getline(in, is_dead, ':');
        std::getline(in, code, ':');
        std::getline(in, signal, ':');
        if (is_dead != "1") return false;
        if (!code.empty() || !signal.empty()) return true;
        tmux({"run-shell", "true"});
        return false;
      },
      seconds(30));
  std::string observed = !dead             ? "still running"
                         : !signal.empty() ? "killed by signal " + signal
                                           : "exit " + code;
  compat::record("Ctrl-C in a tmux pane running sleep", peer, observed, code == "130");
  EXPECT_TRUE(dead) << "tmux: '" << status << "'; sleep " << describe(fate_of(pid));
  EXPECT_EQ(code, "130") << status << tmux({"capture-pane", "-p"}).out;
}

INSTANTIATE_TEST_SUITE_P(Peers, TerminalCtrlC, testing::ValuesIn(compat::peers()),
                         compat::peer_name);

// ---------------------------------------------------------------------------------------
// 6. Idle is idle: supervising `sleep 30`, the supervisor does not wake up.

class IdleWakeups : public CompatTest {};

TEST_P(IdleWakeups, NoTimerWakesAnIdleSupervisor) {
  const Peer& peer = GetParam();
  auto started = start_argv(under(peer, {"/bin/sleep", "30"}));
  pid_t sup = started->pid();
  bool ready = eventually(
      [&] {
        bool sleep_runs = false;
        for (pid_t c : children_of(sup)) sleep_runs = sleep_runs || comm_of(c) == "sleep";
        auto s = proc_stat(sup);
        return sleep_runs && s && s->state == 'S';  // and the supervisor waits for events
      },
      seconds(20));
  ASSERT_TRUE(ready) << "sleep never started";
  // The measurement window is fixed by design: the count over 3 s is the result.
  long before = voluntary_switches(sup);
  std::this_thread::sleep_for(seconds(3));
  long after = voluntary_switches(sup);
  ASSERT_TRUE(started->running()) << "the supervisor ended during the measurement";
  long wakeups = after - before;
  std::cout << "[idle] " << peer.name << ": " << wakeups << " voluntary context switches in 3 s\n";
  compat::record("idle: wake-ups in 3 s supervising sleep 30", peer, std::to_string(wakeups),
                 wakeups <= 1);
  if (peer.name == "tini")
    EXPECT_GE(wakeups, 2) << "tini polls once a second";
  else
    EXPECT_LE(wakeups, 1);
  started->signal(SIGTERM);
  auto r = started->wait(seconds(30));
  EXPECT_EQ(r.exit_code, 143) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Peers, IdleWakeups, testing::ValuesIn(compat::peers()), compat::peer_name);

}  // namespace
