#include "supervise/diagnostics.hpp"

#include <cstdio>

namespace supervise {

std::string Diagnostic::to_string() const {
  std::string out = source;
  if (!location.empty()) out += (out.empty() ? "" : ": ") + location;
  if (!out.empty()) out += ": ";
  return out + message;
}

namespace {

// A source or location is shown as it is, but quoted when it holds a control byte: a
// file name or option given on the command line cannot forge or garble a line of stderr.
std::string one_line(std::string text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return quote(text);
  return text;
}

}  // namespace

void Diagnostics::add(std::string source, std::string location, std::string message) {
  items_.push_back({one_line(std::move(source)), one_line(std::move(location)), std::move(message)});
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

std::string Diagnostics::to_string() const {
  std::string out;
  for (const auto& d : items_) {
    if (!out.empty()) out += '\n';
    out += d.to_string();
  }
  return out;
}

InputError::InputError(Diagnostics diagnostics)
    : std::runtime_error(diagnostics.to_string()), diagnostics_(std::move(diagnostics)) {}

std::string quote(std::string_view value) {
  // Long values are cut: a message must stay one readable line whatever the input.
  constexpr std::size_t kMaxShown = 80;
  std::string out = "\"";
  std::size_t shown = 0;
  for (unsigned char c : value) {
    if (shown++ == kMaxShown) {
      // Never cut a UTF-8 character in two: drop the bytes of it already copied.
      if ((c & 0xc0) == 0x80) {
        while ((static_cast<unsigned char>(out.back()) & 0xc0) == 0x80) out.pop_back();
        if (static_cast<unsigned char>(out.back()) >= 0xc0) out.pop_back();
      }
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace supervise
