// The pure parts of the S3 requests (include/supervise/s3/request.hpp): key and query
// encoding as SigV4 signs them, object URLs, the XML S3 answers with, part sizes and
// which failures are retried.
#include "supervise/s3/request.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace supervise::s3 {
namespace {

// --- encode_key ----------------------------------------------------------------------

struct KeyRow {
  std::string key;
  std::string encoded;
};
void PrintTo(const KeyRow& row, std::ostream* os) { *os << '"' << row.key << '"'; }

class S3RequestEncodeKey : public ::testing::TestWithParam<KeyRow> {};

TEST_P(S3RequestEncodeKey, PerS3Rules) { EXPECT_EQ(encode_key(GetParam().key), GetParam().encoded); }

INSTANTIATE_TEST_SUITE_P(
    Table, S3RequestEncodeKey,
    ::testing::Values(KeyRow{"", ""}, KeyRow{"plain.txt", "plain.txt"},
                      // The unreserved set stays as it is.
                      KeyRow{"AZaz09-_.~", "AZaz09-_.~"},
                      // '/' separates segments and is kept, also doubled or at the ends.
                      KeyRow{"a/b/c", "a/b/c"}, KeyRow{"a//b/", "a//b/"}, KeyRow{"/lead", "/lead"},
                      KeyRow{"with space.txt", "with%20space.txt"}, KeyRow{"a+b", "a%2Bb"},
                      KeyRow{"100%", "100%25"}, KeyRow{"%20", "%2520"}, KeyRow{"hash#tag", "hash%23tag"},
                      KeyRow{"why?", "why%3F"}, KeyRow{"k=v", "k%3Dv"}, KeyRow{"a&b", "a%26b"},
                      KeyRow{"a:b@c,d;e$f!g'h(i)j*k", "a%3Ab%40c%2Cd%3Be%24f%21g%27h%28i%29j%2Ak"},
                      KeyRow{"[x]{y}|z\\^`\"<>", "%5Bx%5D%7By%7D%7Cz%5C%5E%60%22%3C%3E"},
                      // Non-ASCII: each UTF-8 byte, upper-case hex.
                      KeyRow{"é", "%C3%A9"}, KeyRow{"dir/日本.txt", "dir/%E6%97%A5%E6%9C%AC.txt"},
                      KeyRow{"ünï cødé/x", "%C3%BCn%C3%AF%20c%C3%B8d%C3%A9/x"},
                      KeyRow{std::string("\x01\x7f\xff", 3), "%01%7F%FF"}, KeyRow{std::string("a\0b", 3), "a%00b"},
                      KeyRow{"tab\there\nnl", "tab%09here%0Anl"}));

// --- encode_query --------------------------------------------------------------------

struct QueryRow {
  std::string name;
  std::vector<std::pair<std::string, std::string>> params;
  std::string encoded;
};
void PrintTo(const QueryRow& row, std::ostream* os) { *os << row.name; }

class S3RequestEncodeQuery : public ::testing::TestWithParam<QueryRow> {};

TEST_P(S3RequestEncodeQuery, SortedAndEncoded) { EXPECT_EQ(encode_query(GetParam().params), GetParam().encoded); }

INSTANTIATE_TEST_SUITE_P(
    Table, S3RequestEncodeQuery,
    ::testing::Values(
        QueryRow{"Empty", {}, ""},
        // curl 7.88 signs "uploads" as it stands; S3 expects "uploads=" in the canonical query.
        QueryRow{"Valueless", {{"uploads", ""}}, "uploads="},
        QueryRow{"UploadPart", {{"uploadId", "abc"}, {"partNumber", "12"}}, "partNumber=12&uploadId=abc"},
        QueryRow{"ByteOrderUpperBeforeLower", {{"b", "2"}, {"a", "1"}, {"B", "3"}}, "B=3&a=1&b=2"},
        QueryRow{"SameNameByValue", {{"x", "2"}, {"x", "1"}}, "x=1&x=2"},
        QueryRow{"PrefixName", {{"ab", ""}, {"a", "x"}}, "a=x&ab="},
        QueryRow{"ValueEncoded", {{"uploadId", "a b+c/d=e&f~%"}}, "uploadId=a%20b%2Bc%2Fd%3De%26f~%25"},
        QueryRow{"NameEncoded", {{"a b", "1"}}, "a%20b=1"},
        // SigV4 sorts the *encoded* names: "%" (0x25) comes before letters, though the raw
        // byte 0xC3 comes after them.
        QueryRow{"SortedAfterEncoding", {{"aa", "2"}, {"aé", "1"}}, "a%C3%A9=1&aa=2"},
        QueryRow{"SortedAfterEncodingValues", {{"k", "z"}, {"k", "é"}}, "k=%C3%A9&k=z"}),
    [](const ::testing::TestParamInfo<QueryRow>& p) { return p.param.name; });

// --- object_url ----------------------------------------------------------------------

struct UrlRow {
  std::string name;
  std::string endpoint;
  std::string region;
  std::string bucket;
  std::string key;
  std::string url;
};
void PrintTo(const UrlRow& row, std::ostream* os) { *os << row.name; }

class S3RequestObjectUrl : public ::testing::TestWithParam<UrlRow> {};

TEST_P(S3RequestObjectUrl, Addressing) {
  Config config;
  config.endpoint = GetParam().endpoint;
  config.path_style = !config.endpoint.empty();
  config.region = GetParam().region;
  EXPECT_EQ(object_url(config, GetParam().bucket, GetParam().key), GetParam().url);
}

INSTANTIATE_TEST_SUITE_P(
    Table, S3RequestObjectUrl,
    ::testing::Values(
        UrlRow{"PathStyle", "http://127.0.0.1:9000", "us-east-1", "b", "p/a b.txt", "http://127.0.0.1:9000/b/p/a%20b.txt"},
        UrlRow{"PathStyleEndpointWithPath", "https://h.example/s3", "us-east-1", "b", "k", "https://h.example/s3/b/k"},
        UrlRow{"PathStyleDottedBucket", "http://minio:9000", "eu-west-1", "my.bucket", "k", "http://minio:9000/my.bucket/k"},
        UrlRow{"VirtualHosted", "", "eu-west-1", "my-bucket", "run/k+1", "https://my-bucket.s3.eu-west-1.amazonaws.com/run/k%2B1"},
        UrlRow{"VirtualHostedDefaultRegion", "", "us-east-1", "b1", "x", "https://b1.s3.us-east-1.amazonaws.com/x"},
        // A dotted bucket cannot be covered by *.s3.<region>.amazonaws.com: path-style.
        UrlRow{"DottedBucketOnAws", "", "ap-south-1", "my.dotted.bucket", "a/é",
               "https://s3.ap-south-1.amazonaws.com/my.dotted.bucket/a/%C3%A9"},
        UrlRow{"EmptyKey", "http://h:1", "us-east-1", "b", "", "http://h:1/b/"}),
    [](const ::testing::TestParamInfo<UrlRow>& p) { return p.param.name; });

// --- XML -----------------------------------------------------------------------------

TEST(S3RequestXml, ParseErrorOfAnErrorDocument) {
  auto e = parse_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket "
      "does not exist</Message><BucketName>nope</BucketName><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "NoSuchBucket");
  EXPECT_EQ(e->message, "The specified bucket does not exist");
}

TEST(S3RequestXml, ParseErrorInsideA200Body) {
  // CompleteMultipartUpload may answer 200 and then, after whitespace sent to keep the
  // connection alive, an error document.
  std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n            \n"
      "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>"
      "<RequestId>656c76696e6727732072657175657374</RequestId></Error>";
  auto e = parse_error(body);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "InternalError");
  EXPECT_EQ(e->message, "We encountered an internal error. Please try again.");
  EXPECT_TRUE(retryable(200, e->code));
}

TEST(S3RequestXml, NoErrorInASuccess) {
  EXPECT_FALSE(parse_error("").has_value());
  EXPECT_FALSE(parse_error("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult "
                           "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>http://h/b/k</Location>"
                           "<Bucket>b</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
                           "</CompleteMultipartUploadResult>")
                   .has_value());
  EXPECT_FALSE(parse_error("<InitiateMultipartUploadResult><UploadId>x</UploadId></InitiateMultipartUploadResult>")
                   .has_value());
  // An <Error> with neither a code nor a message tells nothing.
  EXPECT_FALSE(parse_error("<Error></Error>").has_value());
  // A key named like an error is escaped in a result document, so it is no error.
  EXPECT_FALSE(parse_error("<CompleteMultipartUploadResult><Key>&lt;Error&gt;&lt;Code&gt;x&lt;/Code&gt;"
                           "&lt;/Error&gt;</Key></CompleteMultipartUploadResult>")
                   .has_value());
}

TEST(S3RequestXml, ParseErrorPartsAndEntities) {
  auto code_only = parse_error("<Error><Code>SlowDown</Code></Error>");
  ASSERT_TRUE(code_only.has_value());
  EXPECT_EQ(code_only->code, "SlowDown");
  EXPECT_EQ(code_only->message, "");
  auto escaped = parse_error(
      "<Error><Code>InvalidArgument</Code><Message>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;</Message></Error>");
  ASSERT_TRUE(escaped.has_value());
  EXPECT_EQ(escaped->message, "a <b> & \"c\" 'd'");
  // The Code of the error, not one of an element before it.
  auto later = parse_error("<Result><Code>NotThis</Code></Result><Error><Code>AccessDenied</Code></Error>");
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->code, "AccessDenied");
}

struct XmlRow {
  std::string name;
  std::string body;
  std::string element;
  std::optional<std::string> value;
};
void PrintTo(const XmlRow& row, std::ostream* os) { *os << row.name; }

class S3RequestXmlElement : public ::testing::TestWithParam<XmlRow> {};

TEST_P(S3RequestXmlElement, TextUnescaped) {
  EXPECT_EQ(xml_element(GetParam().body, GetParam().element), GetParam().value);
}

INSTANTIATE_TEST_SUITE_P(
    Table, S3RequestXmlElement,
    ::testing::Values(
        XmlRow{"Plain", "<a><UploadId>VXBsb2FkIElE</UploadId></a>", "UploadId", "VXBsb2FkIElE"},
        XmlRow{"Empty", "<UploadId></UploadId>", "UploadId", ""},
        XmlRow{"Missing", "<a><Other>x</Other></a>", "UploadId", std::nullopt},
        XmlRow{"Unclosed", "<UploadId>abc", "UploadId", std::nullopt},
        XmlRow{"First", "<K>1</K><K>2</K>", "K", "1"},
        XmlRow{"NamedEntities", "<K>&lt;&gt;&amp;&quot;&apos;</K>", "K", "<>&\"'"},
        // Unescaped once: "&amp;lt;" is the text "&lt;".
        XmlRow{"Once", "<K>&amp;lt;</K>", "K", "&lt;"},
        XmlRow{"DecimalReference", "<K>a&#38;b&#13;</K>", "K", "a&b\r"},
        XmlRow{"HexReference", "<K>&#x26;&#X3C;&#xe9;&#x65E5;</K>", "K", "&<\xC3\xA9\xE6\x97\xA5"},
        XmlRow{"SupplementaryReference", "<K>&#x1F600;</K>", "K", "\xF0\x9F\x98\x80"},
        XmlRow{"UnknownEntityKept", "<K>a&nbsp;b &c; &</K>", "K", "a&nbsp;b &c; &"},
        XmlRow{"BadReferenceKept", "<K>&#;&#x;&#12a;</K>", "K", "&#;&#x;&#12a;"}),
    [](const ::testing::TestParamInfo<XmlRow>& p) { return p.param.name; });

TEST(S3RequestXml, CompleteMultipartBody) {
  EXPECT_EQ(complete_multipart_body({"\"e1\"", "\"e2\""}),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");
  // Whatever an ETag holds comes back out of the document unchanged.
  std::string odd = "\"a&b<c>d'\"";
  std::string body = complete_multipart_body({odd});
  EXPECT_EQ(xml_element(body, "ETag"), odd);
  EXPECT_EQ(body.find("a&b"), std::string::npos) << body;
  EXPECT_EQ(body.find("b<c"), std::string::npos) << body;
}

TEST(S3RequestXml, CompleteMultipartBodyNumbersEveryPart) {
  std::vector<std::string> etags;
  for (int i = 1; i <= 10000; ++i) etags.push_back("\"" + std::to_string(i) + "\"");
  std::string body = complete_multipart_body(etags);
  std::size_t parts = 0;
  for (std::size_t at = body.find("<Part>"); at != std::string::npos; at = body.find("<Part>", at + 1)) ++parts;
  EXPECT_EQ(parts, 10000u);
  EXPECT_NE(body.find("<Part><PartNumber>1</PartNumber><ETag>&quot;1&quot;</ETag></Part>"), std::string::npos);
  EXPECT_NE(body.find("<Part><PartNumber>10000</PartNumber><ETag>&quot;10000&quot;</ETag></Part>"),
            std::string::npos);
  EXPECT_EQ(body.find("<PartNumber>0<"), std::string::npos);
  EXPECT_EQ(body.find("<PartNumber>10001<"), std::string::npos);
}

// --- part_size -----------------------------------------------------------------------

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kTiB = 1ull << 40;

struct PartRow {
  std::string name;
  std::uint64_t size;
  std::uint64_t part;
};
void PrintTo(const PartRow& row, std::ostream* os) { *os << row.name; }

class S3RequestPartSize : public ::testing::TestWithParam<PartRow> {};

TEST_P(S3RequestPartSize, Table) {
  EXPECT_EQ(part_size(GetParam().size), GetParam().part);
  std::uint64_t parts = (GetParam().size + GetParam().part - 1) / GetParam().part;
  EXPECT_LE(parts, 10000u);
}

INSTANTIATE_TEST_SUITE_P(
    Table, S3RequestPartSize,
    ::testing::Values(PartRow{"Zero", 0, 8 * kMiB}, PartRow{"One", 1, 8 * kMiB},
                      PartRow{"JustAboveThreshold", 64 * kMiB + 1, 8 * kMiB},
                      PartRow{"SeventyMB", 70'000'000, 8 * kMiB},
                      // 10,000 parts of 8 MiB: the largest size 8 MiB parts can carry.
                      PartRow{"TenThousandMinParts", 10000 * 8 * kMiB, 8 * kMiB},
                      PartRow{"OneByteMore", 10000 * 8 * kMiB + 1, 8 * kMiB + 1},
                      PartRow{"HundredGB", 100'000'000'000ull, 10'000'000},
                      PartRow{"HundredGiB", 100 * kGiB, 10'737'419},  // ceil(10,737,418.24)
                      PartRow{"OneTB", 1'000'000'000'000ull, 100'000'000},
                      PartRow{"OneTiB", kTiB, 109'951'163},  // ceil(109,951,162.7776)
                      PartRow{"FiveTiB", 5 * kTiB, 549'755'814}),
    [](const ::testing::TestParamInfo<PartRow>& p) { return p.param.name; });

TEST(S3RequestPartSizes, NeverMoreThanTenThousandParts) {
  std::vector<std::uint64_t> sizes = {64 * kMiB + 1, 80 * kGiB, 83'886'080'001ull, 99'999'999'999ull,
                                      100 * kGiB + 1, kTiB - 1, kTiB + 1, 3 * kTiB + 12345, 5 * kTiB};
  for (std::uint64_t k = 1; k < 2000; k += 37) sizes.push_back(10000 * 8 * kMiB * k / 13 + k);
  for (std::uint64_t size : sizes) {
    std::uint64_t part = part_size(size);
    EXPECT_GE(part, 8 * kMiB) << size;
    EXPECT_LE((size + part - 1) / part, 10000u) << size;
    // No bigger than needed: one byte less per part would take more than 10,000 parts
    // (or go below the 8 MiB floor).
    if (part > 8 * kMiB) {
      EXPECT_GT((size + part - 2) / (part - 1), 10000u) << size;
    }
    EXPECT_LE(part, 5 * kGiB) << "S3's largest part, at " << size;
  }
}

// --- retryable -----------------------------------------------------------------------

struct RetryRow {
  long status;
  std::string code;
  bool retry;
};
void PrintTo(const RetryRow& row, std::ostream* os) { *os << row.status << " " << row.code; }

class S3RequestRetryable : public ::testing::TestWithParam<RetryRow> {};

TEST_P(S3RequestRetryable, Table) { EXPECT_EQ(retryable(GetParam().status, GetParam().code), GetParam().retry); }

INSTANTIATE_TEST_SUITE_P(
    Table, S3RequestRetryable,
    ::testing::Values(RetryRow{429, "", true}, RetryRow{500, "", true}, RetryRow{500, "InternalError", true},
                      RetryRow{502, "", true}, RetryRow{503, "SlowDown", true}, RetryRow{503, "", true},
                      RetryRow{504, "", true}, RetryRow{400, "RequestTimeout", true},
                      RetryRow{200, "InternalError", true}, RetryRow{200, "SlowDown", true},
                      RetryRow{503, "ServiceUnavailable", true},
                      // Fail fast: the server has spoken and will say the same again.
                      RetryRow{400, "", false}, RetryRow{400, "EntityTooSmall", false},
                      RetryRow{400, "InvalidPart", false}, RetryRow{403, "AccessDenied", false},
                      RetryRow{403, "SignatureDoesNotMatch", false}, RetryRow{403, "InvalidAccessKeyId", false},
                      RetryRow{404, "NoSuchBucket", false}, RetryRow{404, "NoSuchUpload", false},
                      RetryRow{301, "PermanentRedirect", false}, RetryRow{501, "NotImplemented", false},
                      RetryRow{200, "", false}));

}  // namespace
}  // namespace supervise::s3
