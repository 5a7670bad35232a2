// The outcome of a task: from what happened (a run, or a failure before it) to the
// status document and the supervisor's own exit code. Pure.
#pragma once

#include <string>

#include "supervise/cli.hpp"
#include "supervise/spec/task.hpp"
#include "supervise/status/status.hpp"
#include "supervise/supervisor.hpp"

namespace supervise::outcome {

// The command ran (or exec failed: 126/127 are looked up like any code).
status::Status after_run(const spec::Task& task, const RunResult& run, cli::ExitCodeFrom from);

// The task never started: invalid input or a declared file not written. Exit 125, FAIL.
status::Status before_start(std::optional<std::string> task, std::vector<std::string> command,
                            std::string error, cli::ExitCodeFrom from);

// A restore did not complete: the command never ran. A transient cause RESCHEDULEs
// (exit 75), a permanent one FAILs (125). `checkpoints` say what each entry restored.
status::Status restore_failed(const spec::Task& task, std::vector<status::Checkpoint> checkpoints, std::string error,
                              bool transient, std::optional<status::Stop> stop, cli::ExitCodeFrom from);

}  // namespace supervise::outcome
