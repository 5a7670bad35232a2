#include "supervise/status/status.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "supervise/outcome.hpp"

namespace supervise {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

status::TimePoint at(std::int64_t ms) { return status::TimePoint(std::chrono::milliseconds(ms)); }

spec::Task task_with(std::vector<std::pair<spec::Action, std::string>> rules) {
  spec::Task t;
  t.name = "train";
  t.command = {"/bin/bash", "/tmp/run.sh"};
  for (auto& [action, codes] : rules) EXPECT_TRUE(t.exit_actions.add(action, codes).ok());
  return t;
}

TEST(Status, FormatTimeIsUtcWithMilliseconds) {
  EXPECT_EQ(status::format_time(at(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(status::format_time(at(1795341600123)), "2026-11-22T10:00:00.123Z");
}

TEST(Status, DocumentHasEveryFieldInSpecOrder) {
  status::Status s;
  s.task = "train";
  s.action = spec::Action::kReschedule;
  s.exit_code = 137;
  s.signal = 9;
  s.matched_rule = "RESCHEDULE: 1-255";
  s.command = {"/bin/bash", "/tmp/run.sh"};
  s.started_at = at(1795341600123);
  s.finished_at = at(1795341912480);
  s.stop = status::Stop{"SIGTERM", at(1795341902001)};
  s.checkpoints.push_back({"/tmp/checkpoints", "s3://bucket/prefix", 5, 0,
                           status::CheckpointFinal{true, 3, 10, 0, 5242880, 0.8, std::nullopt}, std::nullopt, {}});
  s.supervisor_exit_code = 137;
  auto j = status::to_json(s);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"schema_version", "task", "action", "exit_code", "signal", "core_dumped",
                                            "matched_rule", "error", "command", "started_at", "finished_at",
                                            "duration_seconds", "stop", "checkpoints", "supervisor_exit_code",
                                            "provisional", "resources", "oom_kills", "oom_killed"}));
  EXPECT_EQ(j["provisional"], false);
  EXPECT_TRUE(j["resources"].is_null());  // never set: the command never started
  EXPECT_TRUE(j["oom_kills"].is_null());
  EXPECT_EQ(j["oom_killed"], false);
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["action"], "RESCHEDULE");
  EXPECT_EQ(j["signal"], "SIGKILL");
  EXPECT_EQ(j["started_at"], "2026-11-22T10:00:00.123Z");
  EXPECT_NEAR(j["duration_seconds"].get<double>(), 312.357, 1e-6);
  EXPECT_EQ(j["stop"]["requested_by"], "SIGTERM");
  EXPECT_EQ(j["stop"]["at"], "2026-11-22T10:05:02.001Z");
  EXPECT_EQ(j["checkpoints"][0]["final"]["bytes_stored"], 5242880);
  EXPECT_TRUE(j["checkpoints"][0]["final"]["error"].is_null());
  EXPECT_TRUE(j["error"].is_null());
}

TEST(Status, OpenUploadsAreListedAlwaysAsAnArray) {
  status::Status s;
  s.checkpoints.push_back({"/ck", "s3://bucket/run", 2, 1, std::nullopt, std::nullopt, {}});
  s.checkpoints.push_back({"/ck2", "s3://bucket/run", 2, 1, std::nullopt, std::nullopt,
                           {{"s3://bucket/run/ck2/big.bin", "2~abc"}, {"s3://bucket/run/ck2/other.bin", "2~def"}}});
  auto j = status::to_json(s);
  EXPECT_EQ(j["checkpoints"][0]["open_uploads"], json::array());
  ASSERT_EQ(j["checkpoints"][1]["open_uploads"].size(), 2u);
  EXPECT_EQ(j["checkpoints"][1]["open_uploads"][0]["object"], "s3://bucket/run/ck2/big.bin");
  EXPECT_EQ(j["checkpoints"][1]["open_uploads"][0]["upload_id"], "2~abc");
  EXPECT_EQ(j["checkpoints"][1]["open_uploads"][1]["upload_id"], "2~def");
}

TEST(Status, RestoreIsNullUnlessAskedThenEveryField) {
  status::Status s;
  s.checkpoints.push_back({"/ck", "s3://bucket/run", 0, 0, std::nullopt, std::nullopt, {}});
  s.checkpoints.push_back({"/ck2", "s3://bucket/run", 0, 0, std::nullopt,
                           status::Restore{true, 7, false, 3, 2, 1, 0, 4096, 1.5, std::nullopt}, {}});
  auto j = status::to_json(s);
  EXPECT_TRUE(j["checkpoints"][0]["restore"].is_null());
  const auto& r = j["checkpoints"][1]["restore"];
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["round"], 7);
  EXPECT_EQ(r["complete"], false);
  EXPECT_EQ(r["files_restored"], 3);
  EXPECT_EQ(r["files_kept"], 2);
  EXPECT_EQ(r["files_mismatched"], 1);
  EXPECT_EQ(r["files_failed"], 0);
  EXPECT_EQ(r["bytes_restored"], 4096);
  EXPECT_EQ(r["seconds"], 1.5);
  EXPECT_TRUE(r["error"].is_null());
}

TEST(Status, ARestoreThatCannotCompleteReschedulesOrFails) {
  spec::Task task;
  task.command = {"/bin/true"};
  auto transient = outcome::restore_failed(task, {}, "the store is down", true, std::nullopt, cli::ExitCodeFrom::kCommand);
  EXPECT_EQ(transient.action, spec::Action::kReschedule);
  EXPECT_EQ(transient.exit_code, 75);
  EXPECT_EQ(transient.supervisor_exit_code, 75);
  EXPECT_EQ(transient.error, "restore: the store is down");
  EXPECT_FALSE(transient.started_at.has_value());
  auto permanent = outcome::restore_failed(task, {}, "x is not a manifest", false, std::nullopt, cli::ExitCodeFrom::kCommand);
  EXPECT_EQ(permanent.action, spec::Action::kFail);
  EXPECT_EQ(permanent.supervisor_exit_code, 125);
  EXPECT_EQ(outcome::restore_failed(task, {}, "x", false, std::nullopt, cli::ExitCodeFrom::kAction).supervisor_exit_code, 1);
}

TEST(Status, NeverStartedHasNullTimesAndSignal) {
  auto s = outcome::before_start(std::nullopt, {}, "invalid input: x", cli::ExitCodeFrom::kCommand);
  auto j = status::to_json(s);
  EXPECT_EQ(j["action"], "FAIL");
  EXPECT_EQ(j["exit_code"], 125);
  EXPECT_EQ(j["supervisor_exit_code"], 125);
  EXPECT_TRUE(j["started_at"].is_null());
  EXPECT_TRUE(j["duration_seconds"].is_null());
  EXPECT_TRUE(j["signal"].is_null());
  EXPECT_TRUE(j["task"].is_null());
  EXPECT_EQ(j["error"], "invalid input: x");
  EXPECT_EQ(outcome::before_start(std::nullopt, {}, "x", cli::ExitCodeFrom::kAction).supervisor_exit_code, 1);
}

TEST(Status, InvalidUtf8IsReplacedNotFatal) {
  status::Status s;
  s.command = {"/bin/echo", std::string("\xff\xfe bad", 6)};
  std::string text = status::render(s);
  EXPECT_TRUE(json::accept(text));
  EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  EXPECT_TRUE(json::accept(status::render_compact(s)));
}

TEST(Status, CompactFitsAndStaysValid) {
  status::Status s;
  s.task = "t";
  s.exit_code = 3;
  s.finished_at = at(0);
  EXPECT_EQ(status::render_compact(s).find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(status::render_compact(s)), json::parse(status::render(s)));  // small: unchanged

  for (int i = 0; i < 100; ++i) s.command.push_back(std::string(1000, static_cast<char>('a' + i % 26)));
  for (int i = 0; i < 50; ++i) s.checkpoints.push_back({"/p" + std::to_string(i), "file:///x", 1, 0, std::nullopt, std::nullopt, {}});
  s.error = std::string(10000, 'e');
  for (std::size_t limit : {4096u, 1024u, 300u}) {
    std::string compact = status::render_compact(s, limit);
    EXPECT_LE(compact.size(), limit);
    json j = json::parse(compact);
    EXPECT_EQ(j["exit_code"], 3);
    EXPECT_EQ(j["action"], "FAIL");
    EXPECT_EQ(j["truncated"], true);
  }
  json j = json::parse(status::render_compact(s, 4096));
  EXPECT_TRUE(j["checkpoints"].is_array());  // a reader's types hold when shortened
  EXPECT_TRUE(j["command"].is_array());
  EXPECT_EQ(j["checkpoints_omitted"], 50);
  EXPECT_EQ(j["checkpoints_not_ok"], 50);
}

struct RunCase {
  std::optional<process::ExitStatus> exit;
  std::optional<process::ExecFailure> exec_failure;
  int exit_code;
  spec::Action action;
  std::optional<std::string> rule;
  std::optional<std::string> signal;
};

class AfterRun : public ::testing::TestWithParam<RunCase> {};

TEST_P(AfterRun, MapsTheExitThroughTheRules) {
  const RunCase& c = GetParam();
  spec::Task task = task_with({{spec::Action::kComplete, "0"}, {spec::Action::kReschedule, "1-128, SIGKILL"}});
  RunResult run;
  run.started_at = std::chrono::system_clock::now();
  run.exit = c.exit;
  run.exec_failure = c.exec_failure;
  auto s = outcome::after_run(task, run, cli::ExitCodeFrom::kCommand);
  EXPECT_EQ(s.exit_code, c.exit_code);
  EXPECT_EQ(s.supervisor_exit_code, c.exit_code);
  EXPECT_EQ(s.action, c.action);
  EXPECT_EQ(s.matched_rule, c.rule);
  auto j = status::to_json(s);
  if (c.signal) EXPECT_EQ(j["signal"], *c.signal);
  else EXPECT_TRUE(j["signal"].is_null());
  EXPECT_EQ(s.error.has_value(), c.exec_failure.has_value());
  auto by_action = outcome::after_run(task, run, cli::ExitCodeFrom::kAction);
  EXPECT_EQ(by_action.supervisor_exit_code, cli::action_exit_code(c.action));
  EXPECT_EQ(by_action.exit_code, c.exit_code);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AfterRun,
    ::testing::Values(
        RunCase{process::ExitStatus::exited(0), {}, 0, spec::Action::kComplete, "COMPLETE: 0", {}},
        RunCase{process::ExitStatus::exited(1), {}, 1, spec::Action::kReschedule, "RESCHEDULE: 1-128, SIGKILL", {}},
        RunCase{process::ExitStatus::exited(200), {}, 200, spec::Action::kFail, {}, {}},
        RunCase{process::ExitStatus::killed(9), {}, 137, spec::Action::kReschedule, "RESCHEDULE: 1-128, SIGKILL",
                "SIGKILL"},
        RunCase{process::ExitStatus::killed(15), {}, 143, spec::Action::kFail, {}, "SIGTERM"},
        RunCase{{}, process::ExecFailure{2, 127}, 127, spec::Action::kReschedule, "RESCHEDULE: 1-128, SIGKILL", {}},
        RunCase{{}, process::ExecFailure{13, 126}, 126, spec::Action::kReschedule, "RESCHEDULE: 1-128, SIGKILL",
                {}}),
    [](const auto& param) { return "Case" + std::to_string(param.index); });

TEST(AfterRun, ExecFailureMessagesNameTheCommand) {
  spec::Task task = task_with({});
  RunResult run;
  run.exec_failure = process::ExecFailure{2, 127};
  EXPECT_EQ(outcome::after_run(task, run, cli::ExitCodeFrom::kCommand).error, "command not found: /bin/bash");
  run.exec_failure = process::ExecFailure{13, 126};
  EXPECT_EQ(outcome::after_run(task, run, cli::ExitCodeFrom::kCommand).error,
            "cannot execute /bin/bash: Permission denied");
}

TEST(AfterRun, ResourcesAndOomKillsAreReported) {
  spec::Task task = task_with({});
  RunResult run;
  run.exit = process::ExitStatus::exited(0);
  run.usage = process::Usage{262144, 1'250'000, 30'000};
  run.oom_kills = 0;
  auto j = status::to_json(outcome::after_run(task, run, cli::ExitCodeFrom::kCommand));
  EXPECT_EQ(j["resources"]["max_rss_kib"], 262144);
  EXPECT_DOUBLE_EQ(j["resources"]["user_cpu_seconds"].get<double>(), 1.25);
  EXPECT_DOUBLE_EQ(j["resources"]["system_cpu_seconds"].get<double>(), 0.03);
  EXPECT_EQ(j["oom_kills"], 0);
  EXPECT_EQ(j["oom_killed"], false);
  run.oom_kills.reset();  // the kernel does not say
  j = status::to_json(outcome::after_run(task, run, cli::ExitCodeFrom::kCommand));
  EXPECT_TRUE(j["oom_kills"].is_null());
}

// SPEC.md "Exit actions": OOM wins over the rule that covers 137, only when oom_killed.
TEST(AfterRun, AnOomRuleWinsOverTheRuleCovering137) {
  spec::Task task = task_with({{spec::Action::kReschedule, "1-255"}, {spec::Action::kFail, "OOM"}});
  RunResult run;
  run.exit = process::ExitStatus::killed(9);
  run.oom_kills = 1;
  run.oom_killed = true;
  auto s = outcome::after_run(task, run, cli::ExitCodeFrom::kAction);
  EXPECT_EQ(s.exit_code, 137);
  EXPECT_EQ(s.action, spec::Action::kFail);
  EXPECT_EQ(s.matched_rule, "FAIL: OOM");
  EXPECT_EQ(s.supervisor_exit_code, cli::action_exit_code(spec::Action::kFail));
  EXPECT_EQ(status::to_json(s)["oom_killed"], true);
  // An eviction (SIGKILL without an OOM kill) reschedules.
  run.oom_kills = 0;
  run.oom_killed = false;
  s = outcome::after_run(task, run, cli::ExitCodeFrom::kCommand);
  EXPECT_EQ(s.action, spec::Action::kReschedule);
  EXPECT_EQ(s.matched_rule, "RESCHEDULE: 1-255");
}

TEST(AfterRun, WithoutAnOomRuleAnOomKillIsLookedUpAs137) {
  spec::Task task = task_with({{spec::Action::kReschedule, "SIGKILL"}});
  RunResult run;
  run.exit = process::ExitStatus::killed(9);
  run.oom_kills = 2;
  run.oom_killed = true;
  auto s = outcome::after_run(task, run, cli::ExitCodeFrom::kCommand);
  EXPECT_EQ(s.action, spec::Action::kReschedule);
  EXPECT_EQ(s.matched_rule, "RESCHEDULE: SIGKILL");
  EXPECT_EQ(status::to_json(s)["oom_kills"], 2);
}

TEST(AfterRun, StopIsReported) {
  spec::Task task = task_with({});
  RunResult run;
  run.exit = process::ExitStatus::killed(15);
  run.stop = StopRequest{"timeout", std::chrono::system_clock::now()};
  auto j = status::to_json(outcome::after_run(task, run, cli::ExitCodeFrom::kCommand));
  EXPECT_EQ(j["stop"]["requested_by"], "timeout");
}

TEST(ExitStatus, FromWaitStatus) {
  EXPECT_EQ(process::ExitStatus::from_wait_status(3 << 8), process::ExitStatus::exited(3));
  EXPECT_EQ(process::ExitStatus::from_wait_status(9), process::ExitStatus::killed(9));
  EXPECT_EQ(process::ExitStatus::from_wait_status(11 | 0x80), process::ExitStatus::killed(11, true));
  EXPECT_EQ(process::ExitStatus::killed(11).exit_code(), 139);
}

}  // namespace
}  // namespace supervise

namespace supervise::status {
namespace {

// A wall-clock step back during the run (NTP, a VM resumed) must not make the duration
// negative: the steady-clock elapsed time wins when it is known.
TEST(Status, DurationComesFromTheSteadyClockWhenKnown) {
  Status s;
  s.started_at = std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000));
  s.finished_at = *s.started_at - std::chrono::seconds(5);  // the clock went back
  s.elapsed = std::chrono::milliseconds(1500);
  EXPECT_NEAR(to_json(s)["duration_seconds"].get<double>(), 1.5, 1e-9);
  s.elapsed.reset();
  EXPECT_NEAR(to_json(s)["duration_seconds"].get<double>(), -5.0, 1e-9);  // no steady time: the wall clocks
}

}  // namespace
}  // namespace supervise::status
