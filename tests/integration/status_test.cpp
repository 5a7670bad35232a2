// The exit-status JSON and the termination log (SPEC.md "Exit-status JSON"): fields,
// their order and types, timestamps, atomic writing, and the 4096-byte compact copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;

namespace fs = std::filesystem;

const std::vector<std::string> kSpecKeys = {
    "schema_version", "task",       "action",  "exit_code",  "signal",      "core_dumped",
    "matched_rule",   "error",      "command", "started_at", "finished_at", "duration_seconds",
    "stop",           "checkpoints"};


double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::vector<std::string> keys_in_order(const std::string& text) {
  std::vector<std::string> keys;
  auto document = nlohmann::ordered_json::parse(text);
  for (const auto& [key, value] : document.items()) keys.push_back(key);
  return keys;
}

TEST(Status, FieldsInTheDocumentedOrder) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto keys = keys_in_order(read_file(dir / "s.json"));
  ASSERT_GE(keys.size(), kSpecKeys.size() + 1);
  EXPECT_EQ(
      std::vector<std::string>(keys.begin(), keys.begin() + static_cast<long>(kSpecKeys.size())),
      kSpecKeys);
  EXPECT_NE(std::find(keys.begin(), keys.end(), "supervisor_exit_code"), keys.end());
}

TEST(Status, IsPrettyPrinted) {
  TempDir dir;
  ASSERT_EQ(run({"--status-file", dir / "s.json", "--", "/bin/true"}).exit_code, 0);
  auto text = read_file(dir / "s.json");
  EXPECT_EQ(text.rfind("{\n  \"schema_version\": 1,\n", 0), 0u) << text;
}

TEST(Status, ACommandThatExitsOnItsOwn) {
  TempDir dir;
  double before = now_seconds();
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/sh", "-c", "sleep 0.3; exit 3"});
  double after = now_seconds();
  ASSERT_EQ(r.exit_code, 3) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["schema_version"], 1);
  EXPECT_TRUE(s["task"].is_null());
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 3);
  EXPECT_TRUE(s["signal"].is_null());
  EXPECT_EQ(s["core_dumped"], false);
  EXPECT_TRUE(s["matched_rule"].is_null());
  EXPECT_TRUE(s["error"].is_null());
  EXPECT_EQ(s["command"], nlohmann::json({"/bin/sh", "-c", "sleep 0.3; exit 3"}));
  EXPECT_TRUE(s["stop"].is_null());
  EXPECT_EQ(s["checkpoints"], nlohmann::json::array());
  EXPECT_EQ(s["supervisor_exit_code"], 3);

  // Timestamps: UTC with milliseconds, inside the run, consistent with the duration.
  double started = parse_timestamp(s["started_at"]);
  double finished = parse_timestamp(s["finished_at"]);
  EXPECT_GE(started, before - 1.0) << "started_at is not UTC now: " << s["started_at"];
  EXPECT_LE(finished, after + 1.0) << "finished_at is not UTC now: " << s["finished_at"];
  EXPECT_LE(started, finished);
  ASSERT_TRUE(s["duration_seconds"].is_number());
  double duration = s["duration_seconds"];
  EXPECT_GE(duration, 0.29);
  EXPECT_LT(duration, 30.0);
  EXPECT_NEAR(duration, finished - started, 0.005);
}

TEST(Status, SignalDeath) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/sh", "-c", "kill -TERM $$"});
  ASSERT_EQ(r.exit_code, 143) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["exit_code"], 143);
  EXPECT_EQ(s["signal"], "SIGTERM");
  EXPECT_EQ(s["core_dumped"], false);
  EXPECT_TRUE(s["stop"].is_null()) << "nothing asked for a stop";
  EXPECT_EQ(s["supervisor_exit_code"], 143);
}

TEST(Status, NoCoreDumpWithoutCoreLimit) {
  TempDir dir;
  RunOptions options;
  options.cwd = dir.path();
  auto r =
      run({"--status-file", dir / "s.json", "--", "/bin/sh", "-c", "ulimit -c 0; kill -SEGV $$"},
          options);
  ASSERT_EQ(r.exit_code, 139) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["signal"], "SIGSEGV");
  EXPECT_EQ(s["core_dumped"], false);
}

TEST(Status, CoreDumpIsReported) {
  // Whether the kernel dumps depends on the machine (core_pattern, hard limit): the test
  // asserts only when a core file shows up in the working directory.
  TempDir dir;
  RunOptions options;
  options.cwd = dir.path();
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/sh", "-c",
                "ulimit -c unlimited && kill -ABRT $$"},
               options);
  ASSERT_EQ(r.exit_code, 134) << r.err;
  bool core_file = false;
  for (const auto& e : fs::directory_iterator(dir.path()))
    core_file = core_file || e.path().filename().string().rfind("core", 0) == 0;
  if (!core_file) GTEST_SKIP() << "this machine does not write core files to the working directory";
  EXPECT_EQ(read_json(dir / "s.json")["core_dumped"], true);
}

TEST(Status, ParentsAreCreatedAndNoTemporaryIsLeft) {
  TempDir dir;
  std::string status = dir / "deep/er/status.json";
  auto r = run({"--status-file", status, "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(status));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "deep/er"))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"status.json"});
}

TEST(Status, AStaleStatusIsReplaced) {
  TempDir dir;
  write_file(dir / "s.json", std::string(10000, 'x'));
  auto r = run({"--status-file", dir / "s.json", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(read_json(dir / "s.json")["action"], "COMPLETE");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path()))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"s.json"});
}

TEST(Status, FileFromTheEnvironment) {
  TempDir dir;
  RunOptions options;
  options.env = {"SUPERVISE_STATUS_FILE=" + dir / "env/status.json"};
  auto r = run({"--", "/bin/sh", "-c", "exit 2"}, options);
  ASSERT_EQ(r.exit_code, 2);
  EXPECT_EQ(read_json(dir / "env/status.json")["exit_code"], 2);
}

TEST(Status, OptionWinsOverTheEnvironment) {
  TempDir dir;
  RunOptions options;
  options.env = {"SUPERVISE_STATUS_FILE=" + dir / "env.json"};
  auto r = run({"--status-file", dir / "option.json", "--", "/bin/true"}, options);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(fs::exists(dir / "option.json"));
  EXPECT_FALSE(fs::exists(dir / "env.json"));
}

TEST(Status, NoStatusFileNoWrite) {
  TempDir dir;
  RunOptions options;
  options.cwd = dir.path();
  options.unset_env = {"SUPERVISE_STATUS_FILE"};
  auto r = run({"--", "/bin/true"}, options);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(Status, InvalidInput) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--task", "x", "--bogus", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 125);
  auto text = read_file(dir / "s.json");
  auto keys = keys_in_order(text);
  ASSERT_GE(keys.size(), kSpecKeys.size());
  EXPECT_EQ(
      std::vector<std::string>(keys.begin(), keys.begin() + static_cast<long>(kSpecKeys.size())),
      kSpecKeys);
  auto s = nlohmann::json::parse(text);
  EXPECT_EQ(s["schema_version"], 1);
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 125);
  EXPECT_TRUE(s["signal"].is_null());
  EXPECT_TRUE(s["matched_rule"].is_null());
  EXPECT_EQ(s["error"].get<std::string>().rfind("invalid input: ", 0), 0u) << s["error"];
  EXPECT_NE(s["error"].get<std::string>().find("--bogus"), std::string::npos) << s["error"];
  EXPECT_TRUE(s["started_at"].is_null());
  EXPECT_TRUE(s["duration_seconds"].is_null());
  EXPECT_TRUE(s["stop"].is_null());
  EXPECT_TRUE(s["checkpoints"].is_array());
  EXPECT_TRUE(s["command"].is_array());
  EXPECT_EQ(s["supervisor_exit_code"], 125);
  EXPECT_TRUE(s["task"].is_null() || s["task"] == "x");
}

TEST(Status, CheckpointsAreListedInOrder) {
  TempDir dir;
  std::string a = dir / "ckpt-a", b = dir / "ckpt-b", store = "file://" + dir / "store";
  auto r = run({"--status-file", dir / "s.json", "--checkpoint",
                "path=" + a + ",url=" + store + ",frequency=60s", "--checkpoint",
                "path=" + b + ",url=" + store + ",frequency=1h,regex=.*\\.(pt|bin)$,x", "--",
                "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir / "s.json");
  ASSERT_TRUE(s["checkpoints"].is_array());
  ASSERT_EQ(s["checkpoints"].size(), 2u) << s.dump(2);
  EXPECT_EQ(s["checkpoints"][0]["path"], a);
  EXPECT_EQ(s["checkpoints"][1]["path"], b);
  for (const auto& c : s["checkpoints"]) {
    EXPECT_EQ(c["url"], store);
    EXPECT_TRUE(c["rounds"].is_number_integer());
    EXPECT_TRUE(c["failed_rounds"].is_number_integer());
    EXPECT_TRUE(c.contains("final"));
  }
}

// ---- --termination-log ------------------------------------------------------------------

TEST(TerminationLog, OneCompactLineMatchingTheStatus) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--termination-log", dir / "termination-log",
                "--exit-action", "RESCHEDULE=4", "--", "/bin/sh", "-c", "exit 4"});
  ASSERT_EQ(r.exit_code, 4) << r.err;
  auto text = read_file(dir / "termination-log");
  EXPECT_LE(text.size(), 4096u);
  EXPECT_EQ(lines(text).size(), 1u) << text;
  auto compact = nlohmann::json::parse(text);
  EXPECT_EQ(compact, read_json(dir / "s.json")) << "a small status is copied whole";
  EXPECT_EQ(compact["action"], "RESCHEDULE");
  EXPECT_EQ(compact["exit_code"], 4);
}

TEST(TerminationLog, AtMost4096BytesWithHugeArguments) {
  TempDir dir;
  std::vector<std::string> args = {"--status-file",
                                   dir / "s.json",
                                   "--termination-log",
                                   dir / "termination-log",
                                   "--exit-action",
                                   "RESCHEDULE=9",
                                   "--",
                                   "/bin/sh",
                                   "-c",
                                   "exit 9"};
  for (int i = 0; i < 100; ++i) args.push_back(std::string(1000, static_cast<char>('a' + i % 26)));
  auto r = run(args);
  ASSERT_EQ(r.exit_code, 9) << r.err;
  auto text = read_file(dir / "termination-log");
  EXPECT_LE(text.size(), 4096u);
  EXPECT_EQ(lines(text).size(), 1u);
  nlohmann::json compact;
  ASSERT_NO_THROW(compact = nlohmann::json::parse(text)) << text;
  EXPECT_EQ(compact["action"], "RESCHEDULE");
  EXPECT_EQ(compact["exit_code"], 9);
  EXPECT_EQ(compact["supervisor_exit_code"], 9);
  // The full status keeps every argument.
  EXPECT_EQ(read_json(dir / "s.json")["command"].size(), 103u);
}

TEST(TerminationLog, AtMost4096BytesWithAHugeError) {
  // A command name of 3000 characters that does not exist: the error holds it.
  TempDir dir;
  std::string missing;
  for (int i = 0; i < 15; ++i) missing += "/" + std::string(200, 'n');
  std::vector<std::string> args = {"--termination-log", dir / "termination-log", "--", missing};
  for (int i = 0; i < 10; ++i) args.push_back(std::string(1000, '"'));  // escapes double the size
  auto r = run(args);
  ASSERT_EQ(r.exit_code, 127) << r.err;
  auto text = read_file(dir / "termination-log");
  EXPECT_LE(text.size(), 4096u);
  nlohmann::json compact;
  ASSERT_NO_THROW(compact = nlohmann::json::parse(text)) << text;
  EXPECT_EQ(compact["action"], "FAIL");
  EXPECT_EQ(compact["exit_code"], 127);
}

TEST(TerminationLog, WrittenOnInvalidInputToo) {
  TempDir dir;
  auto r =
      run({"--termination-log", dir / "termination-log", "--timeout", "5x", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 125);
  auto compact = nlohmann::json::parse(read_file(dir / "termination-log"));
  EXPECT_EQ(compact["action"], "FAIL");
  EXPECT_EQ(compact["exit_code"], 125);
  EXPECT_EQ(compact["error"].get<std::string>().rfind("invalid input: ", 0), 0u);
}

}  // namespace
