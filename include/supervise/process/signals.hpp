// Signals: what the supervisor inherited (mask and ignored signals, restored in the
// child as tini does), and delivery of every caught signal into the event loop: the
// signals are blocked and read from two signalfds, SIGCHLD's own and one for the rest.
// The rest are read one at a time, at most kBatch per turn of the loop, and SIGCHLD is
// looked at before each: under a storm of queued signals (where the kernel's dequeue of
// one costs up to a millisecond) a child's exit is reaped at once, never after a backlog.
#pragma once

#include <signal.h>
#include <sys/signalfd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <vector>

namespace supervise::process {

// The signal state the supervisor started with.
struct InheritedSignals {
  sigset_t mask;     // blocked signals
  sigset_t ignored;  // signals whose disposition was SIG_IGN
  static InheritedSignals capture();
};

// Signals the supervisor catches: every catchable one (1..31 but SIGKILL and SIGSTOP,
// and the real-time ones) that it did not inherit as ignored.
std::vector<int> caught_signals(const InheritedSignals& inherited);

// SIGXFSZ and SIGPIPE ignored for the supervisor's own writes: a file-size limit
// (`ulimit -f`) or a closed stderr pipe then fails that write with EFBIG / EPIPE, which is
// reported, instead of killing PID 1. Call after InheritedSignals::capture(); the command
// still starts with the inherited dispositions (restore_in_child).
void ignore_write_signals();

// Owns the signalfd. One instance per process; construct it before any thread is started
// (threads inherit the blocked mask; one that did not would take the signals itself).
class SignalPipe {
 public:
  using Handler = std::function<void(int signal)>;

  SignalPipe(boost::asio::io_context& io, const InheritedSignals& inherited, Handler handler);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  // Starts reading: from now on the handler is called from the loop.
  void start();

  // For the child between fork and exec (async-signal-safe): every signal back to
  // SIG_DFL, or SIG_IGN where the supervisor inherited it ignored, and the inherited
  // mask restored.
  static void restore_in_child(const InheritedSignals& inherited) noexcept;

 private:
  void wait_child();
  void wait_others();
  bool take_child();  // reads SIGCHLD if pending and calls the handler; true if it did
  void call(int signo);

  // Other signals handled per turn of the event loop, SIGCHLD looked at before each.
  static constexpr int kBatch = 16;

  boost::asio::io_context& io_;  // nothing is read once it is stopped
  boost::asio::posix::stream_descriptor child_;   // SIGCHLD only
  boost::asio::posix::stream_descriptor others_;  // every other caught signal
  Handler handler_;
  pid_t self_ = 0;
};

// Blocks every signal for the scope (around fork, so no handler runs in the child).
class BlockAllSignals {
 public:
  BlockAllSignals();
  ~BlockAllSignals();
  BlockAllSignals(const BlockAllSignals&) = delete;
  BlockAllSignals& operator=(const BlockAllSignals&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace supervise::process
