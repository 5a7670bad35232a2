// The azure:// store under faults injected by tests/tools/faultproxy.py between
// supervise and Azurite: a block answered 503 ServerBusy, a block whose connection is cut
// mid-body, a block that stalls until the low-speed limit cuts it, a Put Blob answered
// 503, a Put Block List answered 503 once or refused for good. Each outcome is judged by
// the store: the blob's bytes, its committed and uncommitted blocks, the manifest.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "azure_task.hpp"
#include "azurite.hpp"
#include "harness.hpp"
#include "task_run.hpp"

namespace {

using namespace test_support;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class AzureFaults : public AzureEnv {};

constexpr std::size_t kBig = 30u << 20;  // 6 blocks of 5 MiB (the store takes no smaller block)
constexpr std::size_t kBlocks = 6;

bool is_block(const json& r) { return r["method"] == "PUT" && query_param(r, "comp") == "block"; }
bool is_block_list(const json& r) { return r["method"] == "PUT" && query_param(r, "comp") == "blocklist"; }

std::vector<std::string> env_through(const Azurite& azurite, const AzureFaultProxy& proxy) {
  auto env = azurite.shared_key_env(proxy.endpoint());
  env.push_back("SUPERVISE_AZURE_BLOCK_SIZE=5MiB");
  return env;
}

// Rules that match the Put Block requests of big.bin (the query names comp=block).
json block_rule(json rule) {
  rule["methods"] = {"PUT"};
  rule["path_regex"] = "/run/data/big\\.bin$";
  rule["query_regex"] = "(^|&)comp=block(&|$)";
  return rule;
}

// big.bin went up whole: committed from kBlocks blocks, none left uncommitted, the bytes
// are `bytes`; the manifest vouches for every file.
void expect_big_blob(const Azurite& azurite, const std::string& c, const std::string& bytes,
                     const std::map<std::string, std::string>& files) {
  auto blocks = azurite.block_list(c, "run/data/big.bin");
  ASSERT_TRUE(blocks.has_value()) << "no blob";
  EXPECT_EQ(blocks->committed.size(), kBlocks);
  EXPECT_TRUE(blocks->uncommitted.empty()) << blocks->uncommitted.size() << " blocks left uncommitted";
  auto stored = azurite.get(c, "run/data/big.bin");
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(*stored == bytes) << "the blob is not the file's bytes";
  expect_stored(azurite, c, files);
}

// Each block fault: injected once, the block sent again, the blob committed whole.
void block_fault(const Azurite& azurite, const std::string& c, const json& rule, std::uint64_t seed,
                 seconds bound) {
  TempDir dir;
  const std::string big = pseudo_random(kBig, seed);
  write_file(dir / "data/big.bin", big);
  write_file(dir / "data/small.txt", "small");
  AzureFaultProxy proxy(azurite, json::array({block_rule(rule)}));
  TaskRun t = run_azure(dir, env_through(azurite, proxy), c, {.timeout = milliseconds(150'000)});
  expect_task_outcome_unchanged(t);
  json final = checkpoint_status(t)["final"];
  EXPECT_EQ(final["ok"], true) << final.dump() << "\n" << t.run.err;
  EXPECT_LT(t.run.elapsed, bound) << t.run.err;
  auto requests = proxy.requests();
  auto faults = where(requests, injected);
  ASSERT_EQ(faults.size(), 1u) << summary(requests);
  // The faulted block went again (same blob, same block id) and was stored.
  std::string id = query_param(faults[0], "blockid");
  auto again = where(requests, [&](const json& r) {
    return is_block(r) && query_param(r, "blockid") == id && r["n"] > faults[0]["n"] && !injected(r);
  });
  EXPECT_FALSE(again.empty()) << describe(faults[0]) << " was not sent again\n" << summary(requests);
  EXPECT_GE(where(requests, is_block_list).size(), 1u) << summary(requests);
  expect_big_blob(azurite, c, big, {{"big.bin", big}, {"small.txt", "small"}});
}

TEST_F(AzureFaults, ABlockAnsweredServerBusyIsSentAgain) {
  block_fault(azurite(), container(),
              {{"action", "error"}, {"status", 503}, {"code", "ServerBusy"}, {"message", "The server is busy."},
               {"after", 3}, {"limit", 1}},
              21, seconds(60));
}

TEST_F(AzureFaults, ABlockWhoseConnectionIsCutMidBodyIsSentAgain) {
  block_fault(azurite(), container(), {{"action", "cut"}, {"after", 4}, {"limit", 1}}, 22, seconds(60));
}

// A block that is never answered: the low-speed limit (1 KiB/s for 20 s) cuts it.
TEST_F(AzureFaults, AStalledBlockIsCutByTheLowSpeedLimitAndSentAgain) {
  block_fault(azurite(), container(), {{"action", "stall"}, {"stall_seconds", 90}, {"after", 2}, {"limit", 1}}, 23,
              seconds(80));
}

// A small file goes up with one Put Blob: answered 503 ServerBusy twice, then stored.
TEST_F(AzureFaults, APutBlobAnsweredServerBusyIsSentAgain) {
  std::string c = container();
  TempDir dir;
  std::map<std::string, std::string> files = {{"model.pt", pseudo_random(100'000, 24)}, {"b.txt", "b"}};
  for (const auto& [rel, bytes] : files) write_file(dir / ("data/" + rel), bytes);
  AzureFaultProxy proxy(azurite(), json::array({{{"action", "error"},
                                                 {"status", 503},
                                                 {"code", "ServerBusy"},
                                                 {"methods", {"PUT"}},
                                                 {"path_regex", "/run/data/model\\.pt$"},
                                                 {"limit", 2}}}));
  TaskRun t = run_azure(dir, azurite().shared_key_env(proxy.endpoint()), c);
  expect_task_outcome_unchanged(t);
  EXPECT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  auto requests = proxy.requests();
  EXPECT_EQ(where(requests, injected).size(), 2u) << summary(requests);
  expect_stored(azurite(), c, files);
  EXPECT_EQ(azurite().get(c, "run/data/model.pt"), files["model.pt"]);
}

// The commit (Put Block List) answered 503 once: sent again, the blob is the new version.
TEST_F(AzureFaults, ACommitAnsweredServerBusyIsSentAgain) {
  std::string c = container();
  TempDir dir;
  const std::string big = pseudo_random(kBig, 25);
  write_file(dir / "data/big.bin", big);
  AzureFaultProxy proxy(azurite(), json::array({{{"action", "error"},
                                                 {"status", 503},
                                                 {"code", "ServerBusy"},
                                                 {"methods", {"PUT"}},
                                                 {"path_regex", "/run/data/big\\.bin$"},
                                                 {"query_regex", "(^|&)comp=blocklist(&|$)"},
                                                 {"limit", 1}}}));
  TaskRun t = run_azure(dir, env_through(azurite(), proxy), c);
  expect_task_outcome_unchanged(t);
  EXPECT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  auto requests = proxy.requests();
  EXPECT_EQ(where(requests, injected).size(), 1u) << summary(requests);
  EXPECT_EQ(where(requests, is_block_list).size(), 2u) << summary(requests);
  expect_big_blob(azurite(), c, big, {{"big.bin", big}});
}

// The commit refused for good (403 on every try): the round fails saying so, the blob
// keeps the version stored before (its blocks committed as they were), the new blocks
// stay uncommitted (no blob of their own), and the manifest still describes what is
// stored.
TEST_F(AzureFaults, ARefusedCommitKeepsThePreviousBlob) {
  std::string c = container();
  TempDir dir;
  const std::string v1 = pseudo_random(kBig, 26);
  write_file(dir / "data/big.bin", v1);
  AzureFaultProxy proxy(azurite());
  auto env = env_through(azurite(), proxy);
  TaskRun first = run_azure(dir, env, c);
  ASSERT_EQ(checkpoint_status(first)["final"]["ok"], true) << first.run.err;
  auto before = azurite().block_list(c, "run/data/big.bin");
  ASSERT_TRUE(before.has_value());

  write_file(dir / "data/big.bin", pseudo_random(kBig, 27));
  proxy.set_rules(json::array({{{"action", "error"},
                                {"status", 403},
                                {"code", "AuthorizationFailure"},
                                {"message", "This request is not authorized to perform this operation."},
                                {"methods", {"PUT"}},
                                {"query_regex", "(^|&)comp=blocklist(&|$)"}}}));
  const std::size_t from = proxy.requests().size();
  TaskRun second = run_azure(dir, env, c);
  expect_task_outcome_unchanged(second);
  json final = checkpoint_status(second)["final"];
  EXPECT_EQ(final["ok"], false) << final.dump();
  ASSERT_TRUE(final["error"].is_string()) << final.dump();
  EXPECT_TRUE(contains(final["error"], "403")) << final["error"];
  auto all = proxy.requests();
  std::vector<json> phase(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
  EXPECT_GE(where(phase, is_block).size(), kBlocks) << summary(phase);
  auto stored = azurite().get(c, "run/data/big.bin");
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(*stored == v1) << "the blob is not the version stored before";
  auto after = azurite().block_list(c, "run/data/big.bin");
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->committed.size(), before->committed.size());
  for (std::size_t i = 0; i < before->committed.size(); ++i)
    EXPECT_EQ(after->committed[i].name, before->committed[i].name) << "block " << i;
  EXPECT_FALSE(after->uncommitted.empty()) << "the new version's blocks were not staged";
  StoreCheck check = check_store("data.manifest.json", azurite().fetch(c, "run"));
  EXPECT_TRUE(check.ok()) << check.report();
}

}  // namespace
