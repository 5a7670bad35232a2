// Reading one task's fields from the spec's tree: the type of every field, every rule of
// SPEC.md "Task spec", each problem reported with its place (src/spec/task_reader.cpp).
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "supervise/spec/task.hpp"
#include "supervise/spec/tree.hpp"

namespace supervise::spec {

class TaskReader {
 public:
  TaskReader(std::string source, Diagnostics& diag, const std::string& working_dir,
             bool command_line = false)
      : source_(std::move(source)), diag_(diag), working_dir_(working_dir), command_line_(command_line) {}

  void problem(const std::string& where, std::string message) { diag_.add(source_, where, std::move(message)); }
  // A problem with a value: its place, and the line it is written on when an alias or a
  // merge key brought it there.
  void problem(const Value& v, const std::string& where, std::string message) {
    problem(where + v.origin(), std::move(message));
  }

  // The place of a field inside an entry: "checkpoint[0].url" in a file,
  // "--checkpoint path=/x: url" on the command line.
  std::string field(const std::string& at, std::string_view key) const;

  // Reads a whole task; `has_command_override` lifts the need for `command`.
  Task read_task(const Value& n, const std::string& where, bool has_command_override);
  // One checkpoint entry, from the spec or from --checkpoint.
  void read_checkpoint(const Value& entry, const std::string& at, Task& task);
  void add_exit_rule(Action action, const std::string& codes, const std::string& at, Task& task);

 private:
  // The kinds of scalar a field takes.
  enum Scalars : unsigned { kString = 1, kNumber = 2, kBoolean = 4 };
  std::optional<std::string> text(const Value& v, const std::string& where, unsigned allowed);
  std::vector<std::string> strings(const Value& v, const std::string& where);
  std::optional<bool> flag(const Value& v, const std::string& where);
  bool known_keys(const Value& n, const std::string& where, std::initializer_list<std::string_view> keys);
  void read_environment(const Value& n, const std::string& where, Task& task);
  void read_files(const Value& n, const std::string& where, Task& task);
  std::optional<DeclaredFile> read_file(const Value& entry, const std::string& at,
                                        std::map<std::string, std::string>& seen);
  void read_exit_actions(const Value& n, const std::string& where, Task& task);

  std::string source_;
  Diagnostics& diag_;
  const std::string& working_dir_;
  bool command_line_;
};

}  // namespace supervise::spec
