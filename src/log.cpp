#include "supervise/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdio>
#include <mutex>

namespace supervise::log {
namespace {

// Escapes control bytes in every message before the real sink sees it: a command
// argument or a spec value holding "\n" must not start a line that looks like ours.
class PrintableSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit PrintableSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    bool clean = true;
    for (unsigned char c : payload) clean = clean && c >= 0x20 && c != 0x7f;
    if (clean) return inner_->log(msg);
    std::string escaped = escape(payload);
    spdlog::details::log_msg copy = msg;
    copy.payload = escaped;
    inner_->log(copy);
  }
  void flush_() override { inner_->flush(); }
  // The pattern is the inner sink's business: it formats the line.
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> f) override { inner_->set_formatter(std::move(f)); }

 private:
  spdlog::sink_ptr inner_;
};

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out;
}

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
  auto sink = std::make_shared<PrintableSink>(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>("supervise", std::move(sink));
  // "[supervise] 2026-11-22T10:00:00.123Z info: ..." in UTC: container logs mix sources,
  // and the prefix tells the supervisor's lines from the task's.
  logger->set_pattern("[supervise] %Y-%m-%dT%H:%M:%S.%eZ %^%l%$: %v", spdlog::pattern_time_type::utc);
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace supervise::log
