// Base64 (RFC 4648, standard alphabet) for files[].contents with base64: true.
#include "supervise/spec/base64.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <random>
#include <string>

namespace supervise::spec {
namespace {

struct VectorRow {
  std::string bytes;
  std::string encoded;
};
void PrintTo(const VectorRow& row, std::ostream* os) { *os << ::testing::PrintToString(row.encoded); }

class Rfc4648 : public ::testing::TestWithParam<VectorRow> {};

TEST_P(Rfc4648, Encodes) { EXPECT_EQ(base64_encode(GetParam().bytes), GetParam().encoded); }

TEST_P(Rfc4648, Decodes) {
  auto bytes = base64_decode(GetParam().encoded);
  ASSERT_TRUE(bytes.has_value()) << GetParam().encoded;
  EXPECT_EQ(*bytes, GetParam().bytes);
}

INSTANTIATE_TEST_SUITE_P(
    TestVectors, Rfc4648,
    ::testing::Values(VectorRow{"", ""}, VectorRow{"f", "Zg=="}, VectorRow{"fo", "Zm8="},
                      VectorRow{"foo", "Zm9v"}, VectorRow{"foob", "Zm9vYg=="}, VectorRow{"fooba", "Zm9vYmE="},
                      VectorRow{"foobar", "Zm9vYmFy"},
                      VectorRow{std::string("\0", 1), "AA=="}, VectorRow{std::string("\0\0\0", 3), "AAAA"},
                      VectorRow{"\xff\xff\xff", "////"}, VectorRow{"\xfb\xff", "+/8="},
                      VectorRow{"#!/bin/sh\necho hi\n", "IyEvYmluL3NoCmVjaG8gaGkK"}));

struct DecodeRow {
  std::string text;
  std::optional<std::string> bytes;
};
void PrintTo(const DecodeRow& row, std::ostream* os) { *os << ::testing::PrintToString(row.text); }

class Base64Decode : public ::testing::TestWithParam<DecodeRow> {};

TEST_P(Base64Decode, Table) {
  auto bytes = base64_decode(GetParam().text);
  EXPECT_EQ(bytes, GetParam().bytes) << "\"" << GetParam().text << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    Lenient, Base64Decode,
    ::testing::Values(
        // Padding is optional.
        DecodeRow{"Zg", "f"}, DecodeRow{"Zm8", "fo"}, DecodeRow{"Zm9vYg", "foob"},
        // Blanks and line breaks are skipped.
        DecodeRow{"Zm9v\nYmFy\n", "foobar"}, DecodeRow{"Zm9v\r\nYmFy\r\n", "foobar"},
        DecodeRow{"  Zm 9v\tYm Fy  ", "foobar"}, DecodeRow{"Zg=\n=", "f"}, DecodeRow{"\n", ""},
        DecodeRow{"   ", ""}));

INSTANTIATE_TEST_SUITE_P(
    Rejected, Base64Decode,
    ::testing::Values(
        DecodeRow{"Z", std::nullopt},         // one symbol is never whole bytes
        DecodeRow{"Zm9vY", std::nullopt},     // five symbols
        DecodeRow{"Zg=", std::nullopt},       // padding present but incomplete
        DecodeRow{"Zg===", std::nullopt},     // too much padding
        DecodeRow{"Z===", std::nullopt}, DecodeRow{"=", std::nullopt}, DecodeRow{"==", std::nullopt},
        DecodeRow{"====", std::nullopt}, DecodeRow{"Zg==Zg==", std::nullopt},  // data after padding
        DecodeRow{"Zm9vYg=a", std::nullopt}, DecodeRow{"Zm9v!", std::nullopt},
        DecodeRow{"Zm9v-_", std::nullopt},  // URL-safe alphabet is not the standard one
        DecodeRow{"Zm9v.", std::nullopt}, DecodeRow{std::string("Zm\0v", 4), std::nullopt},
        DecodeRow{"Zm9v\xc3\xa9", std::nullopt}, DecodeRow{"Zm9v\v", std::nullopt}));

TEST(Base64, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string encoded = base64_encode(all);
  EXPECT_EQ(encoded.size(), 344u);  // ceil(256 / 3) * 4
  auto decoded = base64_decode(encoded);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, all);
}

TEST(Base64, EveryLengthRoundTrips) {
  std::mt19937 random(42);
  for (std::size_t length = 0; length < 200; ++length) {
    std::string bytes;
    for (std::size_t i = 0; i < length; ++i) bytes.push_back(static_cast<char>(random() & 0xff));
    std::string encoded = base64_encode(bytes);
    EXPECT_EQ(encoded.size(), (length + 2) / 3 * 4) << length;
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << length;
    EXPECT_EQ(*decoded, bytes) << length;
    // Without padding, and wrapped at 76 columns as `base64` writes it.
    std::string bare = encoded.substr(0, encoded.find('='));
    EXPECT_EQ(base64_decode(bare), bytes) << length;
    std::string wrapped;
    for (std::size_t i = 0; i < encoded.size(); i += 76) wrapped += encoded.substr(i, 76) + "\n";
    EXPECT_EQ(base64_decode(wrapped), bytes) << length;
  }
}

}  // namespace
}  // namespace supervise::spec
