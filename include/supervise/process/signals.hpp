// Signals: what the supervisor inherited (mask and ignored signals, restored in the
// child as tini does), and delivery of every caught signal into the event loop through
// a self-pipe. The handler only counts the signal and writes a wake-up byte; all work
// happens in the loop, so a full pipe can delay a signal but never lose one.
#pragma once

#include <signal.h>

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

// Owns the handlers and the self-pipe. One instance per process.
class SignalPipe {
 public:
  using Handler = std::function<void(int signal)>;

  SignalPipe(boost::asio::io_context& io, const InheritedSignals& inherited, Handler handler);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  // Installs the handlers for caught_signals() and unblocks them.
  void start();

  // For the child between fork and exec (async-signal-safe): every caught signal back
  // to SIG_DFL, or SIG_IGN where the supervisor inherited it ignored, and the inherited
  // mask restored.
  static void restore_in_child(const InheritedSignals& inherited) noexcept;

 private:
  void read_more();
  void dispatch();

  std::vector<int> caught_;
  std::vector<struct sigaction> previous_;  // per caught_ signal, put back by the destructor
  boost::asio::posix::stream_descriptor reader_;
  int write_fd_ = -1;
  Handler handler_;
  unsigned char buffer_[256];
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
