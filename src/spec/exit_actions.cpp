#include "supervise/spec/exit_actions.hpp"

#include <signal.h>

#include <cctype>

#include "supervise/diagnostics.hpp"

namespace supervise::spec {
namespace {

struct NamedSignal {
  const char* name;  // without "SIG"
  int number;
};

// The Linux signals by name; aliases after their main name.
constexpr NamedSignal kSignals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
    {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},
    {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"POLL", SIGPOLL},   {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// One end of a range: a code 0..255 or a signal name (128 + its number).
Result<int> parse_endpoint(std::string_view token) {
  if (token.empty()) return Error{"a range needs a code on each side"};
  bool all_digits = true;
  for (char c : token) all_digits = all_digits && c >= '0' && c <= '9';
  if (all_digits) {
    // Digits beyond what 255 needs cannot be a code; stop before they overflow.
    int value = 0;
    for (char c : token) {
      value = value * 10 + (c - '0');
      if (value > 255) return Error{quote(token) + " is not an exit code (0..255)"};
    }
    return value;
  }
  if (auto number = signal_number(token); number && *number < 128)
    return 128 + *number;
  return Error{quote(token) + " is not an exit code (0..255) or a signal name"};
}

}  // namespace

std::string_view to_string(Action action) {
  switch (action) {
    case Action::kComplete: return "COMPLETE";
    case Action::kReschedule: return "RESCHEDULE";
    case Action::kFail: return "FAIL";
  }
  return "FAIL";
}

std::optional<Action> parse_action(std::string_view name) {
  for (Action a : {Action::kComplete, Action::kReschedule, Action::kFail})
    if (iequals(name, to_string(a))) return a;
  return std::nullopt;
}

std::optional<int> signal_number(std::string_view name) {
  std::string_view bare = name;
  if (bare.size() > 3 && iequals(bare.substr(0, 3), "SIG")) bare.remove_prefix(3);
  for (const auto& s : kSignals)
    if (iequals(bare, s.name)) return s.number;
  // SIGRTMIN+n and SIGRTMAX-n.
  for (bool from_min : {true, false}) {
    std::string_view base = from_min ? "RTMIN" : "RTMAX";
    if (bare.size() < base.size() || !iequals(bare.substr(0, base.size()), base)) continue;
    std::string_view rest = bare.substr(base.size());
    int offset = 0;
    if (!rest.empty()) {
      if (rest.front() != (from_min ? '+' : '-') || rest.size() < 2 || rest.size() > 3) continue;
      for (char c : rest.substr(1)) {
        if (c < '0' || c > '9') return std::nullopt;
        offset = offset * 10 + (c - '0');
      }
    }
    int n = from_min ? SIGRTMIN + offset : SIGRTMAX - offset;
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    return std::nullopt;
  }
  return std::nullopt;
}

std::string signal_name(int signal) {
  for (const auto& s : kSignals)
    if (s.number == signal) return std::string("SIG") + s.name;
  if (signal == SIGRTMIN) return "SIGRTMIN";
  if (signal > SIGRTMIN && signal <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(signal - SIGRTMIN);
  return "SIG" + std::to_string(signal);
}

Result<CodeSet> parse_codes(std::string_view text) {
  auto items = parse_rule_items(text);
  if (!items) return Error{items.error()};
  if (items->oom) return Error{"OOM is not an exit code (0..255) (in " + quote(trim(text)) + ")"};
  return items->codes;
}

Result<RuleItems> parse_rule_items(std::string_view text) {
  RuleItems items;
  CodeSet& codes = items.codes;
  std::string_view whole = trim(text);
  if (whole.empty()) return Error{"no exit codes given"};
  // One left-to-right pass over the items: linear in the length of the text.
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = trim(text.substr(start, comma - start));
    auto fail = [&](std::string message) -> Result<RuleItems> {
      if (item != whole) message += " (in " + quote(whole) + ")";
      return Error{std::move(message)};
    };
    if (item.empty()) return fail("empty item");  // fail() names the whole value
    if (iequals(item, "OOM")) {
      items.oom = true;
      start = comma + 1;
      continue;
    }
    std::size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      auto code = parse_endpoint(item);
      if (!code) return fail(code.error());
      codes.set(static_cast<std::size_t>(*code));
    } else {
      std::string_view left = trim(item.substr(0, dash));
      std::string_view right = trim(item.substr(dash + 1));
      if (left.empty()) return fail(quote(item) + " is not an exit code (0..255)");
      if (right.find('-') != std::string_view::npos)
        return fail(quote(item) + " is not a code or a range N-M");
      auto low = parse_endpoint(left);
      if (!low) return fail(low.error());
      auto high = parse_endpoint(right);
      if (!high) return fail(high.error());
      if (*low > *high) return fail("range " + quote(item) + " runs backwards");
      for (int c = *low; c <= *high; ++c) codes.set(static_cast<std::size_t>(c));
    }
    start = comma + 1;
  }
  return items;
}

std::string format_codes(const CodeSet& codes) {
  std::string out;
  std::size_t c = 0;
  while (c < codes.size()) {
    if (!codes.test(c)) {
      ++c;
      continue;
    }
    std::size_t end = c;
    while (end + 1 < codes.size() && codes.test(end + 1)) ++end;
    if (!out.empty()) out += ',';
    out += std::to_string(c);
    if (end > c) out += '-' + std::to_string(end);
    c = end + 1;
  }
  return out;
}

Result<bool> ExitActionTable::add(Action action, std::string_view codes_text) {
  auto items = parse_rule_items(codes_text);
  if (!items) return Error{items.error()};
  for (const Rule& rule : rules_) {
    if (rule.action == action) continue;
    std::string between = " covered by both " + std::string(to_string(rule.action)) + " and " +
                          std::string(to_string(action));
    if (rule.oom && items->oom) return Error{"OOM is" + between};
    CodeSet both = rule.codes & items->codes;
    if (both.none()) continue;
    std::string list = format_codes(both);
    bool one = both.count() == 1;
    return Error{std::string(one ? "code " : "codes ") + list + (one ? " is" : " are") + between};
  }
  if (rules_.size() >= kNoRule) return Error{"too many exit-action rules"};
  auto index = static_cast<unsigned char>(rules_.size());
  std::string text(trim(codes_text));
  rules_.push_back({action, std::string(to_string(action)) + ": " + text, items->codes, items->oom});
  // A code keeps the first rule that names it (only same-action rules can overlap).
  for (std::size_t c = 0; c < 256; ++c)
    if (items->codes.test(c) && rule_of_code_[c] == kNoRule) rule_of_code_[c] = index;
  if (items->oom && oom_rule_ == kNoRule) oom_rule_ = index;
  return true;
}

ExitActionTable::Decision ExitActionTable::lookup(int code, bool oom_killed) const {
  if (oom_killed && oom_rule_ != kNoRule) return {rules_[oom_rule_].action, &rules_[oom_rule_]};
  if (code < 0 || code > 255) return {Action::kFail, nullptr};
  unsigned char index = rule_of_code_[static_cast<std::size_t>(code)];
  if (index != kNoRule) return {rules_[index].action, &rules_[index]};
  return {code == 0 ? Action::kComplete : Action::kFail, nullptr};
}

}  // namespace supervise::spec
