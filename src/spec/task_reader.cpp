// Reading one task's fields: each field's type (a number is no string, a string no list),
// then its rules; every problem is collected with its place, none stops the reading.
#include "task_reader.hpp"

#include <re2/re2.h>

#include <filesystem>
#include <set>

#include "supervise/spec/base64.hpp"

namespace supervise::spec {
namespace {

// "a string", "a string or a number", "a string, a number or a boolean".
std::string kinds_text(unsigned allowed) {
  std::vector<std::string> names;
  if (allowed & 1) names.emplace_back("a string");
  if (allowed & 2) names.emplace_back("a number");
  if (allowed & 4) names.emplace_back("a boolean");
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

std::optional<std::string> file_path_problem(const std::string& path) {
  if (path.empty() || path.front() != '/') return "is not an absolute path";
  if (path.find('\0') != std::string::npos) return "holds a NUL byte";
  for (const auto& part : std::filesystem::path(path))
    if (part == "..") return "has a \"..\" component";
  if (path.back() == '/' || std::filesystem::path(path).lexically_normal().string().back() == '/')
    return "names a directory, not a file";
  return std::nullopt;
}

std::optional<mode_t> parse_mode(std::string_view text) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'o' || text[1] == 'O')) text.remove_prefix(2);
  if (text.empty() || text.size() > 5) return std::nullopt;
  mode_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = static_cast<mode_t>(mode * 8 + static_cast<mode_t>(c - '0'));
  }
  if (mode > 07777) return std::nullopt;
  return mode;
}

}  // namespace

std::string TaskReader::field(const std::string& at, std::string_view key) const {
  return command_line_ ? at + ": " + plain_or_quoted(key) : join(at, key);
}

// A scalar of one of the allowed kinds, as written. A number or boolean where only a
// string is taken is named with its text, quoted, as the user would have to write it.
std::optional<std::string> TaskReader::text(const Value& v, const std::string& where, unsigned allowed) {
  Kind kind = v.kind();
  if ((kind == Kind::kString && (allowed & kString)) || (kind == Kind::kNumber && (allowed & kNumber)) ||
      (kind == Kind::kBoolean && (allowed & kBoolean)))
    return v.node->text;
  std::string message = "must be " + kinds_text(allowed) + ", not " + kind_name(kind);
  if ((kind == Kind::kNumber || kind == Kind::kBoolean) && (allowed & kString))
    message += " (quote it: " + quote(v.node->text) + ")";
  problem(v, where, std::move(message));
  return std::nullopt;
}

// true or false, as a boolean or a string ("True", "FALSE", ...: --checkpoint's values are
// strings).
std::optional<bool> TaskReader::flag(const Value& v, const std::string& where) {
  auto word = text(v, where, kBoolean | kString);
  if (!word) return std::nullopt;
  if (*word == "true" || *word == "True" || *word == "TRUE") return true;
  if (*word == "false" || *word == "False" || *word == "FALSE") return false;
  problem(v, where, quote(*word) + " is not true or false");
  return std::nullopt;
}

// command and args: one string is one argument; otherwise a list of strings.
std::vector<std::string> TaskReader::strings(const Value& v, const std::string& where) {
  if (v.is(Kind::kString)) return {v.node->text};
  std::vector<std::string> out;
  if (!v.is(Kind::kList)) {
    std::string message = std::string("must be a string or a list of strings, not ") + kind_name(v.kind());
    if (v.is(Kind::kNumber) || v.is(Kind::kBoolean)) message += " (quote it: " + quote(v.node->text) + ")";
    problem(v, where, std::move(message));
    return out;
  }
  for (std::size_t i = 0; i < v.size(); ++i)
    if (auto s = text(v[i], index(where, i), kString)) out.push_back(*s);
  return out;
}

bool TaskReader::known_keys(const Value& n, const std::string& where,
                            std::initializer_list<std::string_view> keys) {
  if (!n.is(Kind::kMap)) {
    problem(n, where, std::string("must be a map, not ") + kind_name(n.kind()));
    return false;
  }
  std::string expected;
  for (auto k : keys) expected += (expected.empty() ? "" : ", ") + std::string(k);
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string& key = n.key(i);
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      problem(field(where, key) + n.key_origin(i), "unknown key (expected " + expected + ")");
  }
  return true;
}

std::optional<DeclaredFile> TaskReader::read_file(const Value& entry, const std::string& at,
                                                  std::map<std::string, std::string>& seen) {
  if (!known_keys(entry, at, {"path", "contents", "base64", "mode"})) return std::nullopt;
  DeclaredFile file;
  bool ok = true;
  Value path_value = entry["path"];
  if (path_value.absent()) {
    problem(join(at, "path"), "is required");
    ok = false;
  } else if (auto path = text(path_value, join(at, "path"), kString)) {
    if (auto why = file_path_problem(*path)) {
      problem(path_value, join(at, "path"), quote(*path) + " " + *why);
      ok = false;
    } else {
      file.path = std::filesystem::path(*path).lexically_normal().string();
      if (auto [it, fresh] = seen.emplace(file.path, at); !fresh) {
        problem(path_value, join(at, "path"), quote(*path) + " is already declared by " + it->second);
        ok = false;
      }
    }
  } else {
    ok = false;
  }
  bool is_base64 = false;
  if (Value b = entry["base64"]; !b.absent()) {
    auto is = flag(b, join(at, "base64"));
    ok = ok && is.has_value();
    is_base64 = is.value_or(false);
  }
  if (Value c = entry["contents"]; !c.absent()) {
    if (auto contents = text(c, join(at, "contents"), kString | kNumber | kBoolean)) {
      if (!is_base64) {
        file.contents = std::move(*contents);
      } else if (auto bytes = base64_decode(*contents)) {
        file.contents = std::move(*bytes);
      } else {
        problem(c, join(at, "contents"), "is not valid base64");
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  if (Value m = entry["mode"]; !m.absent()) {
    // A string only: an unquoted 0755 is a number, decimal or octal by the reader.
    if (auto mode = text(m, join(at, "mode"), kString)) {
      if (auto bits = parse_mode(*mode)) {
        file.mode = *bits;
      } else {
        problem(m, join(at, "mode"), quote(*mode) + " is not an octal mode from 0 to 7777 (like \"0644\")");
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return file;
}

void TaskReader::read_files(const Value& n, const std::string& where, Task& task) {
  if (n.absent()) return;
  if (!n.is(Kind::kList)) return problem(n, where, std::string("must be a list, not ") + kind_name(n.kind()));
  std::map<std::string, std::string> seen;  // normalised path -> where it was declared
  for (std::size_t i = 0; i < n.size(); ++i)
    if (auto file = read_file(n[i], index(where, i), seen)) task.files.push_back(std::move(*file));
}

void TaskReader::read_checkpoint(const Value& entry, const std::string& at, Task& task) {
  if (!known_keys(entry, at, {"path", "url", "frequency", "regex", "restore"})) return;
  Checkpoint cp;
  cp.place = at;
  bool ok = true;
  auto required = [&](const char* key, unsigned allowed) -> std::optional<std::string> {
    if (entry[key].absent()) {
      problem(field(at, key), "is required");
      return std::nullopt;
    }
    return text(entry[key], field(at, key), allowed);
  };
  if (auto path = required("path", kString)) {
    std::filesystem::path p(*path);
    if (p.empty()) {
      problem(entry["path"], field(at, "path"), "is empty");
      ok = false;
    } else if (path->find('\0') != std::string::npos) {
      problem(entry["path"], field(at, "path"), quote(*path) + " holds a NUL byte");
      ok = false;
    } else {
      if (p.is_relative()) p = std::filesystem::path(working_dir_) / p;
      std::string normal = p.lexically_normal().string();
      while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
      if (normal == "/") {
        problem(entry["path"], field(at, "path"), quote(*path) + " is the root directory; name a directory below it");
        ok = false;
      }
      cp.path = normal;
    }
  } else {
    ok = false;
  }
  if (auto url = required("url", kString)) {
    if (auto parsed = parse_store_url(*url)) {
      cp.url = *parsed;
    } else {
      problem(entry["url"], field(at, "url"), parsed.error());
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto freq = required("frequency", kString | kNumber)) {
    auto d = parse_duration(*freq);
    if (!d) {
      problem(entry["frequency"], field(at, "frequency"), d.error());
      ok = false;
    } else if (*d < std::chrono::seconds(1)) {
      problem(entry["frequency"], field(at, "frequency"), quote(*freq) + " is less than the minimum of 1s");
      ok = false;
    } else {
      cp.frequency = *d;
    }
  } else {
    ok = false;
  }
  if (Value r = entry["regex"]; !r.absent()) {
    if (auto regex = text(r, field(at, "regex"), kString)) {
      RE2::Options options;
      options.set_log_errors(false);
      RE2 re(*regex, options);
      if (!re.ok()) {
        problem(r, field(at, "regex"), quote(*regex) + " is not a valid RE2 expression: " + printable(re.error()));
        ok = false;
      } else {
        cp.regex = *regex;
      }
    } else {
      ok = false;
    }
  }
  if (Value r = entry["restore"]; !r.absent()) {
    auto restore = flag(r, field(at, "restore"));
    ok = ok && restore.has_value();
    cp.restore = restore.value_or(false);
  }
  if (ok) task.checkpoints.push_back(std::move(cp));
}

void TaskReader::read_exit_actions(const Value& n, const std::string& where, Task& task) {
  if (n.absent()) return;
  if (!n.is(Kind::kMap)) return problem(n, where, std::string("must be a map, not ") + kind_name(n.kind()));
  std::set<Action> seen;
  for (std::size_t i = 0; i < n.size(); ++i) {
    std::string at = join(where, n.key(i));
    auto action = parse_action(n.key(i));
    if (!action) {
      problem(at, "unknown action (expected COMPLETE, RESCHEDULE or FAIL)");
      continue;
    }
    if (!seen.insert(*action).second) {
      problem(at, std::string(to_string(*action)) + " is given twice");
      continue;
    }
    Value codes = n[i];
    if (auto text_codes = text(codes, at, kString | kNumber)) {
      if (auto added = task.exit_actions.add(*action, *text_codes); !added) problem(codes, at, added.error());
    }
  }
}

void TaskReader::add_exit_rule(Action action, const std::string& codes, const std::string& at, Task& task) {
  if (auto added = task.exit_actions.add(action, codes); !added) problem(at, added.error());
}

void TaskReader::read_environment(const Value& n, const std::string& where, Task& task) {
  if (n.absent()) return;
  if (!n.is(Kind::kMap)) return problem(n, where, std::string("must be a map, not ") + kind_name(n.kind()));
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string& key = n.key(i);
    std::string at = join(where, key);
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
      problem(at, quote(key) + " is not a valid environment variable name");
      continue;
    }
    Value v = n[i];
    if (v.absent()) {
      task.environment.emplace_back(key, "");
    } else if (auto value = text(v, at, kString | kNumber | kBoolean)) {
      if (value->find('\0') != std::string::npos) problem(v, at, "holds a NUL byte");
      else task.environment.emplace_back(key, *value);
    }
  }
}

Task TaskReader::read_task(const Value& n, const std::string& where, bool has_command_override) {
  Task task;
  if (!n.is(Kind::kMap)) {
    problem(n, where, std::string("a task must be a map, not ") + kind_name(n.kind()));
    return task;
  }
  if (Value name = n["name"]; !name.absent()) task.name = text(name, join(where, "name"), kString | kNumber | kBoolean);
  // command and args are what runs: null there is a mistake, not an absence.
  Value command = n["command"];
  if (command.node) {
    task.command = strings(command, join(where, "command"));
    if (command.is(Kind::kList) && command.size() == 0 && !has_command_override)
      problem(command, join(where, "command"), "must not be empty");
    else if (!task.command.empty() && task.command.front().empty())
      problem(command, join(where, "command"), "the program name is empty");
  } else if (!has_command_override) {
    problem(join(where, "command"), "is required (or give the command after --)");
  }
  if (Value args = n["args"]; args.node) {
    auto more = strings(args, join(where, "args"));
    task.command.insert(task.command.end(), more.begin(), more.end());
  }
  // exec would cut an argument at a NUL byte: what ran would not be what the spec says.
  for (const auto& arg : task.command)
    if (arg.find('\0') != std::string::npos) problem(join(where, "command"), quote(arg) + " holds a NUL byte");
  read_environment(n["environment"], join(where, "environment"), task);
  read_files(n["files"], join(where, "files"), task);
  if (Value checkpoints = n["checkpoint"]; !checkpoints.absent()) {
    if (!checkpoints.is(Kind::kList)) {
      problem(checkpoints, join(where, "checkpoint"), std::string("must be a list, not ") + kind_name(checkpoints.kind()));
    } else {
      for (std::size_t i = 0; i < checkpoints.size(); ++i)
        read_checkpoint(checkpoints[i], index(join(where, "checkpoint"), i), task);
    }
  }
  read_exit_actions(n["exitActions"], join(where, "exitActions"), task);
  return task;
}

}  // namespace supervise::spec
