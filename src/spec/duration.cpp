#include "supervise/spec/duration.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>

#include "supervise/diagnostics.hpp"

namespace supervise::spec {
namespace {

constexpr long double kNanosPerSecond = 1e9L;
// int64 nanoseconds hold ~292 years; stay well inside.
constexpr long double kMaxNanos = 100.0L * 365 * 86400 * kNanosPerSecond;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads "<digits>[.<digits>]" or ".<digits>" at pos; false when there is no number.
bool read_number(std::string_view s, std::size_t& pos, long double& out) {
  std::size_t start = pos;
  long double value = 0;
  while (pos < s.size() && is_digit(s[pos])) value = value * 10 + (s[pos++] - '0');
  bool had_int = pos > start;
  bool had_frac = false;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    long double scale = 0.1L;
    while (pos < s.size() && is_digit(s[pos])) {
      value += (s[pos++] - '0') * scale;
      scale /= 10;
      had_frac = true;
    }
  }
  out = value;
  return had_int || had_frac;
}

// An exponent after a bare number of seconds ("1e3", "1.5E+2", "5e-1"), as a YAML 1.2 or
// JSON number may be written. Scales `value` by hand (no libm, see parse_duration);
// true when s[pos..] is such an exponent and nothing else.
bool read_exponent(std::string_view s, std::size_t pos, long double& value) {
  if (pos >= s.size() || (s[pos] != 'e' && s[pos] != 'E')) return false;
  ++pos;
  bool negative = false;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) negative = s[pos++] == '-';
  if (pos == s.size()) return false;
  int exponent = 0;
  for (; pos < s.size(); ++pos) {
    if (!is_digit(s[pos])) return false;
    if (exponent < 1000) exponent = exponent * 10 + (s[pos] - '0');
  }
  // At most 9999 steps; a value scaled past long double's range becomes inf ("too long")
  // or 0 ("zero"), as it should.
  for (int i = 0; i < exponent; ++i) value = negative ? value / 10 : value * 10;
  return true;
}

// "1h30m", "500ms", "1.5h", "2d": one or more <number><unit> parts.
bool parse_units(std::string_view s, long double& nanos) {
  std::size_t pos = 0;
  nanos = 0;
  if (s.empty()) return false;
  while (pos < s.size()) {
    long double n = 0;
    if (!read_number(s, pos, n)) return false;
    long double unit = 0;
    if (s.substr(pos, 2) == "ms") {
      unit = 1e6L;
      pos += 2;
    } else if (pos < s.size()) {
      switch (s[pos]) {
        case 's': unit = 1e9L; break;
        case 'm': unit = 60e9L; break;
        case 'h': unit = 3600e9L; break;
        case 'd': unit = 86400e9L; break;
        default: return false;
      }
      ++pos;
    } else {
      return false;  // a number without a unit after other parts ("1h30")
    }
    nanos += n * unit;
  }
  return true;
}

// ISO 8601 durations: P[nW][nD][T[nH][nM][nS]]. Years and months are rejected: their
// length is not fixed.
bool parse_iso8601(std::string_view s, long double& nanos, std::string& why) {
  std::size_t pos = 1;  // past 'P'
  nanos = 0;
  bool in_time = false;
  bool any = false;
  const char* order = "WD";  // designators still allowed, in order
  while (pos < s.size()) {
    if (s[pos] == 'T') {
      if (in_time) return false;
      in_time = true;
      order = "HMS";
      ++pos;
      if (pos == s.size()) return false;  // "PT" alone
      continue;
    }
    long double n = 0;
    if (!read_number(s, pos, n) || pos >= s.size()) return false;
    char designator = s[pos++];
    if (!in_time && (designator == 'Y' || designator == 'M')) {
      why = "years and months have no fixed length";
      return false;
    }
    const char* found = nullptr;
    for (const char* p = order; *p; ++p)
      if (*p == designator) found = p;
    if (found == nullptr) return false;
    order = found + 1;
    long double unit = 0;
    switch (designator) {
      case 'W': unit = 7 * 86400e9L; break;
      case 'D': unit = 86400e9L; break;
      case 'H': unit = 3600e9L; break;
      case 'M': unit = 60e9L; break;
      case 'S': unit = 1e9L; break;
    }
    nanos += n * unit;
    any = true;
  }
  return any;
}

// Whole seconds and up to nine decimals ("2.5s", "0.0000015s"): exact, and never in
// exponent form, which parse_duration would reject.
std::string seconds_text(std::int64_t ns) {
  std::string out = std::to_string(ns / 1'000'000'000);
  if (auto fraction = ns % 1'000'000'000; fraction != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(fraction));
    std::string decimals(buf);
    while (decimals.back() == '0') decimals.pop_back();
    out += decimals;
  }
  return out + "s";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  std::string_view s = trim(text);
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  long double nanos = 0;
  std::string why;
  bool ok = false;
  if (!s.empty() && s.front() == 'P') {
    ok = parse_iso8601(s, nanos, why);
  } else {
    std::size_t pos = 0;
    long double seconds = 0;
    if (read_number(s, pos, seconds) && (pos == s.size() || read_exponent(s, pos, seconds))) {
      nanos = seconds * kNanosPerSecond;
      ok = true;
    } else {
      ok = parse_units(s, nanos);
    }
  }
  if (!ok) {
    std::string msg = quote(text) + " is not a duration";
    if (!why.empty()) msg += " (" + why + ")";
    return Error{msg};
  }
  if (negative && nanos > 0) return Error{quote(text) + " is negative; a duration must be positive"};
  if (!std::isfinite(nanos) || nanos > kMaxNanos) return Error{quote(text) + " is too long (at most 100 years)"};
  // Rounded half up by hand: 0 <= nanos <= kMaxNanos here, and std::llround would be the
  // binary's only use of libm (one shared library less to load at every start).
  auto rounded = static_cast<std::int64_t>(nanos + 0.5L);
  if (rounded <= 0) return Error{quote(text) + " is zero; a duration must be positive"};
  return Duration(rounded);
}

double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::string format_duration(Duration d) {
  using namespace std::chrono;
  std::string out;
  auto ns = d.count();
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  if (ns < 1'000'000'000) {
    if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
    return out + seconds_text(ns);
  }
  const std::int64_t units[] = {86400'000'000'000, 3600'000'000'000, 60'000'000'000};
  const char* names[] = {"d", "h", "m"};
  for (int i = 0; i < 3; ++i) {
    if (ns >= units[i]) {
      out += std::to_string(ns / units[i]) + names[i];
      ns %= units[i];
    }
  }
  if (ns > 0) out += seconds_text(ns);
  return out;
}

}  // namespace supervise::spec
