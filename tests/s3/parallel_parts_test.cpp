// Issue 16: parts in parallel through the store's transfer pool, and the checksums the
// server verifies. Each test runs supervise against moto through the fault proxy and
// judges by what moto holds (check_store downloads every object the manifest vouches for
// and compares its size and CRC-32C, so the CRC combined from the parts is checked
// against the stored bytes) and by the requests the proxy logged (their headers).
//
// moto (5.x) keeps the checksum a request declares but does not verify it; real S3
// rejects a body whose checksum differs (400 BadDigest). What is tested here is that
// the checksums are sent, are right, and go away with when_required.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "faultproxy.hpp"
#include "harness.hpp"
#include "moto.hpp"
#include "store_check.hpp"
#include "supervise/checkpoint/crc32c.hpp"
#include "task_run.hpp"

namespace {

using namespace test_support;
using json = nlohmann::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

const std::string kManifest = "data.manifest.json";
constexpr std::size_t kBig = 70'000'000;  // 9 parts of 8 MiB (above the 64 MiB threshold)
constexpr std::size_t kMid = 12'000'000;  // above a part, below the threshold: one streamed PUT
constexpr std::size_t kSmall = 5'000;     // one PUT from memory

// The value of header `name` (any case) of a logged request, or "".
std::string header(const json& r, const std::string& name) {
  for (const auto& h : r.value("headers", json::array())) {
    std::string n = h[0];
    if (n.size() == name.size() && strncasecmp(n.c_str(), name.c_str(), n.size()) == 0) return h[1];
  }
  return "";
}

bool any_checksum_header(const json& r) {
  for (const auto& h : r.value("headers", json::array())) {
    std::string n = h[0];
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n.rfind("x-amz-checksum", 0) == 0 || n == "x-amz-sdk-checksum-algorithm") return true;
  }
  return false;
}

std::string crc_base64(const std::string& bytes) {
  return supervise::checkpoint::crc32c_base64(supervise::checkpoint::crc32c(0, bytes.data(), bytes.size()));
}

bool is_single_put(const json& r) {
  return r["method"] == "PUT" && r.value("query", std::string()).empty();
}

class S3ParallelParts : public S3Env {
 protected:
  struct Files {
    std::string small, mid, big;
  };
  Files write_files(const TempDir& dir) {
    Files f{pseudo_random(kSmall, 1), pseudo_random(kMid, 2), pseudo_random(kBig, 3)};
    write_file(dir.path() / "data" / "small.bin", f.small);
    write_file(dir.path() / "data" / "mid.bin", f.mid);
    write_file(dir.path() / "data" / "big.bin", f.big);
    return f;
  }
  StoreCheck judge(const std::string& b) { return check_store(kManifest, moto_fetch(moto(), b, "run")); }
};

// Every PutObject and UploadPart carries the CRC-32C of its own bytes, the upload says it
// will (x-amz-checksum-algorithm), the Complete lists the parts' checksums, and the
// manifest's CRC of the multipart file (combined from the parts') is the stored bytes'.
TEST_F(S3ParallelParts, ChecksumHeadersAreSentByDefault) {
  const std::string b = bucket();
  TempDir dir;
  Files f = write_files(dir);
  FaultProxy proxy(moto());
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  expect_task_outcome_unchanged(t);
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  StoreCheck stored = judge(b);
  ASSERT_TRUE(stored.ok()) << stored.report();
  EXPECT_EQ(stored.vouched, 3u) << stored.report();

  auto requests = proxy.requests();
  auto puts = where(requests, is_single_put);
  std::set<std::string> seen;
  for (const auto& r : puts) {
    std::string path = r["path"];
    if (contains(path, "small.bin")) EXPECT_EQ(header(r, "x-amz-checksum-crc32c"), crc_base64(f.small)) << describe(r);
    if (contains(path, "mid.bin")) EXPECT_EQ(header(r, "x-amz-checksum-crc32c"), crc_base64(f.mid)) << describe(r);
    if (contains(path, "manifest")) EXPECT_NE(header(r, "x-amz-checksum-crc32c"), "") << describe(r);
    seen.insert(path);
  }
  auto creates = where(requests, is_create);
  ASSERT_EQ(creates.size(), 1u) << summary(requests);
  EXPECT_EQ(header(creates[0], "x-amz-checksum-algorithm"), "CRC32C") << describe(creates[0]);
  auto parts = where(requests, is_part);
  ASSERT_EQ(parts.size(), 9u) << summary(requests);
  for (const auto& p : parts) {
    int n = std::stoi(query_param(p, "partNumber"));
    std::size_t offset = static_cast<std::size_t>(n - 1) * (8u << 20);
    std::string bytes = f.big.substr(offset, std::min<std::size_t>(8u << 20, kBig - offset));
    EXPECT_EQ(header(p, "x-amz-checksum-crc32c"), crc_base64(bytes)) << describe(p);
  }
  auto completes = where(requests, is_complete);
  ASSERT_EQ(completes.size(), 1u);
  EXPECT_TRUE(contains(completes[0].value("body_head", std::string()),
                       "<ChecksumCRC32C>" + crc_base64(f.big.substr(0, 8u << 20)) + "</ChecksumCRC32C>"))
      << completes[0].dump();
  // The manifest's CRC of big.bin (combined from the parts') is the one-pass CRC.
  bool found = false;
  for (const auto& e : stored.manifest["files"])
    if (e["key"] == "data/big.bin") {
      found = true;
      EXPECT_EQ(e["crc32c"], supervise::checkpoint::crc32c_hex(supervise::checkpoint::crc32c(0, f.big.data(), kBig)));
    }
  EXPECT_TRUE(found) << stored.manifest.dump();
}

// AWS_REQUEST_CHECKSUM_CALCULATION=when_required (for servers that reject the headers):
// no checksum header on any request, and the checkpoint is as whole as ever.
TEST_F(S3ParallelParts, WhenRequiredSendsNoChecksums) {
  const std::string b = bucket();
  TempDir dir;
  write_files(dir);
  FaultProxy proxy(moto());
  auto env = client_env(moto(), proxy.endpoint());
  env.push_back("AWS_REQUEST_CHECKSUM_CALCULATION=when_required");
  TaskRun t = run_task(dir, env, b);
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  StoreCheck stored = judge(b);
  EXPECT_TRUE(stored.ok()) << stored.report();
  auto requests = proxy.requests();
  EXPECT_TRUE(where(requests, any_checksum_header).empty()) << summary(where(requests, any_checksum_header));
  EXPECT_EQ(where(requests, is_part).size(), 9u);
}

// Each part is held 3 s by the proxy: one at a time the 9 would take 27 s; in parallel
// the round ends in a fraction of that.
TEST_F(S3ParallelParts, PartsGoUpInParallel) {
  const std::string b = bucket();
  TempDir dir;
  write_file(dir.path() / "data" / "big.bin", pseudo_random(kBig, 4));
  FaultProxy proxy(moto());
  proxy.set_rules(json::array({{{"action", "delay"}, {"seconds", 3}, {"methods", {"PUT"}}, {"query_regex", "^partNumber="}}}));
  auto started = SteadyClock::now();
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  EXPECT_TRUE(judge(b).ok());
  EXPECT_LT(seconds, 18.0) << "9 parts held 3 s each went one at a time";
}

// Faults on single parts while the others go up: a part answered 500 once, a part whose
// connection is cut mid-body, a part stalled until the low-speed limit cuts it. Each is
// retried, the upload completes, and the object is the file's bytes (the CRC check);
// nothing is left open.
TEST_F(S3ParallelParts, APartFailedCutOrStalledIsRetriedAndTheObjectIsWhole) {
  const std::string b = bucket();
  TempDir dir;
  write_file(dir.path() / "data" / "big.bin", pseudo_random(kBig, 5));
  FaultProxy proxy(moto());
  proxy.set_rules(json::array({
      {{"action", "error"}, {"status", 500}, {"methods", {"PUT"}}, {"query_regex", "^partNumber=2&"}, {"limit", 1}},
      {{"action", "cut"}, {"methods", {"PUT"}}, {"query_regex", "^partNumber=5&"}, {"limit", 1}},
      {{"action", "stall"}, {"stall_seconds", 60}, {"methods", {"PUT"}}, {"query_regex", "^partNumber=7&"}, {"limit", 1}},
  }));
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b);
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  auto requests = proxy.requests();
  EXPECT_EQ(where(requests, injected).size(), 3u) << summary(requests);
  EXPECT_EQ(where(requests, is_complete).size(), 1u) << summary(requests);
  StoreCheck stored = judge(b);
  EXPECT_TRUE(stored.ok()) << stored.report();
  EXPECT_EQ(stored.vouched, 1u) << stored.report();
  EXPECT_TRUE(open_uploads(moto(), b, "run/").empty());
}

// A part refused for good (403 on every try): the other parts stop, the upload is
// aborted (moto holds nothing open), no Complete goes out, the object keeps the version
// stored before, and the round says what failed.
TEST_F(S3ParallelParts, APartRefusedForGoodAbortsTheUploadAndKeepsThePreviousObject) {
  const std::string b = bucket();
  TempDir dir;
  std::string v1 = pseudo_random(kBig, 6);
  write_file(dir.path() / "data" / "big.bin", v1);
  FaultProxy proxy(moto());
  auto env = client_env(moto(), proxy.endpoint());
  TaskRun first = run_task(dir, env, b);
  ASSERT_EQ(checkpoint_status(first)["final"]["ok"], true) << first.run.err;

  write_file(dir.path() / "data" / "big.bin", pseudo_random(kBig, 7));
  proxy.set_rules(json::array({{{"action", "error"},
                                {"status", 403},
                                {"code", "AccessDenied"},
                                {"methods", {"PUT"}},
                                {"query_regex", "^partNumber=4&"}}}));
  const std::size_t from = proxy.requests().size();
  TaskRun second = run_task(dir, env, b);
  json c = checkpoint_status(second);
  EXPECT_EQ(c["final"]["ok"], false) << c.dump();
  EXPECT_TRUE(contains(c["final"].value("error", std::string()), "AccessDenied")) << c.dump();
  const auto all = proxy.requests();
  std::vector<json> phase(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
  EXPECT_TRUE(where(phase, is_complete).empty()) << summary(phase);
  EXPECT_EQ(where(phase, is_abort).size(), 1u) << summary(phase);
  EXPECT_TRUE(open_uploads(moto(), b, "run/").empty());
  auto object = moto_object(moto(), b, "run/data/big.bin");
  ASSERT_TRUE(object.has_value());
  EXPECT_TRUE(*object == v1) << "the object is not the version stored before";
  StoreCheck stored = judge(b);
  EXPECT_TRUE(stored.ok()) << stored.report();
}

// Memory stays bounded by the parts in flight: with 2 of 8 MiB, a 70 MB file goes up
// while the supervisor's peak resident size (VmHWM of /proc/PID/status) stays under
// 2 x 8 MiB plus what the process needs without any part (measured: about 10 MiB).
TEST_F(S3ParallelParts, MemoryIsBoundedByThePartsInFlight) {
  const std::string b = bucket();
  TempDir dir;
  write_file(dir.path() / "data" / "big.bin", pseudo_random(kBig, 8));
  FaultProxy proxy(moto());
  auto env = client_env(moto(), proxy.endpoint());
  env.push_back("SUPERVISE_S3_MAX_CONCURRENT_REQUESTS=2");
  // Parts held 1 s: the upload lasts long enough to be watched.
  proxy.set_rules(json::array({{{"action", "delay"}, {"seconds", 1}, {"methods", {"PUT"}}, {"query_regex", "^partNumber="}}}));
  BackgroundTask task(dir, env, b, TaskOptions{});
  long peak_kib = 0;
  auto vm_hwm = [&] {
    std::ifstream in("/proc/" + std::to_string(task.pid()) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmHWM:", 0) == 0) peak_kib = std::max(peak_kib, std::stol(line.substr(6)));
  };
  bool done = eventually(
      [&] {
        vm_hwm();
        return where(proxy.requests(), is_complete).size() == 1;
      },
      120s);
  vm_hwm();
  TaskRun t = task.wait(60s);
  ASSERT_TRUE(done) << t.run.err;
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  EXPECT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, (2 * 8 + 24) * 1024) << "peak RSS " << peak_kib << " KiB";
  EXPECT_TRUE(judge(b).ok());
}

// A restore reads a large object in ranges of a part, in parallel: the first alone, the
// others with If-Match on its ETag; the file comes back byte for byte, and the small
// file in one whole GET that asks for the object's checksum.
TEST_F(S3ParallelParts, ARestoreReadsALargeObjectInRangesInParallel) {
  const std::string b = bucket();
  TempDir dir;
  Files f = write_files(dir);
  FaultProxy proxy(moto());
  auto env = client_env(moto(), proxy.endpoint());
  TaskRun first = run_task(dir, env, b);
  ASSERT_EQ(checkpoint_status(first)["final"]["ok"], true) << first.run.err;

  std::filesystem::remove_all(dir.path() / "data");
  const std::size_t from = proxy.requests().size();
  TaskRun second = run_task(dir, env, b, TaskOptions{.extra_args = {"--restore"}});
  json restore = checkpoint_status(second)["restore"];
  ASSERT_EQ(restore["ok"], true) << restore.dump() << second.run.err;
  EXPECT_EQ(restore["files_restored"], 3) << restore.dump();
  EXPECT_TRUE(read_file(dir.path() / "data" / "big.bin") == f.big);
  EXPECT_TRUE(read_file(dir.path() / "data" / "mid.bin") == f.mid);
  EXPECT_TRUE(read_file(dir.path() / "data" / "small.bin") == f.small);

  const auto all = proxy.requests();
  std::vector<json> phase(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
  auto big_gets = where(phase, [](const json& r) { return r["method"] == "GET" && contains(r["path"], "big.bin"); });
  ASSERT_EQ(big_gets.size(), 9u) << summary(phase);
  std::set<std::string> ranges;
  std::size_t with_if_match = 0;
  for (const auto& r : big_gets) {
    ranges.insert(header(r, "range"));
    with_if_match += !header(r, "if-match").empty();
    EXPECT_EQ(r.value("status", 0), 206) << describe(r);
  }
  EXPECT_EQ(ranges.size(), 9u);
  EXPECT_TRUE(ranges.count("bytes=0-8388607")) << summary(big_gets);
  EXPECT_TRUE(ranges.count("bytes=67108864-69999999")) << summary(big_gets);
  EXPECT_EQ(with_if_match, 8u) << "the ranges after the first name the first's ETag";
  auto small_gets = where(phase, [](const json& r) { return r["method"] == "GET" && contains(r["path"], "small.bin"); });
  ASSERT_EQ(small_gets.size(), 1u);
  EXPECT_EQ(header(small_gets[0], "range"), "");
  EXPECT_EQ(header(small_gets[0], "x-amz-checksum-mode"), "ENABLED");
}

// An object replaced by one of another size after its manifest line: the first range
// shows the size differs, and the object is read whole; the restore judges it as it
// judges any object that differs from its line (read twice, the same: restored as stored).
TEST_F(S3ParallelParts, AnObjectOfAnotherSizeIsReadWhole) {
  const std::string b = bucket();
  TempDir dir;
  write_file(dir.path() / "data" / "big.bin", pseudo_random(kBig, 9));
  FaultProxy proxy(moto());
  auto env = client_env(moto(), proxy.endpoint());
  TaskRun first = run_task(dir, env, b);
  ASSERT_EQ(checkpoint_status(first)["final"]["ok"], true) << first.run.err;
  const std::string other = pseudo_random(kMid, 10);
  write_file(dir.path() / "other", other);
  ASSERT_EQ(moto().aws({"s3", "cp", dir / "other", "s3://" + b + "/run/data/big.bin"}).exit_code, 0);

  std::filesystem::remove_all(dir.path() / "data");
  TaskRun second = run_task(dir, env, b, TaskOptions{.extra_args = {"--restore"}});
  json restore = checkpoint_status(second)["restore"];
  EXPECT_EQ(restore["ok"], true) << restore.dump() << second.run.err;
  EXPECT_EQ(restore["files_mismatched"], 1) << restore.dump();
  EXPECT_TRUE(read_file(dir.path() / "data" / "big.bin") == other);
}

}  // namespace
