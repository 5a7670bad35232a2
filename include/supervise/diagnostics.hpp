// Diagnostics: every problem found in the input, each with its place, so that one run
// reports all of them ("wf.yaml: tasks[0].checkpoint[1].frequency: \"5x\" is not a
// duration"). InputError carries them out of start-up code to main().
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace supervise {

struct Diagnostic {
  std::string source;    // file name, or "command line"
  std::string location;  // "tasks[0].files[1].mode"; empty for the whole source
  std::string message;

  std::string to_string() const;  // "source: location: message"
};

class Diagnostics {
 public:
  void add(std::string source, std::string location, std::string message);
  bool empty() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  void append(const Diagnostics& other);
  // All problems joined by newlines.
  std::string to_string() const;

 private:
  std::vector<Diagnostic> items_;
};

// Thrown by start-up code when the input is invalid; main() prints every diagnostic
// and exits 125.
class InputError : public std::runtime_error {
 public:
  explicit InputError(Diagnostics diagnostics);
  const Diagnostics& diagnostics() const { return diagnostics_; }

 private:
  Diagnostics diagnostics_;
};

// Quotes a value for a message: "5x" with control bytes and quotes escaped, and long
// values shortened, so that hostile input cannot flood or forge log lines.
std::string quote(std::string_view value);

}  // namespace supervise
