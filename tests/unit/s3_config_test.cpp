// SPEC.md "Data stores" (s3://): credentials, region and endpoint resolved the way the
// AWS tools do, with errors that say what is missing and never show a secret.
#include "supervise/s3/config.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace supervise::s3 {
namespace {

// Distinctive values: an error message holding any of them leaks a secret.
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET";
const std::string kToken = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJH";
const std::string kFileSecret = "fileSECRETfileSECRET/with+slash=";
const std::string kFileToken = "fileTOKENfileTOKEN";

using Vars = std::map<std::string, std::string>;
using Files = std::map<std::string, std::string>;

struct Lookups {
  Vars env;
  Files files;
  std::vector<std::string> read;  // the paths read_file was asked for

  GetEnv getenv() {
    return [this](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
  }
  ReadFile read_file() {
    return [this](const std::string& path) -> std::optional<std::string> {
      read.push_back(path);
      auto it = files.find(path);
      if (it == files.end()) return std::nullopt;
      return it->second;
    };
  }
  Result<Config> resolve() { return resolve_config(getenv(), read_file()); }
};

void expect_no_secret(const std::string& message) {
  for (const std::string& s : {kSecret, kToken, kFileSecret, kFileToken}) {
    EXPECT_EQ(message.find(s), std::string::npos) << "the message shows a secret: " << message;
  }
  // Not even a recognisable piece of one.
  for (const char* piece : {"EMI/K7MDENG", "EXAMPLETOKEN", "fileSECRETfile", "fileTOKENfile", "devsecret"}) {
    EXPECT_EQ(message.find(piece), std::string::npos) << "the message shows part of a secret: " << message;
  }
}

// --- credentials ---------------------------------------------------------------------

struct CredRow {
  std::string name;
  Vars env;
  Files files;
  // Expected on success:
  std::string key, secret, token, source;
  // Expected on failure (all must appear in the message); empty: success expected.
  std::vector<std::string> error_has;
};
void PrintTo(const CredRow& row, std::ostream* os) { *os << row.name; }

const std::string kDefaultFile =
    "# my keys\n"
    "; another comment\n"
    "\n"
    "[default]\n"
    "aws_access_key_id = AKIDFILEDEFAULT\n"
    "aws_secret_access_key = " +
    kFileSecret +
    "\n"
    "\n"
    "[dev]\n"
    "aws_access_key_id=AKIDFILEDEV\n"
    "aws_secret_access_key=devsecretSECRET\n"
    "aws_session_token=" +
    kFileToken + "\n";

class S3ConfigCredentials : public ::testing::TestWithParam<CredRow> {};

TEST_P(S3ConfigCredentials, Resolve) {
  const CredRow& row = GetParam();
  Lookups l{row.env, row.files, {}};
  auto config = l.resolve();
  if (row.error_has.empty()) {
    ASSERT_TRUE(config.ok()) << config.error();
    EXPECT_EQ(config->credentials.access_key_id, row.key);
    EXPECT_EQ(config->credentials.secret_access_key, row.secret);
    EXPECT_EQ(config->credentials.session_token, row.token);
    EXPECT_EQ(config->credentials.source, row.source);
    expect_no_secret(config->credentials.source);
  } else {
    ASSERT_FALSE(config.ok()) << "resolved key " << config->credentials.access_key_id;
    for (const auto& part : row.error_has)
      EXPECT_NE(config.error().find(part), std::string::npos) << "'" << part << "' not in: " << config.error();
    expect_no_secret(config.error());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, S3ConfigCredentials,
    ::testing::Values(
        CredRow{"EnvKeys", {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", kSecret}}, {},
                "AKIDENV", kSecret, "", "environment", {}},
        CredRow{"EnvKeysWithToken",
                {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", kSecret}, {"AWS_SESSION_TOKEN", kToken}},
                {},
                "AKIDENV",
                kSecret,
                kToken,
                "environment",
                {}},
        CredRow{"EmptyTokenIsNoToken",
                {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", kSecret}, {"AWS_SESSION_TOKEN", ""}},
                {},
                "AKIDENV",
                kSecret,
                "",
                "environment",
                {}},
        // Both or neither: one alone is an error naming the other, never a silent fallback.
        CredRow{"KeyWithoutSecret",
                {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"HOME", "/home/u"}},
                {{"/home/u/.aws/credentials", kDefaultFile}},
                "", "", "", "",
                {"AWS_SECRET_ACCESS_KEY", "not set"}},
        CredRow{"SecretWithoutKey",
                {{"AWS_SECRET_ACCESS_KEY", kSecret}, {"AWS_SESSION_TOKEN", kToken}, {"HOME", "/home/u"}},
                {{"/home/u/.aws/credentials", kDefaultFile}},
                "", "", "", "",
                {"AWS_ACCESS_KEY_ID", "not set"}},
        CredRow{"EmptyEnvValuesCountAsUnset",
                {{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}, {"HOME", "/home/u"}},
                {{"/home/u/.aws/credentials", kDefaultFile}},
                "AKIDFILEDEFAULT", kFileSecret, "", "/home/u/.aws/credentials [default]", {}},
        // The environment wins over the file.
        CredRow{"EnvWinsOverFile",
                {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", kSecret}, {"HOME", "/home/u"},
                 {"AWS_PROFILE", "dev"}},
                {{"/home/u/.aws/credentials", kDefaultFile}},
                "AKIDENV", kSecret, "", "environment", {}},
        CredRow{"HomeCredentialsFile", {{"HOME", "/home/u"}}, {{"/home/u/.aws/credentials", kDefaultFile}},
                "AKIDFILEDEFAULT", kFileSecret, "", "/home/u/.aws/credentials [default]", {}},
        CredRow{"SharedCredentialsFileWinsOverHome",
                {{"HOME", "/home/u"}, {"AWS_SHARED_CREDENTIALS_FILE", "/etc/aws/creds"}},
                {{"/home/u/.aws/credentials", "[default]\naws_access_key_id=WRONG\naws_secret_access_key=WRONG\n"},
                 {"/etc/aws/creds", kDefaultFile}},
                "AKIDFILEDEFAULT", kFileSecret, "", "/etc/aws/creds [default]", {}},
        CredRow{"SharedCredentialsFileWithTilde",
                {{"HOME", "/home/u"}, {"AWS_SHARED_CREDENTIALS_FILE", "~/keys/creds"}},
                {{"/home/u/keys/creds", kDefaultFile}},
                "AKIDFILEDEFAULT", kFileSecret, "", "/home/u/keys/creds [default]", {}},
        CredRow{"ProfileFromAwsProfile",
                {{"HOME", "/home/u"}, {"AWS_PROFILE", "dev"}},
                {{"/home/u/.aws/credentials", kDefaultFile}},
                "AKIDFILEDEV", "devsecretSECRET", kFileToken, "/home/u/.aws/credentials [dev]", {}},
        CredRow{"ProfileKeywordForm",
                {{"HOME", "/home/u"}, {"AWS_PROFILE", "ci"}},
                {{"/home/u/.aws/credentials",
                  "[default]\naws_access_key_id=AKIDD\naws_secret_access_key=dd\n"
                  "[profile ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=cisecret\n"}},
                "AKIDCI", "cisecret", "", "/home/u/.aws/credentials [ci]", {}},
        // CRLF line ends, blanks around names and '=', upper-case key names, '=' and '#'
        // inside a value, comments, a later section not leaking into the profile.
        CredRow{"SyntaxVariants",
                {{"HOME", "/home/u"}},
                {{"/home/u/.aws/credentials",
                  "\r\n# comment = not a key\r\n  [ default ]  \r\n"
                  "  AWS_ACCESS_KEY_ID   =   AKIDSPACED  \r\n"
                  "; aws_access_key_id = COMMENTED\r\n"
                  "#aws_secret_access_key = COMMENTED\r\n"
                  "aws_secret_access_key=abc=def#ghi/+\r\n"
                  "region = eu-west-1\r\n"
                  "[other]\r\naws_session_token = NOT-MINE\r\naws_access_key_id = NOT-MINE\r\n"}},
                "AKIDSPACED", "abc=def#ghi/+", "", "/home/u/.aws/credentials [default]", {}},
        CredRow{"MissingProfile",
                {{"HOME", "/home/u"}, {"AWS_PROFILE", "prod"}},
                {{"/home/u/.aws/credentials", kDefaultFile}},
                "", "", "", "",
                {"no S3 credentials", "/home/u/.aws/credentials", "[prod]"}},
        CredRow{"ProfileLacksSecret",
                {{"HOME", "/home/u"}, {"AWS_PROFILE", "half"}},
                {{"/home/u/.aws/credentials",
                  "[half]\naws_access_key_id = AKIDHALF\naws_session_token = " + kFileToken + "\n"}},
                "", "", "", "",
                {"no S3 credentials", "[half]", "aws_secret_access_key"}},
        CredRow{"ProfileLacksKey",
                {{"HOME", "/home/u"}},
                {{"/home/u/.aws/credentials", "[default]\naws_secret_access_key = " + kFileSecret + "\n"}},
                "", "", "", "",
                {"no S3 credentials", "[default]", "aws_access_key_id"}},
        CredRow{"UnreadableFile",
                {{"AWS_SHARED_CREDENTIALS_FILE", "/nowhere/creds"}, {"HOME", "/home/u"}},
                {{"/home/u/.aws/credentials", kDefaultFile}},
                "", "", "", "",
                {"no S3 credentials", "AWS_ACCESS_KEY_ID", "/nowhere/creds"}},
        CredRow{"NoHomeNoEnv", {}, {}, "", "", "", "", {"no S3 credentials", "HOME"}}),
    [](const ::testing::TestParamInfo<CredRow>& p) { return p.param.name; });

TEST(S3ConfigCredentialsFile, ReadsOnlyTheFileItNeeds) {
  Lookups env_only{{{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "B"}, {"HOME", "/home/u"}}, {}, {}};
  ASSERT_TRUE(env_only.resolve().ok());
  EXPECT_TRUE(env_only.read.empty()) << "read " << env_only.read.front();

  Lookups file{{{"HOME", "/home/u"}}, {{"/home/u/.aws/credentials", kDefaultFile}}, {}};
  ASSERT_TRUE(file.resolve().ok());
  EXPECT_EQ(file.read, std::vector<std::string>{"/home/u/.aws/credentials"});
}

TEST(S3ConfigCredentialsFile, ParseProfiles) {
  auto d = parse_credentials_file(kDefaultFile, "default");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->access_key_id, "AKIDFILEDEFAULT");
  EXPECT_EQ(d->secret_access_key, kFileSecret);
  EXPECT_EQ(d->session_token, "");
  auto dev = parse_credentials_file(kDefaultFile, "dev");
  ASSERT_TRUE(dev.has_value());
  EXPECT_EQ(dev->access_key_id, "AKIDFILEDEV");
  EXPECT_EQ(dev->session_token, kFileToken);
  EXPECT_FALSE(parse_credentials_file(kDefaultFile, "prod").has_value());
  EXPECT_FALSE(parse_credentials_file("", "default").has_value());
  // Profile names are matched whole and case-sensitively.
  EXPECT_FALSE(parse_credentials_file(kDefaultFile, "de").has_value());
  EXPECT_FALSE(parse_credentials_file(kDefaultFile, "Default").has_value());
  // A key=value line outside any section belongs to no profile.
  auto stray = parse_credentials_file("aws_access_key_id = STRAY\n[default]\naws_secret_access_key = s\n", "default");
  ASSERT_TRUE(stray.has_value());
  EXPECT_EQ(stray->access_key_id, "");
  // No trailing newline.
  auto last = parse_credentials_file("[x]\naws_access_key_id=K\naws_secret_access_key=S", "x");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->secret_access_key, "S");
}

// --- region --------------------------------------------------------------------------

struct RegionRow {
  std::string name;
  Vars env;
  std::string region;
};
void PrintTo(const RegionRow& row, std::ostream* os) { *os << row.name; }

class S3ConfigRegion : public ::testing::TestWithParam<RegionRow> {};

TEST_P(S3ConfigRegion, Precedence) {
  Vars env = GetParam().env;
  env["AWS_ACCESS_KEY_ID"] = "AKID";
  env["AWS_SECRET_ACCESS_KEY"] = kSecret;
  Lookups l{env, {}, {}};
  auto config = l.resolve();
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->region, GetParam().region);
}

INSTANTIATE_TEST_SUITE_P(
    Table, S3ConfigRegion,
    ::testing::Values(RegionRow{"Default", {}, "us-east-1"},
                      RegionRow{"AwsRegion", {{"AWS_REGION", "eu-west-3"}}, "eu-west-3"},
                      RegionRow{"AwsDefaultRegion", {{"AWS_DEFAULT_REGION", "ap-south-1"}}, "ap-south-1"},
                      RegionRow{"AwsRegionWins",
                                {{"AWS_REGION", "eu-west-3"}, {"AWS_DEFAULT_REGION", "ap-south-1"}},
                                "eu-west-3"},
                      RegionRow{"EmptyAwsRegionIsUnset",
                                {{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", "ap-south-1"}},
                                "ap-south-1"},
                      RegionRow{"BothEmpty", {{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", ""}}, "us-east-1"}),
    [](const ::testing::TestParamInfo<RegionRow>& p) { return p.param.name; });

// --- endpoint ------------------------------------------------------------------------

struct EndpointRow {
  std::string name;
  Vars env;
  std::string endpoint;  // expected; with error_has empty
  bool path_style = false;
  std::vector<std::string> error_has;
  std::vector<std::string> error_lacks;
};
void PrintTo(const EndpointRow& row, std::ostream* os) { *os << row.name; }

class S3ConfigEndpoint : public ::testing::TestWithParam<EndpointRow> {};

TEST_P(S3ConfigEndpoint, Resolve) {
  const EndpointRow& row = GetParam();
  Vars env = row.env;
  env["AWS_ACCESS_KEY_ID"] = "AKID";
  env["AWS_SECRET_ACCESS_KEY"] = kSecret;
  env["AWS_SESSION_TOKEN"] = kToken;
  Lookups l{env, {}, {}};
  auto config = l.resolve();
  if (row.error_has.empty()) {
    ASSERT_TRUE(config.ok()) << config.error();
    EXPECT_EQ(config->endpoint, row.endpoint);
    EXPECT_EQ(config->path_style, row.path_style);
  } else {
    ASSERT_FALSE(config.ok()) << config->endpoint;
    for (const auto& part : row.error_has)
      EXPECT_NE(config.error().find(part), std::string::npos) << "'" << part << "' not in: " << config.error();
    for (const auto& part : row.error_lacks)
      EXPECT_EQ(config.error().find(part), std::string::npos) << "'" << part << "' in: " << config.error();
    expect_no_secret(config.error());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, S3ConfigEndpoint,
    ::testing::Values(
        EndpointRow{"AwsItself", {}, "", false, {}, {}},
        EndpointRow{"Generic", {{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}}, "http://127.0.0.1:9000", true, {}, {}},
        EndpointRow{"S3Specific", {{"AWS_ENDPOINT_URL_S3", "https://minio.local"}}, "https://minio.local", true, {}, {}},
        EndpointRow{"S3SpecificWins",
                    {{"AWS_ENDPOINT_URL_S3", "http://s3.local:9000"}, {"AWS_ENDPOINT_URL", "http://other:1"}},
                    "http://s3.local:9000",
                    true,
                    {},
                    {}},
        EndpointRow{"EmptyS3SpecificIsUnset",
                    {{"AWS_ENDPOINT_URL_S3", ""}, {"AWS_ENDPOINT_URL", "http://other:1"}},
                    "http://other:1",
                    true,
                    {},
                    {}},
        EndpointRow{"TrailingSlash", {{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"}}, "http://127.0.0.1:9000", true,
                    {}, {}},
        EndpointRow{"TrailingSlashes", {{"AWS_ENDPOINT_URL_S3", "https://h:1/s3///"}}, "https://h:1/s3", true, {},
                    {}},
        EndpointRow{"NoScheme", {{"AWS_ENDPOINT_URL", "127.0.0.1:9000"}}, "", false,
                    {"127.0.0.1:9000", "http://"}, {}},
        EndpointRow{"OtherScheme", {{"AWS_ENDPOINT_URL_S3", "ftp://files.local"}}, "", false,
                    {"ftp://files.local"}, {}},
        // A password in a bad endpoint is not shown either.
        EndpointRow{"BadEndpointWithPassword",
                    {{"AWS_ENDPOINT_URL", "ftp://user:hunter2@files.local"}},
                    "",
                    false,
                    {"files.local"},
                    {"hunter2"}},
        EndpointRow{"BadEndpointWithPasswordNoScheme",
                    {{"AWS_ENDPOINT_URL", "user:hunter2@files.local:9000"}},
                    "",
                    false,
                    {"files.local"},
                    {"hunter2"}}),
    [](const ::testing::TestParamInfo<EndpointRow>& p) { return p.param.name; });

// Every way resolve_config can fail, with secrets present wherever they can be: no
// message shows one.
TEST(S3ConfigSecrets, NoErrorMessageShowsASecretOrToken) {
  const std::string file_with_secrets = "[default]\naws_secret_access_key = " + kFileSecret +
                                        "\naws_session_token = " + kFileToken + "\n[other]\naws_access_key_id=X\n";
  std::vector<Lookups> cases = {
      {{{"AWS_SECRET_ACCESS_KEY", kSecret}, {"AWS_SESSION_TOKEN", kToken}}, {}, {}},
      {{{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SESSION_TOKEN", kToken}}, {}, {}},
      {{{"HOME", "/h"}, {"AWS_SESSION_TOKEN", kToken}}, {{"/h/.aws/credentials", file_with_secrets}}, {}},
      {{{"HOME", "/h"}, {"AWS_PROFILE", "missing"}}, {{"/h/.aws/credentials", file_with_secrets}}, {}},
      {{{"HOME", "/h"}, {"AWS_PROFILE", "other"}}, {{"/h/.aws/credentials", file_with_secrets}}, {}},
      {{{"AWS_ACCESS_KEY_ID", "AKID"},
        {"AWS_SECRET_ACCESS_KEY", kSecret},
        {"AWS_SESSION_TOKEN", kToken},
        {"AWS_ENDPOINT_URL", "nonsense"}},
       {},
       {}},
  };
  for (auto& c : cases) {
    auto config = c.resolve();
    ASSERT_FALSE(config.ok()) << config->credentials.source;
    EXPECT_FALSE(config.error().empty());
    expect_no_secret(config.error());
  }
}

}  // namespace
}  // namespace supervise::s3

namespace supervise::s3 {
namespace {

TEST(S3ConfigCaBundle, FromAwsCaBundleOnly) {
  Vars env = {{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "s"}};
  Lookups without{env, {}, {}};
  auto none = without.resolve();
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_EQ(none->ca_bundle, "");
  env["AWS_CA_BUNDLE"] = "/etc/ssl/private-ca.pem";
  Lookups with{env, {}, {}};
  auto set = with.resolve();
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(set->ca_bundle, "/etc/ssl/private-ca.pem");
}

}  // namespace
}  // namespace supervise::s3

namespace supervise::s3 {
namespace {

// SUPERVISE_S3_MULTIPART_THRESHOLD: binary suffixes as the AWS CLI reads them, bounded by
// S3's smallest part (5 MiB) and largest single PutObject (5 GiB).
struct ThresholdRow {
  std::string text;
  std::optional<std::uint64_t> bytes;  // nullopt: an error naming the variable and value
};

class S3MultipartThreshold : public ::testing::TestWithParam<ThresholdRow> {};

TEST_P(S3MultipartThreshold, Parses) {
  const ThresholdRow& row = GetParam();
  auto got = parse_multipart_threshold(row.text);
  if (row.bytes) {
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(*got, *row.bytes);
  } else {
    ASSERT_FALSE(got.ok()) << *got;
    EXPECT_NE(got.error().find("SUPERVISE_S3_MULTIPART_THRESHOLD \"" + row.text + "\""), std::string::npos)
        << got.error();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, S3MultipartThreshold,
    ::testing::Values(ThresholdRow{"64MiB", 64ull << 20}, ThresholdRow{"64MB", 64ull << 20},
                      ThresholdRow{"64m", 64ull << 20}, ThresholdRow{"2GiB", 2ull << 30},
                      ThresholdRow{"5G", 5ull << 30}, ThresholdRow{"5120KiB", 5ull << 20},
                      ThresholdRow{"8388608", 8ull << 20}, ThresholdRow{"5242880b", 5ull << 20},
                      ThresholdRow{"5242879", std::nullopt}, ThresholdRow{"4MiB", std::nullopt},
                      ThresholdRow{"6G", std::nullopt}, ThresholdRow{"5368709121", std::nullopt},
                      ThresholdRow{"99999999999999999999999", std::nullopt}, ThresholdRow{"", std::nullopt},
                      ThresholdRow{"MiB", std::nullopt}, ThresholdRow{"64 MiB", std::nullopt},
                      ThresholdRow{"64TiB", std::nullopt}, ThresholdRow{"-1", std::nullopt},
                      ThresholdRow{"1.5G", std::nullopt}));

TEST(S3MultipartThreshold, FromTheEnvironment) {
  Vars env = {{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "s"}};
  auto unset = Lookups{env, {}, {}}.resolve();
  ASSERT_TRUE(unset.ok()) << unset.error();
  EXPECT_EQ(unset->multipart_threshold, kDefaultMultipartThreshold);
  env["SUPERVISE_S3_MULTIPART_THRESHOLD"] = "2GiB";
  auto set = Lookups{env, {}, {}}.resolve();
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(set->multipart_threshold, 2ull << 30);
  env["SUPERVISE_S3_MULTIPART_THRESHOLD"] = "lots";
  auto bad = Lookups{env, {}, {}}.resolve();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("SUPERVISE_S3_MULTIPART_THRESHOLD \"lots\""), std::string::npos) << bad.error();
}

// Issue 16's settings: the part size and the parts in flight (as the AWS CLI names them),
// and the AWS SDKs' checksum settings.
TEST(S3TransferSettings, FromTheEnvironment) {
  Vars env = {{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "s"}};
  auto unset = Lookups{env, {}, {}}.resolve();
  ASSERT_TRUE(unset.ok()) << unset.error();
  EXPECT_EQ(unset->part_size, kDefaultPartSize);
  EXPECT_EQ(unset->max_concurrent_requests, kDefaultConcurrentRequests);
  EXPECT_TRUE(unset->request_checksums);
  EXPECT_TRUE(unset->response_checksums);
  env["SUPERVISE_S3_MULTIPART_CHUNKSIZE"] = "16MiB";
  env["SUPERVISE_S3_MAX_CONCURRENT_REQUESTS"] = "4";
  env["AWS_REQUEST_CHECKSUM_CALCULATION"] = "WHEN_REQUIRED";
  env["AWS_RESPONSE_CHECKSUM_VALIDATION"] = "when_required";
  auto set = Lookups{env, {}, {}}.resolve();
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(set->part_size, 16ull << 20);
  EXPECT_EQ(set->max_concurrent_requests, 4u);
  EXPECT_FALSE(set->request_checksums);
  EXPECT_FALSE(set->response_checksums);
  env["AWS_REQUEST_CHECKSUM_CALCULATION"] = "when_supported";
  auto back = Lookups{env, {}, {}}.resolve();
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->request_checksums);
}

TEST(S3TransferSettings, BadValuesAreNamed) {
  struct Row {
    std::string name, value, message;
  };
  for (const Row& row : std::vector<Row>{
           {"SUPERVISE_S3_MULTIPART_CHUNKSIZE", "1MiB", "is below 5MiB"},
           {"SUPERVISE_S3_MULTIPART_CHUNKSIZE", "big", "is not a size"},
           {"SUPERVISE_S3_MAX_CONCURRENT_REQUESTS", "0", "is not a number from 1 to 256"},
           {"SUPERVISE_S3_MAX_CONCURRENT_REQUESTS", "257", "is not a number from 1 to 256"},
           {"SUPERVISE_S3_MAX_CONCURRENT_REQUESTS", "-3", "is not a number from 1 to 256"},
           {"SUPERVISE_S3_MAX_CONCURRENT_REQUESTS", "8x", "is not a number from 1 to 256"},
           {"AWS_REQUEST_CHECKSUM_CALCULATION", "never", "is not when_supported or when_required"},
           {"AWS_RESPONSE_CHECKSUM_VALIDATION", "off", "is not when_supported or when_required"},
       }) {
    Vars env = {{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "s"}, {row.name, row.value}};
    auto got = Lookups{env, {}, {}}.resolve();
    ASSERT_FALSE(got.ok()) << row.name << "=" << row.value;
    EXPECT_NE(got.error().find(row.name + " \"" + row.value + "\" " + row.message), std::string::npos) << got.error();
  }
}

}  // namespace
}  // namespace supervise::s3
