// The Reaper owns every wait in the process: on each SIGCHLD it collects every exited
// child with wait4(-1, WNOHANG) until none is left, so coalesced SIGCHLDs never lose
// an exit. It hands the main process's status to whoever watches it, and sums what the
// reaped children used (wait4's rusage: each child's own and that of the descendants it
// reaped itself). Nothing else in supervise calls wait().
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "supervise/process/exit_status.hpp"

namespace supervise::process {

// What reaped processes used, as the kernel accounts it (getrusage(2)).
struct Usage {
  std::uint64_t max_rss_kib = 0;  // the largest ru_maxrss of any one process
  std::int64_t user_usec = 0;
  std::int64_t system_usec = 0;
};

// Adds one wait4 rusage to a sum: CPU times add up, the peak RSS is the largest one.
void accumulate(Usage& sum, const struct rusage& one);

class Reaper {
 public:
  using MainExitHandler = std::function<void(ExitStatus)>;
  using MainStopHandler = std::function<void(int signal)>;

  // The process whose exit decides the task, and what to call when it ends. With
  // on_main_stop, a stop of the main process (job control) is reported too.
  void watch(pid_t main_pid, MainExitHandler on_main_exit, MainStopHandler on_main_stop = {});

  // Collects every child that has ended. Call on SIGCHLD (and once after watch(), in
  // case the child ended before its SIGCHLD was caught).
  void reap();

  // False once wait4 reported that no child is left at all.
  bool has_children() const { return has_children_; }
  std::size_t reaped() const { return reaped_; }
  const std::optional<ExitStatus>& main_exit() const { return main_exit_; }
  // What every child reaped so far used (the main process included).
  const Usage& usage() const { return usage_; }

 private:
  pid_t main_pid_ = -1;
  MainExitHandler on_main_exit_;
  MainStopHandler on_main_stop_;
  std::optional<ExitStatus> main_exit_;
  bool has_children_ = true;
  std::size_t reaped_ = 0;
  Usage usage_;
};

}  // namespace supervise::process
