// Checkpoints end to end (SPEC.md "Checkpoints", "Data stores" file://): the built
// binary with --checkpoint and spec files, a file:// store in a temporary directory,
// the schedule read from the log's timestamps, the final round after the command (also
// one that a SIGTERM trap wrote), failures that never change the outcome, and the
// grace period that bounds the final round.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace test_support;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// ---- helpers ----------------------------------------------------------------------------


// One line of the supervisor's log: "[supervise] 2026-...Z info: message".
struct LogLine {
  double at = 0;
  std::string level;
  std::string message;
};

std::vector<LogLine> log_lines(const std::string& err) {
  static const std::regex line(R"(^\[supervise\] (\S+Z) (\w+): (.*)$)");
  std::vector<LogLine> out;
  for (const auto& text : lines(err)) {
    std::smatch m;
    if (std::regex_match(text, m, line)) out.push_back({parse_timestamp(m[1]), m[2], m[3]});
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The info lines that start with `prefix` (a failed round also has a warning line).
std::vector<LogLine> with_prefix(const std::vector<LogLine>& log, const std::string& prefix) {
  std::vector<LogLine> out;
  for (const auto& l : log)
    if (l.level == "info" && starts_with(l.message, prefix)) out.push_back(l);
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A file of `size` bytes that reads as zeros and costs no disk until copied.
void make_sparse(const std::string& path, off_t size) {
  fs::create_directories(fs::path(path).parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::ftruncate(fd, size), 0);
  ::close(fd);
}

struct Identity {
  ino_t inode = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const Identity&) const = default;
};

std::optional<Identity> identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return Identity{st.st_ino, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec};
}

std::string checkpoint_arg(const std::string& path, const std::string& store, const std::string& frequency,
                           const std::string& regex = "") {
  return "path=" + path + ",url=file://" + store + ",frequency=" + frequency + (regex.empty() ? "" : ",regex=" + regex);
}

// ---- schedule ---------------------------------------------------------------------------

// First round `frequency` after the command started; each next one `frequency` after
// the previous ENDED. Rounds take long here (a 300 MB file touched all the time, so
// copied again each round): were the next round timed from the previous start, the gap
// from its end would be frequency minus the round's length.
TEST(Checkpoint, FirstRoundAfterFrequencyNextAfterThePreviousEnded) {
  TempDir dir;
  make_sparse(dir / "data/big", 300LL << 20);
  std::string data = dir / "data", store = dir / "store";
  // The task keeps touching the file until the second round's manifest is there (or
  // for 20 s at most), so that however long rounds take, two periodic rounds run.
  auto r = run({"--checkpoint", checkpoint_arg(data, store, "1s"), "--", "/bin/sh", "-c",
                "i=0; while [ $i -lt 100 ]; do touch " + data + "/big; sleep 0.2; i=$((i+1)); grep -Eqs '\"round\": ?2,' " +
                    store + "/data.manifest.json && break; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = log_lines(r.err);
  auto started = with_prefix(log, "started ");
  auto exited = with_prefix(log, "command exited");
  auto begins = with_prefix(log, "Checkpointing data from " + data + " to file://" + store + "...");
  auto ends = with_prefix(log, "Checkpoint round ");
  ASSERT_EQ(started.size(), 1u) << r.err;
  ASSERT_EQ(exited.size(), 1u) << r.err;
  ASSERT_EQ(begins.size(), ends.size()) << r.err;
  ASSERT_GE(begins.size(), 3u) << r.err;  // at least two periodic rounds and the final one

  double first_delay = begins[0].at - started[0].at;
  EXPECT_GE(first_delay, 0.98) << r.err;
  EXPECT_LE(first_delay, 1.5) << r.err;
  std::size_t checked = 0;
  double longest_round = 0;
  for (std::size_t i = 0; i + 1 < begins.size(); ++i) {
    longest_round = std::max(longest_round, ends[i].at - begins[i].at);
    if (begins[i + 1].at >= exited[0].at) break;  // the final round: right after the command
    double gap = begins[i + 1].at - ends[i].at;
    EXPECT_GE(gap, 0.98) << "after round " << i + 1 << "\n" << r.err;
    EXPECT_LE(gap, 1.5) << "after round " << i + 1 << "\n" << r.err;
    ++checked;
  }
  EXPECT_GE(checked, 1u) << r.err;
  // The test tells the two schedules apart only if rounds take a while.
  EXPECT_GE(longest_round, 0.1) << r.err;
  // The final round starts when the command has ended, or the round running then has
  // (not a period later).
  ASSERT_GE(ends.size(), 2u);
  double final_due = std::max(exited[0].at, ends[ends.size() - 2].at);
  EXPECT_GE(begins.back().at, final_due) << r.err;
  EXPECT_LE(begins.back().at - final_due, 0.3) << r.err;
  auto finished = with_prefix(log, "Checkpointing data from " + data + " to file://" + store + " finished");
  ASSERT_EQ(finished.size(), 1u) << r.err;
  EXPECT_GE(finished[0].at, ends.back().at);
}

// ---- layout, regex, manifest -----------------------------------------------------------

TEST(Checkpoint, SpecFileRegexAndOsmoLayout) {
  TempDir dir;
  write_file(dir / "data/model-1.pt", "one");
  write_file(dir / "data/sub/model-2.bin", "two");
  write_file(dir / "data/notes.txt", "not wanted");
  write_file(dir / "data/sub/deeper/x.pt", "x");
  write_file(dir / "single/weights.pt", "weights");
  write_file(dir / "prefixed/keep/a", "a");
  write_file(dir / "prefixed/drop/b", "b");
  write_file(dir / "task.yaml",
             "name: train\n"
             "command: [/bin/sh, -c, 'exit 0']\n"
             "checkpoint:\n"
             "- path: " + (dir / "data") + "\n"
             "  url: file://" + (dir / "store") + "\n"
             "  frequency: 60s\n"
             "  regex: .*\\.(bin|pt)$\n"
             "- path: " + (dir / "single/weights.pt") + "\n"
             "  url: file://" + (dir / "store-single") + "\n"
             "  frequency: 1m\n"
             "  regex: nothing-matches\n"
             "- path: " + (dir / "prefixed") + "\n"
             "  url: file://" + (dir / "store-prefixed") + "\n"
             "  frequency: 60\n"
             "  regex: prefixed/keep/\n"
             "- path: " + (dir / "prefixed") + "\n"
             "  url: file://" + (dir / "store-middle") + "\n"
             "  frequency: 60\n"
             "  regex: keep/\n");
  auto r = run({"--status-file", dir / "s.json", "--spec", dir / "task.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "store/data/model-1.pt"), "one");
  EXPECT_EQ(read_file(dir / "store/data/sub/model-2.bin"), "two");
  EXPECT_EQ(read_file(dir / "store/data/sub/deeper/x.pt"), "x");
  EXPECT_FALSE(fs::exists(dir / "store/data/notes.txt"));
  // A single file lands at url/<basename>; its regex is ignored.
  EXPECT_EQ(read_file(dir / "store-single/weights.pt"), "weights");
  EXPECT_TRUE(fs::exists(dir / "store-single/weights.pt.manifest.json"));
  // Anchored at the start of "<basename>/<relative path>"...
  EXPECT_TRUE(fs::exists(dir / "store-prefixed/prefixed/keep/a"));
  EXPECT_FALSE(fs::exists(dir / "store-prefixed/prefixed/drop/b"));
  // ...so a regex matching only in the middle stores nothing.
  EXPECT_FALSE(fs::exists(dir / "store-middle/prefixed"));

  auto m = read_json(dir / "store/data.manifest.json");
  EXPECT_EQ(m["round"], 1);
  EXPECT_EQ(m["final"], true);
  EXPECT_EQ(m["complete"], true);
  EXPECT_EQ(m["path"], dir / "data");
  ASSERT_EQ(m["files"].size(), 3u);
  std::vector<std::string> keys;
  for (const auto& f : m["files"]) keys.push_back(f["key"]);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"data/model-1.pt", "data/sub/deeper/x.pt", "data/sub/model-2.bin"}));
  EXPECT_TRUE(m["missing"].empty());

  auto s = read_json(dir / "s.json");
  ASSERT_EQ(s["checkpoints"].size(), 4u);
  EXPECT_EQ(s["checkpoints"][0]["final"]["files_stored"], 3);
  EXPECT_EQ(s["checkpoints"][0]["rounds"], 1);
  EXPECT_EQ(s["checkpoints"][3]["final"]["files_stored"], 0);
  EXPECT_EQ(s["checkpoints"][3]["final"]["ok"], true);
}

// On the command line regex= comes last and keeps its commas.
TEST(Checkpoint, CommandLineRegexWithCommas) {
  TempDir dir;
  for (const std::string name : {"a.txt", "b.txt", "c.txt", "x.bin"}) write_file(dir / ("data/" + name), name);
  auto r = run({"--checkpoint", checkpoint_arg(dir / "data", dir / "store", "60s", R"(data/([a,b]\.txt|x\.(bin|pt))$)"),
                "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "store/data/a.txt"));
  EXPECT_TRUE(fs::exists(dir / "store/data/b.txt"));
  EXPECT_TRUE(fs::exists(dir / "store/data/x.bin"));
  EXPECT_FALSE(fs::exists(dir / "store/data/c.txt"));
}

TEST(Checkpoint, NoManifestStoresOnlyTheFiles) {
  TempDir dir;
  write_file(dir / "data/a", "a");
  auto r = run({"--no-manifest", "--checkpoint", checkpoint_arg(dir / "data", dir / "store", "60s"), "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "store/data/a"), "a");
  EXPECT_FALSE(fs::exists(dir / "store/data.manifest.json"));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::recursive_directory_iterator(dir / "store")) ++entries;
  EXPECT_EQ(entries, 2u);  // data/ and data/a
  // And with the manifest (the default) it is there.
  auto with = run({"--checkpoint", checkpoint_arg(dir / "data", dir / "store2", "60s"), "--", "/bin/true"});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_TRUE(fs::exists(dir / "store2/data.manifest.json"));
}

// ---- incremental ------------------------------------------------------------------------

TEST(Checkpoint, UnchangedLargeFileIsNotCopiedAgain) {
  TempDir dir;
  make_sparse(dir / "data/large.bin", 64LL << 20);
  std::string data = dir / "data", store = dir / "store";
  auto started = start({"--status-file", dir / "s.json", "--checkpoint", checkpoint_arg(data, store, "1s"), "--",
                        "/bin/sh", "-c", "sleep 3.2"});
  std::optional<Identity> first;
  ASSERT_TRUE(eventually([&] { return (first = identity(store + "/data/large.bin")).has_value(); }, 10s));
  auto r = started->wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(identity(store + "/data/large.bin"), first);  // same inode, same mtime: not rewritten
  EXPECT_EQ(fs::file_size(store + "/data/large.bin"), 64u << 20);

  auto summaries = with_prefix(log_lines(r.err), "Checkpoint round ");
  ASSERT_GE(summaries.size(), 3u) << r.err;  // round 1, at least one more, the final
  EXPECT_TRUE(contains(summaries[0].message, ": 1 stored, 0 unchanged")) << summaries[0].message;
  for (std::size_t i = 1; i < summaries.size(); ++i)
    EXPECT_TRUE(contains(summaries[i].message, ": 0 stored, 1 unchanged, 0 skipped, 0.0 MB")) << summaries[i].message;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["checkpoints"][0]["rounds"], summaries.size());
  EXPECT_EQ(s["checkpoints"][0]["failed_rounds"], 0);
  EXPECT_EQ(s["checkpoints"][0]["final"]["files_stored"], 0);
  EXPECT_EQ(s["checkpoints"][0]["final"]["files_unchanged"], 1);
  EXPECT_EQ(s["checkpoints"][0]["final"]["bytes_stored"], 0);
}

// A log the task appends to all the time: some rounds catch it mid-change; the final
// round, after the command, stores it as it ended.
TEST(Checkpoint, FileAppendedThroughoutEndsIdentical) {
  TempDir dir;
  std::string data = dir / "data", store = dir / "store";
  fs::create_directories(data);
  auto r = run({"--status-file", dir / "s.json", "--checkpoint", checkpoint_arg(data, store, "1s"), "--", "/bin/sh",
                "-c",
                "i=0; while [ $i -lt 1000 ]; do echo \"line $i of the training log\" >> " + data +
                    "/train.log; i=$((i+1)); case $i in *00) sleep 0.2;; esac; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string source = read_file(data + "/train.log");
  ASSERT_TRUE(contains(source, "line 999 of")) << source.size();
  EXPECT_EQ(read_file(store + "/data/train.log"), source);
  auto s = read_json(dir / "s.json");
  EXPECT_GE(s["checkpoints"][0]["rounds"], 2) << r.err;  // a periodic round saw it grow
  EXPECT_EQ(s["checkpoints"][0]["final"]["ok"], true) << s.dump();
  auto m = read_json(store + "/data.manifest.json");
  ASSERT_EQ(m["files"].size(), 1u);
  EXPECT_EQ(m["files"][0]["size"], source.size());
  EXPECT_EQ(m["complete"], true);
}

// ---- the final round ------------------------------------------------------------------

TEST(Checkpoint, FileWrittenInATermTrapIsInTheFinalRound) {
  TempDir dir;
  std::string data = dir / "data", store = dir / "store";
  fs::create_directories(data);
  auto started = start({"--status-file", dir / "s.json", "--checkpoint", checkpoint_arg(data, store, "60s"), "--",
                        "/bin/sh", "-c",
                        "trap 'echo saved on SIGTERM > " + data + "/late.txt; exit 0' TERM; touch " + (dir / "ready") +
                            "; while :; do sleep 0.05; done"});
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "ready"); }, 10s));
  started->signal(SIGTERM);
  auto r = started->wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(store + "/data/late.txt"), "saved on SIGTERM\n");
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["stop"]["requested_by"], "SIGTERM");
  EXPECT_EQ(s["checkpoints"][0]["rounds"], 1);
  EXPECT_EQ(s["checkpoints"][0]["final"]["ok"], true);
  EXPECT_EQ(s["checkpoints"][0]["final"]["files_stored"], 1);
  EXPECT_TRUE(contains(r.err, "Checkpointing data from " + data + " to file://" + store + " finished")) << r.err;
}

// ---- failures -----------------------------------------------------------------------------

TEST(Checkpoint, UnwritableStoreDoesNotChangeTheOutcome) {
  TempDir dir;
  write_file(dir / "data/a", "a");
  write_file(dir / "regular", "a regular file where the store's directory should be");
  std::string store = dir / "regular/store";
  auto r = run({"--status-file", dir / "s.json", "--exit-action", "COMPLETE=0", "--exit-action", "FAIL=1-255",
                "--checkpoint", checkpoint_arg(dir / "data", store, "1s"), "--", "/bin/sh", "-c", "sleep 1.6"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "COMPLETE");
  EXPECT_EQ(s["exit_code"], 0);
  EXPECT_EQ(s["error"], nullptr);
  const auto& c = s["checkpoints"][0];
  EXPECT_GE(c["rounds"], 2) << r.err;
  EXPECT_EQ(c["failed_rounds"], c["rounds"]);
  EXPECT_EQ(c["final"]["ok"], false);
  EXPECT_EQ(c["final"]["files_stored"], 0);
  EXPECT_EQ(c["final"]["files_failed"], 1);
  ASSERT_TRUE(c["final"]["error"].is_string());
  std::string error = c["final"]["error"];
  EXPECT_TRUE(contains(error, "Not a directory")) << error;
  EXPECT_TRUE(contains(error, "data/a")) << error;
  // Every failed round is logged as a warning.
  std::size_t warnings = 0;
  for (const auto& l : log_lines(r.err))
    if (l.level == "warning" && contains(l.message, "Not a directory")) ++warnings;
  EXPECT_GE(warnings, 2u) << r.err;
}

TEST(Checkpoint, PathThatNeverAppearsIsFine) {
  TempDir dir;
  std::string missing = dir / "never", store = dir / "store";
  auto r = run({"--status-file", dir / "s.json", "--checkpoint", checkpoint_arg(missing, store, "1s"), "--",
                "/bin/sh", "-c", "sleep 1.3; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_EQ(s["exit_code"], 3);
  const auto& c = s["checkpoints"][0];
  EXPECT_EQ(c["failed_rounds"], 0);
  EXPECT_EQ(c["final"]["ok"], true);
  EXPECT_EQ(c["final"]["files_stored"], 0);
  EXPECT_EQ(c["final"]["error"], nullptr);
  auto said = with_prefix(log_lines(r.err), missing + " does not exist yet");
  EXPECT_EQ(said.size(), c["rounds"].get<std::size_t>()) << r.err;
  EXPECT_GE(said.size(), 2u) << r.err;
  EXPECT_FALSE(fs::exists(store + "/never"));
}

TEST(Checkpoint, TwoEntriesAreIndependent) {
  TempDir dir;
  write_file(dir / "good/a", "a");
  write_file(dir / "good/b", "bb");
  write_file(dir / "bad/c", "c");
  write_file(dir / "regular", "not a directory");
  auto r = run({"--status-file", dir / "s.json", "--checkpoint", checkpoint_arg(dir / "bad", dir / "regular/x", "60s"),
                "--checkpoint", checkpoint_arg(dir / "good", dir / "store", "60s"), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir / "s.json");
  ASSERT_EQ(s["checkpoints"].size(), 2u);
  const auto& bad = s["checkpoints"][0];
  const auto& good = s["checkpoints"][1];
  EXPECT_EQ(bad["path"], dir / "bad");
  EXPECT_EQ(bad["url"], "file://" + (dir / "regular/x"));
  EXPECT_EQ(bad["final"]["ok"], false);
  EXPECT_EQ(bad["failed_rounds"], 1);
  EXPECT_EQ(good["path"], dir / "good");
  EXPECT_EQ(good["url"], "file://" + (dir / "store"));
  EXPECT_EQ(good["final"]["ok"], true);
  EXPECT_EQ(good["failed_rounds"], 0);
  EXPECT_EQ(good["rounds"], 1);
  EXPECT_EQ(good["final"]["files_stored"], 2);
  EXPECT_EQ(good["final"]["bytes_stored"], 3);
  EXPECT_EQ(good["final"]["error"], nullptr);
  EXPECT_EQ(read_file(dir / "store/good/b"), "bb");
  EXPECT_EQ(read_json(dir / "store/good.manifest.json")["complete"], true);
}

// No thread to be had for a round (a pids limit that the task has used up, here
// RLIMIT_NPROC of an unused uid): a failed round, never the end of the supervisor.
TEST(Checkpoint, RoundWithoutAThreadIsAFailedRoundNotACrash) {
  if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv") || !fs::exists("/usr/bin/prlimit"))
    GTEST_SKIP() << "needs root, setpriv and prlimit";
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);
  write_file(dir / "data/a", "a");
  fs::permissions(dir / "data", fs::perms::all);
  RunOptions options;
  options.program = "/usr/bin/setpriv";
  // The supervisor and its command are the two processes allowed: a round's thread
  // would be a third, until the command has ended.
  auto r = run({"--reuid", "54321", "--regid", "54321", "--clear-groups", "/usr/bin/prlimit", "--nproc=2:2",
                supervise_bin(), "--status-file", dir / "s.json", "--checkpoint",
                checkpoint_arg(dir / "data", dir / "store", "1s"), "--", "/bin/sleep", "1.5"},
               options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "COMPLETE") << s.dump();
  EXPECT_EQ(s["error"], nullptr);
  const auto& c = s["checkpoints"][0];
  EXPECT_GE(c["failed_rounds"], 1) << r.err;
  EXPECT_EQ(c["final"]["ok"], true) << r.err;
  EXPECT_EQ(read_file(dir / "store/data/a"), "a");
  EXPECT_TRUE(contains(r.err, "cannot start a round")) << r.err;
}

// ---- links --------------------------------------------------------------------------------

TEST(Checkpoint, LinksInsideStoredAsContentLinksOutSkipped) {
  TempDir dir;
  write_file(dir / "data/a.bin", "alpha");
  write_file(dir / "outside/secret", "secret");
  fs::create_symlink("a.bin", dir / "data/in");
  fs::create_symlink(dir / "outside/secret", dir / "data/out");
  fs::create_directory_symlink(dir / "outside", dir / "data/outdir");
  auto r = run({"--status-file", dir / "s.json", "--checkpoint", checkpoint_arg(dir / "data", dir / "store", "60s"),
                "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dir / "store/data/in")));
  EXPECT_EQ(read_file(dir / "store/data/in"), "alpha");
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir / "store/data/out")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir / "store/data/outdir")));
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["checkpoints"][0]["final"]["files_stored"], 2);
  EXPECT_EQ(s["checkpoints"][0]["final"]["files_skipped"], 2);
  EXPECT_EQ(s["checkpoints"][0]["final"]["ok"], true);
  EXPECT_TRUE(contains(r.err, "2 skipped")) << r.err;
}

// ---- the grace period ---------------------------------------------------------------------

// The final round has 2 GiB to store and the grace period is 1 s: the status is written
// within it, saying the final round did not finish, and the supervisor exits.
TEST(Checkpoint, GracePeriodBoundsTheFinalRound) {
  TempDir dir;
  make_sparse(dir / "data/huge", 2LL << 30);  // the copy is real: 2 GiB written and synced
  auto started = start({"--status-file", dir / "s.json", "--grace-period", "1s", "--checkpoint",
                        checkpoint_arg(dir / "data", dir / "store", "60s"), "--", "/bin/sh", "-c",
                        "touch " + (dir / "ready") + "; while :; do sleep 0.05; done"});
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "ready"); }, 10s));
  auto stopped_at = std::chrono::steady_clock::now();
  started->signal(SIGTERM);
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "s.json"); }, 10s));
  auto status_after = std::chrono::steady_clock::now() - stopped_at;
  auto r = started->wait(10s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 143) << r.err;  // the command's: killed by the forwarded SIGTERM
  EXPECT_LE(status_after, 1300ms) << r.err;
  auto s = read_json(dir / "s.json");
  double within = parse_timestamp(s["finished_at"]) - parse_timestamp(s["stop"]["at"]);
  EXPECT_LE(within, 1.0) << s.dump();
  EXPECT_EQ(s["exit_code"], 143);
  const auto& c = s["checkpoints"][0];
  EXPECT_EQ(c["final"]["ok"], false) << s.dump();
  ASSERT_TRUE(c["final"]["error"].is_string()) << s.dump();
  EXPECT_TRUE(contains(c["final"]["error"], "grace period")) << s.dump();
  // Nothing claims the huge file as stored.
  EXPECT_FALSE(fs::exists(dir / "store/data/huge"));
}

// The command ended on its own and the final round is under way when SIGTERM comes:
// from then on the grace period bounds it too.
TEST(Checkpoint, SigtermDuringTheFinalRoundStartsTheGracePeriod) {
  TempDir dir;
  make_sparse(dir / "data/huge", 2LL << 30);
  auto started = start({"--status-file", dir / "s.json", "--grace-period", "1s", "--checkpoint",
                        checkpoint_arg(dir / "data", dir / "store", "1h"), "--", "/bin/true"});
  // The file store writes beside the target first: the copy has begun.
  auto copying = [&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / "store/data", ec))
      if (contains(e.path().filename().string(), ".huge.tmp-")) return true;
    return false;
  };
  ASSERT_TRUE(eventually(copying, 10s));
  auto stopped_at = std::chrono::steady_clock::now();
  started->signal(SIGTERM);
  auto r = started->wait(10s);
  auto took = std::chrono::steady_clock::now() - stopped_at;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;  // the command's own
  EXPECT_LE(took, 1500ms) << r.err;
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "COMPLETE");
  EXPECT_EQ(s["checkpoints"][0]["final"]["ok"], false) << s.dump();
  EXPECT_TRUE(contains(s["checkpoints"][0]["final"]["error"].get<std::string>(), "grace period")) << s.dump();
}

}  // namespace
