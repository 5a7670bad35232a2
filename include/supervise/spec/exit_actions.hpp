// Exit actions (SPEC.md "Exit actions"): which exit codes mean COMPLETE, RESCHEDULE or
// FAIL. The code-list parser is a single left-to-right scan (linear time, no regex);
// the table answers a lookup with one array index.
#pragma once

#include <array>
#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervise/result.hpp"

namespace supervise::spec {

using supervise::Result;

enum class Action { kComplete, kReschedule, kFail };

std::string_view to_string(Action action);  // "COMPLETE", "RESCHEDULE", "FAIL"
std::optional<Action> parse_action(std::string_view name);  // any letter case

using CodeSet = std::bitset<256>;

// "0", "1-255", " 1, 3-5 ", "SIGKILL", "KILL" (128 + the signal's number).
Result<CodeSet> parse_codes(std::string_view text);

// The value of an exitActions entry: codes as parse_codes reads them, and the item
// "OOM" (any case): the main process was killed by the kernel's OOM killer. At least
// one item; "OOM" alone is a whole value.
struct RuleItems {
  CodeSet codes;
  bool oom = false;
  bool operator==(const RuleItems&) const = default;
};
Result<RuleItems> parse_rule_items(std::string_view text);

// "1-3,5,7-9": the compact form of a set, for messages.
std::string format_codes(const CodeSet& codes);

// Signal number by name ("SIGTERM", "TERM", any case) and the other way ("SIGTERM").
std::optional<int> signal_number(std::string_view name);
std::string signal_name(int signal);

class ExitActionTable {
 public:
  struct Rule {
    Action action;
    std::string text;  // as matched_rule shows it: "RESCHEDULE: 1-255"
    CodeSet codes;
    bool oom = false;  // the value holds the item OOM
  };
  struct Decision {
    Action action;
    const Rule* rule;  // nullptr when no rule covers the code (the default applied)
  };

  // Adds a rule; a code (or OOM) already covered by a rule of another action is an
  // error naming the codes and both actions. Rules of the same action may overlap.
  Result<bool> add(Action action, std::string_view codes_text);

  // With oom_killed (the kernel's OOM killer killed the main process), a rule holding
  // OOM wins over the rule covering the code. Codes no rule covers: 0 -> COMPLETE,
  // anything else -> FAIL. Codes outside 0..255 never happen for a process; they get FAIL.
  Decision lookup(int code, bool oom_killed = false) const;

  const std::vector<Rule>& rules() const { return rules_; }

 private:
  static constexpr unsigned char kNoRule = 0xff;
  std::vector<Rule> rules_;
  std::array<unsigned char, 256> rule_of_code_ = make_empty();
  unsigned char oom_rule_ = kNoRule;  // the first rule holding OOM
  static std::array<unsigned char, 256> make_empty() {
    std::array<unsigned char, 256> a{};
    a.fill(kNoRule);
    return a;
  }
};

}  // namespace supervise::spec
