// Running tasks from spec files (SPEC.md "Task spec"): the shapes of a spec file, the
// fixtures a user would bring, the environment, and exit actions from spec and options.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;

namespace fs = std::filesystem;

TEST(SpecRun, SingleTaskObject) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata("single-task.yaml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from supervise\n");
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["task"], "hello");
  EXPECT_EQ(s["action"], "COMPLETE");
  EXPECT_EQ(s["command"], nlohmann::json({"/bin/echo", "hello", "from", "supervise"}));
}

TEST(SpecRun, TopLevelTasksList) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata("top-level-tasks.yaml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["task"], "sleeper");
  EXPECT_EQ(s["action"], "COMPLETE");
}

TEST(SpecRun, WorkflowGroupsPickTheTask) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata("workflow-groups.yaml"),
                "--task", "worker"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "worker rank 1\n");
  EXPECT_EQ(read_json(dir / "s.json")["task"], "worker");

  // master has an s3:// checkpoint: its store needs credentials at start-up (these
  // are never used: the checkpoint path does not exist, so nothing is uploaded).
  RunOptions with_credentials;
  with_credentials.env = {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example",
                          "AWS_ENDPOINT_URL=http://127.0.0.1:9"};
  auto other = run({"--spec", testdata("workflow-groups.yaml"), "--task", "master"}, with_credentials);
  EXPECT_EQ(other.exit_code, 0) << other.err;
  EXPECT_EQ(other.out, "master rank 0\n");

  // Without credentials the task does not start: a clear error, exit 125.
  RunOptions without;
  without.unset_env = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SHARED_CREDENTIALS_FILE"};
  without.env = {"HOME=" + dir.path().string()};
  auto refused = run({"--spec", testdata("workflow-groups.yaml"), "--task", "master"}, without);
  EXPECT_EQ(refused.exit_code, 125);
  EXPECT_NE(refused.err.find("no S3 credentials"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out, "");
}

TEST(SpecRun, WorkflowWithSeveralTasksNeedsTask) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata("multi-task.yaml")});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("--task"), std::string::npos) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["action"], "FAIL");
}

TEST(SpecRun, UnknownTaskIs125AndListsTheTasks) {
  TempDir dir;
  auto r = run(
      {"--status-file", dir / "s.json", "--spec", testdata("multi-task.yaml"), "--task", "nope"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("preprocess"), std::string::npos) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["action"], "FAIL");
}

// ---- resilient-task.yaml: COMPLETE: 0, RESCHEDULE: 1-255 ------------------------------

struct ResilientCase {
  const char* exit_code;  // nullptr: EXIT_CODE unset
  int expected_code;
  const char* action;
  const char* rule;
};

// What gtest shows for a case (instead of its bytes, which hold pointers).
void PrintTo(const ResilientCase& c, std::ostream* os) { *os << "EXIT_CODE=" << (c.exit_code ? c.exit_code : "(unset)"); }

class ResilientTask : public testing::TestWithParam<ResilientCase> {};

TEST_P(ResilientTask, MapsTheExitCode) {
  const auto& c = GetParam();
  TempDir dir;
  RunOptions options;
  if (c.exit_code)
    options.env = {std::string("EXIT_CODE=") + c.exit_code};
  else
    options.unset_env = {"EXIT_CODE"};
  auto r =
      run({"--status-file", dir / "s.json", "--spec", testdata("resilient-task.yaml")}, options);
  EXPECT_EQ(r.exit_code, c.expected_code) << r.err;
  EXPECT_EQ(r.out, "resilient-task: exiting with " + std::to_string(c.expected_code) + "\n");
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["task"], "resilient-task");
  EXPECT_EQ(s["action"], c.action);
  EXPECT_EQ(s["exit_code"], c.expected_code);
  EXPECT_EQ(s["matched_rule"], c.rule);
  EXPECT_TRUE(s["error"].is_null());
  EXPECT_TRUE(s["signal"].is_null());
  EXPECT_EQ(s["supervisor_exit_code"], c.expected_code);
}

INSTANTIATE_TEST_SUITE_P(ExitCodes, ResilientTask,
                         testing::Values(ResilientCase{nullptr, 0, "COMPLETE", "COMPLETE: 0"},
                                         ResilientCase{"0", 0, "COMPLETE", "COMPLETE: 0"},
                                         ResilientCase{"1", 1, "RESCHEDULE", "RESCHEDULE: 1-255"},
                                         ResilientCase{"42", 42, "RESCHEDULE", "RESCHEDULE: 1-255"},
                                         ResilientCase{"255", 255, "RESCHEDULE",
                                                       "RESCHEDULE: 1-255"}),
                         [](const auto& info) {
                           return std::string(info.param.exit_code ? info.param.exit_code : "unset");
                         });

// ---- train-with-checkpointing.{yaml,json}: writes /tmp/run.sh, runs it with bash ---------

class TrainWithCheckpointing : public testing::TestWithParam<std::string> {};

TEST_P(TrainWithCheckpointing, WritesTheScriptAndCompletes) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata(GetParam())});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("training done"), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat("/tmp/run.sh", &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(test_support::read_file("/tmp/run.sh").rfind("#!/bin/bash\nset -eu\n", 0), 0u);
  EXPECT_TRUE(fs::exists("/tmp/checkpoints/model-1.pt"));
  EXPECT_TRUE(fs::exists("/tmp/checkpoints/meta.json"));

  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["task"], "train");
  EXPECT_EQ(s["action"], "COMPLETE");
  EXPECT_EQ(s["matched_rule"], "COMPLETE: 0");
  EXPECT_EQ(s["command"], nlohmann::json({"/bin/bash", "/tmp/run.sh"}));
  ASSERT_TRUE(s["checkpoints"].is_array());
  ASSERT_EQ(s["checkpoints"].size(), 1u);
  const auto& c = s["checkpoints"][0];
  EXPECT_EQ(c["path"], "/tmp/checkpoints");
  EXPECT_EQ(c["url"], "file:///tmp/supervise-checkpoints");
  EXPECT_TRUE(c["rounds"].is_number_integer());
  EXPECT_TRUE(c["failed_rounds"].is_number_integer());
  EXPECT_TRUE(c.contains("final"));
}

INSTANTIATE_TEST_SUITE_P(Formats, TrainWithCheckpointing,
                         testing::Values("train-with-checkpointing.yaml",
                                         "train-with-checkpointing.json"),
                         [](const auto& param_info) {
                           return param_info.param.substr(param_info.param.rfind('.') + 1);
                         });

// ---- the command line replaces the spec's command -------------------------------------

TEST(SpecRun, CommandLineReplacesCommandAndArgs) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata("resilient-task.yaml"), "--",
                "/bin/sh", "-c", "exit 7"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_EQ(r.out, "") << "the spec's command must not run";
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["task"], "resilient-task");
  EXPECT_EQ(s["command"], nlohmann::json({"/bin/sh", "-c", "exit 7"}));
  EXPECT_EQ(s["action"], "RESCHEDULE") << "the spec's exitActions still apply";
  EXPECT_EQ(s["matched_rule"], "RESCHEDULE: 1-255");
}

TEST(SpecRun, SpecWithoutCommandTakesItFromTheCommandLine) {
  TempDir dir;
  write_file(dir / "spec.yaml", "name: nocmd\nexitActions:\n  RESCHEDULE: 3\n");
  auto r = run({"--status-file", dir / "s.json", "--spec", dir / "spec.yaml", "--", "/bin/sh", "-c",
                "exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["task"], "nocmd");
  EXPECT_EQ(s["action"], "RESCHEDULE");
}

// ---- environment ------------------------------------------------------------------------

TEST(SpecRun, EnvironmentIsInheritedAndTheSpecWins) {
  TempDir dir;
  write_file(dir / "spec.yaml",
             "name: env\n"
             "command: [/bin/sh, -c, 'printf \"%s|%s|%s\" \"$FOO\" \"$KEPT\" \"$NEW\"']\n"
             "environment:\n"
             "  FOO: from-spec\n"
             "  NEW: \"with spaces = and 'quotes'\"\n");
  RunOptions options;
  options.env = {"FOO=inherited", "KEPT=kept"};
  options.unset_env = {"NEW"};
  auto r = run({"--spec", dir / "spec.yaml"}, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from-spec|kept|with spaces = and 'quotes'");
}

TEST(SpecRun, EnvironmentAppliesToACommandFromTheCommandLine) {
  TempDir dir;
  write_file(dir / "spec.yaml",
             "name: env\ncommand: [/bin/false]\nenvironment: {FOO: from-spec}\n");
  RunOptions options;
  options.env = {"FOO=inherited"};
  auto r = run({"--spec", dir / "spec.yaml", "--", "/bin/sh", "-c", "printf %s \"$FOO\""}, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from-spec");
}

TEST(SpecRun, WorkingDirectoryIsTheSupervisors) {
  TempDir dir;
  RunOptions options;
  options.cwd = dir.path();
  auto r = run({"--", "/bin/sh", "-c", "pwd -P"}, options);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, fs::canonical(dir.path()).string() + "\n");
}

// ---- exit actions -----------------------------------------------------------------------

TEST(ExitActions, KeysInAnyLetterCase) {
  // single-task.yaml says "complete: 0" and "fail: 1-255".
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata("single-task.yaml"), "--",
                "/bin/sh", "-c", "exit 1"});
  EXPECT_EQ(r.exit_code, 1);
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["matched_rule"], "FAIL: 1-255");
}

TEST(ExitActions, CommandLineRulesAddToTheSpec) {
  TempDir dir;
  write_file(dir / "spec.yaml", "name: t\nexitActions:\n  COMPLETE: 0\n  RESCHEDULE: 1-9\n");
  auto run_with = [&](int code) {
    auto r = run({"--status-file", dir / "s.json", "--spec", dir / "spec.yaml", "--exit-action",
                  "FAIL=10-20", "--exit-action", "complete=100", "--", "/bin/sh", "-c",
                  "exit " + std::to_string(code)});
    EXPECT_EQ(r.exit_code, code) << r.err;
    return read_json(dir / "s.json");
  };
  auto s = run_with(5);
  EXPECT_EQ(s["action"], "RESCHEDULE");
  EXPECT_EQ(s["matched_rule"], "RESCHEDULE: 1-9");
  s = run_with(15);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["matched_rule"], "FAIL: 10-20");
  s = run_with(100);
  EXPECT_EQ(s["action"], "COMPLETE");
  EXPECT_EQ(s["matched_rule"], "COMPLETE: 100");
  s = run_with(30);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_TRUE(s["matched_rule"].is_null()) << "no rule covers 30: the default applies";
}

TEST(ExitActions, DefaultsWithoutRules) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0);
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "COMPLETE");
  EXPECT_TRUE(s["matched_rule"].is_null());

  r = run({"--status-file", dir / "s.json", "--", "/bin/false"});
  EXPECT_EQ(r.exit_code, 1);
  s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_TRUE(s["matched_rule"].is_null());
}

TEST(ExitActions, OverlapWithTheSpecIsAnErrorNamingBothActions) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--spec", testdata("resilient-task.yaml"),
                "--exit-action", "FAIL=3", "--", "/bin/sh", "-c", "touch '" + dir / "ran" + "'"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_EQ(r.err.rfind("supervise: command line: --exit-action", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("RESCHEDULE"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("FAIL"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" 3 "), std::string::npos) << "names the code: " << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 125);
}

TEST(ExitActions, SignalNameStandsFor128PlusItsNumber) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--exit-action", "RESCHEDULE=SIGKILL",
                "--exit-action", "COMPLETE=TERM", "--", "/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(r.exit_code, 137);
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "RESCHEDULE");
  EXPECT_EQ(s["signal"], "SIGKILL");

  r = run({"--status-file", dir / "s.json", "--exit-action", "RESCHEDULE=SIGKILL", "--exit-action",
           "COMPLETE=TERM", "--", "/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.exit_code, 143);
  EXPECT_EQ(read_json(dir / "s.json")["action"], "COMPLETE");
}

TEST(ExitActions, BlanksAroundItemsAreAllowed) {
  TempDir dir;
  write_file(dir / "spec.yaml", "name: t\nexitActions:\n  RESCHEDULE: \" 1 , 3-4 ,200\"\n");
  auto r = run({"--status-file", dir / "s.json", "--spec", dir / "spec.yaml", "--", "/bin/sh", "-c",
                "exit 4"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["action"], "RESCHEDULE");
}

}  // namespace
