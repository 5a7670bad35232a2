// Fuzz target: exit-action strings (spec/exit_actions.hpp). The input's lines are the
// values of up to 8 rules: "ACTION=CODES" like --exit-action, or bare CODES for the
// actions in turn. Checks: parse_codes and parse_rule_items never throw and give back
// the same set (and OOM item) through format_codes; a table built from the rules answers
// every code 0..255 (and outside) with a rule that covers it, and an OOM kill with the
// first rule holding OOM (else as the code); OOM is never in two actions; signal names
// go both ways.
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

void check_items(std::string_view text) {
  auto items = spec::parse_rule_items(text);
  if (!items) {
    fuzz::check_message(items.error());
    return;
  }
  if (items->codes.none() && !items->oom) fuzz::fail("parse_rule_items accepted no item", text);
  auto codes = spec::parse_codes(text);
  if (codes.ok() == items->oom) fuzz::fail("parse_codes and parse_rule_items disagree about OOM", text);
  if (codes && *codes != items->codes) fuzz::fail("parse_codes and parse_rule_items disagree", text);
  std::string shown = spec::format_codes(items->codes);
  if (items->oom) shown = shown.empty() ? "OOM" : shown + ",oom";
  auto again = spec::parse_rule_items(shown);
  if (!again || *again != *items) fuzz::fail("format_codes and parse_rule_items disagree", shown);
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
  check_items(text);
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
    if (lines.size() > 1) {
      check_codes(line);
      check_items(line);
    }
    auto added = table.add(action, line);
    if (!added) fuzz::check_message(added.error());
  }
  const spec::ExitActionTable::Rule* oom_rule = nullptr;
  for (const auto& rule : table.rules()) {
    if (!rule.oom) continue;
    if (!oom_rule) oom_rule = &rule;
    else if (rule.action != oom_rule->action) fuzz::fail("OOM covered by two actions");
  }
  for (int code = -2; code <= 257; ++code) {
    auto oom = table.lookup(code, /*oom_killed=*/true);
    if (oom_rule ? oom.rule != oom_rule : (oom.rule != table.lookup(code).rule || oom.action != table.lookup(code).action))
      fuzz::fail("an OOM kill did not find the first OOM rule (or, without one, the code's)");
    if (oom.rule && oom.rule->action != oom.action) fuzz::fail("lookup gave a rule of another action");
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
