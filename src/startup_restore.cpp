// The restore before the command starts: the restores run on a thread of their own while
// this one waits for a stop signal, and ends them within the grace period if one comes.
#include "supervise/startup_restore.hpp"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "supervise/checkpoint/restore.hpp"
#include "supervise/spec/exit_actions.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise {
namespace {

using Clock = std::chrono::steady_clock;

// Shared with the restore thread, which may outlive the wait (abandoned).
struct Work {
  checkpoint::Cancel cancel;
  std::atomic<bool> done{false};
  std::mutex mutex;
  StartupRestore result;                              // written by the thread, under the mutex
  std::vector<std::optional<status::Restore>> statuses;  // per entry, as each ends
};

}  // namespace

StartupRestore restore_before_start(std::vector<checkpoint::Configured>& entries,
                                    const process::InheritedSignals& inherited, spec::Duration grace_period,
                                    const checkpoint::RetryPolicy& retry) {
  bool any = false;
  for (const auto& c : entries) any = any || c.entry.restore;
  if (!any) return {};

  // Every signal the event loop will catch is blocked from now on, in this thread and in
  // the restore's (they wait in the kernel's queue); the stop signals are waited for here.
  sigset_t caught, stop;
  sigemptyset(&caught);
  sigemptyset(&stop);
  for (int signo : process::caught_signals(inherited)) sigaddset(&caught, signo);
  for (int signo : {SIGTERM, SIGINT, SIGQUIT}) sigaddset(&stop, signo), sigaddset(&caught, signo);
  if (int err = ::pthread_sigmask(SIG_BLOCK, &caught, nullptr); err != 0)
    spdlog::warn("cannot block signals during the restore: {}", std::strerror(err));

  auto work = std::make_shared<Work>();
  work->statuses.resize(entries.size());
  // The thread reads `entries` (never written while it may run) and writes only `work`.
  auto run = [work, &entries, retry] {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& c = entries[i];
      if (!c.entry.restore) continue;
      checkpoint::RestoreResult r;
      try {
        r = checkpoint::restore(c.entry, *c.store, retry, work->cancel);
      } catch (const std::exception& e) {  // nothing may end PID 1 from a thread
        r.status.error = std::string("internal error: ") + e.what();
        r.transient = true;
      }
      std::lock_guard lock(work->mutex);
      work->statuses[i] = r.status;
      if (!r.status.ok && work->result.ok) {
        work->result.ok = false;
        work->result.transient = r.transient;
        work->result.error = c.entry.path + " from " + spec::redact_url(c.entry.url.text) + ": " +
                             r.status.error.value_or("not restored");
      }
    }
    work->done = true;
  };
  std::thread thread;
  try {
    thread = std::thread(run);
  } catch (const std::system_error& e) {
    spdlog::debug("restore on the main thread: {}", e.what());  // no thread to be had: no stop while it runs
    run();
  }

  std::optional<status::Stop> stop_request;
  std::optional<Clock::time_point> give_up_at;
  while (!work->done) {
    timespec slice{0, 50'000'000};
    siginfo_t info{};
    int signo = ::sigtimedwait(&stop, &info, &slice);
    if (signo > 0 && !stop_request) {
      spdlog::info("{} received during the restore: the command will not start", spec::signal_name(signo));
      stop_request = status::Stop{spec::signal_name(signo), std::chrono::system_clock::now()};
      // Requests stop at once; an abandoned one is not waited for past the grace period.
      work->cancel.request(Clock::now());
      give_up_at = Clock::now() + grace_period;
    }
    if (give_up_at && Clock::now() >= *give_up_at) break;
  }
  StartupRestore result;
  if (work->done && thread.joinable()) thread.join();
  {
    std::lock_guard lock(work->mutex);
    result = work->result;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].entry.restore) continue;
      entries[i].restore = work->statuses[i];
      if (!entries[i].restore) entries[i].restore = status::Restore{false, {}, false, 0, 0, 0, 0, 0, 0,
                                                                    "still running when the grace period ended"};
    }
  }
  if (!work->done) {
    thread.detach();  // the process ends without waiting for it (abandoned)
    result.ok = false;
    result.abandoned = true;
    if (result.error.empty()) result.error = "still running when the grace period ended";
  }
  if (stop_request) {
    result.stop = stop_request;
    result.ok = false;
    result.error = "stopped by " + stop_request->requested_by + (result.error.empty() ? "" : ": " + result.error);
    result.transient = true;  // preempted: the task goes elsewhere, as it is
  }
  return result;
}

}  // namespace supervise
