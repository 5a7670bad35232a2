// Diagnostics: "source: location: message" lines, and quote() for values in messages.
#include "supervise/diagnostics.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace supervise {
namespace {

struct LineRow {
  Diagnostic diagnostic;
  std::string line;
};
void PrintTo(const LineRow& row, std::ostream* os) { *os << row.line; }

class DiagnosticLine : public ::testing::TestWithParam<LineRow> {};

TEST_P(DiagnosticLine, ToString) { EXPECT_EQ(GetParam().diagnostic.to_string(), GetParam().line); }

INSTANTIATE_TEST_SUITE_P(
    Table, DiagnosticLine,
    ::testing::Values(
        LineRow{{"wf.yaml", "tasks[0].checkpoint[1].frequency", "\"5x\" is not a duration"},
                "wf.yaml: tasks[0].checkpoint[1].frequency: \"5x\" is not a duration"},
        LineRow{{"wf.yaml", "", "bad YAML"}, "wf.yaml: bad YAML"},
        LineRow{{"command line", "--stop-timeout", "\"x\" is not a duration"},
                "command line: --stop-timeout: \"x\" is not a duration"},
        LineRow{{"", "tasks[0]", "no command"}, "tasks[0]: no command"},
        LineRow{{"", "", "no task"}, "no task"}));

TEST(Diagnostics, JoinsEveryProblemByNewlines) {
  Diagnostics all;
  EXPECT_TRUE(all.empty());
  EXPECT_EQ(all.to_string(), "");
  all.add("wf.yaml", "tasks[0].command", "is required");
  EXPECT_FALSE(all.empty());
  EXPECT_EQ(all.to_string(), "wf.yaml: tasks[0].command: is required");

  Diagnostics more;
  more.add("command line", "", "--timeout needs a value");
  more.add("wf.yaml", "tasks[0].files[1].mode", "\"9\" is not an octal mode");
  all.append(more);
  ASSERT_EQ(all.items().size(), 3u);
  EXPECT_EQ(all.items()[1].source, "command line");
  EXPECT_EQ(all.items()[2].location, "tasks[0].files[1].mode");
  EXPECT_EQ(all.to_string(),
            "wf.yaml: tasks[0].command: is required\n"
            "command line: --timeout needs a value\n"
            "wf.yaml: tasks[0].files[1].mode: \"9\" is not an octal mode");

  InputError error(all);
  EXPECT_STREQ(error.what(), all.to_string().c_str());
  EXPECT_EQ(error.diagnostics().items().size(), 3u);
}

struct QuoteRow {
  std::string value;
  std::string quoted;
};
void PrintTo(const QuoteRow& row, std::ostream* os) { *os << ::testing::PrintToString(row.value.substr(0, 40)); }

class Quote : public ::testing::TestWithParam<QuoteRow> {};

TEST_P(Quote, EscapesAndShortens) { EXPECT_EQ(quote(GetParam().value), GetParam().quoted); }

INSTANTIATE_TEST_SUITE_P(
    Table, Quote,
    ::testing::Values(
        QuoteRow{"5x", R"("5x")"}, QuoteRow{"", R"("")"}, QuoteRow{"a b", R"("a b")"},
        QuoteRow{"a\"b", R"("a\"b")"}, QuoteRow{"a\\b", R"("a\\b")"}, QuoteRow{"a\nb", R"("a\x0ab")"},
        QuoteRow{"a\rb", R"("a\x0db")"}, QuoteRow{"\t", R"("\x09")"}, QuoteRow{"\x1b[31m", R"("\x1b[31m")"},
        QuoteRow{"\x7f", R"("\x7f")"}, QuoteRow{std::string("a\0b", 3), R"("a\x00b")"},
        // A forged second log line stays on the first.
        QuoteRow{"x\nwf.yaml: ok", R"("x\x0awf.yaml: ok")"},
        // UTF-8 text is kept as it is.
        QuoteRow{"caf\xc3\xa9", "\"caf\xc3\xa9\""},
        // At most 80 bytes are shown.
        QuoteRow{std::string(80, 'a'), "\"" + std::string(80, 'a') + "\""},
        QuoteRow{std::string(81, 'a'), "\"" + std::string(80, 'a') + "...\""},
        QuoteRow{std::string(100000, 'a'), "\"" + std::string(80, 'a') + "...\""},
        // The cut never splits a UTF-8 character in two.
        QuoteRow{std::string(79, 'a') + "\xc3\xa9" + "zzz", "\"" + std::string(79, 'a') + "...\""},
        QuoteRow{std::string(78, 'a') + "\xe2\x82\xac" + "zzz", "\"" + std::string(78, 'a') + "...\""},
        QuoteRow{std::string(77, 'a') + "\xe2\x82\xac" + "zzz",
                 "\"" + std::string(77, 'a') + "\xe2\x82\xac...\""},
        QuoteRow{std::string(78, 'a') + "\xc3\xa9" + "zzz", "\"" + std::string(78, 'a') + "\xc3\xa9...\""}));

TEST(Quote, StaysShortWhateverTheInput) {
  EXPECT_LE(quote(std::string(1 << 20, '\n')).size(), 2 + 80 * 4 + 3u);
  EXPECT_LE(quote(std::string(1 << 20, '\x80')).size(), 2 + 80 + 3u);
  EXPECT_EQ(quote(std::string(1 << 20, '\n')).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace supervise
