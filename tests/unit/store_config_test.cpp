// SPEC.md "Data stores": gs://, tos:// and swift:// speak the S3 protocol; each has its
// own credentials, endpoint, addressing, signing region and checksum headers (README,
// "Stores").
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "supervise/s3/config.hpp"
#include "supervise/s3/request.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::s3 {
namespace {

const std::string kSecret = "gsSECRETgsSECRET/secret/key+slash=";

using Vars = std::map<std::string, std::string>;

Result<Config> resolve(const std::string& text, const Vars& vars) {
  auto url = spec::parse_store_url(text);
  EXPECT_TRUE(url.ok()) << url.error();
  auto getenv = [&vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  auto no_file = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return resolve_store_config(*url, getenv, no_file);
}

TEST(GsConfig, HmacKeysAtStorageGoogleapisPathStyleWithGoogHashes) {
  auto c = resolve("gs://bucket/p", {{"GS_ACCESS_KEY_ID", "GOOG1EKEY"}, {"GS_SECRET_ACCESS_KEY", kSecret},
                                     {"AWS_ACCESS_KEY_ID", "AKIDNOTUSED"}, {"AWS_SECRET_ACCESS_KEY", "x"}});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->credentials.access_key_id, "GOOG1EKEY");
  EXPECT_EQ(c->credentials.secret_access_key, kSecret);
  EXPECT_EQ(c->endpoint, "https://storage.googleapis.com");
  EXPECT_TRUE(c->path_style);
  EXPECT_EQ(c->region, "auto");
  EXPECT_EQ(c->display_root, "gs://");
  EXPECT_EQ(c->checksum_headers, Config::ChecksumHeaders::kGoog);
  EXPECT_TRUE(c->request_checksums);
  EXPECT_FALSE(c->response_checksums);  // x-amz-checksum-mode is S3's alone
  EXPECT_EQ(object_url(*c, "bucket", "p/a b"), "https://storage.googleapis.com/bucket/p/a%20b");
}

TEST(GsConfig, EndpointOverrideAndSettings) {
  auto c = resolve("gs://bucket", {{"GS_ACCESS_KEY_ID", "K"},
                                   {"GS_SECRET_ACCESS_KEY", kSecret},
                                   {"GS_ENDPOINT_URL", "http://127.0.0.1:4443/"},
                                   {"AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported"},
                                   {"SUPERVISE_S3_MAX_CONCURRENT_REQUESTS", "3"}});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:4443");
  EXPECT_FALSE(c->response_checksums);
  EXPECT_EQ(c->max_concurrent_requests, 3u);
  auto off = resolve("gs://bucket", {{"GS_ACCESS_KEY_ID", "K"},
                                     {"GS_SECRET_ACCESS_KEY", kSecret},
                                     {"AWS_REQUEST_CHECKSUM_CALCULATION", "when_required"}});
  ASSERT_TRUE(off.ok()) << off.error();
  EXPECT_FALSE(off->request_checksums);
}

TEST(TosConfig, VirtualHostedWithTheRegionOfTheEndpoint) {
  auto c = resolve("tos://tos-s3-cn-beijing.volces.com/bucket/p",
                   {{"TOS_ACCESS_KEY", "AKLT"}, {"TOS_SECRET_KEY", kSecret}, {"TOS_SECURITY_TOKEN", "tok"}});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->credentials.access_key_id, "AKLT");
  EXPECT_EQ(c->credentials.session_token, "tok");
  EXPECT_EQ(c->region, "cn-beijing");
  EXPECT_FALSE(c->path_style);
  EXPECT_EQ(c->display_root, "tos://tos-s3-cn-beijing.volces.com/");
  EXPECT_EQ(object_url(*c, "bucket", "p/k"), "https://bucket.tos-s3-cn-beijing.volces.com/p/k");
  EXPECT_FALSE(c->request_checksums);  // unless asked
  EXPECT_FALSE(c->response_checksums);
}

TEST(TosConfig, OverrideKeepsVirtualHostingAndChecksumsCanBeAsked) {
  auto c = resolve("tos://tos-s3-ap-southeast-1.localhost:9000/bucket",
                   {{"TOS_ACCESS_KEY", "AKLT"},
                    {"TOS_SECRET_KEY", kSecret},
                    {"TOS_ENDPOINT_URL", "http://tos-s3-ap-southeast-1.localhost:9000"},
                    {"AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported"}});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->region, "ap-southeast-1");
  EXPECT_EQ(object_url(*c, "bucket", "k"), "http://bucket.tos-s3-ap-southeast-1.localhost:9000/k");
  EXPECT_TRUE(c->request_checksums);
  EXPECT_EQ(c->checksum_headers, Config::ChecksumHeaders::kAmz);
}

TEST(TosConfig, RegionFromTosRegionElseAnError) {
  auto c = resolve("tos://tos.example.com/bucket",
                   {{"TOS_ACCESS_KEY", "AKLT"}, {"TOS_SECRET_KEY", kSecret}, {"TOS_REGION", "cn-shanghai"}});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->region, "cn-shanghai");
  auto bad = resolve("tos://tos.example.com/bucket", {{"TOS_ACCESS_KEY", "AKLT"}, {"TOS_SECRET_KEY", kSecret}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(),
            "cannot tell the region of tos://tos.example.com: its endpoint is not tos-s3-<region>.<domain>; set "
            "TOS_REGION");
}

TEST(SwiftConfig, PathStyleAtTheEndpoint) {
  auto c = resolve("swift://swift.example.com/AUTH_team/bucket/p",
                   {{"SWIFT_ACCESS_KEY_ID", "team:user"}, {"SWIFT_SECRET_ACCESS_KEY", kSecret}});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_TRUE(c->path_style);
  EXPECT_EQ(c->display_root, "swift://swift.example.com/AUTH_team/");
  EXPECT_EQ(object_url(*c, "bucket", "p/k"), "https://swift.example.com/bucket/p/k");
  EXPECT_FALSE(c->request_checksums);
  auto o = resolve("swift://swift.example.com/AUTH_team/bucket",
                   {{"SWIFT_ACCESS_KEY_ID", "k"},
                    {"SWIFT_SECRET_ACCESS_KEY", kSecret},
                    {"SWIFT_REGION", "RegionOne"},
                    {"SWIFT_ENDPOINT_URL", "http://127.0.0.1:8080"}});
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(o->region, "RegionOne");
  EXPECT_EQ(object_url(*o, "bucket", "k"), "http://127.0.0.1:8080/bucket/k");
}

struct BadRow {
  std::string name;
  std::string url;
  Vars vars;
  std::string error;  // exact
};
void PrintTo(const BadRow& row, std::ostream* os) { *os << row.name; }

class StoreConfigErrors : public ::testing::TestWithParam<BadRow> {};

TEST_P(StoreConfigErrors, NameTheVariablesNeverAValue) {
  auto c = resolve(GetParam().url, GetParam().vars);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), GetParam().error);
  EXPECT_EQ(c.error().find(kSecret), std::string::npos) << c.error();
  EXPECT_EQ(c.error().find("secret/key"), std::string::npos) << c.error();
}

INSTANTIATE_TEST_SUITE_P(
    Table, StoreConfigErrors,
    ::testing::Values(
        BadRow{"GsWithoutKeys", "gs://bucket", {{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", kSecret}},
               "no Cloud Storage credentials: GS_ACCESS_KEY_ID and GS_SECRET_ACCESS_KEY are not set (Cloud Storage "
               "HMAC keys)"},
        BadRow{"GsHalf", "gs://bucket", {{"GS_SECRET_ACCESS_KEY", kSecret}},
               "GS_ACCESS_KEY_ID is not set (GS_SECRET_ACCESS_KEY is) (Cloud Storage HMAC keys)"},
        BadRow{"GsBadEndpoint", "gs://bucket",
               {{"GS_ACCESS_KEY_ID", "K"}, {"GS_SECRET_ACCESS_KEY", kSecret}, {"GS_ENDPOINT_URL", "u:SECRET@host"}},
               "GS_ENDPOINT_URL \"***@host\" is not an http:// or https:// URL"},
        BadRow{"TosWithoutKeys", "tos://tos-s3-cn-beijing.volces.com/bucket", {},
               "no TOS credentials: TOS_ACCESS_KEY and TOS_SECRET_KEY are not set"},
        BadRow{"SwiftWithoutKeys", "swift://host/AUTH_a/bucket", {{"SWIFT_ACCESS_KEY_ID", "k"}},
               "SWIFT_SECRET_ACCESS_KEY is not set (SWIFT_ACCESS_KEY_ID is)"},
        BadRow{"SwiftBadSetting", "swift://host/AUTH_a/bucket",
               {{"SWIFT_ACCESS_KEY_ID", "k"},
                {"SWIFT_SECRET_ACCESS_KEY", kSecret},
                {"SUPERVISE_S3_MAX_CONCURRENT_REQUESTS", "0"}},
               "SUPERVISE_S3_MAX_CONCURRENT_REQUESTS \"0\" is not a number from 1 to 256"}));

}  // namespace
}  // namespace supervise::s3
