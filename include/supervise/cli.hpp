// The command line (SPEC.md "Invocation"): options into an Options value. Pure: the
// environment is passed in. Usage errors are InputError with source "command line".
#pragma once

#include <spdlog/common.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "supervise/diagnostics.hpp"
#include "supervise/spec/duration.hpp"
#include "supervise/spec/loader.hpp"
#include "supervise/supervisor.hpp"

namespace supervise::cli {

enum class ExitCodeFrom { kCommand, kAction };

struct Options {
  enum class Mode { kRun, kValidate, kHelp, kVersion };
  Mode mode = Mode::kRun;
  std::optional<std::string> spec_path;
  std::optional<std::string> task_name;
  std::optional<std::string> status_file;
  std::optional<std::string> termination_log;
  spec::Overrides overrides;  // command after "--", --exit-action, --checkpoint, --restore
  spec::Duration stop_timeout = std::chrono::seconds(10);
  spec::Duration grace_period = std::chrono::seconds(30);
  std::optional<spec::Duration> timeout;
  SignalTarget signal_target = SignalTarget::kGroup;
  ExitCodeFrom exit_code_from = ExitCodeFrom::kCommand;
  spdlog::level::level_enum log_level = spdlog::level::info;
  bool manifest = true;  // --no-manifest turns the checkpoint manifests off
};

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;

// Parses argv (without argv[0]). Reads SUPERVISE_STATUS_FILE, SUPERVISE_LOG_LEVEL,
// SUPERVISE_EXIT_CODE_FROM and SUPERVISE_RESTORE through getenv. Every problem goes to `problems`; the options
// returned are what could be read, so that a status can still be written where asked.
Options parse(const std::vector<std::string>& args, const GetEnv& getenv, Diagnostics& problems);

// The same, throwing InputError listing every problem.
Options parse(const std::vector<std::string>& args, const GetEnv& getenv);

std::string help_text();
std::string version_text();

// The supervisor's exit code for an action under --exit-code-from=action.
int action_exit_code(spec::Action action);

}  // namespace supervise::cli
