// Faults against a file:// store, judged by the STORE (issue 12): after each fault the
// manifest in the store is checked object by object (tests/support/store_check.hpp:
// size and CRC-32C of every file it vouches for; "complete" only over whole objects),
// temporary files are counted, and file contents are recognisable versions
// (tests/support/versioned.hpp), so a stored copy that mixes two versions is caught.
//   - SIGKILL of the supervisor in the middle of a round, then the next run;
//   - the end of the grace period in the middle of the final round;
//   - a writer rewriting files in place while periodic rounds store them;
//   - names the local file system allows and a store must keep exactly.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "store_check.hpp"
#include "versioned.hpp"

namespace {

using namespace test_support;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kSmallFiles = 24;
constexpr off_t kHugeBytes = 256LL << 20;  // sparse locally; its copy in the store is real

std::string small_name(int i) { return "part-" + std::to_string(i) + ".bin"; }
std::size_t blocks_of(std::uint64_t version) { return 2 + version % 5; }

// Version `version` of every small file; the huge one (sparse, zeros) gets a new mtime.
void write_version(const std::string& data, std::uint64_t version) {
  fs::create_directories(data);
  for (int i = 0; i < kSmallFiles; ++i)
    write_file(data + "/" + small_name(i), versioned_content(small_name(i), version, blocks_of(version)));
  int fd = ::open((data + "/huge").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, kHugeBytes), 0);
  struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  ASSERT_EQ(::futimens(fd, now), 0);
  ::close(fd);
}

std::string checkpoint_arg(const std::string& path, const std::string& store, const std::string& frequency) {
  return "path=" + path + ",url=file://" + store + ",frequency=" + frequency;
}

// The store checked against its manifest; every problem is a failure of the test.
StoreCheck expect_store_true(const std::string& store, const std::string& when) {
  StoreCheck check = check_store("data.manifest.json", file_store_fetch(store));
  EXPECT_TRUE(check.ok()) << when << ":\n" << check.report();
  return check;
}

// How many small files the store holds in `version` (each checked whole first).
int stored_in_version(const std::string& store, std::uint64_t version) {
  int n = 0;
  for (int i = 0; i < kSmallFiles; ++i) {
    fs::path p = fs::path(store) / "data" / small_name(i);
    if (!fs::exists(p)) continue;
    VersionCheck v = check_version(small_name(i), read_file(p));
    EXPECT_TRUE(v.whole) << p << ": " << v.why;
    n += v.whole && v.version == version ? 1 : 0;
  }
  return n;
}

bool temporary_of(const std::string& store, const std::string& name) {
  for (const auto& t : file_store_temporaries(store))
    if (t.find("." + name + ".tmp-") != std::string::npos) return true;
  return false;
}

// Run 1: version 1 of everything stored by a final round; the store checks out, complete.
void store_version_one(const TempDir& dir) {
  write_version(dir / "data", 1);
  auto r = run({"--checkpoint", checkpoint_arg(dir / "data", dir / "store", "1h"), "--", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  StoreCheck check = expect_store_true(dir / "store", "after the first run");
  ASSERT_EQ(check.manifest.value("complete", false), true) << check.report();
  ASSERT_EQ(check.vouched, static_cast<std::size_t>(kSmallFiles) + 1);
  ASSERT_EQ(stored_in_version(dir / "store", 1), kSmallFiles);
}

// ---- SIGKILL in the middle of a round ----------------------------------------------------

// The supervisor is killed (as a runtime kills it) while its final round has replaced
// some files and still copies the huge one. The manifest in the store must not vouch
// for a replaced file as its old version: each is marked in progress, and nothing is
// complete. The next run removes the temporary file the killed one left and ends with
// a complete, true manifest.
TEST(FileStoreFaults, SigkillMidRoundLeavesATrueStoreAndTheNextRunCleansUp) {
  TempDir dir;
  store_version_one(dir);
  write_version(dir / "data", 2);

  auto started = start({"--checkpoint", checkpoint_arg(dir / "data", dir / "store", "1h"), "--", "true"});
  bool mid_round = eventually(
      [&] { return temporary_of(dir / "store", "huge") && stored_in_version(dir / "store", 2) > 0; }, 30s);
  started->signal(SIGKILL);
  auto r = started->wait(10s);
  ASSERT_TRUE(mid_round) << "the kill did not land in the middle of the round\n" << r.err;
  ASSERT_EQ(r.exit_code, 128 + SIGKILL);

  StoreCheck killed = expect_store_true(dir / "store", "after the SIGKILL");
  EXPECT_EQ(killed.manifest.value("complete", true), false) << killed.report();
  int replaced = stored_in_version(dir / "store", 2);
  EXPECT_GE(replaced, 1);
  // Every replaced file is in progress in the manifest; only untouched ones are vouched.
  EXPECT_GE(killed.in_progress, static_cast<std::size_t>(replaced)) << killed.report();
  EXPECT_FALSE(file_store_temporaries(dir / "store").empty()) << "the kill left no temporary to clean up";

  // The next run (a rescheduled task) cleans up and completes the checkpoint.
  auto again = run({"--checkpoint", checkpoint_arg(dir / "data", dir / "store", "1h"), "--", "true"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(file_store_temporaries(dir / "store"), std::vector<std::string>{}) << again.err;
  StoreCheck done = expect_store_true(dir / "store", "after the next run");
  EXPECT_EQ(done.manifest.value("complete", false), true) << done.report();
  EXPECT_EQ(done.vouched, static_cast<std::size_t>(kSmallFiles) + 1) << done.report();
  EXPECT_EQ(stored_in_version(dir / "store", 2), kSmallFiles);
  EXPECT_EQ(fs::file_size(dir / "store/data/huge"), static_cast<std::uintmax_t>(kHugeBytes));
}

// ---- the end of the grace period in the middle of the final round ----------------------

// SIGTERM; the final round replaces the small files and copies the huge one when the
// grace period (2 s) ends. The supervisor exits within it, the temporary copy is gone,
// the status counts exactly the files the store received, and the manifest is true.
TEST(FileStoreFaults, GraceCancelMidRoundCountsWhatWasStored) {
  TempDir dir;
  store_version_one(dir);
  write_version(dir / "data", 2);
  // A bigger huge file than the copy can finish in 2 s, even on a fast disk.
  ASSERT_EQ(::truncate((dir / "data/huge").c_str(), 8LL << 30), 0);

  auto started = start({"--status-file", dir / "s.json", "--grace-period", "2s", "--checkpoint",
                        checkpoint_arg(dir / "data", dir / "store", "1h"), "--", "/bin/sh", "-c",
                        "touch " + (dir / "ready") + "; while :; do sleep 0.05; done"});
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "ready"); }, 10s));
  auto stopped_at = std::chrono::steady_clock::now();
  started->signal(SIGTERM);
  auto r = started->wait(20s);
  auto took = std::chrono::steady_clock::now() - stopped_at;
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 143) << r.err;
  EXPECT_LT(took, 3s) << r.err;  // the grace period, and a margin for a busy machine

  json s = read_json(dir / "s.json");
  const json& f = s["checkpoints"][0]["final"];
  ASSERT_TRUE(f.is_object()) << s.dump(1);
  EXPECT_EQ(f["ok"], false) << f.dump();
  EXPECT_NE(f["error"].get<std::string>().find("grace period"), std::string::npos) << f.dump();
  int replaced = stored_in_version(dir / "store", 2);
  EXPECT_EQ(f["files_stored"], replaced) << f.dump() << "\n" << r.err;
  EXPECT_EQ(f["bytes_stored"].get<std::uint64_t>(),
            static_cast<std::uint64_t>(replaced) * blocks_of(2) * kVersionedBlock)
      << f.dump();
  EXPECT_EQ(file_store_temporaries(dir / "store"), std::vector<std::string>{}) << "a cut copy was left behind";
  StoreCheck check = expect_store_true(dir / "store", "after the cancel");
  EXPECT_EQ(check.manifest.value("complete", true), false);
  // The huge file's version 1 is still there, whole, and still vouched for or in progress.
  EXPECT_EQ(fs::file_size(dir / "store/data/huge"), static_cast<std::uintmax_t>(kHugeBytes));
}

// ---- a writer rewriting files during rounds -----------------------------------------------

// After a first round stored version 1, six files are rewritten in place (4 KiB at a
// time, 1 ms apart: a reader in the middle sees a mix of two versions) over and over
// with short quiet gaps, and a seventh ("hot") without gaps, while rounds run every
// second. At every moment the store holds one whole version of each file (never a mix,
// never nothing once stored), versions only move forward, and the hot file, never
// quiet, keeps its stored version 1. At the end every file is stored in its last
// version under a complete, true manifest.
TEST(FileStoreFaults, ARewrittenFileIsStoredOneWholeVersionAtATime) {
  TempDir dir;
  const std::string data = dir / "data", store = dir / "store";
  constexpr int kFiles = 7;  // the last one is hot
  const int hot = kFiles - 1;
  auto name = [](int i) { return i == kFiles - 1 ? std::string("hot.bin") : "w" + std::to_string(i) + ".bin"; };
  std::vector<std::uint64_t> written(kFiles, 1);
  fs::create_directories(data);
  for (int i = 0; i < kFiles; ++i) write_file(data + "/" + name(i), versioned_content(name(i), 1, blocks_of(1)));

  auto started = start({"--checkpoint", checkpoint_arg(data, store, "1s"), "--", "/bin/sh", "-c",
                        "while [ ! -e " + (dir / "stop") + " ]; do sleep 0.05; done"});
  auto round_in_store = [&] {
    auto m = file_store_fetch(store)("data.manifest.json");
    if (!m) return 0;
    json doc = json::parse(*m, nullptr, false);
    return doc.is_object() && !doc.value("in_progress", false) ? doc.value("round", 0) : 0;
  };
  ASSERT_TRUE(eventually([&] { return round_in_store() >= 1; }, 30s)) << "no first round";

  std::atomic<bool> stop{false};
  auto rewrite = [&](int i, std::uint64_t v) {
    rewrite_in_place(data + "/" + name(i), versioned_content(name(i), v, blocks_of(v)), kVersionedBlock, 1ms);
    written[i] = v;
  };
  std::thread writer([&] {
    std::mt19937 random(12);
    for (std::uint64_t v = 2; !stop; ++v) {
      for (int i = 0; i < hot && !stop; ++i) {
        rewrite(i, v);
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 150));  // a quiet gap
      }
    }
  });
  std::thread hot_writer([&] {
    for (std::uint64_t v = 2; !stop; ++v) rewrite(hot, v);
  });

  // Sample the store until three more rounds have ended: each object whole, never gone,
  // never older.
  std::vector<std::uint64_t> seen(kFiles, 1);
  std::vector<std::string> problems;
  bool rounds = eventually(
      [&] {
        for (int i = 0; i < kFiles; ++i) {
          fs::path p = fs::path(store) / "data" / name(i);
          std::string bytes;
          try {
            bytes = read_file(p);
          } catch (const std::exception&) {
            problems.push_back(name(i) + ": gone from the store after version " + std::to_string(seen[i]));
            continue;
          }
          VersionCheck v = check_version(name(i), bytes);
          if (!v.whole) problems.push_back(name(i) + ": torn: " + v.why);
          else if (v.version < seen[i]) problems.push_back(name(i) + ": went back from version " + std::to_string(seen[i]));
          else seen[i] = v.version;
        }
        return round_in_store() >= 4 || !problems.empty();
      },
      60s);
  stop = true;
  writer.join();
  hot_writer.join();
  write_file(dir / "stop", "");
  auto r = started->wait(60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(rounds) << "three more rounds did not end in time\n" << r.err;
  EXPECT_EQ(problems, std::vector<std::string>{}) << r.err;
  EXPECT_GE(*std::max_element(seen.begin(), seen.begin() + hot), 2u) << "no round stored a rewritten version\n" << r.err;
  // The hot file was never quiet: every round found it changing and kept version 1.
  EXPECT_EQ(seen[hot], 1u);
  EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(\d+ changing \(stored again next round\))"))) << r.err;

  // The final round (the writers have stopped): the last versions, under a true manifest.
  StoreCheck check = expect_store_true(store, "after the final round");
  EXPECT_EQ(check.manifest.value("complete", false), true) << check.report();
  for (int i = 0; i < kFiles; ++i) {
    VersionCheck v = check_version(name(i), read_file(fs::path(store) / "data" / name(i)));
    EXPECT_TRUE(v.whole) << name(i) << ": " << v.why;
    EXPECT_EQ(v.version, written[i]) << name(i);
  }
}

// ---- names ------------------------------------------------------------------------------

// Every name the local file system allows is stored exactly: 255 bytes (the temporary
// name beside it must still fit), and bytes that are not UTF-8 (the manifest carries
// them as key_base64; two such names never share a key).
TEST(FileStoreFaults, LongAndNonUtf8NamesAreStoredExactly) {
  TempDir dir;
  const std::string data = dir / "data", store = dir / "store";
  std::map<std::string, std::string> files = {
      {std::string(255, 'n'), "longest"},
      {std::string(244, 'm'), "long"},
      {"caf\xe9", "latin-1 e acute"},
      {"caf\xe8", "latin-1 e grave"},  // would collide with the one above were both U+FFFD
      {"ok-\xc3\xa9", "utf-8"},
  };
  fs::create_directories(data);
  for (const auto& [n, content] : files) write_file(data + "/" + n, content);
  auto r = run({"--status-file", dir / "s.json", "--checkpoint", checkpoint_arg(data, store, "1h"), "--", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json f = read_json(dir / "s.json")["checkpoints"][0]["final"];
  EXPECT_EQ(f["ok"], true) << f.dump() << "\n" << r.err;
  EXPECT_EQ(f["files_stored"], files.size()) << f.dump();
  for (const auto& [n, content] : files) EXPECT_EQ(read_file(fs::path(store) / "data" / n), content) << printable_key(n);
  StoreCheck check = expect_store_true(store, "after the run");
  EXPECT_EQ(check.vouched, files.size()) << check.report();
  EXPECT_EQ(check.objects_checked, files.size()) << check.report();
  EXPECT_EQ(check.manifest.value("complete", false), true) << check.report();
}

}  // namespace
