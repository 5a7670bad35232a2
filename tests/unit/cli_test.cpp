#include "supervise/cli.hpp"

#include <gtest/gtest.h>

#include <map>

#include "supervise/diagnostics.hpp"

namespace supervise::cli {
namespace {

using namespace std::chrono_literals;

GetEnv env_of(std::map<std::string, std::string> vars = {}) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

Options parse_ok(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
  return parse(args, env_of(std::move(env)));
}

// Every message of a failed parse, joined.
std::string parse_error(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
  try {
    parse(args, env_of(std::move(env)));
  } catch (const InputError& e) {
    return e.diagnostics().to_string();
  }
  return "";
}

TEST(Cli, CommandAfterDoubleDash) {
  Options o = parse_ok({"--", "echo", "--spec", "x"});
  EXPECT_EQ(o.overrides.command, (std::vector<std::string>{"echo", "--spec", "x"}));
  EXPECT_EQ(o.mode, Options::Mode::kRun);
}

TEST(Cli, CommandAtFirstNonOption) {
  Options o = parse_ok({"--stop-timeout", "2s", "sleep", "-v", "5"});
  EXPECT_EQ(o.overrides.command, (std::vector<std::string>{"sleep", "-v", "5"}));
  EXPECT_EQ(o.stop_timeout, 2s);
}

TEST(Cli, Defaults) {
  Options o = parse_ok({"--", "true"});
  EXPECT_EQ(o.stop_timeout, 10s);
  EXPECT_EQ(o.grace_period, 30s);
  EXPECT_FALSE(o.timeout);
  EXPECT_EQ(o.signal_target, SignalTarget::kGroup);
  EXPECT_EQ(o.exit_code_from, ExitCodeFrom::kCommand);
  EXPECT_EQ(o.log_level, spdlog::level::info);
  EXPECT_FALSE(o.status_file);
}

TEST(Cli, ValuesWithEqualsOrSeparate) {
  Options o = parse_ok({"--spec=a.yaml", "--task", "train", "--status-file=/s.json", "--termination-log",
                        "/dev/termination-log", "--timeout=1h30m", "--grace-period", "PT1M",
                        "--signal-target=child", "--exit-code-from", "action", "--log-level=trace"});
  EXPECT_EQ(o.spec_path, "a.yaml");
  EXPECT_EQ(o.task_name, "train");
  EXPECT_EQ(o.status_file, "/s.json");
  EXPECT_EQ(o.termination_log, "/dev/termination-log");
  EXPECT_EQ(o.timeout, 90min);
  EXPECT_EQ(o.grace_period, 60s);
  EXPECT_EQ(o.signal_target, SignalTarget::kChild);
  EXPECT_EQ(o.exit_code_from, ExitCodeFrom::kAction);
  EXPECT_EQ(o.log_level, spdlog::level::trace);
}

TEST(Cli, RepeatableOptionsKeepOrder) {
  Options o = parse_ok({"--exit-action", "COMPLETE=0", "--exit-action=RESCHEDULE=1-255", "--checkpoint",
                        "path=/a,url=file:///b,frequency=5s,regex=x,y", "--", "true"});
  EXPECT_EQ(o.overrides.exit_actions, (std::vector<std::string>{"COMPLETE=0", "RESCHEDULE=1-255"}));
  ASSERT_EQ(o.overrides.checkpoints.size(), 1u);
  EXPECT_EQ(o.overrides.checkpoints[0], "path=/a,url=file:///b,frequency=5s,regex=x,y");
}

TEST(Cli, Verbosity) {
  EXPECT_EQ(parse_ok({"-v", "--", "true"}).log_level, spdlog::level::debug);
  EXPECT_EQ(parse_ok({"-vv", "--", "true"}).log_level, spdlog::level::trace);
  EXPECT_EQ(parse_ok({"-v", "-v", "--", "true"}).log_level, spdlog::level::trace);
  EXPECT_EQ(parse_ok({"--verbose", "--", "true"}).log_level, spdlog::level::debug);
  EXPECT_EQ(parse_ok({"-q", "--", "true"}).log_level, spdlog::level::warn);
}

TEST(Cli, EnvironmentAndOptionPrecedence) {
  std::map<std::string, std::string> env = {{"SUPERVISE_STATUS_FILE", "/env.json"},
                                            {"SUPERVISE_LOG_LEVEL", "error"},
                                            {"SUPERVISE_EXIT_CODE_FROM", "action"}};
  Options from_env = parse_ok({"--", "true"}, env);
  EXPECT_EQ(from_env.status_file, "/env.json");
  EXPECT_EQ(from_env.log_level, spdlog::level::err);
  EXPECT_EQ(from_env.exit_code_from, ExitCodeFrom::kAction);
  Options from_option =
      parse_ok({"--status-file", "/opt.json", "--log-level", "info", "--exit-code-from", "command", "--", "true"}, env);
  EXPECT_EQ(from_option.status_file, "/opt.json");
  EXPECT_EQ(from_option.log_level, spdlog::level::info);
  EXPECT_EQ(from_option.exit_code_from, ExitCodeFrom::kCommand);
}

TEST(Cli, RestoreFromTheOptionOrTheEnvironment) {
  EXPECT_FALSE(parse_ok({"--", "true"}).overrides.restore.has_value()) << "each entry's own";
  EXPECT_EQ(parse_ok({"--restore", "--", "true"}).overrides.restore, true);
  for (auto [value, expected] : {std::pair{"true", true}, {"1", true}, {"false", false}, {"0", false}})
    EXPECT_EQ(parse_ok({"--", "true"}, {{"SUPERVISE_RESTORE", value}}).overrides.restore, expected) << value;
  EXPECT_EQ(parse_ok({"--restore", "--", "true"}, {{"SUPERVISE_RESTORE", "false"}}).overrides.restore, true)
      << "the command line wins";
  Diagnostics problems;
  parse({"--", "true"}, [](const std::string& n) -> std::optional<std::string> {
    return n == "SUPERVISE_RESTORE" ? std::optional<std::string>("yes") : std::nullopt;
  }, problems);
  ASSERT_EQ(problems.items().size(), 1u);
  EXPECT_EQ(problems.items()[0].to_string(), "command line: SUPERVISE_RESTORE: \"yes\" is not true, false, 1 or 0");
}

TEST(Cli, Modes) {
  EXPECT_EQ(parse_ok({"--help"}).mode, Options::Mode::kHelp);
  EXPECT_EQ(parse_ok({"-h", "--bogus"}).mode, Options::Mode::kHelp);  // help answers anyway
  EXPECT_EQ(parse_ok({"--version"}).mode, Options::Mode::kVersion);
  EXPECT_EQ(parse_ok({"--validate", "--spec", "x.yaml"}).mode, Options::Mode::kValidate);
}

struct BadArgs {
  std::vector<std::string> args;
  std::string expected;  // substring of the message
};

class CliErrors : public ::testing::TestWithParam<BadArgs> {};

TEST_P(CliErrors, AreLocatedAndClear) {
  std::string message = parse_error(GetParam().args);
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << message;
  EXPECT_EQ(message.rfind("command line: ", 0), 0u) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CliErrors,
    ::testing::Values(
        BadArgs{{}, "no command"},
        BadArgs{{"--stop-timeout", "2s"}, "no command"},
        BadArgs{{"--bogus", "--", "true"}, "--bogus: unknown option"},
        BadArgs{{"-x", "--", "true"}, "-x: unknown option"},
        BadArgs{{"--version=3", "--", "true"}, "--version: unknown option"},
        BadArgs{{"--spec"}, "--spec: needs a value"},
        BadArgs{{"--timeout", "soon", "--", "true"}, "--timeout: \"soon\" is not a duration"},
        BadArgs{{"--stop-timeout", "0", "--", "true"}, "--stop-timeout: \"0\" is zero"},
        BadArgs{{"--grace-period", "-1s", "--", "true"}, "--grace-period: \"-1s\" is negative"},
        BadArgs{{"--signal-target", "all", "--", "true"}, "--signal-target: \"all\" is not group or child"},
        BadArgs{{"--exit-code-from", "x", "--", "true"}, "--exit-code-from: \"x\" is not command or action"},
        BadArgs{{"--log-level", "loud", "--", "true"}, "--log-level: \"loud\" is not a log level"},
        BadArgs{{"--timeout", "1s", "--timeout", "2s", "--", "true"}, "--timeout: is given more than once"},
        BadArgs{{"--task", "a", "--", "true"}, "--task: needs --spec"}),
    [](const auto& param) { return "Case" + std::to_string(param.index); });

TEST(Cli, EveryProblemIsReported) {
  try {
    parse({"--timeout", "x", "--signal-target", "y", "--bogus"}, env_of());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.diagnostics().items().size(), 4u) << e.what();  // 3 bad options + no command
  }
}

TEST(Cli, LenientParseKeepsWhatItCouldRead) {
  Diagnostics problems;
  Options o = parse({"--bogus", "--status-file", "/s.json", "--termination-log=/t", "--timeout", "x", "--task", "x",
                     "--exit-code-from", "action", "--", "cmd", "arg"},
                    env_of(), problems);
  EXPECT_EQ(problems.items().size(), 3u) << problems.to_string();  // --bogus, --timeout, --task without --spec
  EXPECT_EQ(o.status_file, "/s.json");
  EXPECT_EQ(o.termination_log, "/t");
  EXPECT_EQ(o.task_name, "x");
  EXPECT_EQ(o.exit_code_from, ExitCodeFrom::kAction);
  EXPECT_EQ(o.overrides.command, (std::vector<std::string>{"cmd", "arg"}));
  Diagnostics none;
  EXPECT_EQ(parse({}, env_of({{"SUPERVISE_STATUS_FILE", "/e"}}), none).status_file, "/e");
}

TEST(Cli, ActionExitCodes) {
  EXPECT_EQ(action_exit_code(spec::Action::kComplete), 0);
  EXPECT_EQ(action_exit_code(spec::Action::kReschedule), 75);
  EXPECT_EQ(action_exit_code(spec::Action::kFail), 1);
}

TEST(Cli, HelpListsEveryOptionWithItsDefault) {
  std::string help = help_text();
  for (const char* option : {"--spec", "--task", "--status-file", "--termination-log", "--exit-action",
                             "--checkpoint", "--stop-timeout", "--grace-period", "--timeout", "--signal-target",
                             "--exit-code-from", "--log-level", "--validate", "--version", "--help", "--restore",
                             "SUPERVISE_RESTORE"})
    EXPECT_NE(help.find(option), std::string::npos) << option;
  for (const char* default_text : {"default 10s", "default 30s", "default group", "default info"})
    EXPECT_NE(help.find(default_text), std::string::npos) << default_text;
}

}  // namespace
}  // namespace supervise::cli
