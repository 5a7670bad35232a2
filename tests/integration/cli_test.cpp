// The command line as a user types it (SPEC.md "Invocation"): help, version, where the
// command starts, usage errors, --validate, and the shape of the supervisor's stderr.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;

namespace fs = std::filesystem;

// A command that leaves a mark when it runs, so a test can tell it never ran.
std::vector<std::string> marking_command(const TempDir& dir) {
  return {"/bin/sh", "-c", "touch '" + dir / "ran" + "'"};
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Usage errors: every stderr line is "supervise: command line: ...", exit 125, nothing
// runs, and the status says FAIL with an "invalid input: " error.
void expect_usage_error(const std::vector<std::string>& options,
                        const std::vector<std::string>& needles) {
  TempDir dir;
  std::string status = dir / "status.json";
  auto args =
      concat(concat({"--status-file", status}, options), concat({"--"}, marking_command(dir)));
  auto r = run(args);
  SCOPED_TRACE("args: " + testing::PrintToString(args) + "\nstderr:\n" + r.err);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_FALSE(fs::exists(dir / "ran")) << "the command must not run";
  auto err_lines = lines(r.err);
  ASSERT_FALSE(err_lines.empty());
  for (const auto& line : err_lines)
    EXPECT_EQ(line.rfind("supervise: command line: ", 0), 0u) << line;
  for (const auto& needle : needles) EXPECT_NE(r.err.find(needle), std::string::npos) << needle;
  ASSERT_TRUE(fs::exists(status));
  auto s = read_json(status);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 125);
  EXPECT_EQ(s["error"].get<std::string>().rfind("invalid input: ", 0), 0u) << s["error"];
  EXPECT_TRUE(s["started_at"].is_null());
  EXPECT_TRUE(s["duration_seconds"].is_null());
  EXPECT_EQ(s["supervisor_exit_code"], 125);
}

TEST(Cli, VersionPrintsTheVersionAndExitsZero) {
  auto r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "supervise 0.1.0\n");
}

TEST(Cli, HelpListsEveryOptionAndExitsZero) {
  auto r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option :
       {"--spec", "--task", "--status-file", "--termination-log", "--exit-action", "--checkpoint",
        "--stop-timeout", "--grace-period", "--timeout", "--signal-target", "--exit-code-from",
        "--validate", "--version", "--help"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option << " missing from --help:\n"
                                                     << r.out;
  EXPECT_NE(r.out.find("Usage"), std::string::npos);
}

TEST(Cli, HelpRunsNothing) {
  TempDir dir;
  auto r = run(concat({"--help", "--"}, marking_command(dir)));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(dir / "ran"));
}

TEST(Cli, CommandAfterDoubleDash) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(read_json(dir / "s.json")["command"], nlohmann::json({"/bin/sh", "-c", "exit 3"}));
}

TEST(Cli, CommandStartsAtTheFirstNonOption) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "/bin/sh", "-c", "exit 4"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(read_json(dir / "s.json")["command"], nlohmann::json({"/bin/sh", "-c", "exit 4"}));
}

TEST(Cli, OptionsAfterTheCommandBelongToTheCommand) {
  auto r = run({"/bin/echo", "x", "--version", "--bogus"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "x --version --bogus\n");
}

TEST(Cli, DoubleDashAfterTheCommandBelongsToTheCommand) {
  auto r = run({"--", "/bin/echo", "--", "a"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "-- a\n");
}

TEST(Cli, CommandIsLookedUpInPath) {
  auto r = run({"--", "sh", "-c", "exit 5"});
  EXPECT_EQ(r.exit_code, 5);
}

TEST(Cli, UnknownOptionIsAUsageError) {
  expect_usage_error({"--bogus"}, {"--bogus"});
}

TEST(Cli, BadTimeoutIsAUsageError) {
  expect_usage_error({"--timeout", "5x"}, {"--timeout: ", "\"5x\""});
}

TEST(Cli, ZeroAndNegativeDurationsAreUsageErrors) {
  expect_usage_error({"--stop-timeout", "0"}, {"--stop-timeout"});
  expect_usage_error({"--timeout", "-1s"}, {"--timeout"});
  expect_usage_error({"--grace-period", "soon"}, {"--grace-period"});
}

TEST(Cli, BadExitActionIsAUsageError) {
  expect_usage_error({"--exit-action", "RETRY=1"}, {"--exit-action"});
  expect_usage_error({"--exit-action", "RESCHEDULE=10-1"}, {"--exit-action", "10-1"});
  expect_usage_error({"--exit-action", "RESCHEDULE=256"}, {"--exit-action", "256"});
  expect_usage_error({"--exit-action", "RESCHEDULE"}, {"--exit-action"});
  expect_usage_error({"--exit-action", "FAIL=1,,2"}, {"--exit-action"});
}

TEST(Cli, ExitActionsOverlappingEachOtherNameBothActions) {
  expect_usage_error({"--exit-action", "RESCHEDULE=1-10", "--exit-action", "FAIL=5"},
                     {"5", "RESCHEDULE", "FAIL"});
}

TEST(Cli, BadCheckpointIsAUsageError) {
  expect_usage_error({"--checkpoint", "path=/tmp/x"}, {"--checkpoint", "url"});
  expect_usage_error({"--checkpoint", "path=/tmp/x,url=gcs://bucket/p,frequency=60s"},
                     {"--checkpoint", "gcs://bucket/p", "not a supported store URL"});
  // Each store's form (issue 17): the missing or wrong part, and the form.
  expect_usage_error({"--checkpoint", "path=/tmp/x,url=azure://acct,frequency=60s"},
                     {"--checkpoint", "azure://acct", "has no container name", "azure://account/container/prefix"});
  expect_usage_error({"--checkpoint", "path=/tmp/x,url=tos://bucket,frequency=60s"},
                     {"--checkpoint", "tos://bucket", "has no bucket name", "tos://endpoint/bucket/prefix"});
  expect_usage_error({"--checkpoint", "path=/tmp/x,url=swift://host/AUTH_a,frequency=60s"},
                     {"--checkpoint", "has no bucket name", "swift://endpoint/account/bucket/prefix"});
  expect_usage_error({"--checkpoint", "path=/tmp/x,url=gs://Bucket/p,frequency=60s"},
                     {"--checkpoint", "gs://Bucket/p", "bucket name"});
  expect_usage_error({"--checkpoint", "path=/tmp/x,url=file:///tmp/y,frequency=5x"},
                     {"--checkpoint", "5x"});
  expect_usage_error({"--checkpoint", "path=/tmp/x,url=file:///tmp/y,frequency=500ms"},
                     {"--checkpoint"});
  expect_usage_error({"--checkpoint", "path=/tmp/x,url=file:///tmp/y,frequency=60s,regex=a,(b"},
                     {"--checkpoint", "a,(b"});
}

TEST(Cli, CheckpointsStoringToTheSamePlaceAreAUsageError) {
  // a/ck and b/ck both store under <store>/ck: without the check the command would run
  // and the final rounds would write the store.
  TempDir dir;
  fs::create_directories(dir / "a/ck");
  fs::create_directories(dir / "b/ck");
  write_file(dir / "a/ck/model.pt", "a");
  write_file(dir / "b/ck/model.pt", "b");
  std::string status = dir / "status.json";
  std::string first = "path=a/ck,url=file://" + dir / "store" + ",frequency=1s";
  std::string second = "path=b/ck,url=file://" + dir / "store" + ",frequency=1s";
  RunOptions options;
  options.cwd = dir.path();  // the relative paths keep the option short enough to show whole
  auto r =
      run(concat({"--status-file", status, "--checkpoint", first, "--checkpoint", second, "--"},
                 marking_command(dir)),
          options);
  SCOPED_TRACE("stderr:\n" + r.err);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_FALSE(fs::exists(dir / "ran")) << "the command must not run";
  EXPECT_FALSE(fs::exists(dir / "store")) << "nothing may be stored";
  std::string message = "stores to the same place as --checkpoint " + first + " (\"file://" +
                        dir / "store/ck" + "\"): both would overwrite each other's files";
  if (second.size() <= 80) {  // longer options are shown quoted and cut (a long TMPDIR)
    EXPECT_EQ(r.err, "supervise: command line: --checkpoint " + second + ": " + message + "\n");
  } else {
    ASSERT_EQ(lines(r.err).size(), 1u);
    EXPECT_EQ(r.err.rfind("supervise: command line: --checkpoint ", 0), 0u);
    EXPECT_NE(r.err.find("both would overwrite each other's files"), std::string::npos);
  }
  auto s = read_json(status);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 125);
  EXPECT_EQ(s["supervisor_exit_code"], 125);
  EXPECT_TRUE(s["started_at"].is_null());
  EXPECT_NE(s["error"].get<std::string>().find("both would overwrite each other's files"),
            std::string::npos)
      << s["error"];
}

TEST(Cli, AStoreInsideItsPathThroughASymlinkIsAUsageError) {
  // As written the store is beside the path; through the link it is inside it, and each
  // round would copy the store into itself. Only start-up, which reads the file system,
  // can see that.
  TempDir dir;
  fs::create_directories(dir / "ck/inner");
  write_file(dir / "ck/model.pt", "m");
  fs::create_directory_symlink(dir / "ck/inner", dir / "link");
  std::string status = dir / "status.json";
  std::string option = "path=ck,url=file://" + dir / "link" + ",frequency=1s";
  RunOptions options;
  options.cwd = dir.path();
  auto r = run(concat({"--status-file", status, "--checkpoint", option, "--"}, marking_command(dir)), options);
  SCOPED_TRACE("stderr:\n" + r.err);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_FALSE(fs::exists(dir / "ran")) << "the command must not run";
  EXPECT_TRUE(fs::is_empty(dir / "ck/inner")) << "nothing may be stored";
  EXPECT_EQ(r.err.rfind("supervise: command line: --checkpoint ", 0), 0u);
  EXPECT_EQ(lines(r.err).size(), 1u);
  auto s = read_json(status);
  EXPECT_EQ(s["exit_code"], 125);
  EXPECT_TRUE(s["started_at"].is_null());
}

TEST(Cli, BadExitCodeFromIsAUsageError) {
  expect_usage_error({"--exit-code-from", "bogus"}, {"--exit-code-from"});
}

TEST(Cli, BadSignalTargetIsAUsageError) {
  expect_usage_error({"--signal-target", "everyone"}, {"--signal-target"});
}

TEST(Cli, OptionWithoutItsValueIsAUsageError) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--timeout"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("supervise: command line: --timeout"), std::string::npos) << r.err;
}

TEST(Cli, EveryProblemIsReportedOnItsOwnLine) {
  auto r = run({"--bogus", "--stop-timeout", "soon", "--", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(lines(r.err).size(), 2u) << r.err;

  r = run({"--exit-action", "RETRY=1", "--checkpoint", "path=/tmp/x", "--", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_GE(lines(r.err).size(), 2u) << r.err;
}

TEST(Cli, EveryProblemIsReportedEvenAcrossOptionKinds) {
  // --exit-action and --checkpoint are checked with the spec, after the other options;
  // a bad --timeout must not hide their problems.
  expect_usage_error({"--bogus", "--timeout", "5x", "--exit-action", "RETRY=1"},
                     {"--bogus", "--timeout", "--exit-action RETRY=1"});
  auto r = run({"--bogus", "--timeout", "5x", "--exit-action", "RETRY=1", "--", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(lines(r.err).size(), 3u) << r.err;
}

TEST(Cli, NoCommandAtAllIsAUsageError) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err.rfind("supervise: command line: ", 0), 0u) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["action"], "FAIL");
}

TEST(Cli, TaskWithoutSpecIsAUsageError) {
  expect_usage_error({"--task", "train"}, {"--task"});
}

TEST(Cli, UsageErrorWritesTheStatusNamedByTheEnvironment) {
  TempDir dir;
  std::string status = dir / "from-env/status.json";
  RunOptions options;
  options.env = {"SUPERVISE_STATUS_FILE=" + status};
  auto r = run({"--bogus", "--", "true"}, options);
  EXPECT_EQ(r.exit_code, 125);
  ASSERT_TRUE(fs::exists(status));
  auto s = read_json(status);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 125);
  EXPECT_EQ(s["error"].get<std::string>().rfind("invalid input: ", 0), 0u);
}

TEST(Cli, UnreadableSpecNamesTheFileAsGiven) {
  TempDir dir;
  RunOptions options;
  options.cwd = dir.path();
  auto r = run({"--status-file", "s.json", "--spec", "missing/spec.yaml"}, options);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err.rfind("supervise: missing/spec.yaml: ", 0), 0u) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["error"].get<std::string>().rfind("invalid input: ", 0), 0u);
}

TEST(Cli, SpecErrorNamesTheFileAsGiven) {
  RunOptions options;
  options.cwd = testdata("invalid");
  auto r = run({"--spec", "frequency-not-duration.yaml"}, options);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "supervise: frequency-not-duration.yaml: tasks[0].checkpoint[1].frequency: \"5x\" is "
            "not a duration\n");
}

// ---- --validate ----------------------------------------------------------------------

TEST(Validate, SingleTaskPrintsOk) {
  auto r = run({"--validate", "--spec", testdata("single-task.yaml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: hello\n");
}

TEST(Validate, WorkflowWithoutTaskValidatesEveryTask) {
  auto r = run({"--validate", "--spec", testdata("workflow-groups.yaml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: download\nok: master\nok: worker\n");

  auto multi = run({"--validate", "--spec", testdata("multi-task.yaml")});
  EXPECT_EQ(multi.exit_code, 0) << multi.err;
  EXPECT_EQ(multi.out, "ok: preprocess\nok: train\nok: evaluate\n");

  // Running it needs --task; validating it does not.
  auto two = run({"--validate", "--spec", testdata("invalid/two-tasks.yaml")});
  EXPECT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(two.out, "ok: first\nok: second\n");
}

TEST(Validate, WithTaskValidatesThatTask) {
  auto r = run({"--validate", "--spec", testdata("multi-task.yaml"), "--task", "train"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: train\n");
}

TEST(Validate, UnknownTaskIs125) {
  auto r = run({"--validate", "--spec", testdata("multi-task.yaml"), "--task", "nope"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.rfind("supervise: " + testdata("multi-task.yaml") + ": ", 0), 0u) << r.err;
}

TEST(Validate, RunsNothingAndWritesNoFile) {
  TempDir dir;
  std::string declared = dir / "declared/file.txt";
  write_file(dir / "spec.yaml",
             "name: v\n"
             "command: [/bin/sh, -c, \"touch '" +
                 dir / "ran" +
                 "'\"]\n"
                 "files:\n"
                 "- path: " +
                 declared +
                 "\n"
                 "  contents: hi\n");
  auto r = run({"--validate", "--spec", dir / "spec.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: v\n");
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_FALSE(fs::exists(declared));
}

TEST(Validate, ChecksCommandLineOptionsToo) {
  auto r =
      run({"--validate", "--spec", testdata("single-task.yaml"), "--exit-action", "RESCHEDULE=1"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("FAIL"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("RESCHEDULE"), std::string::npos) << r.err;
}

// ---- the supervisor's own stderr -----------------------------------------------------

TEST(Log, EveryLineOfTheSupervisorStartsWithItsPrefix) {
  // /bin/true writes nothing: whatever is on stderr is the supervisor's.
  auto r = run({"--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_FALSE(r.err.empty()) << "the supervisor logs at least its start at the default level";
  for (const auto& line : lines(r.err)) EXPECT_EQ(line.rfind("[supervise] ", 0), 0u) << line;
}

TEST(Log, ArgumentsWithNewlinesDoNotBreakThePrefix) {
  // BUG: the "started ..." log line prints the command verbatim, so an argument holding
  // a newline (resilient-task.yaml's script) starts a stderr line without "[supervise] ";
  // an argument can even forge a whole "[supervise] ... error: ..." line.
  auto r = run({"--", "/bin/sh", "-c", "true\ntrue\n"});
  EXPECT_EQ(r.exit_code, 0);
  for (const auto& line : lines(r.err)) EXPECT_EQ(line.rfind("[supervise] ", 0), 0u) << line;
}

TEST(Log, CommandOutputIsNotTouched) {
  auto r = run({"--", "/bin/sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "out\n");
  bool found = false;
  for (const auto& line : lines(r.err)) found = found || line == "err";
  EXPECT_TRUE(found) << r.err;
}

}  // namespace
