// Loading a task: YAML or JSON (told by content), a single task or a workflow
// (workflow.tasks, workflow.groups[].tasks, top-level tasks), merged with what the
// command line adds. Every rule of SPEC.md is checked here, all problems collected
// before anything runs. Pure but for read_source().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "supervise/diagnostics.hpp"
#include "supervise/spec/task.hpp"

namespace supervise::spec {

struct Source {
  std::string name;  // shown in messages: the path as the user gave it
  std::string text;
};

// What the command line adds to (or replaces in) the spec.
struct Overrides {
  std::vector<std::string> command;       // after "--": replaces command and args
  std::vector<std::string> exit_actions;  // --exit-action values, "ACTION=CODES"
  std::vector<std::string> checkpoints;   // --checkpoint values, "path=..,url=..,.."
  std::optional<bool> restore;            // --restore / SUPERVISE_RESTORE: every entry's restore
};

struct LoadRequest {
  std::optional<Source> source;  // none: the task is the command line alone
  std::optional<std::string> task_name;
  bool all_tasks = false;  // --validate without --task: every task of a workflow
  Overrides overrides;
  std::string working_dir = "/";  // relative checkpoint paths are resolved against it
};

// One task, or every task when all_tasks is set and no task_name is given.
// Throws InputError holding every problem found.
std::vector<Task> load(const LoadRequest& request);

// Reads a spec file; throws InputError naming the path and the cause.
Source read_source(const std::string& path);

}  // namespace supervise::spec
