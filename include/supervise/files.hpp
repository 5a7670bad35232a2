// Declared files (a task's `files`): written before the command starts, in order,
// each atomically with its parents created. A failure stops the task (exit 125).
#pragma once

#include <vector>

#include "supervise/spec/task.hpp"

namespace supervise::files {

// Throws fs::FileError naming the declared file and the cause at the first failure.
void write_declared(const std::vector<spec::DeclaredFile>& files);

}  // namespace supervise::files
