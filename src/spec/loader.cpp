// Loading a task: the spec's tree (source.cpp), the task chosen in a workflow (here),
// its fields (task_reader.cpp), and what the command line adds to them (here).
#include "supervise/spec/loader.hpp"

#include <algorithm>

#include "supervise/spec/checkpoint_places.hpp"
#include "task_reader.hpp"

namespace supervise::spec {
namespace {

constexpr std::string_view kCommandLine = "command line";

// ---- the command line's additions ------------------------------------------------------

// "path=P,url=U,frequency=F[,regex=R]": regex comes last and keeps its commas.
// The entry's fields are strings, as a file's quoted values would be.
NodePtr checkpoint_option_to_node(const std::string& value, TaskReader& reader, const std::string& at) {
  auto node = std::make_shared<Node>();
  node->kind = Kind::kMap;
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
      if (node->find(key)) {
        reader.problem(reader.field(at, key), "is given twice");
      } else {
        auto text = std::make_shared<Node>();
        text->kind = Kind::kString;
        text->text = item.substr(eq + 1);
        node->items.push_back({key, {}, std::move(text), false});
      }
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
    NodePtr entry = checkpoint_option_to_node(value, cli, at);
    cli.read_checkpoint(Value{entry.get()}, at, task);
  }
  if (o.restore)
    for (auto& cp : task.checkpoints) cp.restore = *o.restore;
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
  Value node;
  std::string where;
};

std::vector<Located> tasks_of(const Value& root, TaskReader& reader, bool& is_workflow) {
  std::vector<Located> out;
  auto collect = [&](const Value& list, const std::string& where) {
    if (list.absent()) return;
    if (!list.is(Kind::kList))
      return reader.problem(list, where, std::string("must be a list, not ") + kind_name(list.kind()));
    for (std::size_t i = 0; i < list.size(); ++i) out.push_back({list[i], index(where, i)});
  };
  is_workflow = true;
  if (Value wf = root["workflow"]; wf.node) {
    if (!wf.is(Kind::kMap)) {
      reader.problem(wf, "workflow", std::string("must be a map, not ") + kind_name(wf.kind()));
      return out;
    }
    collect(wf["tasks"], "workflow.tasks");
    Value groups = wf["groups"];
    if (!groups.absent()) {
      if (!groups.is(Kind::kList)) {
        reader.problem(groups, "workflow.groups", std::string("must be a list, not ") + kind_name(groups.kind()));
      } else {
        for (std::size_t g = 0; g < groups.size(); ++g) {
          std::string where = index("workflow.groups", g);
          if (!groups[g].is(Kind::kMap))
            reader.problem(groups[g], where, std::string("must be a map, not ") + kind_name(groups[g].kind()));
          else collect(groups[g]["tasks"], join(where, "tasks"));
        }
      }
    }
  } else if (root["tasks"].node) {
    collect(root["tasks"], "tasks");
  } else {
    is_workflow = false;
    out.push_back({root, ""});
  }
  return out;
}

std::string name_of(const Value& task) {
  Value name = task["name"];
  return name.absent() || !name.node->is_scalar() ? "" : name.node->text;
}

std::string shown_name(const Value& task) {
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
  std::optional<NodePtr> tree = parse_tree(source, diag);
  if (!tree) throw InputError(std::move(diag));
  Value root{tree->get()};
  TaskReader reader(source.name, diag, request.working_dir);
  if (!root.is(Kind::kMap)) {
    reader.problem("", std::string("must hold a task or a workflow (a map), not ") + kind_name(root.kind()));
    throw InputError(std::move(diag));
  }
  bool is_workflow = false;
  std::vector<Located> all = tasks_of(root, reader, is_workflow);
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

}  // namespace supervise::spec
