// Durations as SPEC.md "Durations" defines them: seconds as a number, "<n><unit>" parts
// with units d h m s ms ("1h30m", "1.5h", "500ms"), or ISO 8601 ("PT1H30M").
// Pure functions, no system calls.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "supervise/result.hpp"

namespace supervise::spec {

using supervise::Result;

using Duration = std::chrono::nanoseconds;

// Parses a duration written as text (a YAML/JSON number arrives here as its text).
// Zero, negative and malformed values are errors; the message quotes the value.
Result<Duration> parse_duration(std::string_view text);

// "1h30m", "500ms", "2.5s": the shortest readable form, for logs and --help.
std::string format_duration(Duration d);

// Seconds as a double, for JSON and log lines.
double to_seconds(Duration d);

}  // namespace supervise::spec
