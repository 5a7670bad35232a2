// Fuzz target: exit-action strings (spec/exit_actions.hpp). The input's lines are the
// values of up to 8 rules: "ACTION=CODES" like --exit-action, or bare CODES for the
// actions in turn. Checks: parse_codes never throws and gives back the same set through
// format_codes; a table built from the rules answers every code 0..255 (and outside)
// with a rule that covers it; signal names go both ways.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "supervise/spec/exit_actions.hpp"

namespace spec = supervise::spec;

namespace {

void check_codes(std::string_view text) {
  auto codes = spec::parse_codes(text);
  if (!codes) {
    fuzz::check_message(codes.error());
    return;
  }
  if (codes->none()) fuzz::fail("parse_codes accepted an empty set", text);
  std::string shown = spec::format_codes(*codes);
  auto again = spec::parse_codes(shown);
  if (!again || *again != *codes) fuzz::fail("format_codes and parse_codes disagree", shown);
}

void check_signal(std::string_view name) {
  if (auto number = spec::signal_number(name)) {
    std::string back = spec::signal_name(*number);
    auto again = spec::signal_number(back);
    if (!again || *again != *number) fuzz::fail("signal_name and signal_number disagree", back);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text = fuzz::text_of(data, size);
  check_codes(text);
  check_signal(text);
  (void)spec::parse_action(text);

  spec::ExitActionTable table;
  const spec::Action kInTurn[] = {spec::Action::kComplete, spec::Action::kReschedule, spec::Action::kFail};
  auto lines = fuzz::split(text, '\n');
  for (std::size_t i = 0; i < lines.size() && i < 8; ++i) {
    std::string_view line = lines[i];
    spec::Action action = kInTurn[i % 3];
    if (auto eq = line.find('='); eq != std::string_view::npos) {
      if (auto named = spec::parse_action(line.substr(0, eq))) {
        action = *named;
        line.remove_prefix(eq + 1);
      }
    }
    if (lines.size() > 1) check_codes(line);
    auto added = table.add(action, line);
    if (!added) fuzz::check_message(added.error());
  }
  for (int code = -2; code <= 257; ++code) {
    auto decision = table.lookup(code);
    if (code < 0 || code > 255) {
      if (decision.rule || decision.action != spec::Action::kFail) fuzz::fail("a code outside 0..255 not FAIL");
      continue;
    }
    if (!decision.rule) {
      auto expected = code == 0 ? spec::Action::kComplete : spec::Action::kFail;
      if (decision.action != expected) fuzz::fail("the default action is wrong");
      for (const auto& rule : table.rules())
        if (rule.codes.test(static_cast<std::size_t>(code))) fuzz::fail("a covered code found no rule");
      continue;
    }
    if (!decision.rule->codes.test(static_cast<std::size_t>(code)) || decision.rule->action != decision.action)
      fuzz::fail("lookup gave a rule that does not cover the code");
    for (const auto& rule : table.rules())
      if (rule.codes.test(static_cast<std::size_t>(code)) && rule.action != decision.action)
        fuzz::fail("a code covered by two actions");
  }
  return 0;
}
