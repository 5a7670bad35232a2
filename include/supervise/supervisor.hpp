// The supervisor's event loop for one run of the command: spawn, forward signals,
// handle stop requests (SIGTERM/SIGINT/SIGQUIT, --timeout) with SIGKILL after the stop
// timeout, reap through the Reaper, tear down what the main process leaves behind,
// run the checkpoint engine and its final round, all inside --grace-period after a stop.
// It returns what happened; deciding the action and writing the status is main's.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "supervise/checkpoint/engine.hpp"
#include "supervise/process/child.hpp"
#include "supervise/process/exit_status.hpp"
#include "supervise/process/reaper.hpp"
#include "supervise/spec/duration.hpp"

namespace supervise {

enum class SignalTarget { kGroup, kChild };

struct RunResult;

struct RunOptions {
  std::vector<std::string> argv;
  std::vector<std::string> environment;  // the child's whole environment
  spec::Duration stop_timeout = std::chrono::seconds(10);
  spec::Duration grace_period = std::chrono::seconds(30);
  std::optional<spec::Duration> timeout;
  SignalTarget signal_target = SignalTarget::kGroup;
  std::vector<checkpoint::Configured> checkpoints;
  checkpoint::Settings checkpoint_settings;
  // Called once, at the stop request, with the run as it would end if the command died
  // of the stop signal now (`exit` set to that death unless it has already ended): for
  // the provisional status. Exceptions are logged, never fatal.
  std::function<void(const RunResult& provisional)> on_stop_requested;
};

struct StopRequest {
  std::string requested_by;  // signal name ("SIGTERM") or "timeout"
  std::chrono::system_clock::time_point at;
};

struct RunResult {
  std::chrono::system_clock::time_point started_at;
  std::chrono::steady_clock::time_point started_steady;  // for the duration: immune to clock steps
  std::optional<process::ExitStatus> exit;           // how the main process ended
  std::optional<process::ExecFailure> exec_failure;  // the command never ran
  std::optional<StopRequest> stop;
  std::size_t reaped = 0;  // children collected, the main process included
  process::Usage usage;    // what the reaped children used (the Reaper's sum of wait4 rusage)
  // OOM kills in the supervisor's memory cgroup during the run (nullopt: the kernel does
  // not say), and whether the main process died of SIGKILL while that count rose.
  std::optional<std::uint64_t> oom_kills;
  bool oom_killed = false;
  std::vector<status::Checkpoint> checkpoints;
  bool abandoned_work = false;  // a worker thread may still run: exit without cleanup
};

// The stop timeout a run uses: the one given, but never more than half the grace period,
// so the final checkpoint keeps the other half (SPEC.md "The stop budget").
spec::Duration stop_budget(spec::Duration stop_timeout, spec::Duration grace_period);

// Runs the command to its end (warning once when the stop budget shortens the stop
// timeout). Never throws once the child is started; throws
// std::system_error if the child cannot be created.
RunResult run(const RunOptions& options, const process::InheritedSignals& inherited);

}  // namespace supervise
