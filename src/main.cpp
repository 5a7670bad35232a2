// supervise: wiring only. Each step is a module call; see README.md and docs/design.md.
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "supervise/cli.hpp"
#include "supervise/diagnostics.hpp"
#include "supervise/files.hpp"
#include "supervise/fs.hpp"
#include "supervise/log.hpp"
#include "supervise/outcome.hpp"
#include "supervise/process/child.hpp"
#include "supervise/spec/store_url.hpp"
#include "supervise/startup_restore.hpp"
#include "supervise/spec/loader.hpp"
#include "supervise/supervisor.hpp"

using namespace supervise;

namespace {

std::optional<std::string> get_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? std::optional<std::string>(v) : std::nullopt;
}

// Writes the status wherever it is wanted and returns the supervisor's exit code.
// A status that cannot be written is logged; it never changes the exit code.
int finish(const status::Status& s, const std::optional<std::string>& status_file,
           const std::optional<std::string>& termination_log) {
  if (status_file) {
    try {
      status::write(*status_file, s);
    } catch (const std::exception& e) {
      spdlog::error("status not written: {}", e.what());
    }
  }
  if (termination_log) {
    try {
      status::write_compact(*termination_log, s);
    } catch (const std::exception& e) {
      spdlog::error("termination log not written: {}", e.what());
    }
  }
  return s.supervisor_exit_code;
}

int run_task(const cli::Options& options, const spec::Task& task,
             const process::InheritedSignals& inherited) {
  // Stores are made before anything is written: one that cannot work is invalid input.
  std::vector<checkpoint::Configured> checkpoints = checkpoint::configure(task.checkpoints);
  // Orphans of the task become our children even when we are not PID 1.
  if (::getpid() != 1 && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    spdlog::warn("cannot become a child subreaper: {}", std::strerror(errno));
  // The last stored checkpoint comes back first: declared files then win over it.
  StartupRestore restored = restore_before_start(checkpoints, inherited, options.grace_period, {});
  if (!restored.ok) {
    spdlog::error("restore: {}", restored.error);
    std::vector<status::Checkpoint> statuses;
    for (const auto& c : checkpoints)
      statuses.push_back({c.entry.path, spec::redact_url(c.entry.url.text), 0, 0, std::nullopt, c.restore, {}});
    auto s = outcome::restore_failed(task, std::move(statuses), restored.error, restored.transient, restored.stop,
                                     options.exit_code_from);
    spdlog::info("exit code {} -> {} (the command did not run)", s.exit_code, spec::to_string(s.action));
    int code = finish(s, options.status_file, options.termination_log);
    if (restored.abandoned) std::_Exit(code);  // a restore still runs on its thread
    return code;
  }
  try {
    files::write_declared(task.files);
  } catch (const fs::FileError& e) {
    spdlog::error("{}", e.what());
    return finish(outcome::before_start(task.name, task.command, e.what(), options.exit_code_from),
                  options.status_file, options.termination_log);
  }
  RunOptions run_options{task.command,          process::merged_environment(task.environment),
                         options.stop_timeout,  options.grace_period,
                         options.timeout,       options.signal_target,
                         std::move(checkpoints), {options.manifest, {}}, {}};
  // A runtime may kill us before the final document is written (SPEC.md "The stop
  // budget"): at the stop request, the outcome as it would be if the command died of it.
  run_options.on_stop_requested = [&](const RunResult& provisional) {
    status::Status s = outcome::after_run(task, provisional, options.exit_code_from);
    s.provisional = true;
    spdlog::debug("provisional status: exit code {} -> {}", s.exit_code, spec::to_string(s.action));
    finish(s, options.status_file, options.termination_log);
  };
  RunResult result = run(run_options, inherited);
  status::Status s = outcome::after_run(task, result, options.exit_code_from);
  if (s.error && !result.exec_failure) spdlog::error("{}", *s.error);  // an exec failure was said at once
  spdlog::info("exit code {} -> {}{}", s.exit_code, spec::to_string(s.action),
               s.matched_rule ? " (" + *s.matched_rule + ")" : " (default)");
  int code = finish(s, options.status_file, options.termination_log);
  // A checkpoint round abandoned at the end of the grace period may still be running
  // on its thread: leave now, without destructors racing it.
  if (result.abandoned_work) std::_Exit(code);
  return code;
}

}  // namespace

// Every problem of the options and the spec, or the tasks to run.
std::vector<spec::Task> load_tasks(const cli::Options& options, Diagnostics problems) {
  bool nothing_to_load = !options.spec_path && options.overrides.command.empty();  // cli said so
  if (!nothing_to_load) {
    try {
      std::error_code ec;
      spec::LoadRequest request{std::nullopt, options.task_name,
                                options.mode == cli::Options::Mode::kValidate, options.overrides,
                                std::filesystem::current_path(ec).string()};
      if (options.spec_path) request.source = spec::read_source(*options.spec_path);
      std::vector<spec::Task> tasks = spec::load(request);
      if (problems.empty()) return tasks;
    } catch (const InputError& e) {
      problems.append(e.diagnostics());
    }
  }
  throw InputError(std::move(problems));
}

int main(int argc, char** argv) {
  // First, before anything changes them: the signal state the command must inherit.
  const auto inherited = process::InheritedSignals::capture();
  process::ignore_write_signals();
  std::vector<std::string> args(argv + 1, argv + argc);
  Diagnostics cli_problems;
  const cli::Options options = cli::parse(args, get_env, cli_problems);
  log::init(options.log_level);
  try {
    if (options.mode == cli::Options::Mode::kHelp) return std::cout << cli::help_text(), 0;
    if (options.mode == cli::Options::Mode::kVersion) return std::cout << cli::version_text(), 0;
    std::vector<spec::Task> tasks = load_tasks(options, std::move(cli_problems));
    if (options.mode == cli::Options::Mode::kValidate) {
      for (const auto& t : tasks) std::cout << "ok: " << t.name.value_or("(unnamed task)") << "\n";
      return 0;
    }
    return run_task(options, tasks.front(), inherited);
  } catch (const InputError& e) {
    for (const auto& d : e.diagnostics().items()) std::cerr << "supervise: " << d.to_string() << "\n";
    auto s = outcome::before_start(options.task_name, options.overrides.command,
                                   "invalid input: " + e.diagnostics().to_string(), options.exit_code_from);
    return finish(s, options.status_file, options.termination_log);
  } catch (const std::exception& e) {
    // Nothing may escape main unreported: the status still says what happened.
    spdlog::critical("internal error: {}", e.what());
    auto s = outcome::before_start(options.task_name, options.overrides.command,
                                   std::string("internal error: ") + e.what(), options.exit_code_from);
    return finish(s, options.status_file, options.termination_log);
  }
}
