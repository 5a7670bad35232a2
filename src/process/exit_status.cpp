#include "supervise/process/exit_status.hpp"

#include <sys/wait.h>

namespace supervise::process {

ExitStatus ExitStatus::from_wait_status(int status) {
  if (WIFSIGNALED(status)) return killed(WTERMSIG(status), WCOREDUMP(status));
  return exited(WEXITSTATUS(status));
}

}  // namespace supervise::process
