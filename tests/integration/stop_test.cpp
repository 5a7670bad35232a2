// Stop requests as the status and the exit code show them: --timeout, and signals sent
// to the supervisor (by pid) while its task runs. Readiness is polled (the task writes
// a file), never waited for with a fixed sleep.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// "...T10:00:00.123Z" compare as text in time order (same format, same zone).
void expect_stop_inside_the_run(const nlohmann::json& s) {
  ASSERT_TRUE(s["stop"].is_object()) << s.dump();
  ASSERT_TRUE(s["stop"]["at"].is_string()) << s.dump();
  EXPECT_LE(s["started_at"].get<std::string>(), s["stop"]["at"].get<std::string>());
  EXPECT_LE(s["stop"]["at"].get<std::string>(), s["finished_at"].get<std::string>());
}

TEST(Timeout, StopsAProcessThatIgnoresSigtermWithSigkill) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--timeout", "1s", "--stop-timeout", "1s", "--",
                "/bin/sh", "-c", "trap '' TERM; sleep 30"});
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_GE(r.elapsed, milliseconds(1900)) << "timeout 1s + stop timeout 1s";
  EXPECT_LT(r.elapsed, seconds(8));
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["exit_code"], 137);
  EXPECT_EQ(s["signal"], "SIGKILL");
  EXPECT_EQ(s["stop"]["requested_by"], "timeout");
  expect_stop_inside_the_run(s);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["supervisor_exit_code"], 137);
  EXPECT_GE(s["duration_seconds"].get<double>(), 1.9);
}

TEST(Timeout, StopsACooperativeProcessWithSigterm) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--timeout", "1s", "--", "/bin/sleep", "30"});
  EXPECT_EQ(r.exit_code, 143) << r.err;
  EXPECT_GE(r.elapsed, milliseconds(950));
  EXPECT_LT(r.elapsed, seconds(8));
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["signal"], "SIGTERM");
  EXPECT_EQ(s["stop"]["requested_by"], "timeout");
  expect_stop_inside_the_run(s);
}

TEST(Timeout, TimeoutActionsAreLookedUp) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--exit-code-from", "action", "--exit-action",
                "RESCHEDULE=SIGTERM", "--timeout", "500ms", "--", "/bin/sleep", "30"});
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_LT(r.elapsed, seconds(8));
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "RESCHEDULE");
  EXPECT_EQ(s["exit_code"], 143);
}

TEST(Timeout, ACommandThatEndsInTimeIsNotStopped) {
  TempDir dir;
  auto r =
      run({"--status-file", dir / "s.json", "--timeout", "30s", "--", "/bin/sh", "-c", "exit 6"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_LT(r.elapsed, seconds(8));
  auto s = read_json(dir / "s.json");
  EXPECT_TRUE(s["stop"].is_null());
  EXPECT_TRUE(s["signal"].is_null());
}

// Starts supervise on a task that runs `setup` (traps), touches `ready` and then runs
// `then`; waits until ready.
std::unique_ptr<test_support::Started> start_ready(const TempDir& dir,
                                                   const std::vector<std::string>& options,
                                                   const std::string& then,
                                                   const std::string& setup = "true") {
  std::vector<std::string> args = {"--status-file", dir / "s.json"};
  args.insert(args.end(), options.begin(), options.end());
  std::vector<std::string> command = {"--", "/bin/sh", "-c",
                                      setup + "; touch '" + dir / "ready" + "'; " + then};
  args.insert(args.end(), command.begin(), command.end());
  auto started = start(args);
  bool ready =
      eventually([&] { return fs::exists(dir / "ready") || !started->running(); }, seconds(20));
  EXPECT_TRUE(ready);
  EXPECT_TRUE(fs::exists(dir / "ready")) << "the task never started";
  return started;
}

TEST(Signals, SigtermIsForwardedAndRecordedAsTheStop) {
  TempDir dir;
  auto started = start_ready(dir, {}, "exec sleep 30");
  ASSERT_TRUE(started->running());
  auto sent = std::chrono::steady_clock::now();
  started->signal(SIGTERM);
  auto r = started->wait(seconds(30));
  auto after_signal = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(r.exit_code, 143) << r.err;
  EXPECT_LT(after_signal, seconds(8)) << "the forwarded SIGTERM ends sleep at once";
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["exit_code"], 143);
  EXPECT_EQ(s["signal"], "SIGTERM");
  EXPECT_EQ(s["stop"]["requested_by"], "SIGTERM");
  expect_stop_inside_the_run(s);
  EXPECT_EQ(s["supervisor_exit_code"], 143);
}

TEST(Signals, SigtermThenSigkillAfterTheStopTimeout) {
  TempDir dir;
  auto started =
      start_ready(dir, {"--stop-timeout", "1s"}, "while :; do sleep 0.1; done", "trap '' TERM");
  ASSERT_TRUE(started->running());
  auto sent = std::chrono::steady_clock::now();
  started->signal(SIGTERM);
  auto r = started->wait(seconds(30));
  auto after_signal = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_GE(after_signal, milliseconds(950));
  EXPECT_LT(after_signal, seconds(8));
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["signal"], "SIGKILL");
  EXPECT_EQ(s["stop"]["requested_by"], "SIGTERM");
}

TEST(Signals, SigintIsForwardedAndRecordedAsTheStop) {
  TempDir dir;
  auto started = start_ready(dir, {}, "exec sleep 30");
  ASSERT_TRUE(started->running());
  started->signal(SIGINT);
  auto r = started->wait(seconds(30));
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_LT(r.elapsed, seconds(20));
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["signal"], "SIGINT");
  EXPECT_EQ(s["stop"]["requested_by"], "SIGINT");
}

TEST(Signals, OtherSignalsAreForwardedWithoutAStop) {
  TempDir dir;
  auto started = start_ready(dir, {}, "exec sleep 30");
  ASSERT_TRUE(started->running());
  started->signal(SIGUSR1);
  auto r = started->wait(seconds(30));
  EXPECT_EQ(r.exit_code, 128 + SIGUSR1) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["signal"], "SIGUSR1");
  EXPECT_TRUE(s["stop"].is_null()) << "SIGUSR1 does not ask for a stop";
}

TEST(Signals, ACommandThatHandlesTheSignalDecidesItsExitCode) {
  TempDir dir;
  auto started = start_ready(dir, {"--exit-action", "RESCHEDULE=42"}, "while :; do sleep 0.1; done",
                             "trap 'exit 42' TERM");
  ASSERT_TRUE(started->running());
  started->signal(SIGTERM);
  auto r = started->wait(seconds(30));
  EXPECT_EQ(r.exit_code, 42) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_TRUE(s["signal"].is_null());
  EXPECT_EQ(s["action"], "RESCHEDULE");
  EXPECT_EQ(s["stop"]["requested_by"], "SIGTERM");
}

}  // namespace

namespace {

// ---- the stop budget and the provisional status (issue 13, items 2-4) --------------------

// A TERM-ignoring task; SIGTERM. At once, before the command has ended, the status file
// and the termination log say what the outcome would be if it died of SIGTERM,
// provisional; the final documents replace them (SIGKILL after the stop timeout).
TEST(StopBudget, AProvisionalStatusIsWrittenAtTheStopRequest) {
  TempDir dir;
  auto started = start_ready(dir, {"--stop-timeout", "3s", "--termination-log", dir / "term.log"},
                             "while :; do sleep 0.1; done", "trap '' TERM");
  ASSERT_TRUE(started->running());
  ASSERT_FALSE(fs::exists(dir / "s.json")) << "no status before a stop or the end";
  started->signal(SIGTERM);
  // The status file is written first, then the termination log (in place, as a
  // runtime's bind mount needs): wait for both, the log whole.
  nlohmann::json provisional, log;
  bool seen = eventually([&] {
    if (!fs::exists(dir / "s.json") || !fs::exists(dir / "term.log")) return false;
    log = nlohmann::json::parse(read_file(dir / "term.log"), nullptr, /*allow_exceptions=*/false);
    if (log.is_discarded()) return false;
    provisional = read_json(dir / "s.json");
    return true;
  }, seconds(10));
  ASSERT_TRUE(seen) << "no status and termination log written at the stop request";
  EXPECT_TRUE(started->running()) << "written only at the end, not at the stop request";
  EXPECT_EQ(provisional["provisional"], true) << provisional.dump();
  EXPECT_EQ(provisional["exit_code"], 143);
  EXPECT_EQ(provisional["signal"], "SIGTERM");
  EXPECT_EQ(provisional["stop"]["requested_by"], "SIGTERM");
  EXPECT_EQ(provisional["supervisor_exit_code"], 143);
  EXPECT_EQ(log["provisional"], true) << log.dump();
  EXPECT_EQ(log["exit_code"], 143);

  auto r = started->wait(seconds(30));
  EXPECT_EQ(r.exit_code, 137) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["provisional"], false);
  EXPECT_EQ(s["exit_code"], 137);
  EXPECT_EQ(s["signal"], "SIGKILL");
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "term.log"))["provisional"], false);
}

// No stop: no provisional document is ever written, the one status is final.
TEST(StopBudget, AnUnstoppedRunWritesOnlyTheFinalStatus) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/sh", "-c", "exit 4"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["provisional"], false);
  EXPECT_EQ(r.err.find("provisional"), std::string::npos) << r.err;
}

// --grace-period 4s with the default --stop-timeout 10s: SIGKILL comes at half the grace
// period (2 s), said by a warning at start-up, so the final checkpoint keeps 2 s.
TEST(StopBudget, SigkillComesNoLaterThanHalfTheGracePeriod) {
  TempDir dir;
  fs::create_directories(dir / "ckpt");
  write_file(dir / "ckpt/tiny", "ok");
  auto started = start_ready(dir, {"--grace-period", "4s", "--checkpoint",
                                   "path=" + dir / "ckpt" + ",url=file://" + dir / "store" + ",frequency=1h"},
                             "while :; do sleep 0.1; done", "trap '' TERM");
  ASSERT_TRUE(started->running());
  auto sent = std::chrono::steady_clock::now();
  started->signal(SIGTERM);
  auto r = started->wait(seconds(30));
  auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_GE(took, milliseconds(1900));
  EXPECT_LT(took, milliseconds(3900)) << "SIGKILL at 2 s, the final round in the other 2 s";
  EXPECT_NE(r.err.find("stop timeout shortened from 10s to 2s: half the grace period of 4s"), std::string::npos)
      << r.err;
  auto s = read_json(dir / "s.json");
  ASSERT_TRUE(s["checkpoints"][0]["final"].is_object()) << s.dump(1);
  EXPECT_EQ(s["checkpoints"][0]["final"]["ok"], true) << s.dump(1);
  EXPECT_EQ(read_file(dir / "store/ckpt/tiny"), "ok");
}

// A listening socket that never accepts: requests to it hang (a dead store).
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      ADD_FAILURE() << "cannot listen on loopback: " << std::strerror(errno);
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() {
    if (fd_ >= 0) ::close(fd_);
  }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// The command ends at SIGTERM at once; the final checkpoint then hangs on a dead store
// until the grace period ends, long past the stop timeout. The stop timer must have
// died with the command: nothing is left to kill, and the group id that was the
// command's may be another's by then (a SIGKILL to it killed an unrelated group).
TEST(StopBudget, NoSigkillOnceTheCommandIsReaped) {
  TempDir dir;
  BlackHole store;
  fs::create_directories(dir / "ckpt");
  write_file(dir / "ckpt/tiny", "ok");
  RunOptions options;
  options.env = {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example", "AWS_REGION=us-east-1",
                 "AWS_ENDPOINT_URL=http://127.0.0.1:" + std::to_string(store.port())};
  options.unset_env = {"AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"};
  auto started = start({"--status-file", dir / "s.json", "--stop-timeout", "1s", "--grace-period", "5s",
                        "--checkpoint", "path=" + dir / "ckpt" + ",url=s3://bucket/prefix,frequency=1h", "--",
                        "/bin/sh", "-c", "touch '" + dir / "ready" + "'; exec sleep 60"},
                       options);
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "ready") || !started->running(); }, seconds(20)));
  ASSERT_TRUE(started->running());
  auto sent = std::chrono::steady_clock::now();
  started->signal(SIGTERM);
  auto r = started->wait(seconds(30));
  auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(r.exit_code, 143) << r.err;
  EXPECT_GE(took, milliseconds(2500)) << "the supervisor must outlive the stop timeout for this test\n" << r.err;
  EXPECT_EQ(r.err.find("sending SIGKILL"), std::string::npos) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["signal"], "SIGTERM");
  EXPECT_EQ(s["checkpoints"][0]["final"]["ok"], false) << s.dump(1);
}

}  // namespace
