// Fuzz target: durations (spec/duration.hpp), as a spec field or an option value gives
// them. parse_duration never throws; a duration it accepts is positive, at most 100
// years, and comes back unchanged through format_duration (what logs and --help show).
#include <chrono>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "supervise/spec/duration.hpp"

namespace spec = supervise::spec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text = fuzz::text_of(data, size);
  auto parsed = spec::parse_duration(text);
  if (!parsed) {
    fuzz::check_message(parsed.error());
    return 0;
  }
  spec::Duration d = *parsed;
  using days = std::chrono::duration<std::int64_t, std::ratio<86400>>;
  if (d.count() <= 0) fuzz::fail("a duration that is not positive was accepted", text);
  if (d > days(100 * 365) + std::chrono::nanoseconds(1)) fuzz::fail("a duration over 100 years was accepted", text);
  std::string shown = spec::format_duration(d);
  auto again = spec::parse_duration(shown);
  if (!again) fuzz::fail("format_duration wrote what parse_duration rejects", shown);
  if (*again != d) fuzz::fail("format_duration and parse_duration disagree", text + " -> " + shown);
  double seconds = spec::to_seconds(d);
  if (!(seconds > 0)) fuzz::fail("to_seconds of a positive duration", shown);
  return 0;
}
