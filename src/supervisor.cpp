#include "supervise/supervisor.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <set>

#include "supervise/process/oom.hpp"
#include "supervise/process/reaper.hpp"
#include "supervise/process/signals.hpp"
#include "supervise/process/tree.hpp"
#include "supervise/spec/exit_actions.hpp"

namespace supervise {
namespace {

using process::send_signal;

bool stdin_is_our_terminal() {
  return ::isatty(STDIN_FILENO) == 1 && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
}

// One run of the command, driven by the event loop. No exception leaves the loop: the
// supervisor may be PID 1, and the command is still running.
class Run {
 public:
  Run(const RunOptions& options, const process::InheritedSignals& inherited)
      : options_(options),
        inherited_(inherited),
        signals_(io_, inherited, [this](int signo) { on_signal(signo); }),
        checkpoints_(io_, options_.checkpoints, options_.checkpoint_settings),
        kill_timer_(io_),
        timeout_timer_(io_),
        cancel_timer_(io_),
        grace_timer_(io_) {}

  RunResult run() {
    signals_.start();
    foreground_ = stdin_is_our_terminal();
    process::SpawnRequest request{options_.argv, options_.environment, foreground_, &inherited_};
    result_.started_at = std::chrono::system_clock::now();
    result_.started_steady = std::chrono::steady_clock::now();
    oom_ = process::OomWatch::open();  // the count before the command can raise it
    process::Spawned spawned = process::spawn(request);
    pid_ = spawned.pid;
    result_.exec_failure = spawned.exec_failure;
    if (spawned.exec_failure) {
      // Said now, before the reaper reports the child's exit code for it.
      spdlog::error("{}", spawned.exec_failure->describe(options_.argv.front()));
    } else {
      spdlog::info("started {} (pid {})", describe(options_.argv), pid_);
      checkpoints_.start();
    }
    process::Reaper::MainStopHandler on_stop;
    if (foreground_) on_stop = [this](int signo) { on_main_stopped(signo); };
    reaper_.watch(pid_, [this](process::ExitStatus status) { on_main_exit(status); }, on_stop);
    if (options_.timeout && !spawned.exec_failure) {
      timeout_timer_.expires_after(*options_.timeout);
      timeout_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) on_timeout();
      });
    }
    reaper_.reap();  // the child may have ended before its SIGCHLD was caught
    finish_if_done();
    run_loop();
    result_.exit = reaper_.main_exit();
    result_.reaped = reaper_.reaped();
    result_.usage = reaper_.usage();
    account_oom_kills();
    result_.checkpoints = checkpoints_.statuses();
    result_.abandoned_work = checkpoints_.abandoned_work();
    return result_;
  }

 private:
  // A handler that throws is logged and the loop goes on (Asio allows run() again).
  void run_loop() {
    while (!done_) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("internal error in the event loop (carrying on): {}", e.what());
      }
    }
  }

  static std::string describe(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
    return out.size() > 200 ? out.substr(0, 200) + "..." : out;
  }

  void on_signal(int signo) {
    if (signo == SIGCHLD) {
      reaper_.reap();
      // Orphans reparented to us since the main process ended get the signal of the
      // phase we are in: one forked during the SIGKILL sweep must not get only SIGTERM.
      if (main_exited_ && reaper_.has_children()) signal_leftovers(leftover_signal_);
      finish_if_done();
      return;
    }
    // Resumed by the shell's `fg`: the command's group gets the terminal back first.
    if (signo == SIGCONT && foreground_ && !main_exited_) give_terminal_to(pid_);
    if (!main_exited_) forward(signo);
    if (signo == SIGTERM || signo == SIGINT || signo == SIGQUIT)
      request_stop(spec::signal_name(signo), signo, /*send_term=*/false);
  }

  // Sends a signal to the group (default) or only to the main process.
  void forward(int signo) {
    pid_t target = options_.signal_target == SignalTarget::kGroup ? -pid_ : pid_;
    if (!send_signal(target, signo)) spdlog::warn("cannot forward {}: {}", spec::signal_name(signo), std::strerror(errno));
    else spdlog::debug("forwarded {} to {} {}", spec::signal_name(signo),
                       target < 0 ? "group" : "process", pid_);
  }

  // `signo`: the signal the command gets for this stop (SIGTERM for --timeout).
  void request_stop(const std::string& by, int signo, bool send_term) {
    if (result_.stop) return;  // the first request decides; its deadlines stand
    result_.stop = StopRequest{by, std::chrono::system_clock::now()};
    spdlog::info("stop requested by {}: SIGKILL in {}, grace period {}", by,
                 spec::format_duration(options_.stop_timeout), spec::format_duration(options_.grace_period));
    if (send_term && !main_exited_) forward(SIGTERM);
    if (reaper_.has_children()) arm_kill_timer();
    arm_grace_timer();
    report_provisional(signo);
  }

  // The status as it would be if the command died of the stop signal now, for a runtime
  // that kills the supervisor before the final document is written.
  void report_provisional(int signo) {
    if (!options_.on_stop_requested) return;
    RunResult provisional = result_;
    provisional.exit = main_exited_ ? reaper_.main_exit() : std::optional(process::ExitStatus::killed(signo));
    provisional.reaped = reaper_.reaped();
    provisional.usage = reaper_.usage();
    provisional.oom_kills = oom_.kills();
    provisional.checkpoints = checkpoints_.statuses();
    try {
      options_.on_stop_requested(provisional);
    } catch (const std::exception& e) {
      spdlog::error("provisional status: {}", e.what());
    }
  }

  // The longest the supervisor waits after a stop request, or for leftovers after the
  // main process ended: then it finishes, whatever still runs (an unkillable process in
  // D state or a hung store must not keep the status from being written). It gives up a
  // little early (a tenth of the period, at most 1 s) so the status is on disk in time,
  // and a little before that (another tenth, at most 2 s) it cancels the checkpoint
  // rounds still running, which then abort their multipart uploads.
  void arm_grace_timer() {
    if (grace_armed_) return;
    grace_armed_ = true;
    spec::Duration margin = std::min<spec::Duration>(options_.grace_period / 10, std::chrono::seconds(1));
    spec::Duration cleanup = std::min<spec::Duration>(options_.grace_period / 10, std::chrono::seconds(2));
    cancel_timer_.expires_after(options_.grace_period - margin - cleanup);
    cancel_timer_.async_wait([this, cleanup](const boost::system::error_code& ec) {
      if (ec) return;
      spdlog::warn("grace period of {} nearly over; stopping the checkpoint rounds",
                   spec::format_duration(options_.grace_period));
      checkpoints_.cancel(checkpoint::Clock::now() + cleanup);
    });
    grace_timer_.expires_after(options_.grace_period - margin);
    grace_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      spdlog::error("grace period of {} over; finishing with what is done",
                    spec::format_duration(options_.grace_period));
      kill_everything();
      checkpoints_.abandon();
      finish();
    });
  }

  void on_timeout() {
    spdlog::warn("timeout of {} reached", spec::format_duration(*options_.timeout));
    request_stop("timeout", SIGTERM, /*send_term=*/true);
  }

  void on_main_exit(process::ExitStatus status) {
    main_exited_ = true;
    timeout_timer_.cancel();
    if (foreground_) take_back_terminal();
    if (status.signaled())
      spdlog::info("command killed by {}{}", spec::signal_name(*status.signal()),
                   status.core_dumped() ? " (core dumped)" : "");
    else
      spdlog::info("command exited with {}", status.exit_code());
    if (status.signal() == SIGKILL) note_oom_kill();
    // What the main process leaves behind gets SIGTERM now and SIGKILL after the stop
    // timeout. No child left means no descendant left: nothing to look for.
    if (!reaper_.has_children()) return;
    signal_leftovers(SIGTERM);
    arm_kill_timer();
    arm_grace_timer();
  }

  // The main process died of SIGKILL: the kernel's OOM killer, if the cgroup's count of
  // OOM kills rose (the kernel counts a kill before it sends the signal).
  void note_oom_kill() {
    if (result_.oom_killed) return;
    auto kills = oom_.kills();
    if (!kills || *kills == 0) return;
    result_.oom_killed = true;
    auto limit = oom_.limit_bytes();
    spdlog::error("the command was killed by the kernel's OOM killer{}",
                  limit ? " (memory limit " + process::cgroup::format_bytes(*limit) + ")" : "");
  }

  // At the end: the run's count of OOM kills, and the main process's death re-examined
  // (a kill counted late). Kills of other processes of the task are logged too.
  void account_oom_kills() {
    result_.oom_kills = oom_.kills();
    auto main = reaper_.main_exit();
    if (main && main->signal() == SIGKILL) note_oom_kill();
    if (result_.oom_kills && *result_.oom_kills > 0 && !result_.oom_killed)
      spdlog::warn("the kernel's OOM killer killed {} process{} of the task", *result_.oom_kills,
                   *result_.oom_kills == 1 ? "" : "es");
  }

  // The terminal's foreground group was the command's; with it gone, our own writes to
  // the terminal would be those of a background group (SIGTTOU under TOSTOP).
  static void take_back_terminal() { give_terminal_to(::getpgrp()); }

  static void give_terminal_to(pid_t group) {
    process::BlockAllSignals blocked;  // tcsetpgrp from a background group raises SIGTTOU
    if (::tcsetpgrp(STDIN_FILENO, group) != 0)
      spdlog::debug("cannot hand the terminal to group {}: {}", group, std::strerror(errno));
  }

  // Job control in a terminal: Ctrl-Z stopped the command, so stop with it, as a shell's
  // job would, and let the user's shell take over. Its `fg` continues us (SIGCONT),
  // which we forward after handing the terminal back to the command.
  void on_main_stopped(int signo) {
    if (signo != SIGTSTP && signo != SIGTTIN && signo != SIGTTOU) return;  // not job control
    spdlog::debug("command stopped by {}; stopping too", spec::signal_name(signo));
    take_back_terminal();
    ::raise(SIGSTOP);
  }

  void arm_kill_timer() {
    if (kill_armed_) return;
    kill_armed_ = true;
    kill_timer_.expires_after(options_.stop_timeout);
    kill_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || !reaper_.has_children()) return;  // cancelled, or nothing left to kill
      spdlog::warn("stop timeout of {} over; sending SIGKILL", spec::format_duration(options_.stop_timeout));
      kill_everything();
    });
  }

  // SIGTERM (once each) or SIGKILL to every descendant. The main process has been
  // reaped, so its pid, and the group id that was its, may already be another's: what
  // is left of its group is found among the descendants, never by that id.
  void signal_leftovers(int signo) {
    // As PID 1 every process of the namespace is ours, found even without /proc.
    if (::getpid() == 1) send_signal(-1, signo);
    for (pid_t p : process::descendants(::getpid())) {
      if (signo == SIGTERM && !termed_.insert(p).second) continue;
      send_signal(p, signo);
    }
  }

  void kill_everything() {
    leftover_signal_ = SIGKILL;
    if (!main_exited_) send_signal(-pid_, SIGKILL);  // the main process holds the group's id
    signal_leftovers(SIGKILL);
  }

  // The command and its leftovers are gone: the final checkpoint, then the end.
  void finish_if_done() {
    if (!main_exited_ || reaper_.has_children() || final_started_) return;
    final_started_ = true;
    kill_timer_.cancel();  // nothing is left to kill; any pid it knew may be reused now
    if (checkpoints_.empty()) return finish();
    checkpoints_.run_final([this] { finish(); });
  }

  void finish() {
    done_ = true;
    kill_timer_.cancel();
    timeout_timer_.cancel();
    cancel_timer_.cancel();
    grace_timer_.cancel();
    io_.stop();
  }

  RunOptions options_;
  const process::InheritedSignals& inherited_;
  boost::asio::io_context io_;
  process::SignalPipe signals_;
  process::Reaper reaper_;
  process::OomWatch oom_;
  checkpoint::Engine checkpoints_;
  boost::asio::steady_timer kill_timer_;
  boost::asio::steady_timer timeout_timer_;
  boost::asio::steady_timer cancel_timer_;
  boost::asio::steady_timer grace_timer_;
  pid_t pid_ = -1;
  bool main_exited_ = false;
  bool foreground_ = false;  // the command's group was made the terminal's foreground
  bool kill_armed_ = false;
  int leftover_signal_ = SIGTERM;  // SIGKILL once the stop timeout has passed
  bool grace_armed_ = false;
  bool done_ = false;
  bool final_started_ = false;
  std::set<pid_t> termed_;
  RunResult result_;
};

}  // namespace

spec::Duration stop_budget(spec::Duration stop_timeout, spec::Duration grace_period) {
  return std::min(stop_timeout, grace_period / 2);
}

RunResult run(const RunOptions& options, const process::InheritedSignals& inherited) {
  RunOptions budgeted = options;
  budgeted.stop_timeout = stop_budget(options.stop_timeout, options.grace_period);
  if (budgeted.stop_timeout != options.stop_timeout)
    spdlog::warn("stop timeout shortened from {} to {}: half the grace period of {}, so the final "
                 "checkpoint keeps the other half",
                 spec::format_duration(options.stop_timeout), spec::format_duration(budgeted.stop_timeout),
                 spec::format_duration(options.grace_period));
  Run r(budgeted, inherited);
  return r.run();
}

}  // namespace supervise
