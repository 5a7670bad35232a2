// Fuzz target: the whole command line. The input's lines are argv (without argv[0]).
// cli::parse must report bad options as InputError (or, with --help or --version, not
// at all); the options it returns then go to spec::load as main() gives them: with
// --spec, a small workflow of two tasks stands for the file, so that --task selection
// and the overrides (--exit-action, --checkpoint, the command) meet a real spec.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "supervise/cli.hpp"
#include "supervise/spec/loader.hpp"

namespace cli = supervise::cli;
namespace spec = supervise::spec;

namespace {

constexpr const char* kWorkflow = R"(workflow:
  tasks:
  - name: train
    command: [/bin/sh, -c]
    args: ["exit 3"]
    checkpoint:
    - {path: /tmp/ckpt, url: "file:///tmp/store", frequency: 60s}
    exitActions: {COMPLETE: 0, RESCHEDULE: 1-3}
  - name: eval
    command: /bin/true
    environment: {A: b}
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args = fuzz::split(fuzz::text_of(data, size), '\n');
  if (args.size() > 64) return -1;
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SUPERVISE_LOG_LEVEL") return "debug";
    return std::nullopt;
  };
  supervise::Diagnostics problems;
  cli::Options options = cli::parse(args, env, problems);
  for (const auto& d : problems.items()) {
    fuzz::check_message(d.message);
    fuzz::check_line("an option problem's location holds a control byte", d.location);
  }
  cli::Options thrown_or_not;
  try {
    thrown_or_not = cli::parse(args, env);
    bool answers_anyway = options.mode == cli::Options::Mode::kHelp || options.mode == cli::Options::Mode::kVersion;
    if (!problems.empty() && !answers_anyway) fuzz::fail("cli::parse did not throw for a bad command line");
  } catch (const supervise::InputError& e) {
    fuzz::check_input_error(e);
    return 0;
  }
  if (options.mode == cli::Options::Mode::kHelp || options.mode == cli::Options::Mode::kVersion) return 0;
  spec::LoadRequest request;
  if (options.spec_path) request.source = spec::Source{*options.spec_path, kWorkflow};
  request.task_name = options.task_name;
  request.all_tasks = options.mode == cli::Options::Mode::kValidate && !options.task_name;
  request.overrides = options.overrides;
  request.working_dir = "/work";
  try {
    auto tasks = spec::load(request);
    if (tasks.empty()) fuzz::fail("load() returned no task");
    for (const auto& task : tasks)
      if (task.command.empty() || task.command.front().empty()) fuzz::fail("a task without a program");
  } catch (const supervise::InputError& e) {
    fuzz::check_input_error(e);
  }
  return 0;
}
