// SPEC.md "Data stores" and the checkpoint `url`: file:///absolute/dir, s3://bucket/prefix,
// anything else rejected; credentials never shown.
#include "supervise/spec/store_url.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace supervise::spec {
namespace {

struct FileRow {
  std::string url;
  std::string dir;
  std::string text;
};
void PrintTo(const FileRow& row, std::ostream* os) { *os << '"' << row.url << '"'; }

class FileUrl : public ::testing::TestWithParam<FileRow> {};

TEST_P(FileUrl, IsAnAbsoluteNormalisedDirectory) {
  auto url = parse_store_url(GetParam().url);
  ASSERT_TRUE(url.ok()) << GetParam().url << ": " << url.error();
  EXPECT_EQ(url->scheme, StoreUrl::Scheme::kFile);
  EXPECT_EQ(url->dir, GetParam().dir);
  EXPECT_EQ(url->text, GetParam().text);
  EXPECT_TRUE(url->bucket.empty());
  EXPECT_TRUE(url->prefix.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Spec, FileUrl,
    ::testing::Values(FileRow{"file:///abs/dir", "/abs/dir", "file:///abs/dir"},
                      FileRow{"file:///abs/dir/", "/abs/dir", "file:///abs/dir"},
                      FileRow{"file:///abs/dir///", "/abs/dir", "file:///abs/dir"},
                      FileRow{"file:///abs//dir/./x/../", "/abs/dir", "file:///abs/dir"},
                      FileRow{"file:///abs/dir/.", "/abs/dir", "file:///abs/dir"},
                      FileRow{"file:///data", "/data", "file:///data"},
                      FileRow{"FILE:///data", "/data", "file:///data"},
                      FileRow{"File:///data/ckpt", "/data/ckpt", "file:///data/ckpt"},
                      FileRow{"file:///../data", "/data", "file:///data"}));

struct S3Row {
  std::string url;
  std::string bucket;
  std::string prefix;
  std::string text;
};
void PrintTo(const S3Row& row, std::ostream* os) { *os << '"' << row.url << '"'; }

class S3Url : public ::testing::TestWithParam<S3Row> {};

TEST_P(S3Url, SplitsBucketAndPrefix) {
  auto url = parse_store_url(GetParam().url);
  ASSERT_TRUE(url.ok()) << GetParam().url << ": " << url.error();
  EXPECT_EQ(url->scheme, StoreUrl::Scheme::kS3);
  EXPECT_EQ(url->bucket, GetParam().bucket);
  EXPECT_EQ(url->prefix, GetParam().prefix);
  EXPECT_EQ(url->text, GetParam().text);
  EXPECT_TRUE(url->dir.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Spec, S3Url,
    ::testing::Values(S3Row{"s3://bucket", "bucket", "", "s3://bucket"},
                      S3Row{"s3://bucket/", "bucket", "", "s3://bucket"},
                      S3Row{"s3://bucket/prefix", "bucket", "prefix", "s3://bucket/prefix"},
                      S3Row{"s3://bucket/prefix/", "bucket", "prefix", "s3://bucket/prefix"},
                      S3Row{"s3://bucket//prefix//", "bucket", "prefix", "s3://bucket/prefix"},
                      S3Row{"s3://bucket/a/b/c", "bucket", "a/b/c", "s3://bucket/a/b/c"},
                      S3Row{"s3://my.bucket-1/run 7/ckpt", "my.bucket-1", "run 7/ckpt",
                            "s3://my.bucket-1/run 7/ckpt"},
                      S3Row{"S3://bucket/x", "bucket", "x", "s3://bucket/x"},
                      S3Row{"s3://abc", "abc", "", "s3://abc"},
                      S3Row{"s3://" + std::string(63, 'a'), std::string(63, 'a'), "",
                            "s3://" + std::string(63, 'a')},
                      S3Row{"s3://0bucket9", "0bucket9", "", "s3://0bucket9"}));

struct BadRow {
  std::string url;
  std::string message;  // exact
};
void PrintTo(const BadRow& row, std::ostream* os) { *os << '"' << row.url << '"'; }

class BadUrl : public ::testing::TestWithParam<BadRow> {};

TEST_P(BadUrl, IsRejected) {
  auto url = parse_store_url(GetParam().url);
  ASSERT_FALSE(url.ok()) << GetParam().url << " gave " << url->text;
  EXPECT_EQ(url.error(), GetParam().message);
}

const std::string kNotAbsolute = " is not a file:// URL of an absolute directory (file:///dir)";
const std::string kUnsupported =
    " is not a supported store URL (use file:///dir, s3://bucket/prefix, gs://bucket/prefix, "
    "azure://account/container/prefix, tos://endpoint/bucket/prefix or swift://endpoint/account/bucket/prefix)";
const std::string kBadChar = " has a bucket name with a character other than a-z, 0-9, '.' and '-'";
const std::string kBadLength = " has a bucket name that is not 3 to 63 characters long";
const std::string kBadEnds = " has a bucket name that does not start and end with a letter or digit";

INSTANTIATE_TEST_SUITE_P(
    Spec, BadUrl,
    ::testing::Values(
        BadRow{"file://relative", R"("file://relative")" + kNotAbsolute},
        BadRow{"file://relative/dir", R"("file://relative/dir")" + kNotAbsolute},
        BadRow{"file://", R"("file://")" + kNotAbsolute},
        BadRow{"file:relative", R"("file:relative")" + kUnsupported},
        BadRow{"file:/abs/dir", R"("file:/abs/dir")" + kUnsupported},
        BadRow{"/abs/dir", R"("/abs/dir")" + kUnsupported}, BadRow{"", R"("")" + kUnsupported},
        BadRow{"http://x", R"("http://x")" + kUnsupported}, BadRow{"az://acct/c", R"("az://acct/c")" + kUnsupported},
        BadRow{"https://bucket.s3.amazonaws.com/x", R"("https://bucket.s3.amazonaws.com/x")" + kUnsupported},
        BadRow{"s3:bucket", R"("s3:bucket")" + kUnsupported}, BadRow{" s3://bucket", R"(" s3://bucket")" + kUnsupported},
        BadRow{"s3://Bad_Bucket", R"("s3://Bad_Bucket")" + kBadChar},
        BadRow{"s3://BUCKET", R"("s3://BUCKET")" + kBadChar},
        BadRow{"s3://buck_et/x", R"("s3://buck_et/x")" + kBadChar},
        BadRow{"s3://bucket?x=1", R"("s3://bucket?x=1")" + kBadChar},
        BadRow{"s3://ab", R"("s3://ab")" + kBadLength},
        BadRow{"s3://" + std::string(64, 'a'), "\"s3://" + std::string(64, 'a') + "\"" + kBadLength},
        BadRow{"s3:///x", R"("s3:///x" has no bucket name)"}, BadRow{"s3://", R"("s3://" has no bucket name)"},
        BadRow{"s3://-bucket", R"("s3://-bucket")" + kBadEnds},
        BadRow{"s3://bucket.", R"("s3://bucket.")" + kBadEnds},
        BadRow{"s3://a..b", R"("s3://a..b" has a bucket name with "..")"},
        // Control bytes are escaped, never printed.
        BadRow{"s3://a\nb", R"("s3://a\x0ab")" + kBadChar}));

// The other stores of OSMO's list, in OSMO's forms.
struct OtherRow {
  std::string url;
  StoreUrl::Scheme scheme;
  std::string endpoint, account, bucket, prefix, text, root;
};
void PrintTo(const OtherRow& row, std::ostream* os) { *os << '"' << row.url << '"'; }

class OtherUrl : public ::testing::TestWithParam<OtherRow> {};

TEST_P(OtherUrl, SplitsItsParts) {
  const OtherRow& row = GetParam();
  auto url = parse_store_url(row.url);
  ASSERT_TRUE(url.ok()) << row.url << ": " << url.error();
  EXPECT_EQ(url->scheme, row.scheme);
  EXPECT_EQ(url->endpoint, row.endpoint);
  EXPECT_EQ(url->account, row.account);
  EXPECT_EQ(url->bucket, row.bucket);
  EXPECT_EQ(url->prefix, row.prefix);
  EXPECT_EQ(url->text, row.text);
  EXPECT_EQ(url->root(), row.root);
}

using S = StoreUrl::Scheme;
INSTANTIATE_TEST_SUITE_P(
    Spec, OtherUrl,
    ::testing::Values(
        OtherRow{"gs://bucket/run/7/", S::kGs, "", "", "bucket", "run/7", "gs://bucket/run/7", "gs://bucket"},
        OtherRow{"GS://my_bucket.x", S::kGs, "", "", "my_bucket.x", "", "gs://my_bucket.x", "gs://my_bucket.x"},
        OtherRow{"azure://acct1/container-1/a/b", S::kAzure, "", "acct1", "container-1", "a/b",
                 "azure://acct1/container-1/a/b", "azure://acct1/container-1"},
        OtherRow{"azure://devstoreaccount1/ckpt", S::kAzure, "", "devstoreaccount1", "ckpt", "",
                 "azure://devstoreaccount1/ckpt", "azure://devstoreaccount1/ckpt"},
        OtherRow{"tos://tos-s3-cn-beijing.volces.com/bucket/p", S::kTos, "tos-s3-cn-beijing.volces.com", "", "bucket",
                 "p", "tos://tos-s3-cn-beijing.volces.com/bucket/p", "tos://tos-s3-cn-beijing.volces.com/bucket"},
        OtherRow{"tos://localhost:9000/bucket", S::kTos, "localhost:9000", "", "bucket", "",
                 "tos://localhost:9000/bucket", "tos://localhost:9000/bucket"},
        OtherRow{"swift://swift.example.com/AUTH_team/bucket/run 1//", S::kSwift, "swift.example.com", "AUTH_team",
                 "bucket", "run 1", "swift://swift.example.com/AUTH_team/bucket/run 1",
                 "swift://swift.example.com/AUTH_team/bucket"}));

INSTANTIATE_TEST_SUITE_P(
    Forms, BadUrl,
    ::testing::Values(
        BadRow{"gs://", R"("gs://" has no bucket name (the form is gs://bucket/prefix))"},
        BadRow{"gs://ab", R"("gs://ab" has a bucket name that is not 3 to 63 characters long (222 with dots) )"
                          "(the form is gs://bucket/prefix)"},
        BadRow{"gs://Bucket", R"("gs://Bucket" has a bucket name with a character other than a-z, 0-9, '.', '-' and '_' )"
                              "(the form is gs://bucket/prefix)"},
        BadRow{"azure://acct", R"("azure://acct" has no container name (the form is azure://account/container/prefix))"},
        BadRow{"azure:///c/p", R"("azure:///c/p" has no storage account (the form is azure://account/container/prefix))"},
        BadRow{"azure://My_Acct/c0ntainer",
               R"("azure://My_Acct/c0ntainer" has a storage account name with a character other than a-z and 0-9 )"
               "(the form is azure://account/container/prefix)"},
        BadRow{"azure://acct/a--b", R"("azure://acct/a--b" has a container name with "--" )"
                                    "(the form is azure://account/container/prefix)"},
        BadRow{"azure://acct/Cont", R"("azure://acct/Cont" has a container name with a character other than a-z, 0-9 and '-' )"
                                    "(the form is azure://account/container/prefix)"},
        BadRow{"tos://bucket", R"("tos://bucket" has no bucket name (the form is tos://endpoint/bucket/prefix))"},
        BadRow{"tos:///bucket/p", R"("tos:///bucket/p" has no endpoint (the form is tos://endpoint/bucket/prefix))"},
        BadRow{"tos://host:99999/bucket",
               R"("tos://host:99999/bucket" has an endpoint whose port is not a number from 1 to 65535 )"
               "(the form is tos://endpoint/bucket/prefix)"},
        BadRow{"tos://host_1/bucket",
               R"("tos://host_1/bucket" has an endpoint that is not a host name (letters, digits, '-' and '.'), )"
               "with an optional :port (the form is tos://endpoint/bucket/prefix)"},
        BadRow{"swift://host/AUTH_x", R"("swift://host/AUTH_x" has no bucket name )"
                                      "(the form is swift://endpoint/account/bucket/prefix)"},
        BadRow{"swift://host//bucket", R"("swift://host//bucket" has no account )"
                                       "(the form is swift://endpoint/account/bucket/prefix)"},
        BadRow{"swift://host/a;b/bucket",
               R"("swift://host/a;b/bucket" has an account with a character that cannot be in one )"
               R"((',', ';', '*', '@', ':', '?', '#' or a space) (the form is swift://endpoint/account/bucket/prefix))"}));

// Credentials in a URL never appear in a message.
class SecretUrl : public ::testing::TestWithParam<std::string> {};

TEST_P(SecretUrl, NeverShowsTheSecret) {
  auto url = parse_store_url(GetParam());
  ASSERT_FALSE(url.ok()) << GetParam();
  for (const char* secret : {"secret", "wJalr", "K7MDENG", "EXAMPLEKEY", "p@ss"})
    EXPECT_EQ(url.error().find(secret), std::string::npos) << url.error();
  EXPECT_NE(url.error().find("***@"), std::string::npos) << url.error();
}

INSTANTIATE_TEST_SUITE_P(
    Spec, SecretUrl,
    ::testing::Values("s3://user:secret@bucket/prefix", "s3://user:secret@bucket", "S3://user:secret@bucket/p",
                      "s3://AKIA:secret@Bad_Bucket/x", "s3://user:p@ss@bucket/prefix",
                      // AWS secret keys hold '/' and '+'.
                      "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@bucket/prefix",
                      "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY@bucket",
                      "http://user:secret@host/x", "gs://user:secret@bucket/x",
                      "tos://user:secret@host/bucket/x", "swift://user:secret@host/AUTH_a/bucket",
                      "azure://user:secret@acct/container",
                      "file://user:secret@/abs/dir"));

struct RedactRow {
  std::string url;
  std::string redacted;
};
void PrintTo(const RedactRow& row, std::ostream* os) { *os << '"' << row.url << '"'; }

class RedactUrl : public ::testing::TestWithParam<RedactRow> {};

TEST_P(RedactUrl, ReplacesUserInformation) { EXPECT_EQ(redact_url(GetParam().url), GetParam().redacted); }

INSTANTIATE_TEST_SUITE_P(
    Table, RedactUrl,
    ::testing::Values(RedactRow{"s3://bucket/prefix", "s3://bucket/prefix"},
                      RedactRow{"s3://user:secret@bucket/prefix", "s3://***@bucket/prefix"},
                      RedactRow{"s3://user:secret@bucket", "s3://***@bucket"},
                      RedactRow{"s3://user@bucket/x", "s3://***@bucket/x"},
                      RedactRow{"s3://u:p@ss@bucket/x", "s3://***@bucket/x"},
                      RedactRow{"s3://AKIA:ab/cd+ef@bucket/x", "s3://***@bucket/x"},
                      RedactRow{"s3://AKIA:ab/cd@bucket", "s3://***@bucket"},
                      // '@' in the key is not user information.
                      RedactRow{"s3://bucket/path@x", "s3://bucket/path@x"},
                      RedactRow{"s3://bucket/a:b@c", "s3://bucket/a:b@c"},
                      RedactRow{"file:///abs/a@b", "file:///abs/a@b"},
                      RedactRow{"file:///abs/a:b@c", "file:///abs/a:b@c"},
                      RedactRow{"http://user:secret@host/x", "http://***@host/x"},
                      RedactRow{"no-scheme", "no-scheme"}, RedactRow{"", ""}));

}  // namespace
}  // namespace supervise::spec
