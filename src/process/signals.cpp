#include "supervise/process/signals.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace supervise::process {

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

void ignore_write_signals() {
  for (int signo : {SIGXFSZ, SIGPIPE})
    if (::signal(signo, SIG_IGN) == SIG_ERR) spdlog::warn("cannot ignore signal {}: {}", signo, std::strerror(errno));
}

namespace {

int open_signalfd(const sigset_t& set) {
  int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}

// One entry from a non-blocking signalfd; false when none is pending.
bool read_one(int fd, signalfd_siginfo& info) {
  for (;;) {
    ssize_t n = ::read(fd, &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) spdlog::error("signalfd: {}", std::strerror(errno));
    return false;
  }
}

}  // namespace

SignalPipe::SignalPipe(boost::asio::io_context& io, const InheritedSignals& inherited, Handler handler)
    : io_(io), child_(io), others_(io), handler_(std::move(handler)) {
  sigset_t caught, child, others;
  sigemptyset(&caught);
  sigemptyset(&child);
  sigemptyset(&others);
  for (int signo : caught_signals(inherited)) {
    sigaddset(&caught, signo);
    sigaddset(signo == SIGCHLD ? &child : &others, signo);
  }
  // Blocked from here on, in this thread and in every thread it starts later: the
  // signals wait in the kernel's queue until the loop reads them from a signalfd.
  if (int err = ::pthread_sigmask(SIG_BLOCK, &caught, nullptr); err != 0)
    throw std::system_error(err, std::generic_category(), "pthread_sigmask");
  child_.assign(open_signalfd(child));
  others_.assign(open_signalfd(others));
  self_ = ::getpid();
}

// The signals stay blocked: one that comes while the status is being written waits
// (and is dropped at exit) instead of killing the supervisor by its default action.
SignalPipe::~SignalPipe() = default;

void SignalPipe::start() {
  wait_child();
  wait_others();
}

void SignalPipe::call(int signo) {
  try {
    handler_(signo);
  } catch (const std::exception& e) {
    spdlog::error("handling signal {}: {}", signo, e.what());
  }
}

bool SignalPipe::take_child() {
  signalfd_siginfo info{};
  if (!read_one(child_.native_handle(), info)) return false;
  call(SIGCHLD);  // one reap collects every child that has ended
  return true;
}

void SignalPipe::wait_child() {
  child_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    take_child();
    if (!io_.stopped()) wait_child();
  });
}

void SignalPipe::wait_others() {
  others_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    for (int i = 0; i < kBatch && !io_.stopped(); ++i) {
      // A reaped exit is known before the next signal is judged (forwarded or not).
      take_child();
      if (io_.stopped()) return;
      signalfd_siginfo info{};
      if (!read_one(others_.native_handle(), info)) break;
      // Raised by the supervisor on itself (SIGPIPE or SIGXFSZ from its own write): not
      // for the task. The write fails with EPIPE/EFBIG and is handled there.
      bool by_user = info.ssi_code == SI_USER || info.ssi_code == SI_TKILL;
      if (by_user && static_cast<pid_t>(info.ssi_pid) == self_) continue;
      call(static_cast<int>(info.ssi_signo));
    }
    if (!io_.stopped()) wait_others();
  });
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
