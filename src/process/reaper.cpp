#include "supervise/process/reaper.hpp"

#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace supervise::process {

void accumulate(Usage& sum, const struct rusage& one) {
  auto usec = [](const timeval& t) { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000 + t.tv_usec; };
  sum.user_usec += usec(one.ru_utime);
  sum.system_usec += usec(one.ru_stime);
  if (one.ru_maxrss > 0) sum.max_rss_kib = std::max(sum.max_rss_kib, static_cast<std::uint64_t>(one.ru_maxrss));
}

void Reaper::watch(pid_t main_pid, MainExitHandler on_main_exit, MainStopHandler on_main_stop) {
  main_pid_ = main_pid;
  on_main_exit_ = std::move(on_main_exit);
  on_main_stop_ = std::move(on_main_stop);
  has_children_ = true;
}

void Reaper::reap() {
  std::optional<ExitStatus> main_now;
  std::optional<int> main_stopped;
  // WUNTRACED only when someone wants to know: a stopped child is then reported once
  // per stop, and is not reaped.
  int flags = WNOHANG | (on_main_stop_ ? WUNTRACED : 0);
  for (;;) {
    int status = 0;
    struct rusage usage {};
    pid_t pid = ::wait4(-1, &status, flags, &usage);
    if (pid > 0 && WIFSTOPPED(status)) {
      if (pid == main_pid_) main_stopped = WSTOPSIG(status);
      continue;
    }
    if (pid > 0) {
      ++reaped_;
      accumulate(usage_, usage);
      if (pid == main_pid_) {
        main_now = ExitStatus::from_wait_status(status);
      } else {
        spdlog::trace("reaped {} (status {:#x})", pid, status);
      }
      continue;
    }
    if (pid == 0) break;  // children remain, none has ended yet
    if (errno == EINTR) continue;
    if (errno == ECHILD) {
      has_children_ = false;
    } else {
      spdlog::error("wait4 failed: {}", std::strerror(errno));
    }
    break;
  }
  // Called after the loop, so the handler may do anything, reap() included.
  if (main_stopped && !main_now && on_main_stop_) on_main_stop_(*main_stopped);
  if (main_now && !main_exit_) {
    main_exit_ = main_now;
    if (on_main_exit_) on_main_exit_(*main_exit_);
  }
}

}  // namespace supervise::process
