#include "supervise/spec/loader.hpp"

#include <fcntl.h>
#include <re2/re2.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <cstdio>
#include <sstream>

#include "supervise/spec/base64.hpp"
#include "supervise/spec/checkpoint_places.hpp"
#include "supervise/utf8.hpp"

namespace supervise::spec {
namespace {

constexpr std::string_view kCommandLine = "command line";
// Nesting deeper than this is no task spec; refusing it early keeps the recursive
// parsers far from the stack's end.
constexpr int kMaxNesting = 64;
constexpr std::size_t kMaxSpecBytes = 16 * 1024 * 1024;

// A key or option value as a location shows it: as written when it is plain printable
// text, quoted otherwise, so that a hostile key cannot forge or flood a message line.
std::string plain_or_quoted(std::string_view text) {
  bool plain = !text.empty() && text.size() <= 80 && std::all_of(text.begin(), text.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\\';
  });
  return plain ? std::string(text) : quote(text);
}

// A parser's message (yaml-cpp, nlohmann_json, RE2) may quote bytes of the input: control
// bytes are escaped and the message is cut at 200 bytes (never inside a UTF-8
// character), so that it stays one readable line.
std::string printable(std::string_view message) {
  constexpr std::size_t kMaxBytes = 200;
  std::string out;
  for (std::size_t i = 0; i < message.size(); ++i) {
    auto c = static_cast<unsigned char>(message[i]);
    if (out.size() >= kMaxBytes && (c & 0xc0) != 0x80) return out + "...";
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? plain_or_quoted(key) : prefix + "." + plain_or_quoted(key);
}
std::string index(const std::string& prefix, std::size_t i) {
  return prefix + "[" + std::to_string(i) + "]";
}

const char* kind_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "null";
    default: return "undefined";
  }
}

bool is_absent(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

// ---- parsing text into a YAML tree -------------------------------------------------

// Depth of [ and { outside quoted strings and comments: a conservative bound on how
// deep the flow nesting of a YAML or JSON text goes.
int bracket_depth(std::string_view text) {
  int depth = 0, max_depth = 0;
  char quote_char = 0;
  bool comment = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (comment) {
      if (c == '\n') comment = false;
    } else if (quote_char) {
      if (c == '\\' && quote_char == '"') ++i;
      else if (c == quote_char) quote_char = 0;
    } else if (c == '"' || c == '\'') {
      // A quote opens a string only at the start of a flow token.
      if (i == 0 || std::strchr(" \t\n[{,:", text[i - 1])) quote_char = c;
    } else if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n')) {
      comment = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

// ordered_json keeps the file's key order (environment is set in file order).
YAML::Node json_to_yaml(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      YAML::Node map(YAML::NodeType::Map);
      for (const auto& [key, value] : j.items()) map[key] = json_to_yaml(value);
      return map;
    }
    case nlohmann::json::value_t::array: {
      YAML::Node seq(YAML::NodeType::Sequence);
      for (const auto& value : j) seq.push_back(json_to_yaml(value));
      return seq;
    }
    case nlohmann::json::value_t::string: return YAML::Node(j.get<std::string>());
    case nlohmann::json::value_t::null: return YAML::Node(YAML::NodeType::Null);
    default: return YAML::Node(j.dump());  // numbers and booleans as their text
  }
}

// Stops a YAML parse as soon as collections nest deeper than kMaxNesting. It counts the
// parser's events, so block nesting (indentation, which bracket_depth cannot see) is
// caught too, and aliases are not expanded.
class NestingLimit : public YAML::EventHandler {
 public:
  struct TooDeep {
    YAML::Mark mark;
  };
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    enter(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    enter(mark);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void enter(const YAML::Mark& mark) {
    if (++depth_ > kMaxNesting) throw TooDeep{mark};
  }
  int depth_ = 0;
};

std::string line_column(const YAML::Mark& mark) {
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

bool looks_like_json(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{' || c == '[';
  }
  return false;
}

std::optional<YAML::Node> parse_tree(const Source& source, Diagnostics& diag) {
  if (source.text.size() > kMaxSpecBytes) {
    diag.add(source.name, "", "the file is larger than 16 MiB; no task spec is that big");
    return std::nullopt;
  }
  if (std::size_t bad = invalid_utf8_at(source.text); bad != std::string_view::npos) {
    // YAML and JSON are both UTF-8 text here; a stray byte would reach the command line
    // or the status as something else than what the file says.
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < bad; ++i) {
      if (source.text[i] == '\n') ++line, column = 1;
      else if ((static_cast<unsigned char>(source.text[i]) & 0xC0) != 0x80) ++column;
    }
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(source.text[bad]));
    diag.add(source.name, "line " + std::to_string(line) + ", column " + std::to_string(column),
             std::string("invalid UTF-8 (byte ") + byte + "); a task spec must be UTF-8 text");
    return std::nullopt;
  }
  if (looks_like_json(source.text)) {
    // JSON has no block nesting, so its brackets tell its depth (YAML's is counted
    // while it is parsed: a block scalar may hold any brackets).
    if (bracket_depth(source.text) > kMaxNesting) {
      diag.add(source.name, "", "nesting deeper than " + std::to_string(kMaxNesting) + " levels");
      return std::nullopt;
    }
    try {
      return json_to_yaml(nlohmann::ordered_json::parse(source.text));
    } catch (const nlohmann::json::exception& e) {
      // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." minus the tag.
      std::string what = e.what();
      if (auto close = what.find("] "); what.rfind("[json.", 0) == 0 && close != std::string::npos)
        what = what.substr(close + 2);
      diag.add(source.name, "", "invalid JSON: " + printable(what));
      return std::nullopt;
    }
  }
  try {
    std::istringstream in(source.text);
    YAML::Parser parser(in);
    NestingLimit limit;
    parser.HandleNextDocument(limit);
    YAML::Node root = YAML::Load(source.text);
    if (is_absent(root)) {
      diag.add(source.name, "", "the file holds no task");
      return std::nullopt;
    }
    return root;
  } catch (const NestingLimit::TooDeep& e) {
    diag.add(source.name, line_column(e.mark), "nesting deeper than " + std::to_string(kMaxNesting) + " levels");
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    diag.add(source.name, line_column(e.mark), "invalid YAML: " + printable(e.msg));
    return std::nullopt;
  }
}

// ---- reading one task ----------------------------------------------------------------

// Reads one task's fields, reporting every problem with its place.
class TaskReader {
 public:
  TaskReader(std::string source, Diagnostics& diag, const std::string& working_dir,
             bool command_line = false)
      : source_(std::move(source)), diag_(diag), working_dir_(working_dir), command_line_(command_line) {}

  void problem(const std::string& where, std::string message) {
    diag_.add(source_, where, std::move(message));
  }

  // The place of a field inside an entry: "checkpoint[0].url" in a file,
  // "--checkpoint path=/x: url" on the command line.
  std::string field(const std::string& at, std::string_view key) const {
    return command_line_ ? at + ": " + plain_or_quoted(key) : join(at, key);
  }

  std::optional<std::string> scalar(const YAML::Node& n, const std::string& where) {
    if (n.IsScalar()) return n.Scalar();
    problem(where, std::string("must be a string, not ") + kind_of(n));
    return std::nullopt;
  }

  std::optional<bool> boolean(const YAML::Node& n, const std::string& where) {
    if (auto text = scalar(n, where)) {
      if (*text == "true" || *text == "True" || *text == "TRUE") return true;
      if (*text == "false" || *text == "False" || *text == "FALSE") return false;
      problem(where, quote(*text) + " is not true or false");
    }
    return std::nullopt;
  }

  std::vector<std::string> strings(const YAML::Node& n, const std::string& where) {
    std::vector<std::string> out;
    if (n.IsScalar()) return {n.Scalar()};
    if (!n.IsSequence()) {
      problem(where, std::string("must be a list of strings, not ") + kind_of(n));
      return out;
    }
    for (std::size_t i = 0; i < n.size(); ++i)
      if (auto s = scalar(n[i], index(where, i))) out.push_back(*s);
    return out;
  }

  // Checks that a map entry only holds known keys.
  bool known_keys(const YAML::Node& n, const std::string& where,
                  std::initializer_list<std::string_view> keys) {
    if (!n.IsMap()) {
      problem(where, std::string("must be a map, not ") + kind_of(n));
      return false;
    }
    for (const auto& kv : n) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      bool found = false;
      std::string expected;
      for (auto k : keys) {
        found = found || key == k;
        expected += (expected.empty() ? "" : ", ") + std::string(k);
      }
      if (!found) problem(field(where, key), "unknown key (expected " + expected + ")");
    }
    return true;
  }

  void read_files(const YAML::Node& n, const std::string& where, Task& task) {
    if (is_absent(n)) return;
    if (!n.IsSequence()) return problem(where, std::string("must be a list, not ") + kind_of(n));
    std::map<std::string, std::string> seen;  // normalised path -> where it was declared
    for (std::size_t i = 0; i < n.size(); ++i) {
      const YAML::Node& entry = n[i];
      std::string at = index(where, i);
      if (!known_keys(entry, at, {"path", "contents", "base64", "mode"})) continue;
      DeclaredFile file;
      bool ok = true;
      if (is_absent(entry["path"])) {
        problem(join(at, "path"), "is required");
        ok = false;
      } else if (auto path = scalar(entry["path"], join(at, "path"))) {
        if (auto why = file_path_problem(*path)) {
          problem(join(at, "path"), quote(*path) + " " + *why);
          ok = false;
        } else {
          file.path = std::filesystem::path(*path).lexically_normal().string();
          if (auto [it, fresh] = seen.emplace(file.path, at); !fresh) {
            problem(join(at, "path"), quote(*path) + " is already declared by " + it->second);
            ok = false;
          }
        }
      } else {
        ok = false;
      }
      bool is_base64 = false;
      if (!is_absent(entry["base64"])) {
        auto b = boolean(entry["base64"], join(at, "base64"));
        ok = ok && b.has_value();
        is_base64 = b.value_or(false);
      }
      if (!is_absent(entry["contents"])) {
        if (auto contents = scalar(entry["contents"], join(at, "contents"))) {
          if (is_base64) {
            if (auto bytes = base64_decode(*contents)) {
              file.contents = std::move(*bytes);
            } else {
              problem(join(at, "contents"), "is not valid base64");
              ok = false;
            }
          } else {
            file.contents = std::move(*contents);
          }
        } else {
          ok = false;
        }
      }
      if (!is_absent(entry["mode"])) {
        if (auto mode = scalar(entry["mode"], join(at, "mode"))) {
          if (auto m = parse_mode(*mode)) {
            file.mode = *m;
          } else {
            problem(join(at, "mode"), quote(*mode) + " is not an octal mode from 0 to 7777 (like \"0644\")");
            ok = false;
          }
        } else {
          ok = false;
        }
      }
      if (ok) task.files.push_back(std::move(file));
    }
  }

  static std::optional<std::string> file_path_problem(const std::string& path) {
    if (path.empty() || path.front() != '/') return "is not an absolute path";
    if (path.find('\0') != std::string::npos) return "holds a NUL byte";
    for (const auto& part : std::filesystem::path(path))
      if (part == "..") return "has a \"..\" component";
    if (path.back() == '/' || std::filesystem::path(path).lexically_normal().string().back() == '/')
      return "names a directory, not a file";
    return std::nullopt;
  }

  static std::optional<mode_t> parse_mode(std::string_view text) {
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

  // One checkpoint entry, from the spec or from --checkpoint.
  void read_checkpoint(const YAML::Node& entry, const std::string& at, Task& task) {
    if (!known_keys(entry, at, {"path", "url", "frequency", "regex"})) return;
    Checkpoint cp;
    cp.place = at;
    bool ok = true;
    auto required = [&](const char* key) -> std::optional<std::string> {
      if (is_absent(entry[key])) {
        problem(field(at, key), "is required");
        return std::nullopt;
      }
      return scalar(entry[key], field(at, key));
    };
    if (auto path = required("path")) {
      std::filesystem::path p(*path);
      if (p.empty()) {
        problem(field(at, "path"), "is empty");
        ok = false;
      } else if (path->find('\0') != std::string::npos) {
        problem(field(at, "path"), quote(*path) + " holds a NUL byte");
        ok = false;
      } else {
        if (p.is_relative()) p = std::filesystem::path(working_dir_) / p;
        std::string normal = p.lexically_normal().string();
        while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
        if (normal == "/") {
          problem(field(at, "path"), quote(*path) + " is the root directory; name a directory below it");
          ok = false;
        }
        cp.path = normal;
      }
    } else {
      ok = false;
    }
    if (auto url = required("url")) {
      auto parsed = parse_store_url(*url);
      if (parsed) {
        cp.url = *parsed;
      } else {
        problem(field(at, "url"), parsed.error());
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto freq = required("frequency")) {
      auto d = parse_duration(*freq);
      if (!d) {
        problem(field(at, "frequency"), d.error());
        ok = false;
      } else if (*d < std::chrono::seconds(1)) {
        problem(field(at, "frequency"), quote(*freq) + " is less than the minimum of 1s");
        ok = false;
      } else {
        cp.frequency = *d;
      }
    } else {
      ok = false;
    }
    if (!is_absent(entry["regex"])) {
      if (auto regex = scalar(entry["regex"], field(at, "regex"))) {
        RE2::Options options;
        options.set_log_errors(false);
        RE2 re(*regex, options);
        if (!re.ok()) {
          problem(field(at, "regex"), quote(*regex) + " is not a valid RE2 expression: " + printable(re.error()));
          ok = false;
        } else {
          cp.regex = *regex;
        }
      } else {
        ok = false;
      }
    }
    if (ok) task.checkpoints.push_back(std::move(cp));
  }

  void read_exit_actions(const YAML::Node& n, const std::string& where, Task& task) {
    if (is_absent(n)) return;
    if (!n.IsMap()) return problem(where, std::string("must be a map, not ") + kind_of(n));
    std::set<Action> seen;
    for (const auto& kv : n) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      std::string at = join(where, key);
      auto action = parse_action(key);
      if (!action) {
        problem(at, "unknown action (expected COMPLETE, RESCHEDULE or FAIL)");
        continue;
      }
      if (!seen.insert(*action).second) {
        problem(at, std::string(to_string(*action)) + " is given twice");
        continue;
      }
      if (auto codes = scalar(kv.second, at)) add_exit_rule(*action, *codes, at, task);
    }
  }

  void add_exit_rule(Action action, const std::string& codes, const std::string& at, Task& task) {
    if (auto added = task.exit_actions.add(action, codes); !added) problem(at, added.error());
  }

  void read_environment(const YAML::Node& n, const std::string& where, Task& task) {
    if (is_absent(n)) return;
    if (!n.IsMap()) return problem(where, std::string("must be a map, not ") + kind_of(n));
    for (const auto& kv : n) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      std::string at = join(where, key);
      if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
        problem(at, quote(key) + " is not a valid environment variable name");
        continue;
      }
      if (is_absent(kv.second)) {
        task.environment.emplace_back(key, "");
      } else if (auto value = scalar(kv.second, at)) {
        if (value->find('\0') != std::string::npos) problem(at, "holds a NUL byte");
        else task.environment.emplace_back(key, *value);
      }
    }
  }

  // Reads a whole task; `has_command_override` lifts the need for `command`.
  Task read_task(const YAML::Node& n, const std::string& where, bool has_command_override) {
    Task task;
    if (!n.IsMap()) {
      problem(where, std::string("a task must be a map, not ") + kind_of(n));
      return task;
    }
    if (!is_absent(n["name"])) task.name = scalar(n["name"], join(where, "name"));
    if (!is_absent(n["command"])) {
      task.command = strings(n["command"], join(where, "command"));
      if (n["command"].IsSequence() && task.command.empty() && !has_command_override)
        problem(join(where, "command"), "must not be empty");
      else if (!task.command.empty() && task.command.front().empty())
        problem(join(where, "command"), "the program name is empty");
    } else if (!has_command_override) {
      problem(join(where, "command"), "is required (or give the command after --)");
    }
    if (!is_absent(n["args"])) {
      auto args = strings(n["args"], join(where, "args"));
      task.command.insert(task.command.end(), args.begin(), args.end());
    }
    // exec would cut an argument at a NUL byte: what ran would not be what the spec says.
    for (std::size_t i = 0; i < task.command.size(); ++i)
      if (task.command[i].find('\0') != std::string::npos)
        problem(join(where, "command"), quote(task.command[i]) + " holds a NUL byte");
    read_environment(n["environment"], join(where, "environment"), task);
    read_files(n["files"], join(where, "files"), task);
    const YAML::Node& checkpoints = n["checkpoint"];
    if (!is_absent(checkpoints)) {
      if (!checkpoints.IsSequence()) {
        problem(join(where, "checkpoint"), std::string("must be a list, not ") + kind_of(checkpoints));
      } else {
        for (std::size_t i = 0; i < checkpoints.size(); ++i)
          read_checkpoint(checkpoints[i], index(join(where, "checkpoint"), i), task);
      }
    }
    read_exit_actions(n["exitActions"], join(where, "exitActions"), task);
    return task;
  }

 private:
  std::string source_;
  Diagnostics& diag_;
  const std::string& working_dir_;
  bool command_line_;
};

// ---- the command line's additions ------------------------------------------------------

// "path=P,url=U,frequency=F[,regex=R]": regex comes last and keeps its commas.
YAML::Node checkpoint_option_to_node(const std::string& value, TaskReader& reader,
                                     const std::string& at) {
  YAML::Node node(YAML::NodeType::Map);
  std::size_t start = 0;
  while (start < value.size()) {
    std::size_t end = value.rfind("regex=", start) == start ? value.size() : value.find(',', start);
    if (end == std::string::npos) end = value.size();
    std::string item = value.substr(start, end - start);
    std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      reader.problem(at, quote(item) + " is not key=value");
    } else {
      std::string key = item.substr(0, eq);
      if (node[key].IsDefined()) reader.problem(reader.field(at, key), "is given twice");
      else node[key] = item.substr(eq + 1);
    }
    start = end + 1;
  }
  return node;
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void apply_overrides(const Overrides& o, Task& task, TaskReader& cli) {
  if (!o.command.empty()) {
    task.command = o.command;
    if (task.command.front().empty()) cli.problem("command", "the program name is empty");
  }
  for (const auto& value : o.exit_actions) {
    std::string at = "--exit-action " + plain_or_quoted(value);
    std::size_t eq = value.find('=');
    auto action = eq == std::string::npos ? std::nullopt : parse_action(trim_blanks(value.substr(0, eq)));
    if (!action) {
      cli.problem(at, "expected ACTION=CODES with ACTION one of COMPLETE, RESCHEDULE, FAIL");
      continue;
    }
    cli.add_exit_rule(*action, value.substr(eq + 1), at, task);
  }
  for (const auto& value : o.checkpoints) {
    // The option as the user gave it, but a "user:password@" in its url hidden.
    std::string at = "--checkpoint " + plain_or_quoted(redact_url(value));
    cli.read_checkpoint(checkpoint_option_to_node(value, cli, at), at, task);
  }
}

// Entries of one task (spec and --checkpoint) that store to the same place, each reported
// where it was given.
void report_place_problems(const Task& task, TaskReader& spec, TaskReader& cli) {
  for (const auto& p : place_problems(task.checkpoints)) {
    const Checkpoint& cp = task.checkpoints[p.entry];
    (cp.place.rfind("--", 0) == 0 ? cli : spec).problem(cp.place, p.message);
  }
}

// ---- finding the task in a workflow --------------------------------------------------

struct Located {
  YAML::Node node;
  std::string where;
};

std::vector<Located> tasks_of(const YAML::Node& root, TaskReader& reader, bool& is_workflow) {
  std::vector<Located> out;
  auto collect = [&](const YAML::Node& list, const std::string& where) {
    if (is_absent(list)) return;
    if (!list.IsSequence()) return reader.problem(where, std::string("must be a list, not ") + kind_of(list));
    for (std::size_t i = 0; i < list.size(); ++i) out.push_back({list[i], index(where, i)});
  };
  is_workflow = true;
  if (root["workflow"].IsDefined()) {
    const YAML::Node& wf = root["workflow"];
    if (!wf.IsMap()) {
      reader.problem("workflow", std::string("must be a map, not ") + kind_of(wf));
      return out;
    }
    collect(wf["tasks"], "workflow.tasks");
    const YAML::Node& groups = wf["groups"];
    if (!is_absent(groups)) {
      if (!groups.IsSequence()) {
        reader.problem("workflow.groups", std::string("must be a list, not ") + kind_of(groups));
      } else {
        for (std::size_t g = 0; g < groups.size(); ++g) {
          std::string where = index("workflow.groups", g);
          if (!groups[g].IsMap()) reader.problem(where, std::string("must be a map, not ") + kind_of(groups[g]));
          else collect(groups[g]["tasks"], join(where, "tasks"));
        }
      }
    }
  } else if (root["tasks"].IsDefined()) {
    collect(root["tasks"], "tasks");
  } else {
    is_workflow = false;
    out.push_back({root, ""});
  }
  return out;
}

std::string name_of(const YAML::Node& task) {
  if (!task.IsMap()) return "";
  const YAML::Node& name = task["name"];  // undefined when absent: ask IsDefined() first
  return name.IsDefined() && name.IsScalar() ? name.Scalar() : "";
}

std::string shown_name(const YAML::Node& task) {
  std::string name = name_of(task);
  return name.empty() ? "(unnamed)" : plain_or_quoted(name);
}

}  // namespace

std::vector<Task> load(const LoadRequest& request) {
  Diagnostics diag;
  std::vector<Task> tasks;
  // The command line's problems, gathered apart: its options apply to every chosen task
  // but each problem is reported once, after the file's.
  Diagnostics cli_diag;
  TaskReader cli(std::string(kCommandLine), cli_diag, request.working_dir, true);
  auto add_cli_problems = [&] {
    std::vector<Diagnostic> added;
    for (const auto& d : cli_diag.items()) {
      bool seen = std::any_of(added.begin(), added.end(), [&](const Diagnostic& a) {
        return a.location == d.location && a.message == d.message;
      });
      if (seen) continue;
      added.push_back(d);
      diag.add(d.source, d.location, d.message);
    }
  };
  bool has_command = !request.overrides.command.empty();

  if (!request.source) {
    if (!has_command) cli.problem("", "no command: give one after -- or a task spec with --spec");
    Task task;
    task.name = request.task_name;
    apply_overrides(request.overrides, task, cli);
    report_place_problems(task, cli, cli);
    add_cli_problems();
    if (!diag.empty()) throw InputError(std::move(diag));
    tasks.push_back(std::move(task));
    return tasks;
  }

  const Source& source = *request.source;
  std::optional<YAML::Node> root = parse_tree(source, diag);
  if (!root) throw InputError(std::move(diag));
  TaskReader reader(source.name, diag, request.working_dir);
  if (!root->IsMap()) {
    reader.problem("", std::string("must hold a task or a workflow (a map), not ") + kind_of(*root));
    throw InputError(std::move(diag));
  }
  bool is_workflow = false;
  std::vector<Located> all = tasks_of(*root, reader, is_workflow);
  if (!diag.empty()) throw InputError(std::move(diag));

  std::vector<Located> chosen;
  if (request.task_name) {
    std::string names;
    for (const auto& t : all) {
      std::string name = name_of(t.node);
      if (name == *request.task_name || (!is_workflow && name.empty())) chosen.push_back(t);
      names += (names.empty() ? "" : ", ") + shown_name(t.node);
    }
    if (chosen.empty())
      reader.problem("", "no task named " + quote(*request.task_name) + " (tasks: " + names + ")");
    else if (chosen.size() > 1)
      reader.problem(chosen[1].where, "a second task named " + quote(*request.task_name));
  } else if (all.size() == 1 || request.all_tasks) {
    chosen = all;
  } else {
    std::string names;
    for (const auto& t : all) names += (names.empty() ? "" : ", ") + shown_name(t.node);
    reader.problem("", all.empty() ? std::string("the workflow holds no task")
                                   : "the workflow holds " + std::to_string(all.size()) +
                                         " tasks (" + names + "); choose one with --task");
  }
  if (chosen.empty() && diag.empty()) reader.problem("", "the workflow holds no task");
  if (!diag.empty()) throw InputError(std::move(diag));

  for (const auto& t : chosen) {
    Task task = reader.read_task(t.node, t.where, has_command);
    if (!task.name && request.task_name) task.name = request.task_name;
    apply_overrides(request.overrides, task, cli);
    report_place_problems(task, reader, cli);
    tasks.push_back(std::move(task));
  }
  add_cli_problems();
  if (!diag.empty()) throw InputError(std::move(diag));
  return tasks;
}

Source read_source(const std::string& path) {
  auto fail = [&](const std::string& what) {
    Diagnostics diag;
    diag.add(path, "", what);
    throw InputError(std::move(diag));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(std::string("cannot read: ") + std::strerror(errno));
  Source source{path, {}};
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      fail(std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    source.text.append(buf, static_cast<std::size_t>(n));
    if (source.text.size() > kMaxSpecBytes) {
      ::close(fd);
      fail("the file is larger than 16 MiB; no task spec is that big");
    }
  }
  ::close(fd);
  return source;
}

}  // namespace supervise::spec
