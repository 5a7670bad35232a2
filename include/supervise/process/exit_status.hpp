// ExitStatus: how a process ended, as a value (exited with N, or killed by signal N),
// and the exit code a shell would report for it (N, or 128 + signal).
#pragma once

#include <optional>

namespace supervise::process {

class ExitStatus {
 public:
  static ExitStatus exited(int code) { return ExitStatus(code, 0, false); }
  static ExitStatus killed(int signal, bool core_dumped = false) {
    return ExitStatus(0, signal, core_dumped);
  }
  // From a waitpid() status word.
  static ExitStatus from_wait_status(int status);

  bool signaled() const { return signal_ != 0; }
  std::optional<int> signal() const {
    return signaled() ? std::optional<int>(signal_) : std::nullopt;
  }
  bool core_dumped() const { return core_dumped_; }
  // The code looked up in exitActions and returned by the supervisor: N or 128 + signal.
  int exit_code() const { return signaled() ? 128 + signal_ : code_; }

  bool operator==(const ExitStatus&) const = default;

 private:
  ExitStatus(int code, int signal, bool core) : code_(code), signal_(signal), core_dumped_(core) {}
  int code_;
  int signal_;
  bool core_dumped_;
};

}  // namespace supervise::process
