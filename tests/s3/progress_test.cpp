// SPEC.md "Progress" with an s3:// store: a round and a restore that run longer than
// 10 s (their transfers slowed by the fault proxy to 128 KiB/s a request) log progress
// lines, whose figures are the round's and the restore's own: the files and bytes of the
// total, some done, not all, at a throughput the proxy allows.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "faultproxy.hpp"
#include "harness.hpp"
#include "task_run.hpp"

namespace {

namespace fs = std::filesystem;
using namespace test_support;
using json = nlohmann::json;

constexpr int kRate = 128 << 10;  // bytes/s, per request, as the proxy lets them through

class S3Progress : public S3Env {};

struct ProgressLine {
  std::string text;
  std::size_t files_done = 0, files_total = 0;
  double mb_done = 0, mb_total = 0, mb_per_s = 0;
  int percent = 0;
  bool time_left_known = false;
};

// The progress lines of the log that begin with `what` (": 2 of 3 files, 0.5 MB of 2.2 MB
// (22%), 0.1 MB/s, about 17 s left").
std::vector<ProgressLine> progress_lines(const std::string& log, const std::string& what) {
  static const std::regex figures(
      R"(^(\d+) of (\d+) files?(?:, \d+ failed)?, ([\d.]+) MB of ([\d.]+) MB \((\d+)%\), ([\d.]+) MB/s, (about \d[\w ]* left|time left unknown)$)");
  std::vector<ProgressLine> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto at = line.find(what + ": ");
    if (at == std::string::npos) continue;
    ProgressLine p;
    p.text = line;
    std::smatch m;
    std::string rest = line.substr(at + what.size() + 2);
    if (!std::regex_match(rest, m, figures)) {
      ADD_FAILURE() << "not a progress line: " << line;
      continue;
    }
    p.files_done = std::stoul(m[1]);
    p.files_total = std::stoul(m[2]);
    p.mb_done = std::stod(m[3]);
    p.mb_total = std::stod(m[4]);
    p.percent = std::stoi(m[5]);
    p.mb_per_s = std::stod(m[6]);
    p.time_left_known = m[7] != "time left unknown";
    out.push_back(p);
  }
  return out;
}

// At the first line (10 s into the work) the small file is done (under 1 s at the proxy's
// rate) and the big one is not (13 s at that rate); the throughput is no more than the
// proxy lets through.
void expect_plausible(const ProgressLine& p, std::size_t files, double mb_total, int streams) {
  EXPECT_EQ(p.files_total, files) << p.text;
  EXPECT_DOUBLE_EQ(p.mb_total, mb_total) << p.text;
  EXPECT_GE(p.files_done, 1u) << p.text;
  EXPECT_LT(p.files_done, files) << p.text;
  EXPECT_GT(p.mb_done, 0) << p.text;
  EXPECT_LT(p.mb_done, mb_total) << p.text;
  EXPECT_NEAR(p.percent, p.mb_done * 100 / mb_total, 5) << p.text;  // the sizes are rounded to 0.1 MB
  EXPECT_GT(p.mb_per_s, 0) << p.text;
  EXPECT_LE(p.mb_per_s, streams * kRate / 1e6 + 0.1) << p.text;
  EXPECT_TRUE(p.time_left_known) << p.text;
}

TEST_F(S3Progress, ARoundLongerThanTenSecondsLogsProgress) {
  std::string b = bucket();
  TempDir dir;
  write_file(dir / "data/small.bin", pseudo_random(100'000, 1));
  write_file(dir / "data/mid.bin", pseudo_random(400'000, 2));
  write_file(dir / "data/big.bin", pseudo_random(1'700'000, 3));
  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "slow_body"},
                                                   {"rate", kRate},
                                                   {"methods", {"PUT"}},
                                                   {"path_regex", "/run/data/"}}})});
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b, "exit 3");  // the final round stores all
  expect_task_outcome_unchanged(t);
  auto final = checkpoint_status(t)["final"];
  ASSERT_EQ(final["ok"], true) << t.run.err;
  EXPECT_EQ(final["files_stored"], 3);
  EXPECT_GT(final["seconds"].get<double>(), 10.0) << "the round was not slowed: " << summary(proxy.requests());

  auto lines = progress_lines(t.run.err, "Checkpointing " + dir / "data" + " to s3://" + b + "/run, round 1");
  ASSERT_FALSE(lines.empty()) << t.run.err;
  expect_plausible(lines.front(), 3, 2.2, 3);
  // Each comes before the round's summary line, never after it.
  EXPECT_LT(t.run.err.find(lines.back().text), t.run.err.find("Checkpoint round 1 of")) << t.run.err;
}

TEST_F(S3Progress, ARestoreLongerThanTenSecondsLogsProgress) {
  std::string b = bucket();
  TempDir dir;
  write_file(dir / "data/small.bin", pseudo_random(100'000, 4));
  write_file(dir / "data/big.bin", pseudo_random(1'600'000, 5));
  TaskRun seeded = run_task(dir, moto().client_env(), b, "exit 0");
  ASSERT_EQ(checkpoint_status(seeded)["final"]["ok"], true) << seeded.run.err;
  fs::remove_all(dir / "data");

  FaultProxy proxy(moto(), {.rules = json::array({{{"action", "slow"},
                                                   {"rate", kRate},
                                                   {"methods", {"GET"}},
                                                   {"path_regex", "/run/data/"}}})});
  TaskRun t = run_task(dir, client_env(moto(), proxy.endpoint()), b,
                       TaskOptions{.command = "exit 0", .extra_args = {"--restore"}});
  EXPECT_EQ(t.run.exit_code, 0) << t.run.err;
  auto restore = checkpoint_status(t)["restore"];
  ASSERT_EQ(restore["ok"], true) << restore.dump();
  EXPECT_EQ(restore["files_restored"], 2) << restore.dump();
  EXPECT_GT(restore["seconds"].get<double>(), 10.0) << "the restore was not slowed: " << summary(proxy.requests());
  EXPECT_EQ(read_file(dir / "data/big.bin"), pseudo_random(1'600'000, 5));

  auto lines = progress_lines(t.run.err, "Restoring " + dir / "data" + " from s3://" + b + "/run");
  ASSERT_FALSE(lines.empty()) << t.run.err;
  expect_plausible(lines.front(), 2, 1.7, 2);
  EXPECT_LT(t.run.err.find(lines.back().text), t.run.err.find("Restore of " + dir / "data")) << t.run.err;
}

}  // namespace
