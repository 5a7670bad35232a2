// The process tree below the supervisor, read from /proc: needed to reach leftovers
// that left the command's process group (setsid daemons) during teardown.
#pragma once

#include <sys/types.h>

#include <vector>

namespace supervise::process {

// Every live descendant of `root` (children first), from /proc/<pid>/stat.
std::vector<pid_t> descendants(pid_t root);

// kill() that treats "no such process" as done. Returns false on other errors.
bool send_signal(pid_t pid_or_negative_group, int signal);

}  // namespace supervise::process
