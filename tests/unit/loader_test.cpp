// SPEC.md "Invocation" and "Task spec": every rule of the spec loader a row. Valid
// inputs check what the loaded Task holds; invalid ones check every diagnostic (count,
// source, exact location, message substring). Fixtures in tests/testdata/ are loaded
// too, and tests/testdata/invalid/README.md is checked line by line.
#include "supervise/spec/loader.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace supervise::spec {
namespace {

using std::chrono::seconds;
using Strings = std::vector<std::string>;
using Env = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kFile = "wf.yaml";
constexpr const char* kCli = "command line";

std::string testdata(const std::string& relative) {
  return std::string(SUPERVISE_TESTDATA) + "/" + relative;
}

// ---- building requests -----------------------------------------------------------------

LoadRequest spec(std::string text, std::string name = kFile) {
  LoadRequest request;
  request.source = Source{std::move(name), std::move(text)};
  return request;
}
LoadRequest command_line(Strings command) {
  LoadRequest request;
  request.overrides.command = std::move(command);
  return request;
}
LoadRequest with_task(LoadRequest r, std::string name) {
  r.task_name = std::move(name);
  return r;
}
LoadRequest all_tasks(LoadRequest r) {
  r.all_tasks = true;
  return r;
}
LoadRequest with_command(LoadRequest r, Strings command) {
  r.overrides.command = std::move(command);
  return r;
}
LoadRequest with_exit_actions(LoadRequest r, Strings values) {
  r.overrides.exit_actions = std::move(values);
  return r;
}
LoadRequest with_checkpoints(LoadRequest r, Strings values) {
  r.overrides.checkpoints = std::move(values);
  return r;
}
LoadRequest in_dir(LoadRequest r, std::string dir) {
  r.working_dir = std::move(dir);
  return r;
}

// A single task with a command, plus `more` (YAML lines at the top level of the task).
std::string task(const std::string& more = "") {
  return "name: t\ncommand: [/bin/true]\n" + more;
}

// The diagnostics load() throws; empty when it does not throw.
std::vector<Diagnostic> diagnostics_of(const LoadRequest& request) {
  try {
    load(request);
  } catch (const InputError& e) {
    return e.diagnostics().items();
  }
  return {};
}

std::string dump(const std::vector<Diagnostic>& items) {
  std::string out;
  for (const auto& d : items)
    out += "\n  [" + d.source + "] [" + d.location + "] [" + d.message + "]";
  return out.empty() ? "\n  (none)" : out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- valid input: what the loaded tasks hold ---------------------------------------------

struct ValidRow {
  std::string name;
  LoadRequest request;
  std::function<void(const std::vector<Task>&)> check;
};
void PrintTo(const ValidRow& row, std::ostream* os) {
  *os << row.name;
}

Action action_of(const Task& t, int code) {
  return t.exit_actions.lookup(code).action;
}

std::vector<ValidRow> valid_rows() {
  const std::string three_tasks =
      "workflow:\n"
      "  name: wf\n"
      "  tasks:\n"
      "  - {name: a, command: [/bin/a]}\n"
      "  - {name: b, command: [/bin/b]}\n"
      "  - {name: c, command: [/bin/c]}\n";
  const std::string groups =
      "workflow:\n"
      "  groups:\n"
      "  - name: g1\n"
      "    tasks:\n"
      "    - {name: a, command: [/bin/a]}\n"
      "  - name: g2\n"
      "    tasks:\n"
      "    - {name: b, command: [/bin/b]}\n"
      "    - {name: c, command: [/bin/c]}\n";
  auto one_echo = [](const std::vector<Task>& tasks) {
    ASSERT_EQ(tasks.size(), 1u);
    EXPECT_EQ(tasks[0].name, "hello");
    EXPECT_EQ(tasks[0].command, (Strings{"/bin/echo", "a", "b"}));
  };
  auto names = [](Strings expected) {
    return [expected](const std::vector<Task>& tasks) {
      Strings got;
      for (const auto& t : tasks) got.push_back(t.name.value_or("(none)"));
      EXPECT_EQ(got, expected);
    };
  };
  auto command_is = [](Strings expected) {
    return [expected](const std::vector<Task>& tasks) {
      ASSERT_EQ(tasks.size(), 1u);
      EXPECT_EQ(tasks[0].command, expected);
    };
  };
  auto one_file = [](std::string path, std::string contents, mode_t mode) {
    return [=](const std::vector<Task>& tasks) {
      ASSERT_EQ(tasks.size(), 1u);
      ASSERT_EQ(tasks[0].files.size(), 1u);
      EXPECT_EQ(tasks[0].files[0].path, path);
      EXPECT_EQ(tasks[0].files[0].contents, contents);
      EXPECT_EQ(tasks[0].files[0].mode, mode) << std::oct << tasks[0].files[0].mode;
    };
  };
  auto one_checkpoint = [](std::string path, std::string url, Duration frequency,
                           std::optional<std::string> regex) {
    return [=](const std::vector<Task>& tasks) {
      ASSERT_EQ(tasks.size(), 1u);
      ASSERT_EQ(tasks[0].checkpoints.size(), 1u);
      const Checkpoint& cp = tasks[0].checkpoints[0];
      EXPECT_EQ(cp.path, path);
      EXPECT_EQ(cp.url.text, url);
      EXPECT_EQ(cp.frequency, frequency);
      EXPECT_EQ(cp.regex, regex);
    };
  };

  return {
      // --- YAML or JSON, told by content -------------------------------------------------
      {"yaml_single_task", spec("name: hello\ncommand: [/bin/echo]\nargs: [a, b]\n"), one_echo},
      {"json_single_task_in_yaml_named_file",
       spec(R"({"name": "hello", "command": ["/bin/echo"], "args": ["a", "b"]})", "task.yaml"),
       one_echo},
      {"yaml_in_json_named_file",
       spec("name: hello\ncommand: [/bin/echo]\nargs: [a, b]\n", "t.json"), one_echo},
      {"json_after_bom_and_blank_lines",
       spec("\xEF\xBB\xBF\n \t\r\n{\"name\": \"hello\", \"command\": [\"/bin/echo\", \"a\", "
            "\"b\"]}\n"),
       one_echo},
      {"yaml_with_comments_and_document_marker",
       spec("# a task\n---\nname: hello   # its name\ncommand:\n- /bin/echo\n- a\nargs:\n- b\n"),
       one_echo},
      {"json_numbers_booleans_and_null_as_yaml_would_read_them", spec(R"({"command": ["/bin/true"],
                "environment": {"N": 3, "F": 0.5, "B": true, "Z": null},
                "files": [{"path": "/tmp/x", "base64": true, "contents": "aGk=", "mode": "644"}],
                "checkpoint": [{"path": "/c", "url": "file:///s", "frequency": 90}],
                "exitActions": {"COMPLETE": 0, "RESCHEDULE": "1-255"}})"),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 1u);
         const Task& t = tasks[0];
         EXPECT_FALSE(t.name.has_value());
         EXPECT_EQ(t.environment, (Env{{"N", "3"}, {"F", "0.5"}, {"B", "true"}, {"Z", ""}}));
         ASSERT_EQ(t.files.size(), 1u);
         EXPECT_EQ(t.files[0].contents, "hi");
         EXPECT_EQ(t.files[0].mode, 0644u);
         ASSERT_EQ(t.checkpoints.size(), 1u);
         EXPECT_EQ(t.checkpoints[0].frequency, seconds(90));
         EXPECT_EQ(action_of(t, 0), Action::kComplete);
         EXPECT_EQ(action_of(t, 7), Action::kReschedule);
       }},

      // --- restore ---------------------------------------------------------------------------
      {"checkpoint_restore", spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: 1m, restore: true}\n"
                                       "- {path: /d, url: 'file:///s', frequency: 1m, restore: 'False'}\n")),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 1u);
         ASSERT_EQ(tasks[0].checkpoints.size(), 2u);
         EXPECT_TRUE(tasks[0].checkpoints[0].restore);
         EXPECT_FALSE(tasks[0].checkpoints[1].restore);
       }},
      {"checkpoint_option_restore_before_regex",
       with_checkpoints(command_line({"/bin/true"}), {"path=/c,url=file:///s,frequency=1m,restore=true,regex=a,b"}),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.at(0).checkpoints.size(), 1u);
         EXPECT_TRUE(tasks[0].checkpoints[0].restore);
         EXPECT_EQ(tasks[0].checkpoints[0].regex, "a,b");
       }},
      {"restore_override_sets_every_entry",
       [] {
         auto r = with_checkpoints(spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: 1m}\n")),
                                   {"path=/d,url=file:///t,frequency=1m"});
         r.overrides.restore = true;
         return r;
       }(),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.at(0).checkpoints.size(), 2u);
         EXPECT_TRUE(tasks[0].checkpoints[0].restore);
         EXPECT_TRUE(tasks[0].checkpoints[1].restore);
       }},
      {"restore_override_false_clears_it",
       [] {
         auto r = spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: 1m, restore: true}\n"));
         r.overrides.restore = false;
         return r;
       }(),
       [](const std::vector<Task>& tasks) { EXPECT_FALSE(tasks.at(0).checkpoints.at(0).restore); }},

      // --- types: strings as YAML 1.2 reads them ----------------------------------------
      {"quoted_numbers_are_strings", spec("command: '5'\nargs: [\"10\", '0755', !!str 7]\n"),
       command_is({"5", "10", "0755", "7"})},
      {"bare_string_command_is_one_argument", spec("command: /bin/sleep 10\n"), command_is({"/bin/sleep 10"})},
      {"yes_no_on_off_stay_strings", spec("command: [x]\nargs: [yes, no, on, off, y, n]\n"),
       command_is({"x", "yes", "no", "on", "off", "y", "n"})},
      {"number_like_words_stay_strings", spec("command: [x]\nargs: [1.2.3, 1e, 0x, 0o8, -, .5x, inf, nan, 1_000]\n"),
       command_is({"x", "1.2.3", "1e", "0x", "0o8", "-", ".5x", "inf", "nan", "1_000"})},
      {"document_end_marker", spec("command: [x]\n...\n"), command_is({"x"})},

      // --- merge keys (YAML 1.1 rules, as PyYAML and Go's yaml read them) -------------------
      {"merge_key_shares_blocks_between_tasks",
       all_tasks(spec("x-defaults: &defaults\n"
                      "  checkpoint:\n  - {path: /c, url: 'file:///s', frequency: 1m}\n"
                      "  exitActions: {COMPLETE: 0, RESCHEDULE: 1-255}\n"
                      "tasks:\n"
                      "- <<: *defaults\n  name: a\n  command: [/bin/a]\n"
                      "- <<: *defaults\n  name: b\n  command: [/bin/b]\n  exitActions: {FAIL: 1-255}\n")),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 2u);
         for (const auto& t : tasks) {
           ASSERT_EQ(t.checkpoints.size(), 1u) << *t.name;
           EXPECT_EQ(t.checkpoints[0].frequency, seconds(60));
         }
         EXPECT_EQ(action_of(tasks[0], 3), Action::kReschedule);
         EXPECT_EQ(action_of(tasks[1], 3), Action::kFail) << "the explicit exitActions wins";
       }},
      {"merge_key_explicit_keys_win_before_and_after",
       spec("d: &d {A: merged, B: merged, C: merged}\ncommand: [x]\n"
            "environment:\n  A: explicit\n  <<: *d\n  C: explicit\n"),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 1u);
         EXPECT_EQ(tasks[0].environment, (Env{{"A", "explicit"}, {"C", "explicit"}, {"B", "merged"}}));
       }},
      {"merge_key_list_earlier_wins",
       spec("a: &a {X: a, Y: a}\nb: &b {X: b, Z: b}\ncommand: [x]\nenvironment:\n  <<: [*a, *b]\n"),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 1u);
         EXPECT_EQ(tasks[0].environment, (Env{{"X", "a"}, {"Y", "a"}, {"Z", "b"}}));
       }},
      {"merge_key_nested_and_inline",
       spec("base: &base {frequency: 1m, url: 'file:///s'}\n"
            "more: &more {<<: *base, path: /c}\n"
            "command: [x]\ncheckpoint:\n- <<: *more\n- <<: {path: /d, url: 'file:///t', frequency: 2m}\n"),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 1u);
         ASSERT_EQ(tasks[0].checkpoints.size(), 2u);
         EXPECT_EQ(tasks[0].checkpoints[0].path, "/c");
         EXPECT_EQ(tasks[0].checkpoints[0].frequency, seconds(60));
         EXPECT_EQ(tasks[0].checkpoints[1].path, "/d");
       }},
      {"merge_key_merged_keys_are_no_duplicates",
       spec("d: &d {A: 1, B: 2}\ncommand: [x]\nenvironment:\n  <<: *d\n  <<: {A: 3, C: 4}\n  A: 5\n"),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 1u);
         EXPECT_EQ(tasks[0].environment, (Env{{"A", "5"}, {"B", "2"}, {"C", "4"}}));
       }},

      // --- where the task is ------------------------------------------------------------
      {"workflow_tasks",
       spec("workflow:\n  name: wf\n  tasks:\n  - name: only\n    command: [/bin/true]\n"),
       names({"only"})},
      {"workflow_groups_tasks",
       spec("workflow:\n  groups:\n  - name: g\n    tasks:\n    - name: only\n      command: "
            "[/bin/true]\n"),
       names({"only"})},
      {"top_level_tasks", spec("tasks:\n- name: only\n  command: [/bin/true]\n"), names({"only"})},
      {"workflow_tasks_and_groups_together_all_tasks",
       all_tasks(spec("workflow:\n  tasks:\n  - {name: a, command: [x]}\n"
                      "  groups:\n  - tasks:\n    - {name: b, command: [x]}\n")),
       names({"a", "b"})},

      // --- --task and all_tasks ------------------------------------------------------------
      {"task_selected_from_workflow_tasks", with_task(spec(three_tasks), "b"),
       command_is({"/bin/b"})},
      {"task_selected_from_second_group", with_task(spec(groups), "c"), command_is({"/bin/c"})},
      {"task_selected_from_top_level_tasks",
       with_task(spec("tasks:\n- {name: a, command: [/bin/a]}\n- {name: b, command: [/bin/b]}\n"),
                 "a"),
       command_is({"/bin/a"})},
      {"task_name_matches_single_task", with_task(spec(task()), "t"), names({"t"})},
      {"task_name_names_an_unnamed_single_task", with_task(spec("command: [/bin/true]\n"), "x"),
       names({"x"})},
      {"unnamed_single_task_has_no_name", spec("command: [/bin/true]\n"), names({"(none)"})},
      {"all_tasks_in_file_order", all_tasks(spec(three_tasks)), names({"a", "b", "c"})},
      {"all_tasks_across_groups", all_tasks(spec(groups)), names({"a", "b", "c"})},
      {"all_tasks_of_a_single_task", all_tasks(spec(task())), names({"t"})},
      {"task_name_wins_over_all_tasks", all_tasks(with_task(spec(three_tasks), "c")), names({"c"})},

      // --- OSMO fields are ignored ------------------------------------------------------------
      {"osmo_fields_ignored",
       spec("workflow:\n"
            "  name: osmo\n"
            "  timeout: {exec_timeout: 1h}\n"
            "  resources:\n    default: {cpu: 2, gpu: 1, memory: 8Gi, storage: 10Gi}\n"
            "  tasks:\n"
            "  - name: train\n"
            "    image: nvcr.io/nvidia/pytorch:24.03-py3\n"
            "    resource: default\n"
            "    privileged: false\n"
            "    lead: true\n"
            "    command: [python3, train.py]\n"
            "    inputs:\n    - dataset: {name: data}\n    - task: prep\n"
            "    outputs:\n    - dataset: {name: model}\n"
            "    credentials:\n      s3-cred: {AWS_ACCESS_KEY_ID: id}\n      wandb: /etc/wandb\n"
            "    volumes: [/data:/data]\n"),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 1u);
         EXPECT_EQ(tasks[0].name, "train");
         EXPECT_EQ(tasks[0].command, (Strings{"python3", "train.py"}));
         EXPECT_TRUE(tasks[0].environment.empty());
         EXPECT_TRUE(tasks[0].files.empty());
       }},

      // --- command and args --------------------------------------------------------------
      {"command_without_args", spec(task()), command_is({"/bin/true"})},
      {"command_as_one_string", spec("command: /bin/true\nargs: -v\n"),
       command_is({"/bin/true", "-v"})},
      {"args_keep_blanks_and_quotes",
       spec("command: [/bin/sh, -c]\nargs: ['echo \"a  b\"; exit 3']\n"),
       command_is({"/bin/sh", "-c", "echo \"a  b\"; exit 3"})},

      // --- environment ------------------------------------------------------------------
      {"environment_in_file_order", spec(task("environment:\n  Z: 1\n  A: two\n  M:\n  E: ''\n")),
       [](const std::vector<Task>& tasks) {
         EXPECT_EQ(tasks.at(0).environment, (Env{{"Z", "1"}, {"A", "two"}, {"M", ""}, {"E", ""}}));
       }},
      {"environment_json_in_file_order",
       spec(R"({"command": ["x"], "environment": {"Z": "1", "A": "two", "M": "3"}})"),
       [](const std::vector<Task>& tasks) {
         EXPECT_EQ(tasks.at(0).environment, (Env{{"Z", "1"}, {"A", "two"}, {"M", "3"}}));
       }},

      // --- files ------------------------------------------------------------------------
      {"file_defaults", spec(task("files:\n- path: /tmp/a\n  contents: hello\n")),
       one_file("/tmp/a", "hello", 0644)},
      {"file_without_contents_is_empty", spec(task("files:\n- path: /tmp/a\n")),
       one_file("/tmp/a", "", 0644)},
      {"file_block_contents_keep_lines",
       spec(task("files:\n- path: /tmp/run.sh\n  mode: \"0755\"\n  contents: |-\n    #!/bin/sh\n   "
                 " echo hi\n")),
       one_file("/tmp/run.sh", "#!/bin/sh\necho hi", 0755)},
      {"file_path_normalised", spec(task("files:\n- path: /tmp//a/./b\n")),
       one_file("/tmp/a/b", "", 0644)},
      {"file_path_with_two_dots_inside_a_name", spec(task("files:\n- path: /tmp/..a/b..\n")),
       one_file("/tmp/..a/b..", "", 0644)},
      {"file_contents_may_hold_any_brackets",
       spec(task("files:\n- path: /tmp/a\n  contents: |-\n    " + std::string(100, '[') + "\n")),
       one_file("/tmp/a", std::string(100, '['), 0644)},
      {"file_base64_decoded",
       spec(task("files:\n- path: /tmp/b\n  base64: true\n  contents: AAEC/w==\n")),
       one_file("/tmp/b", std::string("\x00\x01\x02\xff", 4), 0644)},
      {"file_base64_over_several_lines",
       spec(task(
           "files:\n- path: /tmp/b\n  base64: True\n  contents: |\n    aGVsbG8g\n    d29ybGQ=\n")),
       one_file("/tmp/b", "hello world", 0644)},
      {"file_base64_false_keeps_text",
       spec(task("files:\n- path: /tmp/b\n  base64: false\n  contents: aGk=\n")),
       one_file("/tmp/b", "aGk=", 0644)},
      {"files_in_file_order",
       spec(task("files:\n- {path: /tmp/b, contents: '2'}\n- {path: /tmp/a, contents: '1', mode: "
                 "'600'}\n")),
       [](const std::vector<Task>& tasks) {
         const auto& files = tasks.at(0).files;
         ASSERT_EQ(files.size(), 2u);
         EXPECT_EQ(files[0].path, "/tmp/b");
         EXPECT_EQ(files[1].path, "/tmp/a");
         EXPECT_EQ(files[1].mode, 0600u);
       }},

      // --- checkpoint ----------------------------------------------------------------------
      {"checkpoint_full",
       spec(task(
           "checkpoint:\n- path: /tmp/ck/\n  url: s3://my-bucket/some/prefix/\n  frequency: 1h30m\n"
           "  regex: .*\\.(pt|bin)$\n")),
       one_checkpoint("/tmp/ck", "s3://my-bucket/some/prefix", seconds(5400), ".*\\.(pt|bin)$")},
      {"checkpoint_frequency_1s_is_the_minimum",
       spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: 1s}\n")),
       one_checkpoint("/c", "file:///s", seconds(1), std::nullopt)},
      {"checkpoint_frequency_number_is_seconds",
       spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: 90}\n")),
       one_checkpoint("/c", "file:///s", seconds(90), std::nullopt)},
      {"checkpoint_frequency_iso8601",
       spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: PT2M}\n")),
       one_checkpoint("/c", "file:///s", seconds(120), std::nullopt)},
      {"checkpoint_s3_bucket_without_prefix",
       spec(task("checkpoint:\n- {path: /c, url: 's3://bucket', frequency: 1m}\n")),
       [](const std::vector<Task>& tasks) {
         const Checkpoint& cp = tasks.at(0).checkpoints.at(0);
         EXPECT_EQ(cp.url.scheme, StoreUrl::Scheme::kS3);
         EXPECT_EQ(cp.url.bucket, "bucket");
         EXPECT_EQ(cp.url.prefix, "");
       }},
      {"checkpoint_file_url",
       spec(task("checkpoint:\n- {path: /c, url: 'file:///data/store/', frequency: 1m}\n")),
       [](const std::vector<Task>& tasks) {
         const Checkpoint& cp = tasks.at(0).checkpoints.at(0);
         EXPECT_EQ(cp.url.scheme, StoreUrl::Scheme::kFile);
         EXPECT_EQ(cp.url.dir, "/data/store");
       }},
      {"checkpoint_relative_path_from_working_dir",
       in_dir(spec(task("checkpoint:\n- {path: ck/../out, url: 'file:///s', frequency: 1m}\n")),
              "/work/dir"),
       one_checkpoint("/work/dir/out", "file:///s", seconds(60), std::nullopt)},
      {"checkpoints_in_file_order",
       spec(task("checkpoint:\n- {path: /b, url: 'file:///s', frequency: 1m}\n"
                 "- {path: /a, url: 's3://bkt/p', frequency: 2m}\n")),
       [](const std::vector<Task>& tasks) {
         const auto& cps = tasks.at(0).checkpoints;
         ASSERT_EQ(cps.size(), 2u);
         EXPECT_EQ(cps[0].path, "/b");
         EXPECT_EQ(cps[1].path, "/a");
         EXPECT_EQ(cps[1].frequency, seconds(120));
       }},

      // --- exitActions -----------------------------------------------------------------------
      {"exit_actions_keys_in_any_case",
       spec(task("exitActions:\n  complete: 0\n  Reschedule: '1-9'\n  fAiL: 10-255\n")),
       [](const std::vector<Task>& tasks) {
         const Task& t = tasks.at(0);
         EXPECT_EQ(t.exit_actions.rules().size(), 3u);
         EXPECT_EQ(action_of(t, 0), Action::kComplete);
         EXPECT_EQ(action_of(t, 5), Action::kReschedule);
         EXPECT_EQ(action_of(t, 200), Action::kFail);
         ASSERT_NE(t.exit_actions.lookup(5).rule, nullptr);
         EXPECT_EQ(t.exit_actions.lookup(5).rule->text, "RESCHEDULE: 1-9");
       }},
      {"exit_actions_signal_names_and_lists",
       spec(task("exitActions:\n  RESCHEDULE: SIGKILL, 143\n  COMPLETE: 0, 3\n")),
       [](const std::vector<Task>& tasks) {
         const Task& t = tasks.at(0);
         EXPECT_EQ(action_of(t, 137), Action::kReschedule);
         EXPECT_EQ(action_of(t, 143), Action::kReschedule);
         EXPECT_EQ(action_of(t, 3), Action::kComplete);
         EXPECT_EQ(action_of(t, 1), Action::kFail);  // no rule: the default
         EXPECT_EQ(t.exit_actions.lookup(1).rule, nullptr);
       }},
      {"no_exit_actions_uses_defaults", spec(task()),
       [](const std::vector<Task>& tasks) {
         const Task& t = tasks.at(0);
         EXPECT_TRUE(t.exit_actions.rules().empty());
         EXPECT_EQ(action_of(t, 0), Action::kComplete);
         EXPECT_EQ(action_of(t, 1), Action::kFail);
       }},

      // --- the command line's additions ----------------------------------------------------
      {"command_override_replaces_command_and_args",
       with_command(spec("command: [/bin/sh, -c]\nargs: [exit 3]\n"), {"/bin/echo", "hi"}),
       command_is({"/bin/echo", "hi"})},
      {"command_override_lifts_the_need_for_command",
       with_command(spec("name: t\nimage: x\nargs: [ignored]\n"), {"/bin/echo"}),
       command_is({"/bin/echo"})},
      {"command_override_with_empty_spec_command",
       with_command(spec("command: []\n"), {"/bin/echo"}), command_is({"/bin/echo"})},
      {"command_line_only", with_task(command_line({"/bin/echo", "x"}), "dbg"),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 1u);
         EXPECT_EQ(tasks[0].name, "dbg");
         EXPECT_EQ(tasks[0].command, (Strings{"/bin/echo", "x"}));
         EXPECT_TRUE(tasks[0].files.empty());
       }},
      {"command_line_only_has_no_name", command_line({"/bin/true"}), names({"(none)"})},
      {"exit_action_override_merged",
       with_exit_actions(spec(task("exitActions:\n  COMPLETE: 0\n")), {"RESCHEDULE=1-255"}),
       [](const std::vector<Task>& tasks) {
         const Task& t = tasks.at(0);
         ASSERT_EQ(t.exit_actions.rules().size(), 2u);
         EXPECT_EQ(t.exit_actions.rules()[1].text, "RESCHEDULE: 1-255");
         EXPECT_EQ(action_of(t, 0), Action::kComplete);
         EXPECT_EQ(action_of(t, 3), Action::kReschedule);
       }},
      {"exit_action_override_any_case_and_signal",
       with_exit_actions(spec(task()), {"reschedule=SIGTERM", "Fail = 1"}),
       [](const std::vector<Task>& tasks) {
         EXPECT_EQ(action_of(tasks.at(0), 143), Action::kReschedule);
         EXPECT_EQ(action_of(tasks.at(0), 1), Action::kFail);
       }},
      {"exit_action_override_same_action_may_overlap",
       with_exit_actions(spec(task("exitActions:\n  RESCHEDULE: 1-10\n")), {"RESCHEDULE=5-20"}),
       [](const std::vector<Task>& tasks) {
         EXPECT_EQ(action_of(tasks.at(0), 15), Action::kReschedule);
       }},
      {"exit_actions_oom_item",
       spec(task("exitActions:\n  RESCHEDULE: 1-255\n  FAIL: oom\n")),
       [](const std::vector<Task>& tasks) {
         const Task& t = tasks.at(0);
         EXPECT_EQ(action_of(t, 137), Action::kReschedule);
         auto oom = t.exit_actions.lookup(137, /*oom_killed=*/true);
         EXPECT_EQ(oom.action, Action::kFail);
         ASSERT_NE(oom.rule, nullptr);
         EXPECT_EQ(oom.rule->text, "FAIL: oom");
       }},
      {"exit_action_override_oom",
       with_exit_actions(spec(task("exitActions:\n  RESCHEDULE: 1-255\n")), {"FAIL=OOM"}),
       [](const std::vector<Task>& tasks) {
         const Task& t = tasks.at(0);
         EXPECT_EQ(t.exit_actions.lookup(137, true).rule->text, "FAIL: OOM");
         EXPECT_EQ(t.exit_actions.lookup(137).rule->text, "RESCHEDULE: 1-255");
       }},
      {"exit_action_override_without_spec",
       with_exit_actions(command_line({"/bin/true"}), {"COMPLETE=0-255"}),
       [](const std::vector<Task>& tasks) {
         EXPECT_EQ(action_of(tasks.at(0), 9), Action::kComplete);
       }},
      {"checkpoint_override_regex_keeps_commas",
       with_checkpoints(spec(task()), {"path=/x,url=file:///y,frequency=5s,regex=a,b"}),
       one_checkpoint("/x", "file:///y", seconds(5), "a,b")},
      {"checkpoint_override_regex_keeps_equals_and_commas",
       with_checkpoints(spec(task()),
                        {"path=/x,url=s3://bkt/p,frequency=1m,regex=^x/(a|b){1,3},c=d$"}),
       one_checkpoint("/x", "s3://bkt/p", seconds(60), "^x/(a|b){1,3},c=d$")},
      {"checkpoint_override_keys_in_any_order",
       with_checkpoints(spec(task()), {"frequency=2s,url=file:///y,path=/x"}),
       one_checkpoint("/x", "file:///y", seconds(2), std::nullopt)},
      {"checkpoint_override_relative_path",
       in_dir(with_checkpoints(spec(task()), {"path=ck,url=file:///y,frequency=2s"}), "/w"),
       one_checkpoint("/w/ck", "file:///y", seconds(2), std::nullopt)},
      {"checkpoint_override_after_spec_checkpoints",
       with_checkpoints(spec(task("checkpoint:\n- {path: /a, url: 'file:///s', frequency: 1m}\n")),
                        {"path=/b,url=file:///t,frequency=5s"}),
       [](const std::vector<Task>& tasks) {
         const auto& cps = tasks.at(0).checkpoints;
         ASSERT_EQ(cps.size(), 2u);
         EXPECT_EQ(cps[0].path, "/a");
         EXPECT_EQ(cps[1].path, "/b");
       }},
      {"checkpoint_override_without_spec",
       with_checkpoints(command_line({"/bin/true"}), {"path=/x,url=file:///y,frequency=5s"}),
       one_checkpoint("/x", "file:///y", seconds(5), std::nullopt)},
      {"checkpoint_place_is_where_it_was_given",
       with_checkpoints(spec("tasks:\n- name: t\n  command: [x]\n  checkpoint:\n"
                             "  - {path: /a/ck, url: 's3://bucket/run', frequency: 1m}\n"
                             "  - {path: /a/ck2, url: 's3://bucket/run', frequency: 1m}\n"),
                        {"path=/a/ck.d,url=s3://bucket/run,frequency=5s"}),
       [](const std::vector<Task>& tasks) {
         const auto& cps = tasks.at(0).checkpoints;
         ASSERT_EQ(cps.size(), 3u);
         EXPECT_EQ(cps[0].place, "tasks[0].checkpoint[0]");
         EXPECT_EQ(cps[1].place, "tasks[0].checkpoint[1]");
         EXPECT_EQ(cps[2].place, "--checkpoint path=/a/ck.d,url=s3://bucket/run,frequency=5s");
       }},
      {"overrides_apply_to_every_task",
       with_exit_actions(all_tasks(spec(three_tasks)), {"RESCHEDULE=1"}),
       [](const std::vector<Task>& tasks) {
         ASSERT_EQ(tasks.size(), 3u);
         for (const auto& t : tasks) EXPECT_EQ(action_of(t, 1), Action::kReschedule) << *t.name;
       }},
  };
}

class LoaderValid : public ::testing::TestWithParam<ValidRow> {};

TEST_P(LoaderValid, Loads) {
  const ValidRow& row = GetParam();
  std::vector<Task> tasks;
  try {
    tasks = load(row.request);
  } catch (const InputError& e) {
    FAIL() << "unexpected diagnostics:" << dump(e.diagnostics().items());
  }
  for (const auto& t : tasks)
    EXPECT_FALSE(t.command.empty()) << "a loaded task always has a command";
  row.check(tasks);
}

INSTANTIATE_TEST_SUITE_P(Loader, LoaderValid, ::testing::ValuesIn(valid_rows()),
                         [](const auto& p) { return p.param.name; });

// ---- file modes ------------------------------------------------------------------------------

struct ModeRow {
  std::string yaml;  // the mode as written in YAML
  std::optional<mode_t> mode;
};
void PrintTo(const ModeRow& row, std::ostream* os) {
  *os << row.yaml;
}

class LoaderFileMode : public ::testing::TestWithParam<ModeRow> {};

TEST_P(LoaderFileMode, OctalFrom0To7777) {
  const ModeRow& row = GetParam();
  auto request = spec(task("files:\n- path: /tmp/a\n  mode: " + row.yaml + "\n"));
  auto problems = diagnostics_of(request);
  if (row.mode) {
    ASSERT_TRUE(problems.empty()) << dump(problems);
    EXPECT_EQ(load(request).at(0).files.at(0).mode, *row.mode);
  } else {
    ASSERT_EQ(problems.size(), 1u) << dump(problems);
    EXPECT_EQ(problems[0].location, "files[0].mode");
    EXPECT_TRUE(contains(problems[0].message, "is not an octal mode from 0 to 7777"))
        << dump(problems);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Loader, LoaderFileMode,
    ::testing::Values(ModeRow{"\"0755\"", 0755}, ModeRow{"\"755\"", 0755},
                      ModeRow{"\"0644\"", 0644}, ModeRow{"\"0600\"", 0600}, ModeRow{"\"0\"", 0},
                      ModeRow{"\"7777\"", 07777}, ModeRow{"\"04755\"", 04755},
                      ModeRow{"\"0999\"", std::nullopt}, ModeRow{"\"8\"", std::nullopt},
                      ModeRow{"\"10000\"", std::nullopt}, ModeRow{"\"12345\"", std::nullopt},
                      ModeRow{"\"\"", std::nullopt}, ModeRow{"rwxr-xr-x", std::nullopt},
                      ModeRow{"\"-644\"", std::nullopt}, ModeRow{"\"0x1ed\"", std::nullopt},
                      ModeRow{"\" 644\"", std::nullopt}, ModeRow{"\"6.44\"", std::nullopt}),
    [](const auto& p) { return "row" + std::to_string(p.index); });

// ---- invalid input: every diagnostic, located -------------------------------------------------

struct Expected {
  std::string source;
  std::string location;  // exact
  std::string message;   // a substring
};
Expected F(std::string location, std::string message) {
  return {kFile, std::move(location), std::move(message)};
}
Expected C(std::string location, std::string message) {
  return {kCli, std::move(location), std::move(message)};
}

struct InvalidRow {
  std::string name;
  LoadRequest request;
  std::vector<Expected> expected;  // all of them, in order
};
void PrintTo(const InvalidRow& row, std::ostream* os) {
  *os << row.name;
}

std::string nested_json(int depth) {
  // {"command": [...], "x": [[...]]}: the root object is one level, each list one more.
  return R"({"command": ["/bin/true"], "x": )" + std::string(depth - 1, '[') +
         std::string(depth - 1, ']') + "}";
}
std::string nested_block_yaml(int depth) {
  // A task whose `x` holds maps nested by indentation only; the task map is level 1.
  std::string text = "command: [/bin/true]\nx:\n";
  for (int i = 1; i < depth - 1; ++i)
    text += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k:\n";
  return text + std::string(static_cast<std::size_t>(depth - 1) * 2, ' ') + "k: end\n";
}

std::vector<InvalidRow> invalid_rows() {
  const std::string two_tasks =
      "workflow:\n  tasks:\n  - {name: a, command: [x]}\n  - {name: b, command: [x]}\n";
  const std::string checkpoint_with = "checkpoint:\n- path: /c\n  url: file:///s\n  frequency: ";
  return {
      // --- text that is no YAML or JSON ---------------------------------------------------
      {"yaml_syntax",
       spec("name: a\ncommand: [/bin/true\nargs: [a]\n"),
       {F("line 3, column 5", "invalid YAML: ")}},
      {"yaml_bad_indentation",
       spec("name: a\ncommand: x\n  args: y\n"),
       {F("line 3, column 7", "invalid YAML: ")}},
      {"json_syntax",
       spec("{\n  \"name\": \"a\",\n}\n"),
       {F("", "invalid JSON: parse error at line 3, column 1")}},
      {"json_unterminated",
       spec("{\"command\": [\"/bin/true\"]"),
       {F("", "invalid JSON: parse error at line 1, column 26")}},
      {"json_single_quotes",
       spec("{'command': ['/bin/true']}"),
       {F("", "invalid JSON: parse error at line 1, column 2")}},
      {"empty_file", spec(""), {F("", "the file holds no task")}},
      {"comment_only", spec("# nothing here\n\n"), {F("", "the file holds no task")}},
      {"root_list",
       spec("- /bin/true\n"),
       {F("", "must hold a task or a workflow (a map), not a list")}},
      {"root_scalar",
       spec("hello\n"),
       {F("", "must hold a task or a workflow (a map), not a string")}},
      {"json_root_list",
       spec("[\"/bin/true\"]"),
       {F("", "must hold a task or a workflow (a map), not a list")}},

      // --- not UTF-8: the place of the first bad byte ---------------------------------------
      {"utf8_stray_byte", spec("command: [\"a\xff\"]\n"), {F("line 1, column 13", "invalid UTF-8 (byte 0xFF)")}},
      {"utf8_overlong", spec("command: [\"\xc0\xaf\"]\n"), {F("line 1, column 12", "invalid UTF-8 (byte 0xC0)")}},
      {"utf8_surrogate", spec("command: [x]\nargs: [\"\xed\xa0\x80\"]\n"),
       {F("line 2, column 9", "invalid UTF-8 (byte 0xED)")}},
      {"utf8_above_10ffff", spec("command: [\"\xf4\x90\x80\x80\"]\n"), {F("line 1, column 12", "invalid UTF-8 (byte 0xF4)")}},
      {"utf8_cut_short", spec("command: [x]\nargs: [\"\xe2\x82"), {F("line 2, column 9", "invalid UTF-8 (byte 0xE2)")}},
      {"utf8_json", spec("{\"command\": [\"\xfe\"]}"), {F("line 1, column 15", "invalid UTF-8 (byte 0xFE)")}},

      // --- nesting deeper than 64 levels ----------------------------------------------------
      {"json_nesting_65", spec(nested_json(65)), {F("line 1, column 96", "nesting deeper than 64 levels")}},
      {"yaml_flow_nesting_65",
       spec("command: [/bin/true]\nx: " + std::string(64, '[') + std::string(64, ']')),
       {F("line 2, column 67", "nesting deeper than 64 levels")}},
      {"yaml_block_nesting_65",
       spec(nested_block_yaml(65)),
       {F("line 66, column 129", "nesting deeper than 64 levels")}},
      {"json_nesting_100000",
       spec(std::string(100000, '[') + std::string(100000, ']')),
       {F("line 1, column 65", "nesting deeper than 64 levels")}},
      {"yaml_flow_nesting_100000",
       spec("command: [/bin/true]\nx: " + std::string(100000, '[') + std::string(100000, ']')),
       {F("line 2, column 67", "nesting deeper than 64 levels")}},
      {"yaml_block_sequences_100000",
       spec([] {
         std::string text;
         for (int i = 0; i < 100000; ++i) text += "- ";
         return text + "x\n";
       }()),
       {F("line 1, column 129", "nesting deeper than 64 levels")}},

      // --- where the task is ------------------------------------------------------------
      {"workflow_not_a_map", spec("workflow: [a]\n"), {F("workflow", "must be a map, not a list")}},
      {"workflow_null", spec("workflow:\n"), {F("workflow", "must be a map, not null")}},
      {"workflow_tasks_not_a_list",
       spec("workflow:\n  tasks: {a: b}\n"),
       {F("workflow.tasks", "must be a list, not a map")}},
      {"workflow_groups_not_a_list",
       spec("workflow:\n  groups: g\n"),
       {F("workflow.groups", "must be a list, not a string")}},
      {"workflow_group_not_a_map",
       spec("workflow:\n  groups: [g]\n"),
       {F("workflow.groups[0]", "must be a map, not a string")}},
      {"workflow_group_tasks_not_a_list",
       spec("workflow:\n  groups:\n  - tasks: t\n"),
       {F("workflow.groups[0].tasks", "must be a list, not a string")}},
      {"top_level_tasks_not_a_list",
       spec("tasks: hello\n"),
       {F("tasks", "must be a list, not a string")}},
      {"workflow_without_tasks",
       spec("workflow:\n  name: x\n"),
       {F("", "the workflow holds no task")}},
      {"empty_tasks_list", spec("tasks: []\n"), {F("", "the workflow holds no task")}},
      {"empty_tasks_list_all_tasks",
       all_tasks(spec("tasks: []\n")),
       {F("", "the workflow holds no task")}},
      {"empty_groups",
       spec("workflow:\n  groups: [{name: g}]\n"),
       {F("", "the workflow holds no task")}},
      {"task_not_a_map",
       spec("tasks: [hello]\n"),
       {F("tasks[0]", "a task must be a map, not a string")}},
      {"task_list_item_not_a_map_in_group",
       spec("workflow:\n  groups:\n  - tasks: [[x]]\n"),
       {F("workflow.groups[0].tasks[0]", "a task must be a map, not a list")}},

      // --- choosing the task ------------------------------------------------------------------
      {"two_tasks_without_task",
       spec(two_tasks),
       {F("", "the workflow holds 2 tasks (a, b); choose one with --task")}},
      {"three_tasks_in_groups_without_task",
       spec("workflow:\n  groups:\n  - tasks: [{name: a, command: [x]}]\n  - tasks: [{name: b, "
            "command: [x]}, "
            "{name: c, command: [x]}]\n"),
       {F("", "the workflow holds 3 tasks (a, b, c); choose one with --task")}},
      {"unnamed_tasks_listed",
       spec("tasks:\n- {command: [x]}\n- {name: b, command: [x]}\n"),
       {F("", "the workflow holds 2 tasks ((unnamed), b); choose one with --task")}},
      {"task_name_not_found",
       with_task(spec(two_tasks), "c"),
       {F("", "no task named \"c\" (tasks: a, b)")}},
      {"task_name_not_found_in_single_task",
       with_task(spec(task()), "x"),
       {F("", "no task named \"x\" (tasks: t)")}},
      {"task_name_not_found_all_tasks",
       all_tasks(with_task(spec(two_tasks), "c")),
       {F("", "no task named \"c\" (tasks: a, b)")}},
      {"task_names_listed_safely",
       with_task(spec("tasks:\n- {name: \"a\\nb\", command: [x]}\n- {name: c d, command: [x]}\n"),
                 "x"),
       {F("", "no task named \"x\" (tasks: \"a\\x0ab\", \"c d\")")}},
      {"task_name_given_twice",
       with_task(spec("tasks:\n- {name: a, command: [x]}\n- {name: a, command: [y]}\n"), "a"),
       {F("tasks[1]", "a second task named \"a\"")}},

      // --- unknown keys in files, checkpoint and exitActions entries ------------------------
      {"file_unknown_key",
       spec(task("files:\n- path: /tmp/a\n  contnts: x\n")),
       {F("files[0].contnts", "unknown key (expected path, contents, base64, mode)")}},
      {"file_unknown_key_in_workflow",
       spec("tasks:\n- name: t\n  command: [x]\n  files:\n  - {path: /a}\n  - {path: /b, owner: "
            "root}\n"),
       {F("tasks[0].files[1].owner", "unknown key (expected path, contents, base64, mode)")}},
      {"checkpoint_unknown_key",
       spec(task(checkpoint_with + "1m\n  every: 2m\n")),
       {F("checkpoint[0].every", "unknown key (expected path, url, frequency, regex, restore)")}},
      {"exit_actions_unknown_key",
       spec(task("exitActions:\n  COMPLETE: 0\n  RETRY: 1-255\n")),
       {F("exitActions.RETRY", "unknown action (expected COMPLETE, RESCHEDULE or FAIL)")}},
      {"unknown_key_with_control_bytes_is_quoted",
       spec(task("files:\n- path: /tmp/a\n  \"a\\nb\": x\n")),
       {F("files[0].\"a\\x0ab\"", "unknown key")}},

      // --- files --------------------------------------------------------------------------
      {"file_relative_path",
       spec(task("files:\n- path: tmp/a\n")),
       {F("files[0].path", "\"tmp/a\" is not an absolute path")}},
      {"file_empty_path",
       spec(task("files:\n- path: ''\n")),
       {F("files[0].path", "\"\" is not an absolute path")}},
      {"file_dotdot_component",
       spec(task("files:\n- path: /tmp/../etc/a\n")),
       {F("files[0].path", "\"/tmp/../etc/a\" has a \"..\" component")}},
      {"file_dotdot_at_the_end",
       spec(task("files:\n- path: /tmp/a/..\n")),
       {F("files[0].path", "\"/tmp/a/..\" has a \"..\" component")}},
      {"file_duplicate_after_double_slash",
       spec(task("files:\n- path: /tmp/a\n- path: /tmp//a\n")),
       {F("files[1].path", "\"/tmp//a\" is already declared by files[0]")}},
      {"file_duplicate_after_dot",
       spec(task("files:\n- path: /tmp/x/a\n- path: /tmp/b\n- path: /tmp/./x/a\n")),
       {F("files[2].path", "\"/tmp/./x/a\" is already declared by files[0]")}},
      {"file_duplicate_in_workflow",
       spec("tasks:\n- name: t\n  command: [x]\n  files:\n  - {path: /a}\n  - {path: /a}\n"),
       {F("tasks[0].files[1].path", "\"/a\" is already declared by tasks[0].files[0]")}},
      {"file_path_is_a_directory",
       spec(task("files:\n- path: /tmp/dir/\n")),
       {F("files[0].path", "\"/tmp/dir/\" names a directory, not a file")}},
      {"file_path_is_a_directory_after_dot",
       spec(task("files:\n- path: /tmp/dir/.\n")),
       {F("files[0].path", "\"/tmp/dir/.\" names a directory, not a file")}},
      {"file_path_is_root",
       spec(task("files:\n- path: /\n")),
       {F("files[0].path", "\"/\" names a directory, not a file")}},
      {"file_path_missing",
       spec(task("files:\n- contents: x\n")),
       {F("files[0].path", "is required")}},
      {"file_path_not_a_string",
       spec(task("files:\n- path: [/a]\n")),
       {F("files[0].path", "must be a string, not a list")}},
      {"file_base64_invalid",
       spec(task("files:\n- path: /tmp/a\n  base64: true\n  contents: 'not*base64!'\n")),
       {F("files[0].contents", "is not valid base64")}},
      {"file_base64_flag_not_boolean",
       spec(task("files:\n- path: /tmp/a\n  base64: yes\n  contents: aGk=\n")),
       {F("files[0].base64", "\"yes\" is not true or false")}},
      {"file_contents_not_a_string",
       spec(task("files:\n- path: /tmp/a\n  contents: {a: b}\n")),
       {F("files[0].contents", "must be a string, a number or a boolean, not a map")}},
      {"files_not_a_list",
       spec(task("files: {path: /a}\n")),
       {F("files", "must be a list, not a map")}},
      {"file_entry_not_a_map",
       spec(task("files: [/tmp/a]\n")),
       {F("files[0]", "must be a map, not a string")}},

      // --- checkpoint ----------------------------------------------------------------------
      {"checkpoint_needs_path_url_frequency",
       spec(task("checkpoint:\n- regex: x\n")),
       {F("checkpoint[0].path", "is required"), F("checkpoint[0].url", "is required"),
        F("checkpoint[0].frequency", "is required")}},
      {"checkpoint_frequency_500ms",
       spec(task(checkpoint_with + "500ms\n")),
       {F("checkpoint[0].frequency", "\"500ms\" is less than the minimum of 1s")}},
      {"checkpoint_frequency_999ms",
       spec(task(checkpoint_with + "999ms\n")),
       {F("checkpoint[0].frequency", "\"999ms\" is less than the minimum of 1s")}},
      {"checkpoint_frequency_half_second_number",
       spec(task(checkpoint_with + "0.5\n")),
       {F("checkpoint[0].frequency", "\"0.5\" is less than the minimum of 1s")}},
      {"checkpoint_frequency_zero",
       spec(task(checkpoint_with + "0s\n")),
       {F("checkpoint[0].frequency", "\"0s\" is zero")}},
      {"checkpoint_frequency_negative",
       spec(task(checkpoint_with + "-5s\n")),
       {F("checkpoint[0].frequency", "\"-5s\" is negative")}},
      {"checkpoint_frequency_malformed",
       spec(task(checkpoint_with + "5x\n")),
       {F("checkpoint[0].frequency", "\"5x\" is not a duration")}},
      {"checkpoint_frequency_empty",
       spec(task(checkpoint_with + "''\n")),
       {F("checkpoint[0].frequency", "\"\" is not a duration")}},
      {"checkpoint_frequency_not_a_string",
       spec(task(checkpoint_with + "[1s]\n")),
       {F("checkpoint[0].frequency", "must be a string or a number, not a list")}},
      {"checkpoint_url_http",
       spec(task("checkpoint:\n- {path: /c, url: 'http://example.com/x', frequency: 1m}\n")),
       {F("checkpoint[0].url", "\"http://example.com/x\" is not a supported store URL")}},
      {"checkpoint_url_gs",
       spec(task("checkpoint:\n- {path: /c, url: 'gcs://bucket/x', frequency: 1m}\n")),
       {F("checkpoint[0].url", "\"gcs://bucket/x\" is not a supported store URL")}},
      {"checkpoint_url_without_scheme",
       spec(task("checkpoint:\n- {path: /c, url: /tmp/store, frequency: 1m}\n")),
       {F("checkpoint[0].url", "\"/tmp/store\" is not a supported store URL")}},
      {"checkpoint_url_file_relative",
       spec(task("checkpoint:\n- {path: /c, url: 'file://tmp/store', frequency: 1m}\n")),
       {F("checkpoint[0].url",
          "\"file://tmp/store\" is not a file:// URL of an absolute directory")}},
      {"checkpoint_url_s3_without_bucket",
       spec(task("checkpoint:\n- {path: /c, url: 's3://', frequency: 1m}\n")),
       {F("checkpoint[0].url", "\"s3://\" has no bucket name")}},
      {"checkpoint_url_credentials_redacted",
       spec(task("checkpoint:\n- {path: /c, url: 'https://user:secret@host/x', frequency: 1m}\n")),
       {F("checkpoint[0].url", "\"https://***@host/x\" is not a supported store URL")}},
      {"checkpoint_regex_invalid",
       spec(task(checkpoint_with + "1m\n  regex: '(a'\n")),
       {F("checkpoint[0].regex", "\"(a\" is not a valid RE2 expression: missing )")}},
      {"checkpoint_regex_perl_only_lookahead",
       spec(task(checkpoint_with + "1m\n  regex: '(?=a)b'\n")),
       {F("checkpoint[0].regex", "\"(?=a)b\" is not a valid RE2 expression")}},
      {"checkpoint_path_root",
       spec(task("checkpoint:\n- {path: /, url: 'file:///s', frequency: 1m}\n")),
       {F("checkpoint[0].path", "\"/\" is the root directory")}},
      {"checkpoint_not_a_list",
       spec(task("checkpoint: {path: /c}\n")),
       {F("checkpoint", "must be a list, not a map")}},
      {"checkpoint_entry_not_a_map",
       spec(task("checkpoint: [/c]\n")),
       {F("checkpoint[0]", "must be a map, not a string")}},
      {"checkpoint_same_place",
       spec("tasks:\n- name: t\n  command: [x]\n  checkpoint:\n"
            "  - {path: /a/ck, url: 's3://bucket/run', frequency: 1m}\n"
            "  - {path: /b/ck, url: 's3://bucket/run/', frequency: 5m}\n"),
       {F("tasks[0].checkpoint[1]",
          "stores to the same place as tasks[0].checkpoint[0] "
          "(\"s3://bucket/run/ck\"): both would overwrite each other's files")}},
      {"checkpoint_same_place_other_problems_first",
       spec("tasks:\n- name: t\n  command: [x]\n  checkpoint:\n"
            "  - {path: /a/ck, url: 'file:///s', frequency: 1m}\n"
            "  - {path: /b/ck, url: 'file:///s', frequency: 5x}\n"
            "  - {path: /c/ck, url: 'file:///s', frequency: 1m}\n"),
       {F("tasks[0].checkpoint[1].frequency", "\"5x\" is not a duration"),
        F("tasks[0].checkpoint[2]",
          "stores to the same place as tasks[0].checkpoint[0] (\"file:///s/ck\")")}},
      {"checkpoint_store_inside_path",
       spec(task("checkpoint:\n- {path: /data/ck, url: 'file:///data/ck/store', frequency: 1m}\n")),
       {F("checkpoint[0]",
          "url \"file:///data/ck/store\" is inside path \"/data/ck\": each round "
          "would copy the store into itself")}},
      {"checkpoint_path_where_it_is_stored_relative",
       in_dir(spec(task("checkpoint:\n- {path: ck, url: 'file:///work', frequency: 1m}\n")),
              "/work"),
       {F("checkpoint[0]", "path \"/work/ck\" is where url \"file:///work\" stores it")}},
      {"checkpoint_option_same_place_as_spec_entry",
       with_checkpoints(
           spec(task("checkpoint:\n- {path: /a/ck, url: 's3://bucket/run', frequency: 1m}\n")),
           {"path=/b/ck,url=s3://bucket/run,frequency=1m"}),
       {C("--checkpoint path=/b/ck,url=s3://bucket/run,frequency=1m",
          "stores to the same place as the spec's checkpoint[0] (\"s3://bucket/run/ck\")")}},
      {"checkpoint_two_options_same_place",
       with_checkpoints(command_line({"/bin/true"}),
                        {"path=/a/ck,url=s3://bucket/run,frequency=1m",
                         "path=/b/ck,url=s3://bucket/run,frequency=1m"}),
       {C("--checkpoint path=/b/ck,url=s3://bucket/run,frequency=1m",
          "stores to the same place as --checkpoint path=/a/ck,url=s3://bucket/run,frequency=1m "
          "(\"s3://bucket/run/ck\")")}},
      {"checkpoint_option_inside_its_path",
       with_checkpoints(command_line({"/bin/true"}),
                        {"path=/data,url=file:///data/out,frequency=1m"}),
       {C("--checkpoint path=/data,url=file:///data/out,frequency=1m",
          "url \"file:///data/out\" is inside path \"/data\"")}},
      {"checkpoint_option_same_place_in_every_task",
       with_checkpoints(all_tasks(spec("tasks:\n"
                                       "- {name: a, command: [x], checkpoint: [{path: /a/ck, url: "
                                       "'file:///s', frequency: 1m}]}\n"
                                       "- {name: b, command: [x], checkpoint: [{path: /b/ck, url: "
                                       "'file:///s', frequency: 1m}]}\n")),
                        {"path=/c/ck,url=file:///s,frequency=1m"}),
       {C("--checkpoint path=/c/ck,url=file:///s,frequency=1m",
          "stores to the same place as the spec's tasks[0].checkpoint[0] (\"file:///s/ck\")"),
        C("--checkpoint path=/c/ck,url=file:///s,frequency=1m",
          "stores to the same place as the spec's tasks[1].checkpoint[0] (\"file:///s/ck\")")}},
      {"checkpoint_second_entry_located",
       spec("tasks:\n- name: t\n  command: [x]\n  checkpoint:\n  - {path: /a, url: 'file:///s', "
            "frequency: 1m}\n"
            "  - {path: /b, url: 'file:///s', frequency: 5x}\n"),
       {F("tasks[0].checkpoint[1].frequency", "\"5x\" is not a duration")}},

      // --- exitActions ---------------------------------------------------------------------
      {"exit_actions_same_key_in_other_case",
       spec(task("exitActions:\n  COMPLETE: 0\n  complete: 1\n")),
       {F("exitActions.complete", "COMPLETE is given twice")}},
      {"exit_actions_same_key_twice",
       spec(task("exitActions:\n  FAIL: 1\n  FAIL: 2\n")),
       {F("exitActions", "key \"FAIL\" given twice (lines 4 and 5)")}},
      {"exit_actions_same_key_in_other_case_json",
       spec(R"({"command": ["x"], "exitActions": {"Reschedule": 1, "RESCHEDULE": 2}})"),
       {F("exitActions.RESCHEDULE", "RESCHEDULE is given twice")}},
      {"exit_actions_overlap_names_code_and_actions",
       spec(task("exitActions:\n  COMPLETE: 0-5\n  FAIL: 5-10\n")),
       {F("exitActions.FAIL", "code 5 is covered by both COMPLETE and FAIL")}},
      {"exit_actions_overlap_of_several_codes",
       spec(task("exitActions:\n  RESCHEDULE: 1-255\n  FAIL: 3,7-8\n")),
       {F("exitActions.FAIL", "codes 3,7-8 are covered by both RESCHEDULE and FAIL")}},
      {"exit_actions_overlap_through_signal_name",
       spec(task("exitActions:\n  RESCHEDULE: SIGKILL\n  FAIL: 137\n")),
       {F("exitActions.FAIL", "code 137 is covered by both RESCHEDULE and FAIL")}},
      {"exit_actions_oom_in_two_actions",
       spec(task("exitActions:\n  FAIL: OOM\n  RESCHEDULE: OOM, 1\n")),
       {F("exitActions.RESCHEDULE", "OOM is covered by both FAIL and RESCHEDULE")}},
      {"exit_actions_oom_in_a_range",
       spec(task("exitActions:\n  FAIL: 1-OOM\n")),
       {F("exitActions.FAIL", "\"OOM\" is not an exit code")}},
      {"exit_actions_code_256",
       spec(task("exitActions:\n  FAIL: 256\n")),
       {F("exitActions.FAIL", "\"256\" is not an exit code")}},
      {"exit_actions_code_negative",
       spec(task("exitActions:\n  FAIL: -1\n")),
       {F("exitActions.FAIL", "is not an exit code")}},
      {"exit_actions_empty_item",
       spec(task("exitActions:\n  FAIL: 1,,2\n")),
       {F("exitActions.FAIL", "empty item")}},
      {"exit_actions_backwards_range",
       spec(task("exitActions:\n  FAIL: 10-1\n")),
       {F("exitActions.FAIL", "range \"10-1\" runs backwards")}},
      {"exit_actions_double_range",
       spec(task("exitActions:\n  FAIL: 1-23-4\n")),
       {F("exitActions.FAIL", "\"1-23-4\" is not a code or a range N-M")}},
      {"exit_actions_no_codes",
       spec(task("exitActions:\n  FAIL: ''\n")),
       {F("exitActions.FAIL", "no exit codes given")}},
      {"exit_actions_value_not_a_string",
       spec(task("exitActions:\n  FAIL: [1, 2]\n")),
       {F("exitActions.FAIL", "must be a string or a number, not a list")}},
      {"exit_actions_not_a_map",
       spec(task("exitActions: [COMPLETE]\n")),
       {F("exitActions", "must be a map, not a list")}},

      // --- environment --------------------------------------------------------------------
      {"environment_not_a_map",
       spec(task("environment:\n- A=1\n")),
       {F("environment", "must be a map, not a list")}},
      {"environment_name_with_equals",
       spec(task("environment:\n  A=B: x\n")),
       {F("environment.A=B", "\"A=B\" is not a valid environment variable name")}},
      {"environment_value_not_a_string",
       spec(task("environment:\n  A: {b: c}\n")),
       {F("environment.A", "must be a string, a number or a boolean, not a map")}},

      // --- command ------------------------------------------------------------------------
      {"command_missing",
       spec("name: t\nargs: [x]\n"),
       {F("command", "is required (or give the command after --)")}},
      {"command_missing_in_workflow",
       spec("workflow:\n  tasks:\n  - name: t\n    image: x\n"),
       {F("workflow.tasks[0].command", "is required (or give the command after --)")}},
      {"command_empty_list", spec("command: []\n"), {F("command", "must not be empty")}},
      {"command_empty_program",
       spec("command: ['', x]\n"),
       {F("command", "the program name is empty")}},
      {"command_a_map",
       spec("command: {program: /bin/true}\n"),
       {F("command", "must be a string or a list of strings, not a map")}},
      {"command_item_a_list",
       spec("command: [/bin/sh, [x]]\n"),
       {F("command[1]", "must be a string, not a list")}},
      {"args_a_map",
       spec("command: [x]\nargs: {a: b}\n"),
       {F("args", "must be a string or a list of strings, not a map")}},

      // --- types: a number, boolean or null is no string (YAML 1.2 core schema) ----------
      {"command_a_number", spec("command: 5\n"),
       {F("command", "must be a string or a list of strings, not a number (quote it: \"5\")")}},
      {"command_a_boolean", spec("command: true\n"),
       {F("command", "must be a string or a list of strings, not a boolean (quote it: \"true\")")}},
      {"command_null", spec("name: t\ncommand:\n"), {F("command", "must be a string or a list of strings, not null")}},
      {"command_null_with_override", with_command(spec("command: ~\n"), {"/bin/true"}),
       {F("command", "must be a string or a list of strings, not null")}},
      {"command_item_a_number", spec("command: [sleep, 10]\n"),
       {F("command[1]", "must be a string, not a number (quote it: \"10\")")}},
      {"command_item_null", spec("command: [sleep, ~]\n"), {F("command[1]", "must be a string, not null")}},
      {"command_item_a_map", spec("command: [sleep, {a: b}]\n"), {F("command[1]", "must be a string, not a map")}},
      {"command_a_number_json", spec(R"({"command": 5})"),
       {F("command", "must be a string or a list of strings, not a number (quote it: \"5\")")}},
      {"args_a_number", spec("command: [x]\nargs: 5\n"),
       {F("args", "must be a string or a list of strings, not a number (quote it: \"5\")")}},
      {"args_null", spec("command: [x]\nargs:\n"), {F("args", "must be a string or a list of strings, not null")}},
      {"args_item_a_boolean", spec("command: [x]\nargs: [--flag, false]\n"),
       {F("args[1]", "must be a string, not a boolean (quote it: \"false\")")}},
      {"args_item_a_float_json", spec(R"({"command": ["x"], "args": [1.50]})"),
       {F("args[0]", "must be a string, not a number (quote it: \"1.50\")")}},
      {"args_items_hex_and_octal_are_numbers", spec("command: [x]\nargs: [0x1F, 0o17, 1e3, .inf]\n"),
       {F("args[0]", "not a number (quote it: \"0x1F\")"), F("args[1]", "not a number (quote it: \"0o17\")"),
        F("args[2]", "not a number (quote it: \"1e3\")"), F("args[3]", "not a number (quote it: \".inf\")")}},
      {"name_a_list", spec("name: [a]\ncommand: [x]\n"),
       {F("name", "must be a string, a number or a boolean, not a list")}},
      {"file_mode_unquoted", spec(task("files:\n- path: /tmp/a\n  mode: 0755\n")),
       {F("files[0].mode", "must be a string, not a number (quote it: \"0755\")")}},
      {"file_mode_a_number_json", spec(R"({"command": ["x"], "files": [{"path": "/tmp/a", "mode": 644}]})"),
       {F("files[0].mode", "must be a string, not a number (quote it: \"644\")")}},
      {"file_path_a_number", spec(task("files:\n- path: 5\n")),
       {F("files[0].path", "must be a string, not a number (quote it: \"5\")")}},
      {"file_base64_a_number", spec(task("files:\n- path: /tmp/a\n  base64: 1\n")),
       {F("files[0].base64", "must be a string or a boolean, not a number")}},
      {"checkpoint_path_a_number", spec(task("checkpoint:\n- {path: 5, url: 'file:///s', frequency: 1m}\n")),
       {F("checkpoint[0].path", "must be a string, not a number (quote it: \"5\")")}},
      {"checkpoint_url_a_boolean", spec(task("checkpoint:\n- {path: /c, url: true, frequency: 1m}\n")),
       {F("checkpoint[0].url", "must be a string, not a boolean (quote it: \"true\")")}},
      {"checkpoint_frequency_a_boolean", spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: true}\n")),
       {F("checkpoint[0].frequency", "must be a string or a number, not a boolean")}},
      {"checkpoint_regex_a_number", spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: 1m, regex: 5}\n")),
       {F("checkpoint[0].regex", "must be a string, not a number (quote it: \"5\")")}},
      {"exit_actions_value_a_boolean", spec(task("exitActions: {FAIL: true}\n")),
       {F("exitActions.FAIL", "must be a string or a number, not a boolean")}},

      {"checkpoint_restore_not_a_flag", spec(task("checkpoint:\n- {path: /c, url: 'file:///s', frequency: 1m, restore: 1}\n")),
       {F("checkpoint[0].restore", "must be a string or a boolean, not a number")}},
      {"checkpoint_option_restore_not_a_flag",
       with_checkpoints(command_line({"/bin/true"}), {"path=/c,url=file:///s,frequency=1m,restore=yes"}),
       {C("--checkpoint path=/c,url=file:///s,frequency=1m,restore=yes: restore", "\"yes\" is not true or false")}},

      // --- duplicate keys, anywhere: YAML readers keep the first, JSON readers the last ----
      {"duplicate_key_at_the_top", spec("command: [x]\ncommand: [y]\n"),
       {F("", "key \"command\" given twice (lines 1 and 2)")}},
      {"duplicate_key_in_a_checkpoint",
       spec("tasks:\n- name: t\n  command: [x]\n  checkpoint:\n  - path: /c\n    url: file:///s\n"
            "    frequency: 1m\n    regex: x\n    frequency: 2m\n"),
       {F("tasks[0].checkpoint[0]", "key \"frequency\" given twice (lines 7 and 9)")}},
      {"duplicate_key_json", spec("{\"command\": [\"x\"],\n \"environment\": {\"A\": \"1\",\n  \"A\": \"2\"}}"),
       {F("environment", "key \"A\" given twice (lines 2 and 3)")}},
      {"duplicate_key_in_a_field_supervise_ignores", spec("command: [x]\nresources: {cpu: 1, cpu: 2}\n"),
       {F("resources", "key \"cpu\" given twice (twice on line 2)")}},
      {"duplicate_key_three_times", spec("command: [x]\nenvironment:\n  A: 1\n  A: 2\n  A: 3\n"),
       {F("environment", "key \"A\" given twice (lines 3 and 4)"),
        F("environment", "key \"A\" given twice (lines 3 and 5)")}},
      {"duplicate_key_quoted_and_plain", spec("command: [x]\n'name': a\nname: b\n"),
       {F("", "key \"name\" given twice (lines 2 and 3)")}},

      // --- one document --------------------------------------------------------------------
      {"second_document", spec("command: [x]\n---\ncommand: [y]\n"),
       {F("line 2", "a second YAML document starts here; a task spec is one document")}},
      {"second_document_empty", spec("---\ncommand: [x]\n---\n"),
       {F("line 3", "a second YAML document starts here; a task spec is one document")}},

      // --- merge keys ----------------------------------------------------------------------
      {"merge_key_a_number", spec("command: [x]\n<<: 5\n"),
       {F("<<", "line 2: a merge key takes a map or a list of maps (an alias like *defaults), not a number")}},
      {"merge_key_list_of_strings", spec("command: [x]\n<<: [a, {b: c}]\n"),
       {F("<<", "line 2: a merge key takes maps (an alias like *defaults), not a string")}},
      {"merged_value_names_its_line",
       spec("defaults: &ck {path: /c, url: 'file:///s', frequency: 5x}\ncommand: [x]\n"
            "checkpoint:\n- <<: *ck\n"),
       {F("checkpoint[0].frequency (from line 1)", "\"5x\" is not a duration")}},
      {"aliased_value_names_its_line",
       spec("every: &every 5x\ncommand: [x]\ncheckpoint:\n- {path: /c, url: 'file:///s', frequency: *every}\n"),
       {F("checkpoint[0].frequency (from line 1)", "\"5x\" is not a duration")}},
      {"merged_list_item_names_its_line",
       spec("d: &d {checkpoint: [{path: /c, url: 'file:///s', frequency: 1m, every: 2}]}\n"
            "tasks:\n- <<: *d\n  command: [x]\n"),
       {F("tasks[0].checkpoint[0].every (from line 1)", "unknown key (expected path, url, frequency, regex, restore)")}},
      {"quoted_merge_key_is_a_key", spec(task("checkpoint:\n- {'<<': {path: /c}, url: 'file:///s', frequency: 1m}\n")),
       {F("checkpoint[0].<<", "unknown key (expected path, url, frequency, regex, restore)"),
        F("checkpoint[0].path", "is required")}},

      // --- the command line's additions ----------------------------------------------------
      {"no_source_and_no_command",
       LoadRequest{},
       {C("", "no command: give one after -- or a task spec with --spec")}},
      {"no_source_and_no_command_with_other_options",
       with_exit_actions(LoadRequest{}, {"COMPLETE=0"}),
       {C("", "no command: give one after -- or a task spec with --spec")}},
      {"command_override_empty_program",
       with_command(spec(task()), {"", "x"}),
       {C("command", "the program name is empty")}},
      {"exit_action_override_overlaps_spec",
       with_exit_actions(spec(task("exitActions:\n  RESCHEDULE: 1-255\n")), {"FAIL=1"}),
       {C("--exit-action FAIL=1", "code 1 is covered by both RESCHEDULE and FAIL")}},
      {"exit_action_overrides_overlap_each_other",
       with_exit_actions(command_line({"x"}), {"FAIL=1-5", "COMPLETE=5"}),
       {C("--exit-action COMPLETE=5", "code 5 is covered by both FAIL and COMPLETE")}},
      {"exit_action_override_oom_overlaps_spec",
       with_exit_actions(spec(task("exitActions:\n  FAIL: OOM\n")), {"RESCHEDULE=oom"}),
       {C("--exit-action RESCHEDULE=oom", "OOM is covered by both FAIL and RESCHEDULE")}},
      {"exit_action_override_unknown_action",
       with_exit_actions(spec(task()), {"RETRY=1"}),
       {C("--exit-action RETRY=1",
          "expected ACTION=CODES with ACTION one of COMPLETE, RESCHEDULE, FAIL")}},
      {"exit_action_override_without_equals",
       with_exit_actions(spec(task()), {"1-255"}),
       {C("--exit-action 1-255", "expected ACTION=CODES")}},
      {"exit_action_override_bad_codes",
       with_exit_actions(spec(task()), {"FAIL=300"}),
       {C("--exit-action FAIL=300", "\"300\" is not an exit code")}},
      {"checkpoint_override_frequency_too_short",
       with_checkpoints(spec(task()), {"path=/x,url=file:///y,frequency=500ms"}),
       {C("--checkpoint path=/x,url=file:///y,frequency=500ms: frequency",
          "\"500ms\" is less than the minimum of 1s")}},
      {"checkpoint_override_missing_url",
       with_checkpoints(spec(task()), {"path=/x,frequency=5s"}),
       {C("--checkpoint path=/x,frequency=5s: url", "is required")}},
      {"checkpoint_override_bad_url",
       with_checkpoints(command_line({"x"}), {"path=/x,url=gcs://b/p,frequency=5s"}),
       {C("--checkpoint path=/x,url=gcs://b/p,frequency=5s: url",
          "\"gcs://b/p\" is not a supported store URL")}},
      {"checkpoint_override_bad_regex",
       with_checkpoints(spec(task()), {"path=/x,url=file:///y,frequency=5s,regex=(,"}),
       {C("--checkpoint path=/x,url=file:///y,frequency=5s,regex=(,: regex",
          "\"(,\" is not a valid RE2 expression")}},
      {"checkpoint_override_not_key_value",
       with_checkpoints(spec(task()), {"bogus"}),
       {C("--checkpoint bogus", "\"bogus\" is not key=value"),
        C("--checkpoint bogus: path", "is required"), C("--checkpoint bogus: url", "is required"),
        C("--checkpoint bogus: frequency", "is required")}},
      {"checkpoint_override_key_twice",
       with_checkpoints(spec(task()), {"path=/a,path=/b,url=file:///y,frequency=5s"}),
       {C("--checkpoint path=/a,path=/b,url=file:///y,frequency=5s: path", "is given twice")}},
      {"checkpoint_override_unknown_key",
       with_checkpoints(spec(task()), {"path=/a,url=file:///y,frequency=5s,every=1"}),
       {C("--checkpoint path=/a,url=file:///y,frequency=5s,every=1: every",
          "unknown key (expected path, url, frequency, regex, restore)")}},
      {"override_problem_reported_once_for_all_tasks",
       with_exit_actions(
           all_tasks(spec("tasks:\n- {name: a, command: [x]}\n- {name: b, command: [x]}\n")),
           {"RETRY=1"}),
       {C("--exit-action RETRY=1", "expected ACTION=CODES")}},

      // --- every problem is reported -------------------------------------------------------
      {"several_problems_in_one_file",
       spec("tasks:\n"
            "- name: t\n"
            "  command: []\n"
            "  environment: [A]\n"
            "  files:\n"
            "  - {path: rel, mode: '8'}\n"
            "  checkpoint:\n"
            "  - {path: /c, url: 'ftp://x', frequency: 5x, regex: '('}\n"
            "  exitActions: {COMPLETE: 0, FAIL: 0-255, RETRY: 1}\n"),
       {F("tasks[0].command", "must not be empty"),
        F("tasks[0].environment", "must be a map, not a list"),
        F("tasks[0].files[0].path", "\"rel\" is not an absolute path"),
        F("tasks[0].files[0].mode", "\"8\" is not an octal mode"),
        F("tasks[0].checkpoint[0].url", "\"ftp://x\" is not a supported store URL"),
        F("tasks[0].checkpoint[0].frequency", "\"5x\" is not a duration"),
        F("tasks[0].checkpoint[0].regex", "is not a valid RE2 expression"),
        F("tasks[0].exitActions.FAIL", "code 0 is covered by both COMPLETE and FAIL"),
        F("tasks[0].exitActions.RETRY", "unknown action")}},
      {"problems_in_every_chosen_task",
       all_tasks(spec(
           "tasks:\n- {name: a, command: []}\n- {name: b, command: [x], files: [{path: rel}]}\n")),
       {F("tasks[0].command", "must not be empty"),
        F("tasks[1].files[0].path", "is not an absolute path")}},
      {"problems_in_spec_and_command_line",
       with_exit_actions(spec(task(checkpoint_with + "5x\n")), {"FAIL=300"}),
       {F("checkpoint[0].frequency", "\"5x\" is not a duration"),
        C("--exit-action FAIL=300", "is not an exit code")}},
      {"only_the_chosen_task_is_checked",
       with_task(spec("tasks:\n- {name: a, command: []}\n- {name: b, command: [x], files: [{path: "
                      "rel}]}\n"),
                 "b"),
       {F("tasks[1].files[0].path", "is not an absolute path")}},
  };
}

class LoaderInvalid : public ::testing::TestWithParam<InvalidRow> {};

TEST_P(LoaderInvalid, ReportsEveryProblemWithItsPlace) {
  const InvalidRow& row = GetParam();
  auto got = diagnostics_of(row.request);
  ASSERT_EQ(got.size(), row.expected.size()) << "got:" << dump(got);
  for (std::size_t i = 0; i < got.size(); ++i) {
    const Expected& want = row.expected[i];
    EXPECT_EQ(got[i].source, want.source) << "#" << i << dump(got);
    EXPECT_EQ(got[i].location, want.location) << "#" << i << dump(got);
    EXPECT_TRUE(contains(got[i].message, want.message))
        << "#" << i << " message lacks [" << want.message << "]" << dump(got);
    // One line per problem, whatever the input held.
    EXPECT_EQ(got[i].to_string().find('\n'), std::string::npos) << got[i].to_string();
  }
}

INSTANTIATE_TEST_SUITE_P(Loader, LoaderInvalid, ::testing::ValuesIn(invalid_rows()),
                         [](const auto& p) { return p.param.name; });

// ---- messages: the exact format ---------------------------------------------------------------

TEST(LoaderMessage, LocatedDurationMessageIsExact) {
  auto got =
      diagnostics_of(spec("tasks:\n- name: t\n  command: [x]\n  checkpoint:\n  - {path: /a, url: "
                          "'file:///s', frequency: 1m}\n"
                          "  - {path: /b, url: 'file:///s', frequency: 5x}\n"));
  ASSERT_EQ(got.size(), 1u) << dump(got);
  EXPECT_EQ(got[0].to_string(),
            "wf.yaml: tasks[0].checkpoint[1].frequency: \"5x\" is not a duration");
}

TEST(LoaderMessage, WhatJoinsEveryLine) {
  try {
    load(spec(task("files:\n- path: a\n- path: b\n")));
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "wf.yaml: files[0].path: \"a\" is not an absolute path\n"
                 "wf.yaml: files[1].path: \"b\" is not an absolute path");
  }
}

TEST(LoaderMessage, YamlErrorHasLineAndColumn) {
  auto got = diagnostics_of(spec("name: a\ncommand: [/bin/true\n"));
  ASSERT_EQ(got.size(), 1u) << dump(got);
  EXPECT_TRUE(std::regex_search(got[0].to_string(),
                                std::regex(R"(^wf\.yaml: line \d+, column \d+: invalid YAML: .+)")))
      << got[0].to_string();
}

TEST(LoaderMessage, JsonErrorHasLineAndColumn) {
  auto got = diagnostics_of(spec("{\"command\": [\"x\"],\n \"args\": [1 2]}", "t.json"));
  ASSERT_EQ(got.size(), 1u) << dump(got);
  EXPECT_EQ(got[0].to_string().rfind("t.json: invalid JSON: parse error at line 2, column 13: ", 0),
            0u)
      << got[0].to_string();
}

TEST(LoaderMessage, HostileValuesStayOnOneLine) {
  auto got = diagnostics_of(spec(task("files:\n- path: \"rel\\n/etc/forged: oops\"\n")));
  ASSERT_EQ(got.size(), 1u) << dump(got);
  EXPECT_EQ(got[0].to_string(),
            "wf.yaml: files[0].path: \"rel\\x0a/etc/forged: oops\" is not an absolute path");
}

// ---- nesting ----------------------------------------------------------------------------------

TEST(LoaderNesting, SixtyFourLevelsAreFine) {
  EXPECT_TRUE(diagnostics_of(spec(nested_json(64))).empty())
      << dump(diagnostics_of(spec(nested_json(64))));
  EXPECT_TRUE(diagnostics_of(spec(nested_block_yaml(64))).empty())
      << dump(diagnostics_of(spec(nested_block_yaml(64))));
}

TEST(LoaderNesting, AliasesAreNotExpanded) {
  // A "billion laughs" document: each level names the previous one nine times.
  std::string text = "command: [/bin/true]\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + prev;
    for (int k = 0; k < 8; ++k) text += ", " + prev;
    text += "]\n";
  }
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(diagnostics_of(spec(text)).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
}

// Reading a map's entries is one pass: 100,000 environment variables (200,000 took a
// minute when each was looked up by name).
TEST(LoaderScale, AHundredThousandVariablesLoadInLinearTime) {
  std::string yaml = "command: [/bin/true]\nenvironment:\n";
  std::string json = R"({"command": ["/bin/true"], "environment": {)";
  for (int i = 0; i < 100000; ++i) {
    yaml += "  K" + std::to_string(i) + ": v\n";
    json += (i ? ", \"K" : "\"K") + std::to_string(i) + "\": \"v\"";
  }
  json += "}}";
  for (const auto& text : {yaml, json}) {
    auto started = std::chrono::steady_clock::now();
    auto tasks = load(spec(text));
    EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
    ASSERT_EQ(tasks.size(), 1u);
    EXPECT_EQ(tasks[0].environment.size(), 100000u);
  }
}

// A map of 2,000 keys merged into 1,000 maps: 2,000,000 entries, past the bound.
TEST(LoaderScale, MergeKeysCannotMultiplyEntriesWithoutBound) {
  std::string text = "command: [/bin/true]\nbig: &big\n";
  for (int i = 0; i < 2000; ++i) text += "  k" + std::to_string(i) + ": v\n";
  text += "many:\n";
  for (int i = 0; i < 1000; ++i) text += "- <<: *big\n";
  auto started = std::chrono::steady_clock::now();
  auto got = diagnostics_of(spec(text));
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
  ASSERT_EQ(got.size(), 1u) << dump(got);
  EXPECT_EQ(got[0].location, "many[500].<<");
  EXPECT_EQ(got[0].message, "merge keys bring in more than 1000000 entries in all; no task spec needs that many");
}

// ---- read_source ------------------------------------------------------------------------------

TEST(LoaderReadSource, ReadsTheFileAsGiven) {
  Source source = read_source(testdata("single-task.yaml"));
  EXPECT_EQ(source.name, testdata("single-task.yaml"));
  EXPECT_TRUE(contains(source.text, "name: hello"));
}

TEST(LoaderReadSource, MissingFileNamesPathAndCause) {
  try {
    read_source("/nonexistent/wf.yaml");
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    ASSERT_EQ(e.diagnostics().items().size(), 1u);
    EXPECT_EQ(e.diagnostics().items()[0].to_string(),
              "/nonexistent/wf.yaml: cannot read: No such file or directory");
  }
}

TEST(LoaderReadSource, DirectoryIsNoSpec) {
  try {
    read_source(testdata("invalid"));
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    ASSERT_EQ(e.diagnostics().items().size(), 1u);
    EXPECT_TRUE(contains(e.diagnostics().items()[0].message, "cannot read: Is a directory"))
        << e.diagnostics().to_string();
  }
}

// ---- fixtures ---------------------------------------------------------------------------------

std::vector<Task> load_fixture(const std::string& relative,
                               std::optional<std::string> task_name = std::nullopt,
                               bool all = false) {
  LoadRequest request;
  request.source = read_source(testdata(relative));
  request.task_name = std::move(task_name);
  request.all_tasks = all;
  try {
    return load(request);
  } catch (const InputError& e) {
    ADD_FAILURE() << relative << ":" << dump(e.diagnostics().items());
    return {};
  }
}

TEST(LoaderFixtures, ResilientTask) {
  auto tasks = load_fixture("resilient-task.yaml");
  ASSERT_EQ(tasks.size(), 1u);
  const Task& t = tasks[0];
  EXPECT_EQ(t.name, "resilient-task");
  ASSERT_EQ(t.command.size(), 3u);
  EXPECT_EQ(t.command[0], "/bin/sh");
  EXPECT_EQ(t.command[1], "-c");
  EXPECT_TRUE(contains(t.command[2], "exit ${EXIT_CODE:-0}")) << t.command[2];
  EXPECT_EQ(action_of(t, 0), Action::kComplete);
  EXPECT_EQ(action_of(t, 1), Action::kReschedule);
  EXPECT_EQ(action_of(t, 137), Action::kReschedule);
  EXPECT_EQ(action_of(t, 255), Action::kReschedule);
  EXPECT_TRUE(t.files.empty());
  EXPECT_TRUE(t.checkpoints.empty());
}

void expect_train_task(const Task& t) {
  EXPECT_EQ(t.name, "train");
  EXPECT_EQ(t.command, (Strings{"/bin/bash", "/tmp/run.sh"}));
  EXPECT_EQ(t.environment, (Env{{"EPOCHS", "2"}, {"CHECKPOINT_DIR", "/tmp/checkpoints"}}));
  ASSERT_EQ(t.files.size(), 1u);
  EXPECT_EQ(t.files[0].path, "/tmp/run.sh");
  EXPECT_EQ(t.files[0].mode, 0755u);
  EXPECT_EQ(t.files[0].contents.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_TRUE(contains(t.files[0].contents, "/tmp/checkpoints"));
  EXPECT_NE(t.files[0].contents.back(), '\n');  // |- strips the final line break
  ASSERT_EQ(t.checkpoints.size(), 1u);
  EXPECT_EQ(t.checkpoints[0].path, "/tmp/checkpoints");
  EXPECT_EQ(t.checkpoints[0].url.text, "file:///tmp/supervise-checkpoints");
  EXPECT_EQ(t.checkpoints[0].url.dir, "/tmp/supervise-checkpoints");
  EXPECT_EQ(t.checkpoints[0].frequency, seconds(60));
  EXPECT_EQ(t.checkpoints[0].regex, ".*\\.(pt|json)$");
  EXPECT_EQ(action_of(t, 0), Action::kComplete);
  EXPECT_EQ(action_of(t, 42), Action::kReschedule);
}

TEST(LoaderFixtures, TrainWithCheckpointingYaml) {
  auto tasks = load_fixture("train-with-checkpointing.yaml");
  ASSERT_EQ(tasks.size(), 1u);
  expect_train_task(tasks[0]);
}

TEST(LoaderFixtures, TrainWithCheckpointingJsonIsTheSameTask) {
  auto json = load_fixture("train-with-checkpointing.json");
  auto yaml = load_fixture("train-with-checkpointing.yaml");
  ASSERT_EQ(json.size(), 1u);
  ASSERT_EQ(yaml.size(), 1u);
  expect_train_task(json[0]);
  EXPECT_EQ(json[0].files[0].contents, yaml[0].files[0].contents);
  EXPECT_EQ(json[0].environment, yaml[0].environment);
  ASSERT_EQ(json[0].exit_actions.rules().size(), yaml[0].exit_actions.rules().size());
  for (std::size_t i = 0; i < json[0].exit_actions.rules().size(); ++i)
    EXPECT_EQ(json[0].exit_actions.rules()[i].text, yaml[0].exit_actions.rules()[i].text);
}

TEST(LoaderFixtures, SingleTask) {
  auto tasks = load_fixture("single-task.yaml");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].name, "hello");
  EXPECT_EQ(tasks[0].command, (Strings{"/bin/echo", "hello", "from", "supervise"}));
  EXPECT_EQ(action_of(tasks[0], 0), Action::kComplete);
  EXPECT_EQ(action_of(tasks[0], 3), Action::kFail);
}

TEST(LoaderFixtures, TopLevelTasks) {
  auto tasks = load_fixture("top-level-tasks.yaml");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].name, "sleeper");
  EXPECT_EQ(tasks[0].command, (Strings{"/bin/sh", "-c", "sleep ${SLEEP_SECONDS:-0}"}));
  EXPECT_EQ(tasks[0].environment, (Env{{"SLEEP_SECONDS", "0"}}));
}

TEST(LoaderFixtures, WorkflowGroups) {
  auto all = load_fixture("workflow-groups.yaml", std::nullopt, true);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "download");
  EXPECT_EQ(all[1].name, "master");
  EXPECT_EQ(all[2].name, "worker");
  auto master = load_fixture("workflow-groups.yaml", "master");
  ASSERT_EQ(master.size(), 1u);
  ASSERT_EQ(master[0].checkpoints.size(), 1u);
  EXPECT_EQ(master[0].checkpoints[0].url.bucket, "osmo-checkpoints");
  EXPECT_EQ(master[0].checkpoints[0].url.prefix, "grouped-training/master");
  EXPECT_EQ(master[0].checkpoints[0].frequency, seconds(600));
  EXPECT_EQ(action_of(master[0], 137), Action::kReschedule);
  EXPECT_EQ(action_of(master[0], 1), Action::kFail);
  auto worker = load_fixture("workflow-groups.yaml", "worker");
  ASSERT_EQ(worker.size(), 1u);
  EXPECT_EQ(action_of(worker[0], 137), Action::kReschedule);

  LoadRequest without_task;
  without_task.source = read_source(testdata("workflow-groups.yaml"));
  auto got = diagnostics_of(without_task);
  ASSERT_EQ(got.size(), 1u) << dump(got);
  EXPECT_TRUE(
      contains(got[0].message, "3 tasks (download, master, worker); choose one with --task"))
      << dump(got);
}

// The same tasks PyYAML reads from it (yaml.safe_load resolves the merge keys).
TEST(LoaderFixtures, MergeKeys) {
  auto tasks = load(all_tasks(spec(read_source(testdata("merge-keys.yaml")).text)));
  ASSERT_EQ(tasks.size(), 2u);
  const Task& train = tasks[0];
  EXPECT_EQ(train.command, (Strings{"python3", "train.py"}));
  EXPECT_EQ(train.environment, (Env{{"EPOCHS", "10"}, {"LR", "0.1"}}));
  ASSERT_EQ(train.checkpoints.size(), 1u);
  EXPECT_EQ(train.checkpoints[0].path, "/tmp/ckpt");
  EXPECT_EQ(train.checkpoints[0].url.text, "file:///tmp/ckpt-store");
  EXPECT_EQ(train.checkpoints[0].frequency, seconds(600));
  EXPECT_EQ(action_of(train, 1), Action::kReschedule);
  const Task& evaluate = tasks[1];
  EXPECT_TRUE(evaluate.environment.empty());
  ASSERT_EQ(evaluate.checkpoints.size(), 1u);
  EXPECT_EQ(evaluate.checkpoints[0].path, "/tmp/eval");
  EXPECT_EQ(evaluate.checkpoints[0].url.text, "file:///tmp/ckpt-store");
  EXPECT_EQ(evaluate.checkpoints[0].frequency, seconds(3600));
  EXPECT_EQ(action_of(evaluate, 1), Action::kFail) << "its own exitActions, not the merged one";
}

TEST(LoaderFixtures, MultiTask) {
  auto all = load_fixture("multi-task.yaml", std::nullopt, true);
  ASSERT_EQ(all.size(), 3u);
  auto train = load_fixture("multi-task.yaml", "train");
  ASSERT_EQ(train.size(), 1u);
  ASSERT_EQ(train[0].files.size(), 2u);
  EXPECT_EQ(train[0].files[0].contents, R"({"lr": 0.001, "epochs": 3})");
  EXPECT_EQ(train[0].files[0].mode, 0644u);
  EXPECT_EQ(train[0].files[1].contents, "supervise");
  EXPECT_EQ(train[0].files[1].mode, 0600u);
  ASSERT_EQ(train[0].checkpoints.size(), 1u);
  EXPECT_EQ(train[0].checkpoints[0].frequency, seconds(300));
}

// Every line of invalid/README.md: "- `FILE`: `SUBSTRING`" (then optional notes).
struct ReadmeLine {
  std::string file;
  std::string expected;
};

std::vector<ReadmeLine> invalid_readme() {
  std::ifstream in(testdata("invalid/README.md"));
  std::vector<ReadmeLine> out;
  std::string line;
  static const std::regex item(R"(^- `([^`]+)`: `([^`]+)`)");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, item)) out.push_back({m[1], m[2]});
  }
  return out;
}

TEST(LoaderFixtures, EveryInvalidSpecGivesTheMessageItsReadmeNames) {
  auto lines = invalid_readme();
  ASSERT_GE(lines.size(), 20u);
  for (const auto& line : lines) {
    SCOPED_TRACE(line.file);
    LoadRequest request;
    try {
      request.source = read_source(testdata("invalid/" + line.file));
    } catch (const InputError& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    auto got = diagnostics_of(request);
    if (got.empty()) {
      ADD_FAILURE() << "loads without a problem";
      continue;
    }
    if (line.file != "several-problems.yaml") {
      EXPECT_EQ(got.size(), 1u) << dump(got);
    }
    // The README shows the message as it appears on stderr, escapes included.
    const std::string& expected = line.expected;
    bool found = false;
    for (const auto& d : got) found = found || contains(d.to_string(), expected);
    EXPECT_TRUE(found) << "no message holds [" << expected << "]" << dump(got);
    for (const auto& d : got) EXPECT_EQ(d.source, request.source->name);
  }
}

TEST(LoaderFixtures, TwoTasksPassWhenEveryTaskIsChecked) {
  // What --validate does without --task; invalid/README.md relies on it.
  auto tasks = load_fixture("invalid/two-tasks.yaml", std::nullopt, true);
  EXPECT_EQ(tasks.size(), 2u);
}

TEST(LoaderFixtures, SeveralProblemsAreAllReported) {
  LoadRequest request;
  request.source = read_source(testdata("invalid/several-problems.yaml"));
  auto got = diagnostics_of(request);
  ASSERT_EQ(got.size(), 3u) << dump(got);
  EXPECT_EQ(got[0].location, "tasks[0].files[0].path");
  EXPECT_EQ(got[1].location, "tasks[0].checkpoint[0].frequency");
  EXPECT_EQ(got[2].location, "tasks[0].exitActions.FAIL");
}

TEST(LoaderFixtures, EveryInvalidFileIsInTheReadme) {
  std::set<std::string> listed;
  for (const auto& line : invalid_readme()) listed.insert(line.file);
  for (const auto& entry : std::filesystem::directory_iterator(testdata("invalid"))) {
    std::string name = entry.path().filename().string();
    if (name == "README.md") continue;
    EXPECT_TRUE(listed.count(name)) << name << " is not listed in invalid/README.md";
  }
  for (const auto& name : listed)
    EXPECT_TRUE(std::filesystem::exists(testdata("invalid/" + name)))
        << name << " is listed but missing";
}

TEST(LoaderFixtures, EveryValidFixtureLoads) {
  for (const auto& entry : std::filesystem::directory_iterator(testdata(""))) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    auto ext = entry.path().extension();
    if (ext != ".yaml" && ext != ".json") continue;
    SCOPED_TRACE(name);
    load_fixture(name, std::nullopt, true);
  }
}

}  // namespace
}  // namespace supervise::spec
