// SPEC.md "Durations": every rule a row. Values are checked to the nanosecond, errors by
// the exact message or a substring that quotes the value.
#include "supervise/spec/duration.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <cstdint>
#include <string>
#include <vector>

namespace supervise::spec {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

struct GoodRow {
  std::string text;
  std::int64_t nanos;
};
void PrintTo(const GoodRow& row, std::ostream* os) { *os << '"' << row.text << '"'; }

class ParseDurationGood : public ::testing::TestWithParam<GoodRow> {};

TEST_P(ParseDurationGood, ParsesToExactNanoseconds) {
  const GoodRow& row = GetParam();
  auto d = parse_duration(row.text);
  ASSERT_TRUE(d.ok()) << "\"" << row.text << "\": " << d.error();
  EXPECT_EQ(d->count(), row.nanos) << "\"" << row.text << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    Spec, ParseDurationGood,
    ::testing::Values(
        // A number (YAML/JSON numbers arrive as their text) is seconds.
        GoodRow{"90", 90 * kSecond}, GoodRow{"0.5", kSecond / 2}, GoodRow{"30", 30 * kSecond},
        GoodRow{"1", kSecond}, GoodRow{".5", kSecond / 2}, GoodRow{"0.001", 1'000'000},
        GoodRow{"0.000000001", 1}, GoodRow{"1.000000001", kSecond + 1},
        GoodRow{"0.1", 100'000'000}, GoodRow{"0.123456789", 123'456'789},
        GoodRow{"3600", kHour}, GoodRow{"007", 7 * kSecond},
        // A number in exponent form, as YAML 1.2 and JSON allow (a bare number only).
        GoodRow{"1e3", 1000 * kSecond}, GoodRow{"1E3", 1000 * kSecond},
        GoodRow{"1.5e2", 150 * kSecond}, GoodRow{"5e-1", kSecond / 2},
        GoodRow{"1e+1", 10 * kSecond}, GoodRow{"2.5E-3", 2'500'000}, GoodRow{".5e1", 5 * kSecond},
        // <number><unit> parts, units d h m s ms.
        GoodRow{"30m", 30 * kMinute}, GoodRow{"1h30m", kHour + 30 * kMinute},
        GoodRow{"1.5h", kHour + 30 * kMinute}, GoodRow{"500ms", 500'000'000},
        GoodRow{"2d", 2 * kDay}, GoodRow{"10s", 10 * kSecond}, GoodRow{"1m30s", 90 * kSecond},
        GoodRow{"1d2h3m4s5ms", kDay + 2 * kHour + 3 * kMinute + 4 * kSecond + 5'000'000},
        GoodRow{"0.5s", kSecond / 2}, GoodRow{"1ms", 1'000'000}, GoodRow{"0.5ms", 500'000},
        GoodRow{"1.25m", 75 * kSecond}, GoodRow{"1h0m", kHour}, GoodRow{"0h1s", kSecond},
        GoodRow{"1m5s", 65 * kSecond},  // "m5" is minutes then 5, not "ms"
        GoodRow{"5m5ms", 5 * kMinute + 5'000'000},
        // ISO 8601.
        GoodRow{"PT1H30M", kHour + 30 * kMinute}, GoodRow{"P1D", kDay},
        GoodRow{"PT0.5S", kSecond / 2}, GoodRow{"P1W", 7 * kDay}, GoodRow{"PT1M", kMinute},
        GoodRow{"PT90S", 90 * kSecond}, GoodRow{"P1DT12H", kDay + 12 * kHour},
        GoodRow{"P2W3D", 17 * kDay}, GoodRow{"PT1H2M3S", kHour + 2 * kMinute + 3 * kSecond}));

INSTANTIATE_TEST_SUITE_P(
    Blanks, ParseDurationGood,
    ::testing::Values(GoodRow{" 5s", 5 * kSecond}, GoodRow{"5s ", 5 * kSecond},
                      GoodRow{"\t90\t", 90 * kSecond}, GoodRow{"  PT1M  ", kMinute}));

INSTANTIATE_TEST_SUITE_P(
    Limits, ParseDurationGood,
    ::testing::Values(GoodRow{"36500d", 36500 * kDay},  // 100 years, the longest allowed
                      GoodRow{"3153600000", 3153600000 * kSecond}));

struct BadRow {
  std::string text;
  std::string message;  // the exact message
};
void PrintTo(const BadRow& row, std::ostream* os) { *os << '"' << row.text << '"'; }

class ParseDurationBad : public ::testing::TestWithParam<BadRow> {};

TEST_P(ParseDurationBad, IsRejectedWithMessageQuotingTheValue) {
  const BadRow& row = GetParam();
  auto d = parse_duration(row.text);
  ASSERT_FALSE(d.ok()) << "\"" << row.text << "\" parsed as " << d->count() << "ns";
  EXPECT_EQ(d.error(), row.message);
}

std::string not_a_duration(const std::string& quoted) { return quoted + " is not a duration"; }

INSTANTIATE_TEST_SUITE_P(
    Spec, ParseDurationBad,
    ::testing::Values(
        // Zero and negative.
        BadRow{"0", R"("0" is zero; a duration must be positive)"},
        BadRow{"0s", R"("0s" is zero; a duration must be positive)"},
        BadRow{"0.0", R"("0.0" is zero; a duration must be positive)"},
        BadRow{"PT0S", R"("PT0S" is zero; a duration must be positive)"},
        BadRow{"0h0m", R"("0h0m" is zero; a duration must be positive)"},
        BadRow{"-5s", R"("-5s" is negative; a duration must be positive)"},
        BadRow{"-90", R"("-90" is negative; a duration must be positive)"},
        BadRow{"-PT1M", R"("-PT1M" is negative; a duration must be positive)"},
        // Malformed.
        BadRow{"5x", not_a_duration(R"("5x")")}, BadRow{"", not_a_duration(R"("")")},
        BadRow{"   ", not_a_duration(R"("   ")")},
        BadRow{"1h30", not_a_duration(R"("1h30")")},  // a number without unit after a part
        BadRow{"PT", not_a_duration(R"("PT")")}, BadRow{"P", not_a_duration(R"("P")")},
        BadRow{"P1DT", not_a_duration(R"("P1DT")")},
        BadRow{"PT1H1H", not_a_duration(R"("PT1H1H")")},    // designator twice
        BadRow{"PT30M1H", not_a_duration(R"("PT30M1H")")},  // out of order
        BadRow{"P1D1W", not_a_duration(R"("P1D1W")")}, BadRow{"P1H", not_a_duration(R"("P1H")")},
        BadRow{"PT1D", not_a_duration(R"("PT1D")")}, BadRow{"PTT1H", not_a_duration(R"("PTT1H")")},
        BadRow{"P1", not_a_duration(R"("P1")")}, BadRow{"PT1", not_a_duration(R"("PT1")")},
        BadRow{"pt1h", not_a_duration(R"("pt1h")")},
        BadRow{"1e", not_a_duration(R"("1e")")}, BadRow{"1e+", not_a_duration(R"("1e+")")},
        BadRow{"e3", not_a_duration(R"("e3")")}, BadRow{"1e3s", not_a_duration(R"("1e3s")")},
        BadRow{"1e1.5", not_a_duration(R"("1e1.5")")}, BadRow{"1e 3", not_a_duration(R"("1e 3")")},
        BadRow{"1e-10", R"("1e-10" is zero; a duration must be positive)"},
        BadRow{"-1e3", R"("-1e3" is negative; a duration must be positive)"},
        BadRow{"1e400", R"("1e400" is too long (at most 100 years))"},
        BadRow{"1e99999999", R"("1e99999999" is too long (at most 100 years))"},
        BadRow{"1e-99999999", R"("1e-99999999" is zero; a duration must be positive)"},
        BadRow{" 5 s", not_a_duration(R"(" 5 s")")}, BadRow{"1h 30m", not_a_duration(R"("1h 30m")")},
        BadRow{"5S", not_a_duration(R"("5S")")}, BadRow{"5 ms", not_a_duration(R"("5 ms")")},
        BadRow{"h", not_a_duration(R"("h")")}, BadRow{"ms", not_a_duration(R"("ms")")},
        BadRow{".", not_a_duration(R"(".")")}, BadRow{"-", not_a_duration(R"("-")")},
        BadRow{"--5s", not_a_duration(R"("--5s")")}, BadRow{"+5s", not_a_duration(R"("+5s")")},
        BadRow{"5.5.5s", not_a_duration(R"("5.5.5s")")}, BadRow{"1s-1s", not_a_duration(R"("1s-1s")")},
        BadRow{"5sx", not_a_duration(R"("5sx")")}, BadRow{"5us", not_a_duration(R"("5us")")},
        BadRow{"5ns", not_a_duration(R"("5ns")")}, BadRow{"1w", not_a_duration(R"("1w")")},
        BadRow{"inf", not_a_duration(R"("inf")")}, BadRow{"nan", not_a_duration(R"("nan")")},
        BadRow{"0x10", not_a_duration(R"("0x10")")}, BadRow{"1,5s", not_a_duration(R"("1,5s")")},
        // Control bytes are escaped in the message, not printed.
        BadRow{"5\nx", not_a_duration(R"("5\x0ax")")},
        // Years and months have no fixed length: rejected with the reason.
        BadRow{"P1Y", R"("P1Y" is not a duration (years and months have no fixed length))"},
        BadRow{"P1M", R"("P1M" is not a duration (years and months have no fixed length))"},
        BadRow{"P1Y2M3D", R"("P1Y2M3D" is not a duration (years and months have no fixed length))"},
        // Too long to hold.
        BadRow{"1000000000d", R"("1000000000d" is too long (at most 100 years))"},
        BadRow{"36501d", R"("36501d" is too long (at most 100 years))"},
        BadRow{"99999999999999999999999999999h", R"("99999999999999999999999999999h" is too long (at most 100 years))"},
        BadRow{"P99999999W", R"("P99999999W" is too long (at most 100 years))"}));

TEST(ParseDuration, DigitsBeyondAnyFloatAreTooLongNotUndefined) {
  std::string digits(6000, '9');  // overflows even a long double to infinity
  auto d = parse_duration(digits);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().find("is too long"), std::string::npos) << d.error();
  // The message stays one short line, whatever the input.
  EXPECT_LT(d.error().size(), 200u);
}

TEST(ParseDuration, BelowOneNanosecondIsRejected) {
  auto d = parse_duration("0.0000000001");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().find("\"0.0000000001\""), std::string::npos) << d.error();
}

struct FormatRow {
  std::int64_t nanos;
  std::string text;
};
void PrintTo(const FormatRow& row, std::ostream* os) { *os << row.nanos << "ns"; }

class FormatDuration : public ::testing::TestWithParam<FormatRow> {};

TEST_P(FormatDuration, IsShortestReadableForm) {
  EXPECT_EQ(format_duration(Duration(GetParam().nanos)), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(
    Table, FormatDuration,
    ::testing::Values(
        FormatRow{500'000'000, "500ms"}, FormatRow{1'000'000, "1ms"},
        FormatRow{kSecond, "1s"}, FormatRow{10 * kSecond, "10s"},
        FormatRow{5 * kSecond / 2, "2.5s"}, FormatRow{90 * kSecond, "1m30s"},
        FormatRow{kHour + 30 * kMinute, "1h30m"}, FormatRow{2 * kDay, "2d"},
        FormatRow{kDay + kSecond, "1d1s"}, FormatRow{kHour + kMinute + kSecond, "1h1m1s"},
        FormatRow{kHour + kSecond / 2, "1h0.5s"},
        // Below a millisecond: plain decimals, never an exponent (which would not parse).
        FormatRow{1, "0.000000001s"}, FormatRow{1500, "0.0000015s"},
        FormatRow{99'999, "0.000099999s"}, FormatRow{1'500'000, "0.0015s"},
        // Every nanosecond is kept and nothing rounds up into the next unit.
        FormatRow{kSecond + 1, "1.000000001s"}, FormatRow{60 * kSecond - 1, "59.999999999s"},
        FormatRow{2 * kMinute - 1, "1m59.999999999s"},
        FormatRow{-(5 * kSecond / 2), "-2.5s"}));

TEST(FormatDuration, RoundTripsThroughParse) {
  const std::vector<std::int64_t> values = {
      1,           999,         1'000,       123'456,     999'999,      1'000'000,
      1'234'567,   999'999'999, kSecond,     kSecond + 1, 59'999'999'999, kMinute,
      kHour - 1,   kHour,       kDay - 1,    kDay,        36500 * kDay,  1'234'567'890'123,
  };
  for (std::int64_t v : values) {
    std::string text = format_duration(Duration(v));
    auto back = parse_duration(text);
    ASSERT_TRUE(back.ok()) << v << "ns formatted as \"" << text << "\": " << back.error();
    EXPECT_EQ(back->count(), v) << "\"" << text << "\"";
  }
}

TEST(ToSeconds, IsSecondsAsDouble) {
  EXPECT_DOUBLE_EQ(to_seconds(1500ms), 1.5);
  EXPECT_DOUBLE_EQ(to_seconds(1h), 3600.0);
  EXPECT_DOUBLE_EQ(to_seconds(1ns), 1e-9);
}

}  // namespace
}  // namespace supervise::spec
