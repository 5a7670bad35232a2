#include "supervise/outcome.hpp"

namespace supervise::outcome {
namespace {

int supervisor_code(int command_code, spec::Action action, cli::ExitCodeFrom from) {
  return from == cli::ExitCodeFrom::kAction ? cli::action_exit_code(action) : command_code;
}

}  // namespace

status::Status after_run(const spec::Task& task, const RunResult& run, cli::ExitCodeFrom from) {
  status::Status s;
  s.task = task.name;
  s.command = task.command;
  s.started_at = run.started_at;
  s.finished_at = std::chrono::system_clock::now();
  s.elapsed = std::chrono::steady_clock::now() - run.started_steady;
  if (run.stop) s.stop = status::Stop{run.stop->requested_by, run.stop->at};
  s.checkpoints = run.checkpoints;
  if (run.exec_failure) {
    s.exit_code = run.exec_failure->exit_code;
    s.error = run.exec_failure->describe(task.command.front());
  } else if (run.exit) {
    s.exit_code = run.exit->exit_code();
    s.signal = run.exit->signal();
    s.core_dumped = run.exit->core_dumped();
  } else {
    // The grace period ended before the main process could be reaped.
    s.exit_code = 128 + 9;
    s.signal = 9;
    s.error = "the command did not end within the grace period";
  }
  s.resources = status::Resources{run.usage.max_rss_kib, static_cast<double>(run.usage.user_usec) / 1e6,
                                  static_cast<double>(run.usage.system_usec) / 1e6};
  s.oom_kills = run.oom_kills;
  s.oom_killed = run.oom_killed;
  // An OOM rule wins over the rule that covers 137 (SPEC.md "Exit actions").
  auto decision = task.exit_actions.lookup(s.exit_code, s.oom_killed);
  s.action = decision.action;
  if (decision.rule) s.matched_rule = decision.rule->text;
  s.supervisor_exit_code = supervisor_code(s.exit_code, s.action, from);
  return s;
}

status::Status before_start(std::optional<std::string> task, std::vector<std::string> command,
                            std::string error, cli::ExitCodeFrom from) {
  status::Status s;
  s.task = std::move(task);
  s.command = std::move(command);
  s.error = std::move(error);
  s.finished_at = std::chrono::system_clock::now();
  s.action = spec::Action::kFail;
  s.exit_code = 125;
  s.supervisor_exit_code = supervisor_code(125, s.action, from);
  return s;
}

status::Status restore_failed(const spec::Task& task, std::vector<status::Checkpoint> checkpoints, std::string error,
                              bool transient, std::optional<status::Stop> stop, cli::ExitCodeFrom from) {
  status::Status s = before_start(task.name, task.command, "restore: " + error, from);
  s.checkpoints = std::move(checkpoints);
  s.stop = std::move(stop);
  if (transient) {
    s.action = spec::Action::kReschedule;
    s.exit_code = cli::action_exit_code(s.action);  // 75 either way: no command code exists
    s.supervisor_exit_code = s.exit_code;
  }
  return s;
}

}  // namespace supervise::outcome
