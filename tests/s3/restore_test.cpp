// SPEC.md "Restore" with an s3:// store (moto, and the fault proxy in front of it): the
// preemption drill, a store that is down, a bucket that is not there, a manifest that is
// not one, an object replaced after its manifest, bytes damaged on the way, a stop
// during a slow restore. Each test judges the local files and the requests sent.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <set>
#include <string>

#include "faultproxy.hpp"
#include "harness.hpp"
#include "task_run.hpp"

namespace {

namespace fs = std::filesystem;
using namespace test_support;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class S3Restore : public S3Env {};

int number_in(const std::string& path) {
  try {
    return std::stoi(fs::exists(path) ? read_file(path) : "");
  } catch (const std::exception&) {
    return -1;  // being written
  }
}

// A training script: resumes after the newest epoch file in <dir>/data, writes `epochs`
// more (one every 0.3 s).
std::string training(const TempDir& dir, int epochs) {
  return "ck=" + dir / "data" + "; mkdir -p $ck; "
         "last=$(ls $ck | sed -n 's/^epoch-\\([0-9]*\\)\\.pt$/\\1/p' | sort -n | tail -1); last=${last:-0}; "
         "echo $last > " + dir / "resumed-from" + "; e=$last; while [ $e -lt $((last + " + std::to_string(epochs) +
         ")) ]; do e=$((e + 1)); head -c 4096 /dev/urandom > " + dir / "tmp.pt" + " && mv " + dir / "tmp.pt" +
         " $ck/epoch-$e.pt; echo $e > " + dir / "epoch" + "; sleep 0.3; done";
}

bool put_to(const json& r, const std::string& key) {
  return r["method"] == "PUT" && r["path"].get<std::string>().find(key) != std::string::npos;
}

TEST_F(S3Restore, ThePreemptionDrill) {
  std::string b = bucket();
  TempDir dir;
  BackgroundTask first(dir, moto().client_env(), b,
                       {.command = training(dir, 1000), .frequency = "1s", .extra_args = {"--grace-period", "20s"}});
  ASSERT_TRUE(eventually([&] { return number_in(dir / "epoch") >= 6; }, seconds(30))) << first.log();
  first.signal(SIGTERM);
  TaskRun r1 = first.wait(milliseconds(60'000));
  ASSERT_EQ(checkpoint_status(r1)["final"]["ok"], true) << r1.run.err;
  auto stored = check_store("data.manifest.json", moto_fetch(moto(), b, "run"));
  ASSERT_TRUE(stored.ok()) << stored.report();
  int last_stored = 0;
  std::set<std::string> keys;
  for (const auto& f : stored.manifest["files"]) {
    std::string key = f["key"];
    keys.insert(key);
    last_stored = std::max(last_stored, std::stoi(key.substr(key.find('-') + 1)));
  }
  ASSERT_GE(last_stored, 6);

  fs::remove_all(dir / "data");  // a new node
  FaultProxy proxy(moto());
  TaskRun r2 = run_task(dir, client_env(moto(), proxy.endpoint()), b,
                        TaskOptions{.command = training(dir, 5), .frequency = "1s", .extra_args = {"--restore"}});
  EXPECT_EQ(r2.run.exit_code, 0) << r2.run.err;
  EXPECT_EQ(number_in(dir / "resumed-from"), last_stored);
  auto restore = checkpoint_status(r2)["restore"];
  EXPECT_EQ(restore["ok"], true) << restore.dump();
  EXPECT_EQ(restore["files_restored"], keys.size()) << restore.dump();
  EXPECT_GE(checkpoint_status(r2)["rounds"].get<int>(), 2);
  for (const auto& r : proxy.requests())
    for (const auto& key : keys) EXPECT_FALSE(put_to(r, "/run/" + key)) << key << " stored again: " << describe(r);
  auto after = check_store("data.manifest.json", moto_fetch(moto(), b, "run"));
  ASSERT_TRUE(after.ok()) << after.report();
  EXPECT_EQ(after.manifest["complete"], true);
  EXPECT_EQ(after.vouched, keys.size() + 5) << after.report();
}

TEST_F(S3Restore, AStoreThatIsDownReschedulesWithoutRunning) {
  std::string b = bucket();
  TempDir dir;
  int port = free_port();
  ASSERT_TRUE(port_refuses(port));
  auto started = std::chrono::steady_clock::now();
  TaskRun t = run_task(dir, client_env(moto(), "http://127.0.0.1:" + std::to_string(port)), b,
                       TaskOptions{.command = "touch " + dir / "ran", .extra_args = {"--restore"}});
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(90));
  EXPECT_EQ(t.run.exit_code, 75) << t.run.err;
  EXPECT_FALSE(fs::exists(dir / "ran")) << "started from scratch";
  EXPECT_EQ(t.status["action"], "RESCHEDULE");
  EXPECT_EQ(t.status["exit_code"], 75);
  EXPECT_EQ(checkpoint_status(t)["restore"]["ok"], false);
  EXPECT_TRUE(contains(t.status["error"], "manifest")) << t.status["error"];
}

TEST_F(S3Restore, NoSuchBucketFails) {
  TempDir dir;
  TaskRun t = run_task(dir, moto().client_env(), "no-such-bucket-here",
                       TaskOptions{.command = "touch " + dir / "ran", .extra_args = {"--restore"}});
  EXPECT_EQ(t.run.exit_code, 125) << t.run.err;
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_EQ(t.status["action"], "FAIL");
  EXPECT_TRUE(contains(t.status["error"], "NoSuchBucket")) << t.status["error"];
}

TEST_F(S3Restore, AManifestThatIsNotOneFails) {
  std::string b = bucket();
  TempDir dir;
  write_file(dir / "junk", "{\"not\": \"a manifest\"}");
  ASSERT_EQ(moto().aws({"s3", "cp", dir / "junk", "s3://" + b + "/run/data.manifest.json"}).exit_code, 0);
  TaskRun t = run_task(dir, moto().client_env(), b, TaskOptions{.command = "touch " + dir / "ran", .extra_args = {"--restore"}});
  EXPECT_EQ(t.run.exit_code, 125) << t.run.err;
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_EQ(checkpoint_status(t)["restore"]["ok"], false);
}

TEST_F(S3Restore, AnObjectReplacedAfterItsManifestIsCountedMismatched) {
  std::string b = bucket();
  TempDir dir;
  write_file(dir / "data/model.pt", pseudo_random(100'000, 1));
  write_file(dir / "data/opt.pt", pseudo_random(1000, 2));
  TaskRun t1 = run_task(dir, moto().client_env(), b, "exit 0");
  ASSERT_EQ(checkpoint_status(t1)["final"]["ok"], true) << t1.run.err;
  write_file(dir / "newer", pseudo_random(120'000, 3));
  ASSERT_EQ(moto().aws({"s3", "cp", dir / "newer", "s3://" + b + "/run/data/model.pt"}).exit_code, 0);
  fs::remove_all(dir / "data");
  TaskRun t = run_task(dir, moto().client_env(), b, TaskOptions{.command = "exit 0", .extra_args = {"--restore"}});
  EXPECT_EQ(t.run.exit_code, 0) << t.run.err;
  EXPECT_EQ(read_file(dir / "data/model.pt"), pseudo_random(120'000, 3)) << "restored as stored";
  auto restore = checkpoint_status(t)["restore"];
  EXPECT_EQ(restore["files_mismatched"], 1) << restore.dump();
  EXPECT_EQ(restore["files_restored"], 1) << restore.dump();
  EXPECT_TRUE(contains(t.run.err, "does not match its manifest line")) << t.run.err;
  auto after = check_store("data.manifest.json", moto_fetch(moto(), b, "run"));
  EXPECT_TRUE(after.ok()) << after.report();
}

// One byte of a GET's answer inverted on the way: fetched again, never written.
TEST_F(S3Restore, BytesDamagedOnTheWayAreFetchedAgain) {
  std::string b = bucket();
  TempDir dir;
  const std::string model = pseudo_random(300'000, 4);
  write_file(dir / "data/model.pt", model);
  TaskRun t1 = run_task(dir, moto().client_env(), b, "exit 0");
  ASSERT_EQ(checkpoint_status(t1)["final"]["ok"], true) << t1.run.err;
  fs::remove_all(dir / "data");
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "flip"}, {"methods", {"GET"}},
                                                   {"path_regex", "data/model\\.pt$"}, {"first", 1}}})});
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b, TaskOptions{.command = "exit 0", .extra_args = {"--restore"}});
  EXPECT_EQ(t.run.exit_code, 0) << t.run.err;
  EXPECT_EQ(read_file(dir / "data/model.pt"), model);
  auto restore = checkpoint_status(t)["restore"];
  EXPECT_EQ(restore["files_restored"], 1) << restore.dump();
  EXPECT_EQ(restore["files_mismatched"], 0) << restore.dump();
  auto gets = where(proxy.requests(), [](const json& r) {
    return r["method"] == "GET" && r["path"].get<std::string>().find("data/model.pt") != std::string::npos;
  });
  ASSERT_EQ(gets.size(), 2u) << summary(proxy.requests());
  EXPECT_TRUE(gets[0].contains("flipped_at")) << describe(gets[0]);
}

// SIGTERM while a large file trickles in: the restore ends, the status is written within
// the grace period, the command never runs, and the task is rescheduled.
TEST_F(S3Restore, ASigtermDuringASlowRestoreEndsItWithinTheGracePeriod) {
  std::string b = bucket();
  TempDir dir;
  write_file(dir / "data/big.bin", pseudo_random(2'000'000, 5));
  TaskRun t1 = run_task(dir, moto().client_env(), b, "exit 0");
  ASSERT_EQ(checkpoint_status(t1)["final"]["ok"], true) << t1.run.err;
  fs::remove_all(dir / "data");
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "slow"}, {"methods", {"GET"}},
                                                   {"path_regex", "data/big\\.bin$"}, {"rate", 1000}}})});
  BackgroundTask task(dir, client_env(moto(), proxy.endpoint()), b,
                      {.command = "touch " + dir / "ran", .extra_args = {"--restore", "--grace-period", "6s"}});
  ASSERT_TRUE(eventually([&] {
    auto gets = where(proxy.requests(), [](const json& r) { return r["method"] == "GET"; });
    return gets.size() >= 2;  // the manifest, then the big file
  }, seconds(30))) << task.log();
  auto sent = std::chrono::steady_clock::now();
  task.signal(SIGTERM);
  TaskRun t = task.wait(milliseconds(30'000));
  EXPECT_LT(std::chrono::steady_clock::now() - sent, seconds(6)) << t.run.err;
  EXPECT_EQ(t.run.exit_code, 75) << t.run.err;
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_EQ(t.status["action"], "RESCHEDULE");
  EXPECT_EQ(t.status["stop"]["requested_by"], "SIGTERM");
  EXPECT_TRUE(contains(t.status["error"], "stopped by SIGTERM")) << t.status["error"];
  EXPECT_EQ(checkpoint_status(t)["restore"]["ok"], false);
  EXPECT_FALSE(fs::exists(dir / "data/big.bin")) << "a partial file in place";
}

}  // namespace
