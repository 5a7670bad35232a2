// Azure configuration: the credential order of SPEC.md (connection string, account and
// key, SAS token), endpoints (Azure's, a BlobEndpoint, Azurite's), and errors that name
// the variables but never a secret.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "supervise/azure/config.hpp"

namespace supervise::azure {
namespace {

using Env = std::map<std::string, std::string>;

s3::GetEnv getenv_of(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

// Azurite's well-known key, and a key of the same form for other accounts.
const std::string kKey = kDevelopmentKey;
const std::string kSecretMarker = "c2VjcmV0LWtleS1ieXRlcw==";  // base64 of "secret-key-bytes"

Result<Config> resolve(const std::string& account, const Env& env) {
  return resolve_config(account, getenv_of(env));
}

void expect_no_secret(const std::string& message) {
  EXPECT_EQ(message.find(kKey), std::string::npos) << message;
  EXPECT_EQ(message.find(kSecretMarker), std::string::npos) << message;
  EXPECT_EQ(message.find("sig="), std::string::npos) << message;
  EXPECT_EQ(message.find("SIGNATURE"), std::string::npos) << message;
}

TEST(AzureConnectionString, ParsesKeysInAnyCaseAndValuesWithEquals) {
  auto s = parse_connection_string(
      "DefaultEndpointsProtocol=http;accountname=devstoreaccount1;ACCOUNTKEY=" + kKey +
      ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->at("defaultendpointsprotocol"), "http");
  EXPECT_EQ(s->at("accountname"), "devstoreaccount1");
  EXPECT_EQ(s->at("accountkey"), kKey);  // its '=' padding kept
  EXPECT_EQ(s->at("blobendpoint"), "http://127.0.0.1:10000/devstoreaccount1");
}

TEST(AzureConnectionString, RejectsAPartWithoutEqualsWithoutShowingIt) {
  auto s =
      parse_connection_string("AccountName=a;" + kSecretMarker.substr(0, 10) + ";AccountKey=x");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("part 2"), std::string::npos) << s.error();
  EXPECT_EQ(s.error().find(kSecretMarker.substr(0, 10)), std::string::npos) << s.error();
}

TEST(AzureConfig, ConnectionStringWithKeyAndBlobEndpoint) {
  auto c =
      resolve("devstoreaccount1",
              {{"AZURE_STORAGE_CONNECTION_STRING",
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + kKey +
                    ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"}});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->account, "devstoreaccount1");
  EXPECT_EQ(c->key.size(), 64u);  // the decoded key
  EXPECT_TRUE(c->sas.empty());
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_EQ(c->source, "AZURE_STORAGE_CONNECTION_STRING");
}

TEST(AzureConfig, ConnectionStringBuildsTheEndpointFromProtocolAndSuffix) {
  auto c = resolve("acct", {{"AZURE_STORAGE_CONNECTION_STRING",
                             "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" +
                                 kSecretMarker + ";EndpointSuffix=core.chinacloudapi.cn"}});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->endpoint, "https://acct.blob.core.chinacloudapi.cn");
  auto d = resolve("acct", {{"AZURE_STORAGE_CONNECTION_STRING",
                             "AccountName=acct;AccountKey=" + kSecretMarker}});
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->endpoint, "https://acct.blob.core.windows.net");
}

TEST(AzureConfig, ConnectionStringWithASas) {
  auto c = resolve(
      "acct",
      {{"AZURE_STORAGE_CONNECTION_STRING",
        "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2021-08-06&ss=b&"
        "srt=sco&sp=rwl&se=2030-01-01T00:00:00Z&sig=SIGNATURE%3D"}});
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->key.empty());
  EXPECT_EQ(c->sas, "sv=2021-08-06&ss=b&srt=sco&sp=rwl&se=2030-01-01T00:00:00Z&sig=SIGNATURE%3D");
  EXPECT_EQ(c->endpoint, "https://acct.blob.core.windows.net");  // the trailing '/' dropped
  EXPECT_EQ(c->account, "acct");                                 // no AccountName: the URL's
}

TEST(AzureConfig, UseDevelopmentStorage) {
  auto c = resolve("devstoreaccount1",
                   {{"AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"}});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_EQ(c->key.size(), 64u);
  auto other = resolve("acct", {{"AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"}});
  EXPECT_FALSE(other);
}

TEST(AzureConfig, TheConnectionStringComesFirst) {
  auto c = resolve(
      "acct", {{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=acct;AccountKey=" + kSecretMarker},
               {"AZURE_STORAGE_ACCOUNT", "acct"},
               {"AZURE_STORAGE_KEY", kKey},
               {"AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=x"}});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->key, "secret-key-bytes");
  EXPECT_EQ(c->source, "AZURE_STORAGE_CONNECTION_STRING");
}

TEST(AzureConfig, AccountAndKeyComeBeforeTheSasToken) {
  auto c = resolve("acct", {{"AZURE_STORAGE_ACCOUNT", "acct"},
                            {"AZURE_STORAGE_KEY", kSecretMarker},
                            {"AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=x"}});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->key, "secret-key-bytes");
  EXPECT_TRUE(c->sas.empty());
  EXPECT_EQ(c->endpoint, "https://acct.blob.core.windows.net");
  EXPECT_EQ(c->source, "AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY");
}

TEST(AzureConfig, SasTokenWithOrWithoutQuestionMark) {
  for (const std::string token :
       {"?sv=2021-08-06&sr=c&sp=rcw&sig=abc%2Bdef", "sv=2021-08-06&sr=c&sp=rcw&sig=abc%2Bdef"}) {
    auto c = resolve("acct", {{"AZURE_STORAGE_SAS_TOKEN", token},
                              {"AZURE_STORAGE_SERVICE_ENDPOINT", "http://127.0.0.1:10000/acct/"}});
    ASSERT_TRUE(c) << c.error();
    EXPECT_EQ(c->sas, "sv=2021-08-06&sr=c&sp=rcw&sig=abc%2Bdef");
    EXPECT_EQ(c->endpoint, "http://127.0.0.1:10000/acct");
    EXPECT_EQ(c->source, "AZURE_STORAGE_SAS_TOKEN");
  }
}

TEST(AzureConfig, ServiceEndpointOverridesTheConnectionStrings) {
  auto c = resolve(
      "devstoreaccount1",
      {{"AZURE_STORAGE_CONNECTION_STRING",
        "AccountName=devstoreaccount1;AccountKey=" + kKey + ";BlobEndpoint=http://127.0.0.1:1/x"},
       {"AZURE_STORAGE_SERVICE_ENDPOINT", "http://127.0.0.1:10000/devstoreaccount1"}});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
}

TEST(AzureConfig, MissingCredentialsNameTheVariables) {
  auto c = resolve("acct", {});
  ASSERT_FALSE(c);
  for (const char* name : {"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT",
                           "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN"})
    EXPECT_NE(c.error().find(name), std::string::npos) << c.error();
  // An account alone is not enough.
  EXPECT_FALSE(resolve("acct", {{"AZURE_STORAGE_ACCOUNT", "acct"}}));
  auto key_only = resolve("acct", {{"AZURE_STORAGE_KEY", kSecretMarker}});
  ASSERT_FALSE(key_only);
  EXPECT_NE(key_only.error().find("AZURE_STORAGE_ACCOUNT"), std::string::npos);
  expect_no_secret(key_only.error());
}

TEST(AzureConfig, TheAccountMustBeTheUrls) {
  auto a =
      resolve("acct", {{"AZURE_STORAGE_ACCOUNT", "other"}, {"AZURE_STORAGE_KEY", kSecretMarker}});
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().find("\"other\""), std::string::npos) << a.error();
  EXPECT_NE(a.error().find("\"acct\""), std::string::npos) << a.error();
  expect_no_secret(a.error());
  auto b = resolve("acct", {{"AZURE_STORAGE_CONNECTION_STRING",
                             "AccountName=other;AccountKey=" + kSecretMarker}});
  ASSERT_FALSE(b);
  expect_no_secret(b.error());
  EXPECT_FALSE(resolve(
      "acct", {{"AZURE_STORAGE_ACCOUNT", "other"}, {"AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=x"}}));
}

TEST(AzureConfig, AKeyThatIsNotBase64NamesTheVariableNotTheValue) {
  auto a = resolve(
      "acct", {{"AZURE_STORAGE_ACCOUNT", "acct"}, {"AZURE_STORAGE_KEY", "not base64!SECRETVALUE"}});
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().find("AZURE_STORAGE_KEY"), std::string::npos) << a.error();
  EXPECT_EQ(a.error().find("SECRETVALUE"), std::string::npos) << a.error();
  auto b = resolve(
      "acct", {{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=acct;AccountKey=%%SECRETVALUE"}});
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("AccountKey"), std::string::npos) << b.error();
  EXPECT_EQ(b.error().find("SECRETVALUE"), std::string::npos) << b.error();
}

TEST(AzureConfig, BadSasAndEndpoints) {
  auto sas = resolve("acct", {{"AZURE_STORAGE_SAS_TOKEN", "SIGNATURE-less-token"}});
  ASSERT_FALSE(sas);
  EXPECT_NE(sas.error().find("AZURE_STORAGE_SAS_TOKEN"), std::string::npos);
  expect_no_secret(sas.error());
  auto endpoint = resolve("acct", {{"AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=x"},
                                   {"AZURE_STORAGE_SERVICE_ENDPOINT", "127.0.0.1:10000/acct"}});
  ASSERT_FALSE(endpoint);
  EXPECT_NE(endpoint.error().find("AZURE_STORAGE_SERVICE_ENDPOINT"), std::string::npos);
  auto no_key = resolve(
      "acct", {{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=acct;BlobEndpoint=http://h"}});
  ASSERT_FALSE(no_key);
  EXPECT_NE(no_key.error().find("neither AccountKey nor SharedAccessSignature"), std::string::npos);
  auto protocol = resolve(
      "acct", {{"AZURE_STORAGE_CONNECTION_STRING",
                "AccountName=acct;AccountKey=" + kSecretMarker + ";DefaultEndpointsProtocol=ftp"}});
  EXPECT_FALSE(protocol);
}

TEST(AzureConfig, BlockSizeAndConcurrency) {
  Env env = {{"AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=x"}};
  auto d = resolve("acct", env);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->block_size, 8ull << 20);
  EXPECT_EQ(d->max_concurrent_requests, 8u);
  env["SUPERVISE_AZURE_BLOCK_SIZE"] = "16MiB";
  env["SUPERVISE_AZURE_MAX_CONCURRENT_REQUESTS"] = "32";
  auto c = resolve("acct", env);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->block_size, 16ull << 20);
  EXPECT_EQ(c->max_concurrent_requests, 32u);
  for (const char* big : {"4500MiB", "6GiB", "99999999999999"}) {
    env["SUPERVISE_AZURE_BLOCK_SIZE"] = big;
    auto too_big = resolve("acct", env);
    ASSERT_FALSE(too_big) << big;
    EXPECT_NE(too_big.error().find(std::string("SUPERVISE_AZURE_BLOCK_SIZE \"") + big +
                                   "\" is above 4000MiB, Azure's largest block"),
              std::string::npos)
        << too_big.error();
  }
  env["SUPERVISE_AZURE_BLOCK_SIZE"] = "4000MiB";
  auto largest = resolve("acct", env);
  ASSERT_TRUE(largest) << largest.error();
  EXPECT_EQ(largest->block_size, 4000ull << 20);
  env["SUPERVISE_AZURE_BLOCK_SIZE"] = "1KiB";
  auto small = resolve("acct", env);
  ASSERT_FALSE(small);
  EXPECT_NE(small.error().find("is below 5MiB, the smallest block supervise sends"), std::string::npos)
      << small.error();
  EXPECT_EQ(small.error().find("S3"), std::string::npos) << small.error();
  env["SUPERVISE_AZURE_BLOCK_SIZE"] = "8MiB";
  env["SUPERVISE_AZURE_MAX_CONCURRENT_REQUESTS"] = "0";
  auto bad = resolve("acct", env);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("SUPERVISE_AZURE_MAX_CONCURRENT_REQUESTS"), std::string::npos);
}

}  // namespace
}  // namespace supervise::azure
