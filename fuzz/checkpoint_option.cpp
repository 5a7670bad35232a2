// Fuzz target: the value of --checkpoint ("path=P,url=U,frequency=F[,regex=R]"), through
// cli::parse as argv and then spec::load with the command line alone, the way main()
// reads it. Bad values must end in InputError with one-line problems; a value that loads
// gives exactly one checkpoint that holds what spec/task.hpp promises.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "supervise/cli.hpp"
#include "supervise/spec/loader.hpp"

namespace cli = supervise::cli;
namespace spec = supervise::spec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string value = fuzz::text_of(data, size);
  auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  cli::Options options;
  try {
    options = cli::parse({"--checkpoint", value, "--", "/bin/true"}, no_env);
  } catch (const supervise::InputError& e) {
    fuzz::fail("cli::parse refused a --checkpoint value (the loader checks it)", e.what());
  }
  if (options.overrides.checkpoints.size() != 1 || options.overrides.checkpoints[0] != value)
    fuzz::fail("cli::parse did not keep the --checkpoint value as given");
  spec::LoadRequest request;
  request.overrides = options.overrides;
  request.working_dir = "/work/dir";
  try {
    auto tasks = spec::load(request);
    if (tasks.size() != 1 || tasks[0].checkpoints.size() != 1) fuzz::fail("--checkpoint loaded without its checkpoint");
    const auto& cp = tasks[0].checkpoints[0];
    if (cp.path.empty() || cp.path.front() != '/' || cp.path == "/") fuzz::fail("a checkpoint path not below /", cp.path);
    if (cp.path.find('\0') != std::string::npos) fuzz::fail("a checkpoint path holds a NUL byte", cp.path);
    if (cp.frequency < std::chrono::seconds(1)) fuzz::fail("a checkpoint frequency under 1s");
    if (cp.url.text.empty()) fuzz::fail("a checkpoint without a URL");
  } catch (const supervise::InputError& e) {
    fuzz::check_input_error(e);
  }
  return 0;
}
