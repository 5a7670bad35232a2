// What every fuzz target checks besides "no crash, no leak, no hang": a problem reported
// to the user is one line of text (no newline or other control byte that could forge
// or garble a line of the supervisor's stderr), and a property that fails aborts with
// the input's story on stderr, so that libFuzzer saves the input as a crash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "supervise/diagnostics.hpp"

namespace fuzz {

[[noreturn]] inline void fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz property failed: %.*s\n  %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline std::string text_of(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// A line shown to the user: not empty, no control byte (tabs aside).
inline void check_line(std::string_view what, std::string_view line) {
  for (unsigned char c : line)
    if ((c < 0x20 && c != '\t') || c == 0x7f) fail(what, line);
}

inline void check_message(std::string_view message) {
  if (message.empty()) fail("an error without a message");
  check_line("an error message holds a control byte", message);
}

// An InputError must hold at least one problem, each printable as one line.
inline void check_input_error(const supervise::InputError& e) {
  if (e.diagnostics().empty()) fail("InputError without a problem");
  for (const auto& d : e.diagnostics().items()) {
    check_message(d.message);
    check_line("a problem's location holds a control byte", d.location);
    check_line("a problem's source holds a control byte", d.source);
  }
}

// The input cut at `separator`: the argv of the command-line targets.
inline std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = text.find(separator, start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

}  // namespace fuzz
