// Logging: spdlog on stderr, every line prefixed "[supervise]" so a reader of mixed
// container logs can tell the supervisor's lines from the task's.
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <string_view>

namespace supervise::log {

// "trace", "debug", "info", "warn", "error", "off" (also "warning", "critical").
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);

// Control bytes as escapes ("\n" as backslash-n): what every log line goes through.
std::string escape(std::string_view text);

// Installs the stderr logger as spdlog's default. Every message is passed through
// escape(), so one message is always one line.
void init(spdlog::level::level_enum level);

}  // namespace supervise::log
