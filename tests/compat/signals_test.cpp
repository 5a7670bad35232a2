// Signals under supervise, tini and dumb-init (SPEC.md "Processes and signals"):
// forwarding of every catchable signal, group vs child targeting, the inherited mask and
// ignored signals, and the SIGKILL after --stop-timeout. The command is sigrecorder
// (tests/tools), which logs every signal it gets; readiness and arrival are polled with
// deadlines. supervise is asserted against the spec; what the peers do is asserted too
// (tini 0.19 and dumb-init 1.2.5, as observed) so the recorded table stays true.
//
// Proving that a signal did NOT arrive without waiting out a deadline: after the signal
// under test the peer gets a sentinel, SIGRTMAX. Each peer handles pending signals
// lowest number first, and sigrecorder logs them in delivery order (lowest first, never
// nested), so once the sentinel is logged the signal under test is logged too, or it
// was not forwarded.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"

namespace {

using compat::Peer;
using compat::Target;
using std::chrono::milliseconds;
using std::chrono::seconds;
using test_support::eventually;
using test_support::Started;
using test_support::TempDir;

namespace fs = std::filesystem;

constexpr auto kReady = seconds(20);   // a start on two busy cores
constexpr auto kArrive = seconds(20);  // a forwarded signal to be logged

std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

// The state letter of /proc/PID/stat ('S', 'T', 'Z', ...), or 0 when the pid is gone.
char process_state(pid_t pid) {
  std::string stat;
  try {
    stat = test_support::read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const std::exception&) {
    return 0;
  }
  auto paren = stat.rfind(')');  // the name may hold spaces and parentheses
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : 0;
}

bool stopped(pid_t pid) {
  return process_state(pid) == 'T';
}

// Stopped, or about to be: a SIGSTOP stays pending until the process next runs, which on
// a busy machine may be after its sender has moved on.
bool stopped_or_stopping(pid_t pid) {
  if (stopped(pid)) return true;
  std::string status;
  try {
    status = test_support::read_file("/proc/" + std::to_string(pid) + "/status");
  } catch (const std::exception&) {
    return false;
  }
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line))
    if ((line.rfind("SigPnd:", 0) == 0 || line.rfind("ShdPnd:", 0) == 0) &&
        ((std::stoull(line.substr(7), nullptr, 16) >> (SIGSTOP - 1)) & 1))
      return true;
  return stopped(pid);
}

// Sends sig to pid only if that pid still runs `comm` (a pid of ours, not a reused one).
void kill_if(pid_t pid, const std::string& comm, int sig) {
  std::string actual;
  try {
    actual = test_support::read_file("/proc/" + std::to_string(pid) + "/comm");
  } catch (const std::exception&) {
    return;
  }
  if (actual == comm + "\n") ::kill(pid, sig);
}

std::unique_ptr<Started> start_under(const Peer& peer, Target target,
                                     const std::string& stop_timeout,
                                     const std::vector<std::string>& command,
                                     test_support::RunOptions options = {},
                                     const std::vector<std::string>& supervise_options = {}) {
  std::vector<std::string> prefix = peer.prefix(target, stop_timeout);
  options.program = prefix.front();
  std::vector<std::string> args = supervise_options;
  args.insert(args.end(), prefix.begin() + 1, prefix.end());
  args.insert(args.end(), command.begin(), command.end());
  return test_support::start(args, options);
}

// A peer running sigrecorder (named "r", children "r-1".."r-N" in its group). Destroying
// it kills the recorder by pid (its children die with it) and waits for the peer.
class Recording {
 public:
  // A stop timeout longer than any test here: supervise never SIGKILLs the recorder.
  Recording(const Peer& peer, Target target, int children = 0) {
    peer_ = start_under(peer, target, "60s",
                        {SIGRECORDER_BIN, dir_.path().string(), "r", "--exit-on", "none",
                         "--children", std::to_string(children)});
    bool ready =
        eventually([&] { return fs::exists(dir_ / "r.ready") || !peer_->running(); }, kReady);
    if (!ready || !fs::exists(dir_ / "r.ready")) return;
    pid_ = std::stoi(test_support::read_file(dir_ / "r.ready"));
    for (int i = 1; i <= children; ++i)
      child_pids_.push_back(
          std::stoi(test_support::read_file(dir_ / ("r-" + std::to_string(i) + ".ready"))));
  }

  ~Recording() {
    if (pid_ > 0) kill_if(pid_, "sigrecorder", SIGKILL);
    for (pid_t child : child_pids_) kill_if(child, "sigrecorder", SIGKILL);
    if (peer_->running() && !stopped(peer_->pid())) peer_->wait(seconds(20));
    // else ~Started kills the peer by pid
  }

  bool ready() const { return pid_ > 0; }
  Started& peer() { return *peer_; }
  pid_t recorder() const { return pid_; }
  const std::vector<pid_t>& children() const { return child_pids_; }

  // The signals recorder `name` logged, in order.
  std::vector<int> log(const std::string& name = "r") const {
    std::vector<int> out;
    for (const auto& line : test_support::lines(test_support::read_file(dir_ / (name + ".log"))))
      out.push_back(std::stoi(line));
    return out;
  }
  int count(int sig, const std::string& name = "r") const {
    int n = 0;
    for (int s : log(name)) n += s == sig;
    return n;
  }

 private:
  TempDir dir_;
  std::unique_ptr<Started> peer_;
  pid_t pid_ = -1;
  std::vector<pid_t> child_pids_;
};

// What became of one signal sent to the peer.
struct Outcome {
  bool forwarded = false;
  bool peer_died = false;
  int peer_exit_code = -1;
  bool peer_stopped = false;   // the peer stopped itself
  bool child_stopped = false;  // the command was stopped (SIGSTOP sent instead)
  bool settled = true;         // false: not even the sentinel came back in time

  std::string describe() const {
    if (!settled) return "no answer within the deadline";
    if (peer_died)
      return "not forwarded: the peer died of it (exit " + std::to_string(peer_exit_code) + ")";
    std::string out = forwarded ? "forwarded" : "not forwarded";
    if (child_stopped) out += "; the command got SIGSTOP instead";
    if (peer_stopped) out += "; the peer stopped itself";
    return out;
  }
  friend void PrintTo(const Outcome& o, std::ostream* os) { *os << o.describe(); }
  bool operator==(const Outcome& o) const {
    return forwarded == o.forwarded && peer_died == o.peer_died && peer_stopped == o.peer_stopped &&
           child_stopped == o.child_stopped && settled == o.settled &&
           (!peer_died || peer_exit_code == o.peer_exit_code);
  }
};

// Sends sig, then the sentinel, to the peer; waits until the sentinel is logged (or the
// peer died or stopped) and tells whether sig was forwarded as itself.
Outcome send_and_observe(Recording& rec, int sig) {
  const int sentinel = SIGRTMAX;
  int before = rec.count(sig), sentinels = rec.count(sentinel);
  Outcome o;
  rec.peer().signal(sig);
  rec.peer().signal(sentinel);  // a dead but unreaped peer ignores it
  auto sentinel_back = [&] { return rec.count(sentinel) > sentinels; };
  o.settled = eventually(
      [&] { return sentinel_back() || !rec.peer().running() || stopped(rec.peer().pid()); },
      kArrive);
  if (!rec.peer().running()) {
    o.peer_died = true;
    o.peer_exit_code = rec.peer().wait(seconds(1)).exit_code;
    o.forwarded = rec.count(sig) > before;
    return o;
  }
  if (stopped(rec.peer().pid())) {
    o.peer_stopped = true;
    o.child_stopped = stopped_or_stopping(rec.recorder());  // before SIGCONT discards it
    // Job control without a shell: continue both, as `fg` would.
    ::kill(rec.peer().pid(), SIGCONT);
    ::kill(rec.recorder(), SIGCONT);
    o.settled = eventually(sentinel_back, kArrive);
  }
  o.forwarded = rec.count(sig) > before;
  return o;
}

// tini 0.19 leaves the synchronous signals unblocked with their default action, so one
// sent to it kills it, and it ignores SIGTTIN and SIGTTOU. dumb-init 1.2.5 in its default
// (setsid) mode turns SIGTSTP, SIGTTIN and SIGTTOU into SIGSTOP for the command and then
// stops itself. Everything else is forwarded by both.
Outcome expected_outcome(const Peer& peer, int sig) {
  Outcome o;
  o.forwarded = true;
  if (peer.name == "tini") {
    for (int fatal : {SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS})
      if (sig == fatal) {
        o.forwarded = false;
        o.peer_died = true;
        o.peer_exit_code = 128 + sig;
      }
    if (sig == SIGTTIN || sig == SIGTTOU) o.forwarded = false;
  }
  if (peer.name == "dumb-init" && (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)) {
    o.forwarded = false;
    o.child_stopped = true;
    o.peer_stopped = true;
  }
  return o;
}

class SignalForwarding : public testing::TestWithParam<Peer> {};

TEST_P(SignalForwarding, EveryCatchableSignalReachesTheCommand) {
  const Peer& peer = GetParam();
  // 1..31 but SIGKILL, SIGSTOP, SIGCHLD; one real-time signal; the stop signals last
  // (supervise starts a stop on them; its SIGKILL comes only after the 60 s used here).
  std::vector<int> order;
  for (int sig = 1; sig <= 31; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && sig != SIGINT && sig != SIGQUIT &&
        sig != SIGTERM)
      order.push_back(sig);
  order.insert(order.end(), {SIGRTMIN + 3, SIGINT, SIGQUIT, SIGTERM});

  std::unique_ptr<Recording> rec;
  std::vector<std::string> missed;
  for (int sig : order) {
    if (!rec) {
      rec = std::make_unique<Recording>(peer, Target::kGroup);
      ASSERT_TRUE(rec->ready()) << "the recorder never started under " << peer.name;
    }
    Outcome o = send_and_observe(*rec, sig);
    if (peer.is_supervise) {
      EXPECT_TRUE(o.forwarded) << signal_name(sig) << ": " << o.describe();
      EXPECT_FALSE(o.peer_died || o.peer_stopped || o.child_stopped)
          << signal_name(sig) << ": " << o.describe();
    } else {
      EXPECT_EQ(o, expected_outcome(peer, sig))
          << peer.name << " " << signal_name(sig) << ": observed " << o.describe() << ", expected "
          << expected_outcome(peer, sig).describe();
    }
    EXPECT_TRUE(o.settled) << signal_name(sig);
    if (!o.forwarded) {
      missed.push_back(signal_name(sig));
      compat::record("forward " + signal_name(sig) + " sent to the supervisor's pid", peer,
                     o.describe(), false);
    }
    if (o.peer_died) rec.reset();  // kills the orphaned recorder; the next signal starts anew
  }
  std::string observed = std::to_string(order.size() - missed.size()) + " of " +
                         std::to_string(order.size()) + " forwarded";
  if (!missed.empty()) {
    observed += "; not:";
    for (const auto& m : missed) observed += " " + m;
  }
  compat::record("forward every catchable signal (1..31 but KILL, STOP, CHLD; SIGRTMIN+3)", peer,
                 observed, missed.empty());
}

INSTANTIATE_TEST_SUITE_P(Peers, SignalForwarding, testing::ValuesIn(compat::peers()),
                         compat::peer_name);

// Group vs child: the command and its 5 children share a process group.
class SignalTarget : public testing::TestWithParam<Peer> {};

TEST_P(SignalTarget, GroupTargetReachesAllSixProcesses) {
  const Peer& peer = GetParam();
  Recording rec(peer, Target::kGroup, 5);
  ASSERT_TRUE(rec.ready());
  rec.peer().signal(SIGUSR1);
  std::vector<std::string> names = {"r", "r-1", "r-2", "r-3", "r-4", "r-5"};
  auto all_got_it = [&] {
    for (const auto& n : names)
      if (rec.count(SIGUSR1, n) == 0) return false;
    return true;
  };
  bool all = eventually(all_got_it, kArrive);
  int got = 0;
  for (const auto& n : names) {
    EXPECT_EQ(rec.count(SIGUSR1, n), 1) << n;
    got += rec.count(SIGUSR1, n) > 0;
  }
  EXPECT_TRUE(all);
  compat::record(std::string("signal target group (") +
                     (peer.name == "tini"        ? "tini -g"
                      : peer.name == "dumb-init" ? "default"
                                                 : "--signal-target group") +
                     "): SIGUSR1 to 6 processes of the command's group",
                 peer, std::to_string(got) + " of 6 got it", all);
}

TEST_P(SignalTarget, ChildTargetReachesOnlyTheCommand) {
  const Peer& peer = GetParam();
  Recording rec(peer, Target::kChild, 5);
  ASSERT_TRUE(rec.ready());
  rec.peer().signal(SIGUSR1);
  EXPECT_TRUE(eventually([&] { return rec.count(SIGUSR1) > 0; }, kArrive));
  // A group signal reached every member when the command logged it. A SIGUSR2 sent to
  // each child now is delivered after any pending SIGUSR1 (lower numbers first): once
  // it is logged, a SIGUSR1 that came is logged too.
  for (pid_t child : rec.children()) ::kill(child, SIGUSR2);
  std::vector<std::string> children = {"r-1", "r-2", "r-3", "r-4", "r-5"};
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& n : children)
          if (rec.count(SIGUSR2, n) == 0) return false;
        return true;
      },
      kArrive));
  int others = 0;
  for (const auto& n : children) {
    EXPECT_EQ(rec.count(SIGUSR1, n), 0) << n;
    others += rec.count(SIGUSR1, n) > 0;
  }
  EXPECT_EQ(rec.count(SIGUSR1), 1);
  bool as_spec = rec.count(SIGUSR1) == 1 && others == 0;
  compat::record(std::string("signal target child (") +
                     (peer.name == "tini"        ? "tini without -g"
                      : peer.name == "dumb-init" ? "--single-child"
                                                 : "--signal-target child") +
                     "): SIGUSR1 to the command only",
                 peer,
                 "the command " +
                     std::string(rec.count(SIGUSR1) == 1 ? "got it" : "did not get it") + ", " +
                     std::to_string(others) + " of 5 others got it",
                 as_spec);
}

INSTANTIATE_TEST_SUITE_P(Peers, SignalTarget, testing::ValuesIn(compat::peers()),
                         compat::peer_name);

// The SigIgn and SigBlk masks of /proc/PID/status a program wrote (sed writes its own).
struct Masks {
  std::uint64_t ignored = 0, blocked = 0;
};

Masks read_masks(const std::string& status) {
  Masks m;
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SigIgn:", 0) == 0) m.ignored = std::stoull(line.substr(7), nullptr, 16);
    if (line.rfind("SigBlk:", 0) == 0) m.blocked = std::stoull(line.substr(7), nullptr, 16);
  }
  return m;
}

std::uint64_t bit(int sig) {
  return std::uint64_t{1} << (sig - 1);
}

std::string names_of(std::uint64_t mask) {
  std::string out;
  for (int sig = 1; sig <= 64; ++sig)
    if (mask & bit(sig)) out += (out.empty() ? "" : ",") + signal_name(sig);
  return out.empty() ? "none" : out;
}

class InheritedSignals : public testing::TestWithParam<Peer> {};

TEST_P(InheritedSignals, IgnoredAndBlockedSignalsReachTheCommand) {
  const Peer& peer = GetParam();
  TempDir dir;
  test_support::RunOptions options;
  options.ignored_signals = {SIGUSR1};
  options.blocked_signals = {SIGUSR2};

  // The control: sed started directly shows exactly what the harness set.
  options.program = "/bin/sed";
  auto direct = test_support::run({"-n", "w " + dir / "direct", "/proc/self/status"}, options);
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  Masks control = read_masks(test_support::read_file(dir / "direct"));
  ASSERT_EQ(control.ignored, bit(SIGUSR1));
  ASSERT_EQ(control.blocked, bit(SIGUSR2));

  auto started =
      start_under(peer, Target::kGroup, "2s",
                  {"/bin/sed", "-n", "w " + dir / "status", "/proc/self/status"}, options);
  auto r = started->wait(seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Masks m = read_masks(test_support::read_file(dir / "status"));
  bool as_spec = m.ignored == bit(SIGUSR1) && m.blocked == bit(SIGUSR2);
  compat::record("started with SIGUSR1 ignored and SIGUSR2 blocked: the command's SigIgn / SigBlk",
                 peer, "ignored " + names_of(m.ignored) + " / blocked " + names_of(m.blocked),
                 as_spec);
  if (peer.name == "dumb-init") {
    // dumb-init catches every signal and unblocks them all in the command: what it
    // inherited is lost (nohup's SIGHUP too).
    EXPECT_EQ(m.ignored, 0u) << names_of(m.ignored);
    EXPECT_EQ(m.blocked, 0u) << names_of(m.blocked);
  } else {
    EXPECT_EQ(m.ignored, bit(SIGUSR1)) << names_of(m.ignored);
    EXPECT_EQ(m.blocked, bit(SIGUSR2)) << names_of(m.blocked);
  }
}

INSTANTIATE_TEST_SUITE_P(Peers, InheritedSignals, testing::ValuesIn(compat::peers()),
                         compat::peer_name);

// A command that ignores SIGTERM: sh sets the trap, writes its pid (kept by exec) to
// `ready` and becomes `sleep 60`, which inherits the ignored SIGTERM.
std::vector<std::string> term_ignoring_command(const TempDir& dir) {
  return {"/bin/sh", "-c",
          "trap '' TERM; echo $$ > '" + dir / "ready.tmp" + "' && mv '" + dir / "ready.tmp" +
              "' '" + dir / "ready" + "' && exec sleep 60"};
}

class SignalStop : public testing::TestWithParam<Peer> {};

TEST_P(SignalStop, ATermIgnoringCommandIsKilledAfterTheStopTimeout) {
  const Peer& peer = GetParam();
  TempDir dir;
  auto started = start_under(peer, Target::kGroup, "1s", term_ignoring_command(dir));
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "ready") || !started->running(); }, kReady));
  ASSERT_TRUE(fs::exists(dir / "ready"));
  pid_t command = std::stoi(test_support::read_file(dir / "ready"));
  // The exec may still be under way: sleep is what must be there when SIGTERM comes.
  ASSERT_TRUE(eventually(
      [&] {
        try {
          return test_support::read_file("/proc/" + std::to_string(command) + "/comm") == "sleep\n";
        } catch (const std::exception&) {
          return false;
        }
      },
      kReady));
  auto sent = std::chrono::steady_clock::now();
  started->signal(SIGTERM);

  if (peer.is_supervise) {
    auto r = started->wait(seconds(30));
    auto after = std::chrono::steady_clock::now() - sent;
    EXPECT_EQ(r.exit_code, 137) << r.err;
    EXPECT_GE(after, milliseconds(800));
    EXPECT_LT(after, seconds(5));
    auto ms = std::chrono::duration_cast<milliseconds>(after).count();
    compat::record(
        "SIGTERM to the supervisor, command ignores SIGTERM (--stop-timeout 1s)", peer,
        "SIGKILL after " + std::to_string(ms) + " ms, exit " + std::to_string(r.exit_code),
        r.exit_code == 137 && after >= milliseconds(800) && after < seconds(5));
    return;
  }
  // The peers have no stop timeout: the command outlives the SIGTERM.
  bool ended = eventually([&] { return !started->running(); }, seconds(3));
  EXPECT_FALSE(ended) << peer.name << " ended on its own";
  kill_if(command, "sleep", SIGKILL);
  auto r = started->wait(seconds(30));
  EXPECT_EQ(r.exit_code, 137) << "after the test killed the command";
  compat::record("SIGTERM to the supervisor, command ignores SIGTERM (--stop-timeout 1s)", peer,
                 ended ? "ended within 3 s"
                       : "still running after 3 s (never SIGKILLs); exit " +
                             std::to_string(r.exit_code) + " once the test killed the command",
                 false);
}

INSTANTIATE_TEST_SUITE_P(Peers, SignalStop, testing::ValuesIn(compat::peers()), compat::peer_name);

TEST(SignalStopStatus, SuperviseRecordsTheSigkillAndTheStopRequest) {
  TempDir dir;
  Peer supervise = compat::peers().front();
  ASSERT_TRUE(supervise.is_supervise);
  auto started = start_under(supervise, Target::kGroup, "1s", term_ignoring_command(dir), {},
                             {"--status-file", dir / "status.json"});
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "ready") || !started->running(); }, kReady));
  ASSERT_TRUE(fs::exists(dir / "ready"));
  started->signal(SIGTERM);
  auto r = started->wait(seconds(30));
  EXPECT_EQ(r.exit_code, 137) << r.err;
  auto s = test_support::read_json(dir / "status.json");
  EXPECT_EQ(s["signal"], "SIGKILL") << s.dump();
  EXPECT_EQ(s["exit_code"], 137) << s.dump();
  ASSERT_TRUE(s["stop"].is_object()) << s.dump();
  EXPECT_EQ(s["stop"]["requested_by"], "SIGTERM") << s.dump();
  compat::record(
      "status after SIGTERM + SIGKILL at the stop timeout", supervise,
      "signal " + s["signal"].dump() + ", exit_code " + s["exit_code"].dump() +
          ", stop.requested_by " + s["stop"]["requested_by"].dump(),
      s["signal"] == "SIGKILL" && s["exit_code"] == 137 && s["stop"]["requested_by"] == "SIGTERM");
}

}  // namespace
