// Starting the command: fork, a new process group (the terminal's foreground group
// when stdin is a terminal), the inherited signal state restored, exec. An exec error
// comes back through a CLOEXEC pipe, so the parent knows 126 from 127 and why.
// Nothing here waits: the Reaper owns every wait.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "supervise/process/signals.hpp"

namespace supervise::process {

struct SpawnRequest {
  std::vector<std::string> argv;         // argv[0] is looked up in the child's PATH
  std::vector<std::string> environment;  // "KEY=value", the child's whole environment
  bool foreground = false;               // make the group the terminal's foreground group
  const InheritedSignals* inherited = nullptr;
};

struct ExecFailure {
  int error;      // errno of execvp
  int exit_code;  // 127 when not found, 126 when it cannot be executed
  std::string message() const;  // "not found", "Permission denied", ...
  std::string detail() const;   // "" or " (a path component is not a directory)"
  // The sentence for the log and the status: "command not found: X" or
  // "cannot execute X: Permission denied".
  std::string describe(const std::string& program) const;
};

struct Spawned {
  pid_t pid;                                // the child (also its process group)
  std::optional<ExecFailure> exec_failure;  // set when exec failed; the child has exited
};

// Throws std::system_error when the child cannot be created at all (pipe, fork).
Spawned spawn(const SpawnRequest& request);

// The supervisor's environment with `extra` added (replacing same-named variables).
std::vector<std::string> merged_environment(
    const std::vector<std::pair<std::string, std::string>>& extra);

}  // namespace supervise::process
