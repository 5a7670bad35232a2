// SPEC.md "Restore" with a file:// store: the preemption drill end to end, no manifest,
// a manifest that is not one, an object replaced after its manifest, local files that
// already match, long names and nested directories, the options that ask for it. Each
// test judges the local directory and the store by what they hold.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "store_check.hpp"

namespace {

namespace fs = std::filesystem;
using namespace test_support;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string entry(const TempDir& dir, const std::string& more = "") {
  return "path=" + dir / "ck" + ",url=file://" + dir / "store" + ",frequency=1h" + more;
}

// A first run that stores <dir>/ck as it is, then a clean slate: <dir>/ck removed.
void store_then_wipe(const TempDir& dir) {
  auto r = run({"--checkpoint", entry(dir), "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(check_store("ck.manifest.json", file_store_fetch(dir / "store")).ok());
  fs::remove_all(dir / "ck");
}

// The number a script wrote to a file; -1 while it is being written (echo truncates first).
int number_in(const std::string& path) {
  std::string text = fs::exists(path) ? read_file(path) : "";
  try {
    return std::stoi(text);
  } catch (const std::exception&) {
    return -1;
  }
}

RunOptions with_env(std::vector<std::string> env) {
  RunOptions options;
  options.env = std::move(env);
  return options;
}

std::uint64_t inode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// The preemption drill: a training script writes one checkpoint file per epoch and, when
// it starts, resumes after the newest epoch it finds. Run 1 is stopped by SIGTERM
// mid-training (its final checkpoint stored); the local directory goes (a new node); run
// 2 with --restore resumes from the right epoch, stores nothing again that it restored,
// and ends with a complete manifest.
TEST(Restore, ThePreemptionDrill) {
  TempDir dir;
  const std::string train =
      "ck=" + dir / "ck" + "; mkdir -p $ck; "
      "last=$(ls $ck | sed -n 's/^epoch-\\([0-9]*\\)\\.pt$/\\1/p' | sort -n | tail -1); last=${last:-0}; "
      "echo $last > " + dir / "resumed-from" + "; "
      "e=$last; while [ $e -lt $((last + $1)) ]; do e=$((e + 1)); "
      "head -c 4096 /dev/urandom > " + dir / "tmp.pt" + " && mv " + dir / "tmp.pt" + " $ck/epoch-$e.pt; "
      "echo $e > " + dir / "epoch" + "; sleep 0.3; done";
  auto checkpoint = "path=" + dir / "ck" + ",url=file://" + dir / "store" + ",frequency=1s";

  auto first = start({"--status-file", dir / "s1.json", "--grace-period", "20s", "--checkpoint", checkpoint, "--",
                      "/bin/sh", "-c", train, "train", "1000"});
  ASSERT_TRUE(eventually([&] { return number_in(dir / "epoch") >= 6; }, seconds(30)));
  first->signal(SIGTERM);
  auto r1 = first->wait(seconds(60));
  EXPECT_EQ(r1.exit_code, 143) << r1.err;
  auto stored = check_store("ck.manifest.json", file_store_fetch(dir / "store"));
  ASSERT_TRUE(stored.ok()) << stored.report();
  ASSERT_TRUE(stored.manifest["complete"].get<bool>()) << stored.report();
  int last_stored = 0;
  std::set<std::string> restored_keys;
  for (const auto& f : stored.manifest["files"]) {
    std::string key = f["key"];
    restored_keys.insert(key);
    last_stored = std::max(last_stored, std::stoi(key.substr(key.find('-') + 1)));
  }
  ASSERT_GE(last_stored, 6);
  std::map<std::string, std::uint64_t> inodes;
  for (const auto& key : restored_keys) inodes[key] = inode(dir / "store" + "/" + key);

  fs::remove_all(dir / "ck");  // a new node
  auto r2 = run({"--status-file", dir / "s2.json", "--restore", "--checkpoint", checkpoint, "--", "/bin/sh", "-c",
                 train, "train", "5"},
                with_env({}));
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(number_in(dir / "resumed-from"), last_stored) << "resumed from the newest stored epoch";
  auto s = read_json(dir / "s2.json");
  const auto& restore = s["checkpoints"][0]["restore"];
  EXPECT_EQ(restore["ok"], true) << restore.dump();
  EXPECT_EQ(restore["files_restored"], restored_keys.size()) << restore.dump();
  EXPECT_EQ(restore["files_failed"], 0);
  EXPECT_GE(s["checkpoints"][0]["rounds"].get<int>(), 2) << "a periodic round and the final one";
  // Nothing restored went up again: the store's objects of run 1 are the same files.
  for (const auto& [key, ino] : inodes) EXPECT_EQ(inode(dir / "store" + "/" + key), ino) << key << " stored again";
  EXPECT_TRUE(contains(r2.err, "Checkpoint round 1 of")) << r2.err;
  auto after = check_store("ck.manifest.json", file_store_fetch(dir / "store"));
  ASSERT_TRUE(after.ok()) << after.report();
  EXPECT_EQ(after.manifest["complete"], true);
  EXPECT_EQ(after.vouched, restored_keys.size() + 5) << after.report();
}

TEST(Restore, NoManifestIsAFirstRun) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--checkpoint", entry(dir, ",restore=true"), "--", "/bin/sh", "-c",
                "touch " + dir / "ran"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "ran"));
  auto restore = read_json(dir / "s.json")["checkpoints"][0]["restore"];
  EXPECT_EQ(restore["ok"], true) << restore.dump();
  EXPECT_TRUE(restore["round"].is_null()) << restore.dump();
  EXPECT_EQ(restore["files_restored"], 0);
  EXPECT_TRUE(contains(r.err, "nothing to restore")) << r.err;
}

TEST(Restore, NotAskedIsNull) {
  TempDir dir;
  auto r = run({"--status-file", dir / "s.json", "--checkpoint", entry(dir), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_json(dir / "s.json")["checkpoints"][0]["restore"].is_null());
  EXPECT_FALSE(contains(r.err, "Restoring")) << r.err;
}

TEST(Restore, AManifestThatIsNotOneFailsWithoutRunning) {
  TempDir dir;
  write_file(dir / "store/ck.manifest.json", "<html>not a manifest</html>");
  auto r = run({"--status-file", dir / "s.json", "--restore", "--checkpoint", entry(dir), "--", "/bin/sh", "-c",
                "touch " + dir / "ran"});
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_FALSE(fs::exists(dir / "ran")) << "the command ran without its checkpoint";
  auto s = read_json(dir / "s.json");
  EXPECT_EQ(s["action"], "FAIL");
  EXPECT_TRUE(s["started_at"].is_null());
  EXPECT_EQ(s["checkpoints"][0]["restore"]["ok"], false);
  EXPECT_TRUE(contains(s["error"], "ck.manifest.json")) << s["error"];
}

TEST(Restore, AManifestKeyOutsideTheEntryIsRefused) {
  TempDir dir;
  fs::create_directories(dir / "ck");
  write_file(dir / "ck/a", "a");
  store_then_wipe(dir);
  std::string manifest = read_file(dir / "store/ck.manifest.json");
  auto at = manifest.find("\"ck/a\"");
  ASSERT_NE(at, std::string::npos) << manifest;
  manifest.replace(at, 6, "\"ck/../../evil\"");
  write_file(dir / "store/ck.manifest.json", manifest);
  auto r = run({"--status-file", dir / "s.json", "--restore", "--checkpoint", entry(dir), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_FALSE(fs::exists(dir.path().parent_path() / "evil"));
  EXPECT_TRUE(contains(r.err, "is not a manifest of")) << r.err;
}

// The manifest says version 1; the store holds version 2 (stored after it): restored as
// stored, counted, warned about; the first round stores it again with a true line.
TEST(Restore, AnObjectReplacedAfterItsManifestIsRestoredAsStored) {
  TempDir dir;
  fs::create_directories(dir / "ck");
  write_file(dir / "ck/model.pt", "version 1");
  write_file(dir / "ck/other.pt", "other");
  store_then_wipe(dir);
  write_file(dir / "store/ck/model.pt", "version 2, longer");
  auto r = run({"--status-file", dir / "s.json", "--restore", "--checkpoint", entry(dir), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "ck/model.pt"), "version 2, longer");
  EXPECT_EQ(read_file(dir / "ck/other.pt"), "other");
  auto restore = read_json(dir / "s.json")["checkpoints"][0]["restore"];
  EXPECT_EQ(restore["files_mismatched"], 1) << restore.dump();
  EXPECT_EQ(restore["files_restored"], 1) << restore.dump();
  EXPECT_TRUE(contains(r.err, "does not match its manifest line")) << r.err;
  auto after = check_store("ck.manifest.json", file_store_fetch(dir / "store"));
  EXPECT_TRUE(after.ok()) << after.report();
}

TEST(Restore, LocalFilesThatMatchAreKept) {
  TempDir dir;
  fs::create_directories(dir / "ck/sub");
  write_file(dir / "ck/same", "same bytes");
  write_file(dir / "ck/sub/changed", "stored bytes");
  auto r1 = run({"--checkpoint", entry(dir), "--", "/bin/true"});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  write_file(dir / "ck/sub/changed", "local edit!!");  // same size, other bytes
  auto same_inode = inode(dir / "ck/same");
  auto r = run({"--status-file", dir / "s.json", "--restore", "--checkpoint", entry(dir), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto restore = read_json(dir / "s.json")["checkpoints"][0]["restore"];
  EXPECT_EQ(restore["files_kept"], 1) << restore.dump();
  EXPECT_EQ(restore["files_restored"], 1) << restore.dump();
  EXPECT_EQ(inode(dir / "ck/same"), same_inode) << "kept, not written again";
  EXPECT_EQ(read_file(dir / "ck/sub/changed"), "stored bytes");
}

TEST(Restore, LongNamesAndNestedDirectoriesComeBackWhole) {
  TempDir dir;
  const std::string name(250, 'n');
  const std::string deep = "a/b/c/d/e/f/g";
  fs::create_directories(dir / ("ck/" + deep));
  write_file(dir / ("ck/" + deep + "/" + name), std::string(100'000, 'x'));
  write_file(dir / ("ck/" + name), "top");
  store_then_wipe(dir);
  auto r = run({"--status-file", dir / "s.json", "--restore", "--checkpoint", entry(dir), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / ("ck/" + deep + "/" + name)), std::string(100'000, 'x'));
  EXPECT_EQ(read_file(dir / ("ck/" + name)), "top");
  for (const auto& e : fs::recursive_directory_iterator(dir / "ck"))
    EXPECT_FALSE(contains(e.path().filename().string(), ".tmp-")) << "a temporary file left: " << e.path();
}

// The restored file's modification time is the manifest's: the first round of the
// resumed task counts it as stored.
TEST(Restore, RestoredFilesKeepTheirModificationTime) {
  TempDir dir;
  fs::create_directories(dir / "ck");
  write_file(dir / "ck/a", "a");
  auto old_time = fs::last_write_time(dir / "ck/a") - std::chrono::hours(5);
  fs::last_write_time(dir / "ck/a", old_time);
  store_then_wipe(dir);
  auto r = run({"--restore", "--checkpoint", entry(dir), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fs::last_write_time(dir / "ck/a"), old_time);
  EXPECT_TRUE(contains(r.err, "0 stored, 1 unchanged")) << r.err;
}

// A restore that was cut (SIGKILL) left a temporary file beside a file it was writing:
// the next restore removes it, so that no round stores it; a listed file so named stays.
TEST(Restore, TemporaryFilesOfACutRestoreAreRemoved) {
  TempDir dir;
  fs::create_directories(dir / "ck/sub");
  write_file(dir / "ck/sub/model.pt", "model");
  write_file(dir / "ck/.real.tmp-ABC123", "a checkpoint file so named");
  store_then_wipe(dir);
  fs::create_directories(dir / "ck/sub");
  write_file(dir / "ck/sub/.model.pt.tmp-x1Y2z3", "half a model");
  auto r = run({"--status-file", dir / "s.json", "--restore", "--checkpoint", entry(dir), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir / "ck/sub/.model.pt.tmp-x1Y2z3")) << r.err;
  EXPECT_EQ(read_file(dir / "ck/.real.tmp-ABC123"), "a checkpoint file so named");
  EXPECT_EQ(read_file(dir / "ck/sub/model.pt"), "model");
  EXPECT_FALSE(fs::exists(dir / "store/ck/sub/.model.pt.tmp-x1Y2z3")) << "the next round stored it";
  EXPECT_TRUE(contains(r.err, "left by a restore that was cut")) << r.err;
}

// Without a restore: the files still there from a run before (same node, a restarted
// container) count as stored once the first round reads the manifest; one edited since
// is stored again.
TEST(Restore, AManifestFoundAtStartUpSeedsTheIncrementalState) {
  TempDir dir;
  fs::create_directories(dir / "ck");
  for (const char* name : {"a", "b", "c"}) write_file(dir / (std::string("ck/") + name), name);
  auto r1 = run({"--checkpoint", entry(dir), "--", "/bin/true"});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  auto a_inode = inode(dir / "store/ck/a");
  write_file(dir / "ck/c", "edited");
  auto r = run({"--status-file", dir / "s.json", "--checkpoint", entry(dir), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto final_round = read_json(dir / "s.json")["checkpoints"][0]["final"];
  EXPECT_EQ(final_round["files_stored"], 1) << final_round.dump();
  EXPECT_EQ(final_round["files_unchanged"], 2) << final_round.dump();
  EXPECT_EQ(inode(dir / "store/ck/a"), a_inode) << "stored again";
  EXPECT_EQ(read_file(dir / "store/ck/c"), "edited");
  EXPECT_TRUE(check_store("ck.manifest.json", file_store_fetch(dir / "store")).ok());
}

// The declared files are written after the restore: they win.
TEST(Restore, DeclaredFilesWinOverTheRestoredOnes) {
  TempDir dir;
  fs::create_directories(dir / "ck");
  write_file(dir / "ck/config", "stored");
  store_then_wipe(dir);
  write_file(dir / "spec.yaml", "command: [/bin/true]\nfiles:\n- path: " + dir / "ck/config" +
                                    "\n  contents: declared\ncheckpoint:\n- path: " + dir / "ck" +
                                    "\n  url: file://" + dir / "store" + "\n  frequency: 1h\n  restore: true\n");
  auto r = run({"--spec", dir / "spec.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "ck/config"), "declared");
  EXPECT_LT(r.err.find("Restoring data from"), r.err.find("started ")) << r.err;
}

TEST(Restore, SuperviseRestoreFalseTurnsItOffAndTheCommandLineWins) {
  TempDir dir;
  fs::create_directories(dir / "ck");
  write_file(dir / "ck/a", "a");
  store_then_wipe(dir);
  auto off = run({"--checkpoint", entry(dir, ",restore=true"), "--", "/bin/true"}, with_env({"SUPERVISE_RESTORE=false"}));
  EXPECT_EQ(off.exit_code, 0) << off.err;
  EXPECT_FALSE(contains(off.err, "Restoring")) << off.err;
  fs::remove_all(dir / "ck");
  auto on = run({"--restore", "--checkpoint", entry(dir), "--", "/bin/true"}, with_env({"SUPERVISE_RESTORE=0"}));
  EXPECT_EQ(on.exit_code, 0) << on.err;
  EXPECT_EQ(read_file(dir / "ck/a"), "a");
  auto env_on = run({"--checkpoint", entry(dir), "--", "/bin/true"}, with_env({"SUPERVISE_RESTORE=1"}));
  EXPECT_TRUE(contains(env_on.err, "Restoring data from")) << env_on.err;
  auto bad = run({"--checkpoint", entry(dir), "--", "/bin/true"}, with_env({"SUPERVISE_RESTORE=yes"}));
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_TRUE(contains(bad.err, "SUPERVISE_RESTORE: \"yes\" is not true, false, 1 or 0")) << bad.err;
}

}  // namespace
