// Fuzz target: the spec loader (spec::load) on a spec held in memory, YAML or JSON (the
// loader tells them by content). Built twice: spec_yaml takes every input, spec_json
// (SUPERVISE_FUZZ_JSON) only inputs that the loader reads as JSON, so that its corpus
// stays JSON.
//
// Bad input must end in InputError whose problems are one line each; any other
// exception escaping load() is a bug (libFuzzer reports it as a crash). A spec that
// loads must hold what spec/task.hpp promises. A spec that loads is loaded again the
// other ways a run chooses its task: no --task, --task for each of the first names,
// an unknown --task, and the command-line overrides.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>

#include "fuzz_support.hpp"
#include "supervise/spec/loader.hpp"

using supervise::InputError;
namespace spec = supervise::spec;

namespace {

[[maybe_unused]] bool looks_like_json(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{' || c == '[';
  }
  return false;
}

bool holds_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// What spec/task.hpp promises of a loaded task.
void check_task(const spec::Task& task) {
  if (task.command.empty()) fuzz::fail("a task without a command");
  if (task.command.front().empty()) fuzz::fail("a task whose program name is empty");
  for (const auto& arg : task.command)
    if (holds_nul(arg)) fuzz::fail("a command argument holds a NUL byte (exec would cut it)", arg);
  for (const auto& [key, value] : task.environment) {
    if (key.empty() || key.find('=') != std::string::npos || holds_nul(key))
      fuzz::fail("an invalid environment name was accepted", key);
    if (holds_nul(value)) fuzz::fail("an environment value holds a NUL byte", key);
  }
  std::set<std::string> paths;
  for (const auto& file : task.files) {
    if (file.path.empty() || file.path.front() != '/') fuzz::fail("a declared file path is not absolute", file.path);
    if (holds_nul(file.path)) fuzz::fail("a declared file path holds a NUL byte", file.path);
    if (file.path.find("/../") != std::string::npos || file.path.ends_with("/.."))
      fuzz::fail("a declared file path has a .. component", file.path);
    if (file.path.back() == '/') fuzz::fail("a declared file path names a directory", file.path);
    if (file.mode > 07777) fuzz::fail("a file mode above 07777");
    if (!paths.insert(file.path).second) fuzz::fail("a file declared twice", file.path);
  }
  for (const auto& cp : task.checkpoints) {
    if (cp.path.empty() || cp.path.front() != '/' || cp.path == "/")
      fuzz::fail("a checkpoint path is not an absolute path below /", cp.path);
    if (holds_nul(cp.path)) fuzz::fail("a checkpoint path holds a NUL byte (the file system would cut it)", cp.path);
    if (cp.frequency < std::chrono::seconds(1)) fuzz::fail("a checkpoint frequency under 1s");
    if (cp.url.scheme == spec::StoreUrl::Scheme::kFile && holds_nul(cp.url.dir))
      fuzz::fail("a file:// store directory holds a NUL byte (the file system would cut it)", cp.url.dir);
  }
  for (int code = -1; code <= 256; ++code) {
    auto decision = task.exit_actions.lookup(code);
    if (decision.rule && (code < 0 || code > 255 || !decision.rule->codes.test(static_cast<std::size_t>(code)) ||
                          decision.rule->action != decision.action))
      fuzz::fail("an exit-action lookup names a rule that does not cover the code");
    auto oom = task.exit_actions.lookup(code, /*oom_killed=*/true);
    if (oom.rule && !oom.rule->oom && oom.rule != decision.rule)
      fuzz::fail("an OOM kill found a rule without OOM other than the code's");
  }
}

// Loads; true when the spec loaded. Only InputError may leave load().
bool try_load(const spec::LoadRequest& request, std::vector<spec::Task>* out = nullptr) {
  try {
    auto tasks = spec::load(request);
    if (tasks.empty()) fuzz::fail("load() returned no task");
    for (const auto& task : tasks) check_task(task);
    if (request.task_name && tasks.size() != 1) fuzz::fail("--task chose more than one task");
    if (out) *out = std::move(tasks);
    return true;
  } catch (const InputError& e) {
    fuzz::check_input_error(e);
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text = fuzz::text_of(data, size);
#ifdef SUPERVISE_FUZZ_JSON
  if (!looks_like_json(text)) return -1;  // not JSON: keep it out of this corpus
#endif
  spec::LoadRequest request;
  request.source = spec::Source{"spec.yaml", text};
  request.working_dir = "/work";
  request.all_tasks = true;  // --validate without --task
  std::vector<spec::Task> tasks;
  if (!try_load(request, &tasks)) return 0;

  // The other ways to choose: only for specs that load, which are few among the inputs.
  request.all_tasks = false;
  try_load(request);  // a run without --task: one task, or "choose one with --task"
  std::set<std::string> names;
  for (const auto& task : tasks)
    if (task.name && names.size() < 3) names.insert(*task.name);
  for (const auto& name : names) {
    request.task_name = name;
    try_load(request);
  }
  request.task_name = "no such task";
  try_load(request);

  request.task_name = names.empty() ? std::nullopt : std::optional<std::string>(*names.begin());
  request.overrides.command = {"/bin/true", "arg"};
  request.overrides.exit_actions = {"RESCHEDULE=1-3,SIGKILL", "fail = 4-10"};
  request.overrides.checkpoints = {"path=ckpt,url=s3://bucket/prefix,frequency=1m,regex=.*\\.pt$"};
  try_load(request);
  return 0;
}
