// The supervisor's own exit status (SPEC.md "Exit status of the supervisor"): the
// command's code for every value 0..255 (as tini tests it), 128+N for signal deaths,
// 126/127 for exec failures, and --exit-code-from action.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;

namespace fs = std::filesystem;

TEST(ExitCodes, EveryCodeFrom0To255IsPassedThrough) {
  TempDir dir;
  std::string status = dir / "s.json";
  for (int code = 0; code <= 255; ++code) {
    auto r = run({"--status-file", status, "--", "/bin/sh", "-c", "exit " + std::to_string(code)});
    ASSERT_EQ(r.exit_code, code) << r.err;
    auto s = read_json(status);
    ASSERT_EQ(s["exit_code"], code);
    ASSERT_EQ(s["supervisor_exit_code"], code);
    ASSERT_TRUE(s["signal"].is_null());
    ASSERT_EQ(s["action"], code == 0 ? "COMPLETE" : "FAIL") << code;
  }
}

struct SignalCase {
  int number;
  const char* name;
};

class SignalDeath : public testing::TestWithParam<SignalCase> {};

TEST_P(SignalDeath, Is128PlusTheSignal) {
  const auto& c = GetParam();
  TempDir dir;
  RunOptions options;
  options.cwd = dir.path();  // where a core file would go
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/sh", "-c",
                "ulimit -c 0; kill -" + std::string(c.name + 3) + " $$"},
               options);
  EXPECT_EQ(r.exit_code, 128 + c.number) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["exit_code"], 128 + c.number);
  EXPECT_EQ(s["signal"], c.name);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_TRUE(s["stop"].is_null());
}

INSTANTIATE_TEST_SUITE_P(
    Signals, SignalDeath,
    testing::Values(SignalCase{SIGHUP, "SIGHUP"}, SignalCase{SIGINT, "SIGINT"},
                    SignalCase{SIGKILL, "SIGKILL"}, SignalCase{SIGTERM, "SIGTERM"},
                    SignalCase{SIGUSR1, "SIGUSR1"}, SignalCase{SIGUSR2, "SIGUSR2"},
                    SignalCase{SIGSEGV, "SIGSEGV"}, SignalCase{SIGABRT, "SIGABRT"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// ---- 126 / 127 --------------------------------------------------------------------------

void expect_exec_failure(const std::string& command, int code, const std::string& error_start) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--", command, "arg"});
  EXPECT_EQ(r.exit_code, code) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["exit_code"], code);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_TRUE(s["matched_rule"].is_null());
  EXPECT_TRUE(s["signal"].is_null());
  ASSERT_TRUE(s["error"].is_string()) << s.dump();
  EXPECT_EQ(s["error"].get<std::string>().rfind(error_start, 0), 0u) << s["error"];
  EXPECT_NE(s["error"].get<std::string>().find(command), std::string::npos) << s["error"];
  EXPECT_EQ(s["command"], nlohmann::json({command, "arg"}));
  EXPECT_EQ(s["supervisor_exit_code"], code);
  // The log says why first, then the code (issue 13, item 6), each once.
  std::string error = s["error"].get<std::string>();
  std::string exited = "command exited with " + std::to_string(code);
  auto why = r.err.find(error);
  auto then = r.err.find(exited);
  ASSERT_NE(why, std::string::npos) << r.err;
  ASSERT_NE(then, std::string::npos) << r.err;
  EXPECT_LT(why, then) << r.err;
  EXPECT_EQ(r.err.find(error, why + 1), std::string::npos) << "said twice:\n" << r.err;
}

TEST(ExitCodes, CommandNotFoundByPathIs127) {
  TempDir dir;
  expect_exec_failure(dir / "no-such-command", 127,
                      "command not found: " + dir / "no-such-command");
}

TEST(ExitCodes, CommandNotFoundInPathIs127) {
  expect_exec_failure("supervise-test-no-such-command", 127,
                      "command not found: supervise-test-no-such-command");
}

TEST(ExitCodes, FileWithoutExecuteBitIs126) {
  TempDir dir;
  write_file(dir / "script.sh", "#!/bin/sh\nexit 0\n");
  fs::permissions(dir / "script.sh", fs::perms::owner_read | fs::perms::owner_write);
  expect_exec_failure(dir / "script.sh", 126, "");
}

TEST(ExitCodes, DirectoryIs126) {
  TempDir dir;
  fs::create_directories(dir / "a-directory");
  expect_exec_failure(dir / "a-directory", 126, "");
}

TEST(ExitCodes, ExecFailuresAreLookedUpInExitActions) {
  TempDir dir;
  write_file(dir / "noexec", "#!/bin/sh\n");
  auto r = run({"--status-file", dir / "s.json", "--exit-action", "RESCHEDULE=1-255", "--",
                dir / "missing"});
  EXPECT_EQ(r.exit_code, 127);
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "RESCHEDULE");
  EXPECT_EQ(s["matched_rule"], "RESCHEDULE: 1-255");
  EXPECT_EQ(s["error"], "command not found: " + dir / "missing");

  r = run(
      {"--status-file", dir / "s.json", "--exit-action", "RESCHEDULE=126", "--", dir / "noexec"});
  EXPECT_EQ(r.exit_code, 126);
  s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "RESCHEDULE");
  EXPECT_EQ(s["matched_rule"], "RESCHEDULE: 126");
}

TEST(ExitCodes, ExecFailureFromASpec) {
  TempDir dir;
  RunOptions options;
  options.env = {"EXIT_CODE=0"};
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata("resilient-task.yaml"), "--",
                dir / "missing"},
               options);
  EXPECT_EQ(r.exit_code, 127);
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["task"], "resilient-task");
  EXPECT_EQ(s["action"], "RESCHEDULE");
  EXPECT_EQ(s["matched_rule"], "RESCHEDULE: 1-255");
  EXPECT_TRUE(s["started_at"].is_string() || s["started_at"].is_null());
}

// ---- --exit-code-from action --------------------------------------------------------------

struct ActionCase {
  std::string name;
  std::vector<std::string> args;  // after the status file option
  int exit_code;
  const char* action;
};

class ExitCodeFromAction : public testing::TestWithParam<ActionCase> {};

void check_action_case(const ActionCase& c, const std::vector<std::string>& how,
                       const RunOptions& options) {
  TempDir dir;
  std::vector<std::string> args = {"--status-file", dir / "s.json"};
  args.insert(args.end(), how.begin(), how.end());
  args.insert(args.end(), c.args.begin(), c.args.end());
  auto r = run(args, options);
  EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], c.action);
  EXPECT_EQ(s["supervisor_exit_code"], c.exit_code);
}

TEST_P(ExitCodeFromAction, ByOption) {
  check_action_case(GetParam(), {"--exit-code-from", "action"}, {});
}

TEST_P(ExitCodeFromAction, ByEnvironment) {
  RunOptions options;
  options.env = {"SUPERVISE_EXIT_CODE_FROM=action"};
  check_action_case(GetParam(), {}, options);
}

INSTANTIATE_TEST_SUITE_P(
    Actions, ExitCodeFromAction,
    testing::Values(
        ActionCase{"Complete", {"--", "/bin/true"}, 0, "COMPLETE"},
        ActionCase{"CompleteByRule",
                   {"--exit-action", "COMPLETE=3", "--", "/bin/sh", "-c", "exit 3"},
                   0,
                   "COMPLETE"},
        ActionCase{"Reschedule",
                   {"--exit-action", "RESCHEDULE=1-255", "--", "/bin/sh", "-c", "exit 3"},
                   75,
                   "RESCHEDULE"},
        ActionCase{"RescheduleOnSignal",
                   {"--exit-action", "RESCHEDULE=SIGKILL", "--", "/bin/sh", "-c", "kill -9 $$"},
                   75,
                   "RESCHEDULE"},
        ActionCase{"RescheduleNotFound",
                   {"--exit-action", "RESCHEDULE=127", "--", "/nonexistent/command"},
                   75,
                   "RESCHEDULE"},
        ActionCase{"Fail", {"--", "/bin/sh", "-c", "exit 3"}, 1, "FAIL"},
        ActionCase{"FailOn75", {"--", "/bin/sh", "-c", "exit 75"}, 1, "FAIL"},
        ActionCase{"FailNotFound", {"--", "/nonexistent/command"}, 1, "FAIL"},
        ActionCase{"InvalidInput", {"--bogus", "--", "/bin/true"}, 1, "FAIL"},
        ActionCase{
            "InvalidSpec", {"--spec", testdata("invalid/exit-action-overlap.yaml")}, 1, "FAIL"}),
    [](const auto& param_info) { return param_info.param.name; });

TEST(ExitCodes, ResilientTaskUnderExitCodeFromAction) {
  TempDir dir;
  RunOptions options;
  options.env = {"EXIT_CODE=255"};
  auto r = run({"--status-file", dir / "s.json", "--exit-code-from", "action", "--spec",
                testdata("resilient-task.yaml")},
               options);
  EXPECT_EQ(r.exit_code, 75);
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["exit_code"], 255) << "exit_code stays the command's";
  EXPECT_EQ(s["supervisor_exit_code"], 75);
}

TEST(ExitCodes, ExitCodeFromCommandIsTheDefaultAndCanBeAsked) {
  TempDir dir;
  RunOptions options;
  options.unset_env = {"SUPERVISE_EXIT_CODE_FROM"};
  auto r = run({"--exit-action", "RESCHEDULE=3", "--", "/bin/sh", "-c", "exit 3"}, options);
  EXPECT_EQ(r.exit_code, 3);
  options.env = {"SUPERVISE_EXIT_CODE_FROM=action"};
  r = run({"--exit-code-from", "command", "--exit-action", "RESCHEDULE=3", "--", "/bin/sh", "-c",
           "exit 3"},
          options);
  EXPECT_EQ(r.exit_code, 3) << "the option wins over the environment";
}

}  // namespace
