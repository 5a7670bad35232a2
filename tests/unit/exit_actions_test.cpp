// SPEC.md "Exit actions": every rule a row.
#include "supervise/spec/exit_actions.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>

namespace supervise::spec {
namespace {

// --- Action names -------------------------------------------------------------------

struct ActionRow {
  std::string text;
  std::optional<Action> action;
};
void PrintTo(const ActionRow& row, std::ostream* os) { *os << '"' << row.text << '"'; }

class ParseAction : public ::testing::TestWithParam<ActionRow> {};

TEST_P(ParseAction, AnyLetterCase) { EXPECT_EQ(parse_action(GetParam().text), GetParam().action); }

INSTANTIATE_TEST_SUITE_P(
    Spec, ParseAction,
    ::testing::Values(ActionRow{"COMPLETE", Action::kComplete}, ActionRow{"complete", Action::kComplete},
                      ActionRow{"Complete", Action::kComplete}, ActionRow{"RESCHEDULE", Action::kReschedule},
                      ActionRow{"reschedule", Action::kReschedule}, ActionRow{"ReScHeDuLe", Action::kReschedule},
                      ActionRow{"FAIL", Action::kFail}, ActionRow{"fail", Action::kFail},
                      ActionRow{"fAiL", Action::kFail}, ActionRow{"", std::nullopt},
                      ActionRow{"COMPLETED", std::nullopt}, ActionRow{"COMPLET", std::nullopt},
                      ActionRow{" COMPLETE", std::nullopt}, ActionRow{"RETRY", std::nullopt},
                      ActionRow{"FAILED", std::nullopt}));

TEST(ActionToString, IsUpperCaseName) {
  EXPECT_EQ(to_string(Action::kComplete), "COMPLETE");
  EXPECT_EQ(to_string(Action::kReschedule), "RESCHEDULE");
  EXPECT_EQ(to_string(Action::kFail), "FAIL");
}

// --- Code lists -----------------------------------------------------------------------

CodeSet codes_of(std::initializer_list<std::pair<int, int>> ranges) {
  CodeSet set;
  for (auto [low, high] : ranges)
    for (int c = low; c <= high; ++c) set.set(static_cast<std::size_t>(c));
  return set;
}

struct CodesRow {
  std::string text;
  CodeSet codes;
};
void PrintTo(const CodesRow& row, std::ostream* os) { *os << '"' << row.text << '"'; }

class ParseCodesGood : public ::testing::TestWithParam<CodesRow> {};

TEST_P(ParseCodesGood, GivesTheSet) {
  auto codes = parse_codes(GetParam().text);
  ASSERT_TRUE(codes.ok()) << "\"" << GetParam().text << "\": " << codes.error();
  EXPECT_EQ(*codes, GetParam().codes) << "\"" << GetParam().text << "\" gave " << format_codes(*codes);
}

INSTANTIATE_TEST_SUITE_P(
    Spec, ParseCodesGood,
    ::testing::Values(
        CodesRow{"0", codes_of({{0, 0}})}, CodesRow{"255", codes_of({{255, 255}})},
        CodesRow{"1-255", codes_of({{1, 255}})}, CodesRow{"0-255", codes_of({{0, 255}})},
        CodesRow{" 1 , 3-5 ", codes_of({{1, 1}, {3, 5}})}, CodesRow{"1,3-5", codes_of({{1, 1}, {3, 5}})},
        CodesRow{"\t7\t", codes_of({{7, 7}})}, CodesRow{"5-5", codes_of({{5, 5}})},
        CodesRow{"1 - 3", codes_of({{1, 3}})}, CodesRow{"1,1", codes_of({{1, 1}})},
        CodesRow{"3-5,4-6", codes_of({{3, 6}})}, CodesRow{"007", codes_of({{7, 7}})},
        CodesRow{"255,0", codes_of({{0, 0}, {255, 255}})},
        // A signal name stands for 128 + its number.
        CodesRow{"SIGKILL", codes_of({{137, 137}})}, CodesRow{"KILL", codes_of({{137, 137}})},
        CodesRow{"sigkill", codes_of({{137, 137}})}, CodesRow{"kill", codes_of({{137, 137}})},
        CodesRow{"SIGTERM", codes_of({{143, 143}})}, CodesRow{"TERM", codes_of({{143, 143}})},
        CodesRow{"SIGINT", codes_of({{130, 130}})}, CodesRow{"SIGHUP", codes_of({{129, 129}})},
        CodesRow{"0, SIGTERM ,SIGKILL", codes_of({{0, 0}, {137, 137}, {143, 143}})},
        CodesRow{"SIGINT-SIGTERM", codes_of({{130, 143}})}, CodesRow{"1-SIGKILL", codes_of({{1, 137}})}));

struct BadCodesRow {
  std::string text;
  std::string message_part;  // a substring the message must contain
};
void PrintTo(const BadCodesRow& row, std::ostream* os) { *os << '"' << row.text << '"'; }

class ParseCodesRejects : public ::testing::TestWithParam<BadCodesRow> {};

TEST_P(ParseCodesRejects, WithAMessage) {
  auto codes = parse_codes(GetParam().text);
  ASSERT_FALSE(codes.ok()) << "\"" << GetParam().text << "\" gave " << format_codes(*codes);
  EXPECT_NE(codes.error().find(GetParam().message_part), std::string::npos)
      << "message: " << codes.error() << "\nwanted: " << GetParam().message_part;
}

INSTANTIATE_TEST_SUITE_P(
    Spec, ParseCodesRejects,
    ::testing::Values(
        BadCodesRow{"10-1", R"(range "10-1" runs backwards)"},
        BadCodesRow{"0, 10-1", R"(range "10-1" runs backwards (in "0, 10-1"))"},
        BadCodesRow{"SIGTERM-SIGKILL", "runs backwards"},
        BadCodesRow{"1-23-4", R"("1-23-4" is not a code or a range N-M)"},
        BadCodesRow{"256", R"("256" is not an exit code (0..255))"},
        BadCodesRow{"1-256", R"("256" is not an exit code (0..255))"},
        BadCodesRow{"0,1-256", R"("256" is not an exit code (0..255) (in "0,1-256"))"},
        BadCodesRow{"-1", R"("-1" is not an exit code (0..255))"},
        BadCodesRow{"1,,2", R"(empty item)"}, BadCodesRow{"1,,2", R"("1,,2")"},
        BadCodesRow{"1,", "empty item"}, BadCodesRow{",1", "empty item"},
        BadCodesRow{"1, ,2", "empty item"}, BadCodesRow{"", "no exit codes given"},
        BadCodesRow{"   ", "no exit codes given"}, BadCodesRow{",", "empty item"},
        BadCodesRow{"abc", R"("abc" is not an exit code (0..255) or a signal name)"},
        BadCodesRow{"SIGFOO", R"("SIGFOO" is not an exit code (0..255) or a signal name)"},
        BadCodesRow{"999999999999999999999", R"("999999999999999999999" is not an exit code (0..255))"},
        BadCodesRow{"1-", "a range needs a code on each side"},
        BadCodesRow{"-", R"("-" is not an exit code)"}, BadCodesRow{"1 2", R"("1 2" is not an exit code)"},
        BadCodesRow{"1.5", R"("1.5" is not an exit code)"}, BadCodesRow{"+1", R"("+1" is not an exit code)"},
        BadCodesRow{"0x10", R"("0x10" is not an exit code)"}, BadCodesRow{"1;2", R"("1;2" is not an exit code)"}));

TEST(ParseCodes, EmptyItemIsReportedOnce) {
  auto codes = parse_codes("1,,2");
  ASSERT_FALSE(codes.ok());
  EXPECT_EQ(codes.error(), R"(empty item (in "1,,2"))");
}

TEST(ParseCodes, EveryCodeAlone) {
  for (int c = 0; c <= 255; ++c) {
    auto codes = parse_codes(std::to_string(c));
    ASSERT_TRUE(codes.ok()) << c << ": " << codes.error();
    EXPECT_EQ(codes->count(), 1u) << c;
    EXPECT_TRUE(codes->test(static_cast<std::size_t>(c))) << c;
  }
}

// The parser must be linear: a hostile 1 MB value is answered at once.
template <typename F>
double seconds_taken(F&& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

constexpr std::size_t kMegabyte = 1 << 20;

std::string repeated(std::string_view unit, std::size_t bytes) {
  std::string out;
  out.reserve(bytes + unit.size());
  while (out.size() < bytes) out += unit;
  return out;
}

TEST(ParseCodes, LinearOnManyItems) {
  std::string items = repeated("1,", kMegabyte);  // ends with ',' so it is rejected at the end
  double t = seconds_taken([&] {
    auto codes = parse_codes(items);
    ASSERT_FALSE(codes.ok());
    EXPECT_NE(codes.error().find("empty item"), std::string::npos) << codes.error();
    EXPECT_LT(codes.error().size(), 300u);  // the echo of the value is shortened
  });
  EXPECT_LT(t, 1.0);

  items.pop_back();  // "1,1,...,1": valid
  t = seconds_taken([&] {
    auto codes = parse_codes(items);
    ASSERT_TRUE(codes.ok()) << codes.error().substr(0, 200);
    EXPECT_EQ(*codes, codes_of({{1, 1}}));
  });
  EXPECT_LT(t, 1.0);
}

TEST(ParseCodes, LinearOnManyDashesAndBlanks) {
  for (const std::string& text :
       {repeated("1-", kMegabyte) + "1", repeated("-", kMegabyte), repeated(" ", kMegabyte),
        repeated(" ", kMegabyte) + "1" + repeated(" ", kMegabyte), repeated("1", kMegabyte),
        repeated("SIGKILL,", kMegabyte) + "0", repeated("1-2,", kMegabyte) + "3",
        repeated(", ", kMegabyte), repeated("SIGRTMIN+1,", kMegabyte) + "x"}) {
    double t = seconds_taken([&] {
      auto codes = parse_codes(text);
      if (!codes.ok()) {
        EXPECT_LT(codes.error().size(), 300u);
      }
    });
    EXPECT_LT(t, 1.0) << text.substr(0, 20) << "...";
  }
}

// --- format_codes -----------------------------------------------------------------------

struct FormatRow {
  CodeSet codes;
  std::string text;
};
void PrintTo(const FormatRow& row, std::ostream* os) { *os << format_codes(row.codes); }

class FormatCodes : public ::testing::TestWithParam<FormatRow> {};

TEST_P(FormatCodes, IsCompact) { EXPECT_EQ(format_codes(GetParam().codes), GetParam().text); }

INSTANTIATE_TEST_SUITE_P(
    Table, FormatCodes,
    ::testing::Values(FormatRow{CodeSet{}, ""}, FormatRow{codes_of({{0, 0}}), "0"},
                      FormatRow{codes_of({{255, 255}}), "255"}, FormatRow{codes_of({{0, 255}}), "0-255"},
                      FormatRow{codes_of({{1, 3}, {5, 5}, {7, 9}}), "1-3,5,7-9"},
                      FormatRow{codes_of({{0, 1}}), "0-1"}, FormatRow{codes_of({{0, 0}, {2, 2}}), "0,2"},
                      FormatRow{codes_of({{1, 255}}), "1-255"},
                      FormatRow{codes_of({{254, 255}, {0, 0}}), "0,254-255"}));

TEST(FormatCodes, ParsesBackToTheSameSet) {
  for (const CodeSet& set : {codes_of({{0, 0}}), codes_of({{1, 3}, {5, 5}, {7, 9}}), codes_of({{0, 255}}),
                             codes_of({{0, 0}, {2, 2}, {4, 4}, {250, 255}})}) {
    auto back = parse_codes(format_codes(set));
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(*back, set);
  }
}

// --- Signals -------------------------------------------------------------------------------

struct SignalRow {
  std::string name;
  std::optional<int> number;
};
void PrintTo(const SignalRow& row, std::ostream* os) { *os << '"' << row.name << '"'; }

class SignalNumber : public ::testing::TestWithParam<SignalRow> {};

TEST_P(SignalNumber, ByName) { EXPECT_EQ(signal_number(GetParam().name), GetParam().number) << GetParam().name; }

INSTANTIATE_TEST_SUITE_P(
    Table, SignalNumber,
    ::testing::Values(
        SignalRow{"SIGTERM", SIGTERM}, SignalRow{"TERM", SIGTERM}, SignalRow{"term", SIGTERM},
        SignalRow{"sigterm", SIGTERM}, SignalRow{"SigTerm", SIGTERM}, SignalRow{"SIGKILL", SIGKILL},
        SignalRow{"KILL", SIGKILL}, SignalRow{"SIGHUP", SIGHUP}, SignalRow{"SIGINT", SIGINT},
        SignalRow{"SIGQUIT", SIGQUIT}, SignalRow{"SIGUSR1", SIGUSR1}, SignalRow{"SIGUSR2", SIGUSR2},
        SignalRow{"SIGCHLD", SIGCHLD}, SignalRow{"SIGSEGV", SIGSEGV}, SignalRow{"SIGPIPE", SIGPIPE},
        SignalRow{"SIGIOT", SIGABRT}, SignalRow{"SIGPOLL", SIGIO}, SignalRow{"SIGSYS", SIGSYS},
        SignalRow{"SIGWINCH", SIGWINCH}, SignalRow{"SIGSTKFLT", SIGSTKFLT},
        SignalRow{"SIGRTMIN", SIGRTMIN}, SignalRow{"RTMIN", SIGRTMIN}, SignalRow{"SIGRTMIN+1", SIGRTMIN + 1},
        SignalRow{"SIGRTMIN+10", SIGRTMIN + 10}, SignalRow{"SIGRTMAX", SIGRTMAX},
        SignalRow{"SIGRTMAX-1", SIGRTMAX - 1}, SignalRow{"sigrtmax-2", SIGRTMAX - 2},
        SignalRow{"", std::nullopt}, SignalRow{"SIG", std::nullopt}, SignalRow{"SIGFOO", std::nullopt},
        SignalRow{"9", std::nullopt}, SignalRow{"SIG9", std::nullopt}, SignalRow{"SIGSIGTERM", std::nullopt},
        SignalRow{" SIGTERM", std::nullopt}, SignalRow{"SIGRTMIN+", std::nullopt},
        SignalRow{"SIGRTMIN+100", std::nullopt}, SignalRow{"SIGRTMIN-1", std::nullopt},
        SignalRow{"SIGRTMAX+1", std::nullopt}, SignalRow{"SIGRTMIN+1x", std::nullopt},
        SignalRow{"SIGRTMIN+1000", std::nullopt}));

TEST(SignalName, Table) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGINT), "SIGINT");
  EXPECT_EQ(signal_name(SIGABRT), "SIGABRT");  // not its alias SIGIOT
  EXPECT_EQ(signal_name(SIGIO), "SIGIO");      // not its alias SIGPOLL
  EXPECT_EQ(signal_name(SIGRTMIN), "SIGRTMIN");
  EXPECT_EQ(signal_name(SIGRTMIN + 2), "SIGRTMIN+2");
}

TEST(SignalName, RoundTripsThroughSignalNumber) {
  for (int s = 1; s <= SIGRTMAX; ++s) {
    if (s > SIGSYS && s < SIGRTMIN) continue;  // reserved by the C library, no name
    std::string name = signal_name(s);
    EXPECT_EQ(name.rfind("SIG", 0), 0u) << s;
    EXPECT_EQ(signal_number(name), s) << name;
  }
}

// --- The table ------------------------------------------------------------------------------

TEST(ExitActionTable, CompleteZeroRescheduleTheRestCoversEveryCode) {
  ExitActionTable table;
  ASSERT_TRUE(table.add(Action::kComplete, "0").ok());
  ASSERT_TRUE(table.add(Action::kReschedule, "1-255").ok());
  for (int code = 0; code <= 255; ++code) {
    auto decision = table.lookup(code);
    ASSERT_NE(decision.rule, nullptr) << code;
    if (code == 0) {
      EXPECT_EQ(decision.action, Action::kComplete);
      EXPECT_EQ(decision.rule->text, "COMPLETE: 0");
    } else {
      EXPECT_EQ(decision.action, Action::kReschedule) << code;
      EXPECT_EQ(decision.rule->text, "RESCHEDULE: 1-255") << code;
    }
  }
  EXPECT_EQ(table.lookup(-1).action, Action::kFail);
  EXPECT_EQ(table.lookup(-1).rule, nullptr);
  EXPECT_EQ(table.lookup(256).action, Action::kFail);
  EXPECT_EQ(table.lookup(256).rule, nullptr);
}

TEST(ExitActionTable, UncoveredCodesGetTheDefault) {
  ExitActionTable empty;
  for (int code = 0; code <= 255; ++code) {
    auto decision = empty.lookup(code);
    EXPECT_EQ(decision.action, code == 0 ? Action::kComplete : Action::kFail) << code;
    EXPECT_EQ(decision.rule, nullptr) << code;
  }
  for (int code : {-1, 256, -256, 1000, 0x7fffffff, -0x7fffffff - 1}) {
    EXPECT_EQ(empty.lookup(code).action, Action::kFail) << code;
    EXPECT_EQ(empty.lookup(code).rule, nullptr) << code;
  }

  ExitActionTable some;
  ASSERT_TRUE(some.add(Action::kReschedule, "SIGKILL").ok());
  auto killed = some.lookup(137);
  EXPECT_EQ(killed.action, Action::kReschedule);
  ASSERT_NE(killed.rule, nullptr);
  EXPECT_EQ(killed.rule->text, "RESCHEDULE: SIGKILL");
  EXPECT_EQ(some.lookup(0).action, Action::kComplete);
  EXPECT_EQ(some.lookup(0).rule, nullptr);
  EXPECT_EQ(some.lookup(1).action, Action::kFail);
  EXPECT_EQ(some.lookup(1).rule, nullptr);
  EXPECT_EQ(some.lookup(143).action, Action::kFail);
}

TEST(ExitActionTable, ExplicitRulesOverrideTheDefault) {
  ExitActionTable table;
  ASSERT_TRUE(table.add(Action::kFail, "0").ok());
  ASSERT_TRUE(table.add(Action::kComplete, "1").ok());
  EXPECT_EQ(table.lookup(0).action, Action::kFail);
  ASSERT_NE(table.lookup(0).rule, nullptr);
  EXPECT_EQ(table.lookup(0).rule->text, "FAIL: 0");
  EXPECT_EQ(table.lookup(1).action, Action::kComplete);
  EXPECT_EQ(table.lookup(1).rule->text, "COMPLETE: 1");
}

TEST(ExitActionTable, RuleTextIsTrimmed) {
  ExitActionTable table;
  ASSERT_TRUE(table.add(Action::kReschedule, "  1-10 , 20 ").ok());
  ASSERT_EQ(table.rules().size(), 1u);
  EXPECT_EQ(table.rules()[0].text, "RESCHEDULE: 1-10 , 20");
  EXPECT_EQ(table.rules()[0].action, Action::kReschedule);
  EXPECT_EQ(table.rules()[0].codes, codes_of({{1, 10}, {20, 20}}));
}

struct OverlapRow {
  Action first;
  std::string first_codes;
  Action second;
  std::string second_codes;
  std::string message;
};
void PrintTo(const OverlapRow& row, std::ostream* os) { *os << row.first_codes << " / " << row.second_codes; }

class ExitActionOverlap : public ::testing::TestWithParam<OverlapRow> {};

TEST_P(ExitActionOverlap, NamesTheCodesAndBothActions) {
  const OverlapRow& row = GetParam();
  ExitActionTable table;
  ASSERT_TRUE(table.add(row.first, row.first_codes).ok());
  auto added = table.add(row.second, row.second_codes);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error(), row.message);
  // The failed rule left the table as it was.
  ASSERT_EQ(table.rules().size(), 1u);
  for (int code = 0; code <= 255; ++code) {
    auto decision = table.lookup(code);
    if (table.rules()[0].codes.test(static_cast<std::size_t>(code))) {
      EXPECT_EQ(decision.action, row.first) << code;
      EXPECT_EQ(decision.rule, &table.rules()[0]) << code;
    } else {
      EXPECT_EQ(decision.rule, nullptr) << code;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Spec, ExitActionOverlap,
    ::testing::Values(
        OverlapRow{Action::kComplete, "5", Action::kReschedule, "5",
                   "code 5 is covered by both COMPLETE and RESCHEDULE"},
        OverlapRow{Action::kComplete, "0-5", Action::kReschedule, "5-255",
                   "code 5 is covered by both COMPLETE and RESCHEDULE"},
        OverlapRow{Action::kComplete, "0-9", Action::kFail, "5-20",
                   "codes 5-9 are covered by both COMPLETE and FAIL"},
        OverlapRow{Action::kReschedule, "1,3,5", Action::kFail, "1-3",
                   "codes 1,3 are covered by both RESCHEDULE and FAIL"},
        OverlapRow{Action::kReschedule, "SIGKILL", Action::kFail, "128-255",
                   "code 137 is covered by both RESCHEDULE and FAIL"},
        OverlapRow{Action::kFail, "0-255", Action::kComplete, "0",
                   "code 0 is covered by both FAIL and COMPLETE"}));

TEST(ExitActionTable, OverlapWithinTheSameActionIsFine) {
  ExitActionTable table;
  ASSERT_TRUE(table.add(Action::kReschedule, "1-10").ok());
  auto second = table.add(Action::kReschedule, "5-20");
  ASSERT_TRUE(second.ok()) << second.error();
  ASSERT_TRUE(table.add(Action::kReschedule, "1-10").ok());
  EXPECT_EQ(table.rules().size(), 3u);
  EXPECT_EQ(table.lookup(7).rule->text, "RESCHEDULE: 1-10");  // the first rule naming it
  EXPECT_EQ(table.lookup(15).rule->text, "RESCHEDULE: 5-20");
  EXPECT_EQ(table.lookup(21).action, Action::kFail);
  // Another action still cannot take any of those codes.
  auto clash = table.add(Action::kComplete, "0,20");
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error(), "code 20 is covered by both RESCHEDULE and COMPLETE");
}

// --- The OOM item ---------------------------------------------------------------------

struct ItemsRow {
  std::string text;
  CodeSet codes;
  bool oom;
};
void PrintTo(const ItemsRow& row, std::ostream* os) { *os << '"' << row.text << '"'; }

class ParseRuleItems : public ::testing::TestWithParam<ItemsRow> {};

TEST_P(ParseRuleItems, ReadsCodesAndOom) {
  auto items = parse_rule_items(GetParam().text);
  ASSERT_TRUE(items.ok()) << items.error();
  EXPECT_EQ(items->codes, GetParam().codes) << format_codes(items->codes);
  EXPECT_EQ(items->oom, GetParam().oom);
}

INSTANTIATE_TEST_SUITE_P(
    Spec, ParseRuleItems,
    ::testing::Values(ItemsRow{"OOM", {}, true}, ItemsRow{"oom", {}, true}, ItemsRow{" Oom ", {}, true},
                      ItemsRow{"OOM, 2", codes_of({{2, 2}}), true}, ItemsRow{"1-3,OOM", codes_of({{1, 3}}), true},
                      ItemsRow{"OOM,OOM", {}, true}, ItemsRow{"OOM, SIGKILL", codes_of({{137, 137}}), true},
                      ItemsRow{"1-255", codes_of({{1, 255}}), false}, ItemsRow{"SIGKILL", codes_of({{137, 137}}), false}));

class ParseRuleItemsBad : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseRuleItemsBad, IsAnError) {
  auto items = parse_rule_items(GetParam());
  EXPECT_FALSE(items.ok()) << "\"" << GetParam() << "\" was accepted";
}

INSTANTIATE_TEST_SUITE_P(Spec, ParseRuleItemsBad,
                         ::testing::Values("OOM,", ",OOM", "OOM,,1", "OOM-5", "1-OOM", "OOMKILL", "O OM", "OOM 1",
                                           "SIGOOM", ""));

TEST(ParseCodes, OomIsNotACode) {
  auto codes = parse_codes("1, OOM");
  ASSERT_FALSE(codes.ok());
  EXPECT_EQ(codes.error(), "OOM is not an exit code (0..255) (in \"1, OOM\")");
}

TEST(ExitActionTable, OomWinsOverTheRuleCovering137OnlyWhenOomKilled) {
  ExitActionTable table;
  ASSERT_TRUE(table.add(Action::kReschedule, "1-255").ok());
  ASSERT_TRUE(table.add(Action::kFail, "OOM").ok());  // no code clash: OOM is no code
  ASSERT_EQ(table.rules().size(), 2u);
  EXPECT_TRUE(table.rules()[1].oom);
  EXPECT_TRUE(table.rules()[1].codes.none());
  auto oom = table.lookup(137, /*oom_killed=*/true);
  EXPECT_EQ(oom.action, Action::kFail);
  ASSERT_NE(oom.rule, nullptr);
  EXPECT_EQ(oom.rule->text, "FAIL: OOM");
  auto evicted = table.lookup(137);
  EXPECT_EQ(evicted.action, Action::kReschedule);
  EXPECT_EQ(evicted.rule->text, "RESCHEDULE: 1-255");
  EXPECT_EQ(table.lookup(0).action, Action::kComplete);
  EXPECT_EQ(table.lookup(0, true).action, Action::kFail);  // oom_killed decides, whatever the code
}

TEST(ExitActionTable, WithoutAnOomRuleOomKilledLooksUpTheCode) {
  ExitActionTable table;
  ASSERT_TRUE(table.add(Action::kReschedule, "SIGKILL").ok());
  EXPECT_EQ(table.lookup(137, true).action, Action::kReschedule);
  EXPECT_EQ(table.lookup(137, true).rule->text, "RESCHEDULE: SIGKILL");
  ExitActionTable empty;
  EXPECT_EQ(empty.lookup(137, true).action, Action::kFail);
  EXPECT_EQ(empty.lookup(137, true).rule, nullptr);
}

TEST(ExitActionTable, OomWithCodesInOneRule) {
  ExitActionTable table;
  ASSERT_TRUE(table.add(Action::kFail, "OOM, 2").ok());
  ASSERT_TRUE(table.add(Action::kReschedule, "1, 3-255").ok());
  EXPECT_EQ(table.lookup(2).rule->text, "FAIL: OOM, 2");
  EXPECT_EQ(table.lookup(137, true).rule->text, "FAIL: OOM, 2");
  EXPECT_EQ(table.lookup(137).rule->text, "RESCHEDULE: 1, 3-255");
}

TEST(ExitActionTable, OomInTwoActionsIsAnOverlap) {
  ExitActionTable table;
  ASSERT_TRUE(table.add(Action::kFail, "OOM").ok());
  auto clash = table.add(Action::kReschedule, "1-255, oom");
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error(), "OOM is covered by both FAIL and RESCHEDULE");
  EXPECT_EQ(table.rules().size(), 1u);
  EXPECT_EQ(table.lookup(5).rule, nullptr);  // the failed rule added nothing
  // The same action twice may name it.
  ASSERT_TRUE(table.add(Action::kFail, "OOM, 3").ok());
  EXPECT_EQ(table.lookup(137, true).rule->text, "FAIL: OOM");  // the first rule naming it
}

TEST(ExitActionTable, InvalidCodesAreRejectedAndNotAdded) {
  ExitActionTable table;
  auto added = table.add(Action::kFail, "10-1");
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.error().find("runs backwards"), std::string::npos) << added.error();
  EXPECT_TRUE(table.rules().empty());
  EXPECT_EQ(table.lookup(5).rule, nullptr);
}

}  // namespace
}  // namespace supervise::spec
