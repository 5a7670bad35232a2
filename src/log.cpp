#include "supervise/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace supervise::log {

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  using spdlog::level::level_enum;
  struct Named {
    std::string_view name;
    level_enum level;
  };
  static constexpr Named kLevels[] = {
      {"trace", level_enum::trace}, {"debug", level_enum::debug},      {"info", level_enum::info},
      {"warn", level_enum::warn},   {"warning", level_enum::warn},     {"error", level_enum::err},
      {"critical", level_enum::critical}, {"off", level_enum::off},
  };
  for (const auto& l : kLevels)
    if (l.name == name) return l.level;
  return std::nullopt;
}

void init(spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_color_mt("supervise");
  // "[supervise] 2026-11-22T10:00:00.123Z info: ..." in UTC: container logs mix sources,
  // and the prefix tells the supervisor's lines from the task's.
  logger->set_pattern("[supervise] %Y-%m-%dT%H:%M:%S.%eZ %^%l%$: %v", spdlog::pattern_time_type::utc);
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace supervise::log
