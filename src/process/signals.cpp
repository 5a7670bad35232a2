#include "supervise/process/signals.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace supervise::process {
namespace {

// The handler's whole world: a pending count per signal and the pipe's write end.
// Globals because a signal handler cannot reach anything else.
std::array<std::atomic<unsigned>, NSIG> g_pending{};
std::atomic<int> g_wake_fd{-1};
pid_t g_self = 0;

bool is_fault_signal(int signo) {
  return signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
         signo == SIGTRAP || signo == SIGSYS;
}

void on_signal(int signo, siginfo_t* info, void*) {
  int saved_errno = errno;
  if (info != nullptr) {
    // A fault of the supervisor's own code: let it die (with a core) instead of
    // returning to the faulting instruction forever.
    if (is_fault_signal(signo) && info->si_code > 0) {
      ::signal(signo, SIG_DFL);
      errno = saved_errno;
      return;
    }
    // Raised by the supervisor on itself (SIGPIPE or SIGXFSZ from its own write,
    // abort()): not for the task. The write fails with EPIPE/EFBIG and is handled there.
    if ((info->si_code == SI_USER || info->si_code == SI_TKILL) && info->si_pid == g_self) {
      errno = saved_errno;
      return;
    }
  }
  g_pending[static_cast<std::size_t>(signo)].fetch_add(1, std::memory_order_relaxed);
  int fd = g_wake_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    char byte = 0;
    // A full pipe already holds a wake-up: EAGAIN is fine.
    [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

InheritedSignals InheritedSignals::capture() {
  InheritedSignals s{};
  sigemptyset(&s.ignored);
  if (::sigprocmask(SIG_BLOCK, nullptr, &s.mask) != 0) sigemptyset(&s.mask);
  for (int signo = 1; signo < NSIG; ++signo) {
    struct sigaction old {};
    if (::sigaction(signo, nullptr, &old) == 0 && old.sa_handler == SIG_IGN)
      sigaddset(&s.ignored, signo);
  }
  return s;
}

std::vector<int> caught_signals(const InheritedSignals& inherited) {
  std::vector<int> out;
  for (int signo = 1; signo < NSIG; ++signo) {
    if (signo == SIGKILL || signo == SIGSTOP) continue;
    if (signo > 31 && signo < SIGRTMIN) continue;  // reserved by glibc for its threads
    // A signal the supervisor was started with ignored stays ignored (nohup keeps working).
    if (sigismember(&inherited.ignored, signo) == 1) continue;
    out.push_back(signo);
  }
  return out;
}

SignalPipe::SignalPipe(boost::asio::io_context& io, const InheritedSignals& inherited, Handler handler)
    : caught_(caught_signals(inherited)), reader_(io), handler_(std::move(handler)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  reader_.assign(fds[0]);
  write_fd_ = fds[1];
  g_self = ::getpid();
  g_wake_fd.store(write_fd_);
}

void ignore_write_signals() {
  for (int signo : {SIGXFSZ, SIGPIPE})
    if (::signal(signo, SIG_IGN) == SIG_ERR) spdlog::warn("cannot ignore signal {}: {}", signo, std::strerror(errno));
}

SignalPipe::~SignalPipe() {
  // What was there before start(): SIG_IGN for SIGXFSZ/SIGPIPE, so the status written
  // after the run is as safe from them as the writes before it.
  for (std::size_t i = 0; i < previous_.size(); ++i) ::sigaction(caught_[i], &previous_[i], nullptr);
  g_wake_fd.store(-1);
  ::close(write_fd_);
}

void SignalPipe::start() {
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  sigset_t unblock;
  sigemptyset(&unblock);
  previous_.assign(caught_.size(), {});
  for (std::size_t i = 0; i < caught_.size(); ++i) {
    int signo = caught_[i];
    if (::sigaction(signo, &sa, &previous_[i]) != 0) {
      spdlog::warn("cannot catch signal {}: {}", signo, std::strerror(errno));
      previous_[i].sa_handler = SIG_DFL;
    }
    sigaddset(&unblock, signo);
  }
  if (::sigprocmask(SIG_UNBLOCK, &unblock, nullptr) != 0)
    spdlog::warn("cannot unblock signals: {}", std::strerror(errno));
  read_more();
}

void SignalPipe::read_more() {
  reader_.async_read_some(boost::asio::buffer(buffer_),
                          [this](const boost::system::error_code& ec, std::size_t) {
                            if (ec == boost::asio::error::operation_aborted) return;
                            if (ec) spdlog::error("signal pipe: {}", ec.message());
                            dispatch();
                            read_more();
                          });
}

void SignalPipe::dispatch() {
  // SIGCHLD first: a reaped exit must be known before a stop signal is judged.
  auto run = [this](int signo) {
    unsigned count = g_pending[static_cast<std::size_t>(signo)].exchange(0);
    if (signo == SIGCHLD && count > 0) count = 1;  // one reap collects every child
    for (unsigned i = 0; i < count; ++i) {
      try {
        handler_(signo);
      } catch (const std::exception& e) {
        spdlog::error("handling signal {}: {}", signo, e.what());
      }
    }
  };
  run(SIGCHLD);
  for (int signo : caught_)
    if (signo != SIGCHLD) run(signo);
}

void SignalPipe::restore_in_child(const InheritedSignals& inherited) noexcept {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  for (int signo = 1; signo < NSIG; ++signo) {
    if (signo == SIGKILL || signo == SIGSTOP) continue;
    sa.sa_handler = sigismember(&inherited.ignored, signo) == 1 ? SIG_IGN : SIG_DFL;
    ::sigaction(signo, &sa, nullptr);
  }
  ::sigprocmask(SIG_SETMASK, &inherited.mask, nullptr);
}

BlockAllSignals::BlockAllSignals() {
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &previous_);
}

BlockAllSignals::~BlockAllSignals() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

}  // namespace supervise::process
