// TaskSpec: one task, validated and ready to run. Built only by the loader
// (spec/loader.hpp); everything in it has passed every rule of SPEC.md.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "supervise/spec/duration.hpp"
#include "supervise/spec/exit_actions.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::spec {

struct DeclaredFile {
  std::string path;      // absolute, normalised, no ".." component
  std::string contents;  // decoded bytes (base64 already decoded)
  mode_t mode = 0644;
};

struct Checkpoint {
  std::string path;  // absolute, normalised
  StoreUrl url;
  Duration frequency{};
  std::optional<std::string> regex;  // compiles under RE2
  bool restore = false;  // bring the stored checkpoint back before the command starts
  // Where the entry was given, for messages: "tasks[0].checkpoint[1]" (in the spec) or
  // "--checkpoint path=/x,url=..." (on the command line, URL redacted).
  std::string place;
};

struct Task {
  std::optional<std::string> name;
  std::vector<std::string> command;  // command + args, never empty
  std::vector<std::pair<std::string, std::string>> environment;  // in file order
  std::vector<DeclaredFile> files;
  std::vector<Checkpoint> checkpoints;
  ExitActionTable exit_actions;
};

}  // namespace supervise::spec
