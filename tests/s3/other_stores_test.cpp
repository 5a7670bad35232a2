// Issue 17: gs://, tos:// and swift:// speak the S3 protocol, each with its own
// addressing, signing region, credentials and checksum headers (README, "Stores"). Each
// test runs supervise against moto through the fault proxy, checks the requests it sent
// (the proxy logs them as they came: Host, path, headers), and judges the checkpoint by
// what moto holds (check_store reads back every object the manifest vouches for).
//
// tos:// is addressed virtual-hosted (https://<bucket>.<endpoint>): the test's endpoint
// is tos-s3-cn-beijing.localhost:<port>, which curl resolves to 127.0.0.1 (any
// *.localhost name), and moto takes the bucket from the first label of the Host.
#include <gtest/gtest.h>
#include <strings.h>

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
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

const std::string kManifest = "data.manifest.json";
constexpr std::size_t kBig = 70'000'000;  // 9 parts of 8 MiB (above the 64 MiB threshold)
constexpr std::size_t kMid = 12'000'000;  // above a part: one streamed PUT
constexpr std::size_t kSmall = 5'000;     // one PUT from memory
const std::string kSecret = "otherSTORESsecret/key+x";

std::string header(const json& r, const std::string& name) {
  for (const auto& h : r.value("headers", json::array())) {
    std::string n = h[0];
    if (n.size() == name.size() && strncasecmp(n.c_str(), name.c_str(), n.size()) == 0) return h[1];
  }
  return "";
}

// Headers only S3 (AWS) knows: Cloud Storage rejects a request that has them.
std::vector<std::string> aws_checksum_headers(const json& r) {
  std::vector<std::string> found;
  for (const auto& h : r.value("headers", json::array())) {
    std::string n = h[0];
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n.rfind("x-amz-checksum", 0) == 0 || n == "x-amz-sdk-checksum-algorithm") found.push_back(n);
  }
  return found;
}

std::string crc_base64(const std::string& bytes) {
  return supervise::checkpoint::crc32c_base64(supervise::checkpoint::crc32c(0, bytes.data(), bytes.size()));
}

bool is_body_put(const json& r) { return r["method"] == "PUT"; }

// The environment of a store other than s3://: `vars`, and every other credential
// variable blank (an empty variable counts as unset): no AWS one, which none of these
// stores reads.
std::vector<std::string> store_env(std::vector<std::string> vars) {
  for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                           "GS_ACCESS_KEY_ID", "GS_SECRET_ACCESS_KEY", "TOS_ACCESS_KEY", "TOS_SECRET_KEY",
                           "TOS_REGION", "SWIFT_ACCESS_KEY_ID", "SWIFT_SECRET_ACCESS_KEY"}) {
    bool given = false;
    for (const auto& v : vars) given = given || v.rfind(std::string(name) + "=", 0) == 0;
    if (!given) vars.push_back(std::string(name) + "=");
  }
  return vars;
}

class OtherStores : public S3Env {
 protected:
  struct Files {
    std::string small, mid, big;
  };
  Files write_files(const TempDir& dir, bool big = true) {
    Files f{pseudo_random(kSmall, 11), pseudo_random(kMid, 12), big ? pseudo_random(kBig, 13) : ""};
    write_file(dir.path() / "data" / "small.bin", f.small);
    write_file(dir.path() / "data" / "mid.bin", f.mid);
    if (big) write_file(dir.path() / "data" / "big.bin", f.big);
    return f;
  }
  StoreCheck judge(const std::string& b) { return check_store(kManifest, moto_fetch(moto(), b, "run")); }
  // Every part's body against its slice of `big`, by `check(request, slice)`.
  template <typename Check>
  void each_part(const std::vector<json>& requests, const std::string& big, Check check) {
    auto parts = where(requests, is_part);
    ASSERT_EQ(parts.size(), 9u) << summary(requests);
    for (const auto& p : parts) {
      std::size_t offset = static_cast<std::size_t>(std::stoi(query_param(p, "partNumber")) - 1) * (8u << 20);
      check(p, big.substr(offset, std::min<std::size_t>(8u << 20, big.size() - offset)));
    }
  }
};

// gs://: path-style at GS_ENDPOINT_URL, signed for region "auto" with the HMAC keys,
// x-goog-hash: crc32c=... on every body and no x-amz-checksum header anywhere (Cloud
// Storage refuses them); the multipart upload as S3's. Then a restore brings it back.
TEST_F(OtherStores, GsIsPathStyleWithGoogHashesAndNoAwsChecksumHeaders) {
  const std::string b = bucket();
  TempDir dir;
  Files f = write_files(dir);
  FaultProxy proxy(moto());
  auto env = store_env({"GS_ACCESS_KEY_ID=GOOG1EXAMPLEKEY", "GS_SECRET_ACCESS_KEY=" + kSecret,
                        "GS_ENDPOINT_URL=" + proxy.endpoint()});
  TaskRun t = run_task(dir, env, b, TaskOptions{.url = "gs://" + b + "/run"});
  expect_task_outcome_unchanged(t);
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  EXPECT_EQ(checkpoint_status(t)["url"], "gs://" + b + "/run");
  StoreCheck stored = judge(b);
  ASSERT_TRUE(stored.ok()) << stored.report();
  EXPECT_EQ(stored.vouched, 3u) << stored.report();

  auto requests = proxy.requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) {
    EXPECT_EQ(header(r, "Host"), "127.0.0.1:" + std::to_string(proxy.port())) << describe(r);
    EXPECT_EQ(std::string(r["path"]).rfind("/" + b, 0), 0u) << describe(r);  // path-style
    EXPECT_TRUE(contains(header(r, "Authorization"), "Credential=GOOG1EXAMPLEKEY/")) << describe(r);
    EXPECT_TRUE(contains(header(r, "Authorization"), "/auto/s3/aws4_request")) << describe(r);
    EXPECT_EQ(aws_checksum_headers(r), std::vector<std::string>{}) << describe(r);
    EXPECT_EQ(header(r, "x-amz-checksum-mode"), "") << describe(r);
  }
  for (const auto& r : where(requests, is_body_put)) {
    std::string path = r["path"];
    if (contains(path, "small.bin")) EXPECT_EQ(header(r, "x-goog-hash"), "crc32c=" + crc_base64(f.small));
    if (contains(path, "mid.bin")) EXPECT_EQ(header(r, "x-goog-hash"), "crc32c=" + crc_base64(f.mid));
    if (contains(path, "manifest")) EXPECT_TRUE(contains(header(r, "x-goog-hash"), "crc32c=")) << describe(r);
  }
  each_part(requests, f.big, [](const json& p, const std::string& slice) {
    EXPECT_EQ(header(p, "x-goog-hash"), "crc32c=" + crc_base64(slice)) << describe(p);
  });
  auto completes = where(requests, is_complete);
  ASSERT_EQ(completes.size(), 1u) << summary(requests);
  EXPECT_FALSE(contains(completes[0].value("body_head", std::string()), "Checksum")) << completes[0].dump();

  // Restore into an empty directory from the same store.
  TempDir again;
  TaskRun r = run_task(again, env, b, TaskOptions{.command = "exit 3", .extra_args = {"--restore"},
                                                  .url = "gs://" + b + "/run"});
  auto restore = checkpoint_status(r)["restore"];
  ASSERT_EQ(restore["ok"], true) << restore.dump() << r.run.err;
  EXPECT_EQ(restore["files_restored"], 3) << restore.dump();
  EXPECT_EQ(read_file(again.path() / "data" / "big.bin"), f.big);
  EXPECT_EQ(read_file(again.path() / "data" / "mid.bin"), f.mid);
  EXPECT_EQ(read_file(again.path() / "data" / "small.bin"), f.small);
}

// tos://: virtual-hosted at the endpoint (Host <bucket>.<endpoint>, path without the
// bucket), signed for the region of the tos-s3-<region> host with TOS_ACCESS_KEY, and no
// checksum headers by default.
TEST_F(OtherStores, TosIsVirtualHostedAndSignedForTheEndpointsRegion) {
  const std::string b = bucket();
  TempDir dir;
  Files f = write_files(dir, /*big=*/false);
  FaultProxy proxy(moto());
  const std::string endpoint = "tos-s3-cn-beijing.localhost:" + std::to_string(proxy.port());
  auto env = store_env({"TOS_ACCESS_KEY=AKLTEXAMPLE", "TOS_SECRET_KEY=" + kSecret,
                        "TOS_ENDPOINT_URL=http://" + endpoint});
  TaskRun t = run_task(dir, env, b, TaskOptions{.url = "tos://" + endpoint + "/" + b + "/run"});
  expect_task_outcome_unchanged(t);
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  StoreCheck stored = judge(b);
  ASSERT_TRUE(stored.ok()) << stored.report();
  EXPECT_EQ(stored.vouched, 2u) << stored.report();
  auto requests = proxy.requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) {
    EXPECT_EQ(header(r, "Host"), b + "." + endpoint) << describe(r);
    EXPECT_NE(std::string(r["path"]).rfind("/" + b, 0), 0u) << describe(r);  // the bucket is in the Host
    EXPECT_TRUE(contains(header(r, "Authorization"), "Credential=AKLTEXAMPLE/")) << describe(r);
    EXPECT_TRUE(contains(header(r, "Authorization"), "/cn-beijing/s3/aws4_request")) << describe(r);
    EXPECT_EQ(aws_checksum_headers(r), std::vector<std::string>{}) << describe(r);
    EXPECT_EQ(header(r, "x-goog-hash"), "") << describe(r);
  }
  EXPECT_EQ(read_file(dir.path() / "data" / "mid.bin"), f.mid);
}

// swift://: path-style at SWIFT_ENDPOINT_URL (the account is OSMO's, not in the path),
// signed for SWIFT_REGION; checksum headers only when asked for.
TEST_F(OtherStores, SwiftIsPathStyleAtTheEndpointAndSignedForSwiftRegion) {
  const std::string b = bucket();
  TempDir dir;
  Files f = write_files(dir);
  FaultProxy proxy(moto());
  const std::string endpoint = "127.0.0.1:" + std::to_string(proxy.port());
  auto env = store_env({"SWIFT_ACCESS_KEY_ID=tester:AUTH_test", "SWIFT_SECRET_ACCESS_KEY=" + kSecret,
                        "SWIFT_REGION=RegionOne", "SWIFT_ENDPOINT_URL=" + proxy.endpoint(),
                        "AWS_REQUEST_CHECKSUM_CALCULATION=when_supported"});
  TaskRun t = run_task(dir, env, b, TaskOptions{.url = "swift://" + endpoint + "/AUTH_test/" + b + "/run"});
  expect_task_outcome_unchanged(t);
  ASSERT_EQ(checkpoint_status(t)["final"]["ok"], true) << t.run.err;
  EXPECT_FALSE(contains(t.run.err, "is not a key of account")) << t.run.err;
  StoreCheck stored = judge(b);
  ASSERT_TRUE(stored.ok()) << stored.report();
  EXPECT_EQ(stored.vouched, 3u) << stored.report();
  auto requests = proxy.requests();
  for (const auto& r : requests) {
    EXPECT_EQ(header(r, "Host"), endpoint) << describe(r);
    EXPECT_EQ(std::string(r["path"]).rfind("/" + b, 0), 0u) << describe(r);  // path-style
    EXPECT_TRUE(contains(header(r, "Authorization"), "/RegionOne/s3/aws4_request")) << describe(r);
  }
  // Asked for: S3's checksum headers, right.
  each_part(requests, f.big, [](const json& p, const std::string& slice) {
    EXPECT_EQ(header(p, "x-amz-checksum-crc32c"), crc_base64(slice)) << describe(p);
  });
}

// A store without its credentials is refused at start-up (125), naming the variables
// and never a value; the command does not run.
TEST_F(OtherStores, MissingCredentialsAreFoundAtStartUp) {
  struct Case {
    std::string url;
    std::vector<std::string> env;
    std::string says;
  };
  for (const Case& c : {Case{"gs://bucket/run", {"GS_ACCESS_KEY_ID=K"}, "GS_SECRET_ACCESS_KEY is not set"},
                        Case{"tos://tos-s3-cn-beijing.volces.com/bucket/run", {}, "no TOS credentials"},
                        Case{"swift://swift.example.com/AUTH_a/bucket/run", {"SWIFT_SECRET_ACCESS_KEY=" + kSecret},
                             "SWIFT_ACCESS_KEY_ID is not set"},
                        Case{"tos://tos.example.com/bucket", {"TOS_ACCESS_KEY=K", "TOS_SECRET_KEY=" + kSecret},
                             "set TOS_REGION"}}) {
    TempDir dir;
    write_files(dir, /*big=*/false);
    TaskRun t = run_task(dir, store_env(c.env), "bucket", TaskOptions{.command = "touch " + dir / "ran", .url = c.url});
    EXPECT_EQ(t.run.exit_code, 125) << c.url << "\n" << t.run.err;
    EXPECT_TRUE(contains(t.run.err, c.says)) << c.url << "\n" << t.run.err;
    EXPECT_FALSE(contains(t.run.err, kSecret)) << t.run.err;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "ran")) << c.url;
  }
}

}  // namespace
