// The pure parts of the Azure Blob protocol: URLs (Azure and Azurite style), the
// SharedKey string to sign and its signature, block ids, the block-list body, dates,
// which failures are retried; and the store's block sizes and blob-name rules.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "supervise/azure/request.hpp"
#include "supervise/azure/store.hpp"
#include "supervise/s3/curl_api.hpp"
#include "supervise/spec/base64.hpp"

namespace supervise::azure {
namespace {

TEST(AzureRequest, BlobUrls) {
  EXPECT_EQ(blob_url("https://acct.blob.core.windows.net", "ckpt", "run 1/a+b.bin"),
            "https://acct.blob.core.windows.net/ckpt/run%201/a%2Bb.bin");
  EXPECT_EQ(blob_url("http://127.0.0.1:10000/devstoreaccount1", "ckpt", "p/x",
                     "comp=block&blockid=QQ%3D%3D"),
            "http://127.0.0.1:10000/devstoreaccount1/ckpt/p/x?comp=block&blockid=QQ%3D%3D");
  EXPECT_EQ(blob_url("http://h:1", "c", "\xc3\xa9t\xc3\xa9"), "http://h:1/c/%C3%A9t%C3%A9");
}

TEST(AzureRequest, UrlPaths) {
  EXPECT_EQ(url_path("http://127.0.0.1:10000/devstoreaccount1/c/b?comp=block"),
            "/devstoreaccount1/c/b");
  EXPECT_EQ(url_path("https://acct.blob.core.windows.net/c/run%201/a"), "/c/run%201/a");
  EXPECT_EQ(url_path("https://acct.blob.core.windows.net"), "/");
}

// The expected strings and signatures below were made once, independently of this code,
// with python3's hmac, hashlib and base64 (the doc's layout written out by hand):
//   key = base64.b64decode(<Azurite's well-known key>)
//   sts = "\n".join(["PUT", "", "", "11", base64(md5(b"hello world")), "", "", "", "", "", "", "",
//                    "x-ms-blob-type:BlockBlob", "x-ms-date:Sun, 06 Dec 2026 06:07:41 GMT",
//                    "x-ms-version:2021-08-06",
//                    "/devstoreaccount1/devstoreaccount1/ckpt/run%201/a.bin"])
//   base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest())
// and likewise for the Put Block and the ranged GET.
const SignedRequest kPutBlob{"PUT",
                             11,
                             {"x-ms-version: 2021-08-06",
                              "Content-MD5: XrY7u+Ae7tCTyyK7j1rNww==", "x-ms-blob-type: BlockBlob",
                              "X-MS-Date: Sun, 06 Dec 2026 06:07:41 GMT"},
                             "devstoreaccount1",
                             "/devstoreaccount1/ckpt/run%201/a.bin",
                             {}};
const char* const kPutBlobString =
    "PUT\n\n\n11\nXrY7u+Ae7tCTyyK7j1rNww==\n\n\n\n\n\n\n\nx-ms-blob-type:BlockBlob\n"
    "x-ms-date:Sun, 06 Dec 2026 06:07:41 GMT\nx-ms-version:2021-08-06\n"
    "/devstoreaccount1/devstoreaccount1/ckpt/run%201/a.bin";
const char* const kPutBlobSignature = "FwfGMOft+DWi8nqZQSd/nqsfWe296qwoid9gO93XgzY=";

const SignedRequest kPutBlock{
    "PUT",
    4194304,
    {"x-ms-date: Sun, 06 Dec 2026 06:07:41 GMT", "x-ms-version: 2021-08-06"},
    "myaccount",
    "/ckpt/p/big.bin",
    {{"comp", "block"}, {"blockid", "MDEyMzQ1Njc4OWFiY2RlZi0wMDAwMDA3"}}};
const char* const kPutBlockString =
    "PUT\n\n\n4194304\n\n\n\n\n\n\n\n\nx-ms-date:Sun, 06 Dec 2026 06:07:41 "
    "GMT\nx-ms-version:2021-08-06\n"
    "/myaccount/ckpt/p/big.bin\nblockid:MDEyMzQ1Njc4OWFiY2RlZi0wMDAwMDA3\ncomp:block";
const char* const kPutBlockSignature = "AFd+unF9mGW6QyjIMhLfz4RMMe328Hr++ugysWBdIMw=";

const SignedRequest kRangedGet{
    "GET",
    0,
    {"x-ms-range: bytes=0-99", "If-Match: \"0x8DB\"", "x-ms-version: 2021-08-06",
     "x-ms-date: Sun, 06 Dec 2026 06:07:41 GMT"},
    "myaccount",
    "/ckpt/p/big.bin",
    {}};
const char* const kRangedGetSignature = "TwBjrOBFLFWKNotmhs6DKxk8z6EPG5HAbaMF5tsNjlI=";

TEST(AzureSharedKey, StringToSign) {
  EXPECT_EQ(string_to_sign(kPutBlob), kPutBlobString);
  EXPECT_EQ(string_to_sign(kPutBlock), kPutBlockString);
  EXPECT_EQ(string_to_sign(kRangedGet),
            "GET\n\n\n\n\n\n\n\n\"0x8DB\"\n\n\n\nx-ms-date:Sun, 06 Dec 2026 06:07:41 "
            "GMT\nx-ms-range:bytes=0-99\n"
            "x-ms-version:2021-08-06\n/myaccount/ckpt/p/big.bin");
}

TEST(AzureSharedKey, ContentTypeAndRepeatedParameters) {
  SignedRequest r{"PUT", 0,      {"Content-Type: application/xml"},
                  "a",   "/c/b", {{"Comp", "x"}, {"b", "2"}, {"b", "1"}}};
  EXPECT_EQ(string_to_sign(r), "PUT\n\n\n\n\napplication/xml\n\n\n\n\n\n\n/a/c/b\nb:1,2\ncomp:x");
}

TEST(AzureSharedKey, HeaderFormat) {
  auto fake = [](std::string_view key, std::string_view data) {
    return std::string(key) + "|" + std::string(data);
  };
  EXPECT_EQ(shared_key("acct", "k", "s", fake), "SharedKey acct:" + spec::base64_encode("k|s"));
}

TEST(AzureSharedKey, SignaturesWithLibcrypto) {
  std::string error;
  const s3::CurlApi* curl = s3::load_curl(error);
  if (curl == nullptr || curl->hmac == nullptr)
    GTEST_SKIP() << "no libcurl with libcrypto here: " << error;
  const std::string key = *spec::base64_decode(kDevelopmentKey);
  auto hmac = [&](std::string_view k, std::string_view data) {
    return s3::hmac_sha256(*curl, k, data);
  };
  EXPECT_EQ(shared_key("devstoreaccount1", key, string_to_sign(kPutBlob), hmac),
            std::string("SharedKey devstoreaccount1:") + kPutBlobSignature);
  EXPECT_EQ(shared_key("myaccount", key, string_to_sign(kPutBlock), hmac),
            std::string("SharedKey myaccount:") + kPutBlockSignature);
  EXPECT_EQ(shared_key("myaccount", key, string_to_sign(kRangedGet), hmac),
            std::string("SharedKey myaccount:") + kRangedGetSignature);
  // The Content-MD5 of "hello world", from the same libcrypto.
  EXPECT_EQ(spec::base64_encode(s3::md5(*curl, "hello world")), "XrY7u+Ae7tCTyyK7j1rNww==");
}

TEST(AzureRequest, HttpDate) {
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(http_date(1796537261), "Sun, 06 Dec 2026 06:07:41 GMT");
}

TEST(AzureBlocks, IdsHaveOneLengthAndDifferPerAttempt) {
  // base64 of "0123456789abcdef-0000007" (python3: base64.b64encode(b"0123456789abcdef-0000007")).
  EXPECT_EQ(block_id("0123456789abcdef", 7), "MDEyMzQ1Njc4OWFiY2RlZi0wMDAwMDA3");
  EXPECT_EQ(block_id("0123456789abcdef", 0), "MDEyMzQ1Njc4OWFiY2RlZi0wMDAwMDAw");
  const std::string a = block_nonce(), b = block_nonce();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
  std::set<std::string> ids;
  for (std::size_t i : {0ul, 1ul, 9ul, 10ul, 49999ul, 1234567ul}) {
    std::string id = block_id(a, i);
    EXPECT_EQ(id.size(), 32u) << i;  // 24 bytes: no '=' padding, the same length for all
    EXPECT_TRUE(ids.insert(id).second);
    EXPECT_NE(id, block_id(b, i));
    EXPECT_EQ(spec::base64_decode(id)->size(), 24u);
  }
}

TEST(AzureBlocks, BlockListBody) {
  EXPECT_EQ(block_list_body({"QUFB", "QkJC"}),
            "<?xml version=\"1.0\" "
            "encoding=\"utf-8\"?><BlockList><Latest>QUFB</Latest><Latest>QkJC</Latest>"
            "</BlockList>");
  EXPECT_EQ(block_list_body({}),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList></BlockList>");
}

TEST(AzureBlocks, BlockSizes) {
  EXPECT_EQ(block_size_for(100ull << 20, 8ull << 20), 8ull << 20);
  // 1 TiB in at most 50,000 blocks.
  const std::uint64_t tib = 1ull << 40;
  EXPECT_EQ(block_size_for(tib, 8ull << 20), (tib + 49999) / 50000);
  EXPECT_LE((tib + block_size_for(tib, 8ull << 20) - 1) / block_size_for(tib, 8ull << 20), 50000u);
}

TEST(AzureRequest, Retryable) {
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L})
    EXPECT_TRUE(retryable(status, "")) << status;
  EXPECT_TRUE(retryable(503, "ServerBusy"));
  EXPECT_TRUE(retryable(500, "OperationTimedOut"));
  EXPECT_TRUE(retryable(200, "OperationTimedOut"));
  for (long status : {400L, 403L, 404L, 409L, 412L, 416L})
    EXPECT_FALSE(retryable(status, "")) << status;
  EXPECT_FALSE(retryable(403, "AuthenticationFailed"));
  EXPECT_FALSE(retryable(404, "BlobNotFound"));
}

TEST(AzureStoreNames, KeyProblems) {
  static const s3::CurlApi no_curl{};  // nothing is sent here
  Config config;
  config.account = "acct";
  AzureStore store(std::make_shared<Client>(config, no_curl), "ckpt", "run");
  EXPECT_EQ(store.key_problem("a/b.bin"), "");
  EXPECT_NE(store.key_problem("bad\xff").find("UTF-8"), std::string::npos);
  // 1024 characters with the prefix "run/": multi-byte characters count once.
  std::string e_acute;
  for (int i = 0; i < 1020; ++i) e_acute += "\xc3\xa9";
  EXPECT_EQ(store.key_problem(e_acute), "");
  EXPECT_NE(store.key_problem(e_acute + "x").find("1024"), std::string::npos);
  std::string deep;
  for (int i = 0; i < 253; ++i) deep += "d/";
  EXPECT_EQ(store.key_problem(deep.substr(0, deep.size() - 1)), "");  // 254 segments with "run"
  EXPECT_NE(store.key_problem(deep + "f").find("254"), std::string::npos);
  EXPECT_TRUE(store.clean_leftovers("x", nullptr, checkpoint::Control{}));
}

}  // namespace
}  // namespace supervise::azure
