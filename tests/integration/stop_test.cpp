// Stop requests as the status and the exit code show them: --timeout, and signals sent
// to the supervisor (by pid) while its task runs. Readiness is polled (the task writes
// a file), never waited for with a fixed sleep.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
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
