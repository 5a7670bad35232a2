// Reading and decoding a spec: the file, its size, UTF-8, YAML (one document) or JSON,
// into the tree of tree.hpp with every scalar typed as YAML 1.2's core schema reads it.
#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "supervise/spec/loader.hpp"
#include "supervise/utf8.hpp"
#include "tree_builder.hpp"

namespace supervise::spec {
namespace {

std::string line_column(const Mark& mark) {
  return "line " + std::to_string(mark.line) + ", column " + std::to_string(mark.column);
}

Mark mark_of(const YAML::Mark& m) {
  return {static_cast<std::size_t>(m.line + 1), static_cast<std::size_t>(m.column + 1)};
}

bool looks_like_json(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{' || c == '[';
  }
  return false;
}

// ---- YAML ------------------------------------------------------------------------------

bool all_of_digits(std::string_view s, int base) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [base](char c) {
    if (base == 8) return c >= '0' && c <= '7';
    if (base == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
    return c >= '0' && c <= '9';
  });
}

// [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool is_core_float(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  std::size_t i = 0, digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    return all_of_digits(s.substr(i), 10);
  }
  return i == s.size();
}

// A plain scalar's kind by YAML 1.2's core schema, as Go's yaml.v3 reads it (PyYAML's
// YAML 1.1 also takes yes/no/on/off for booleans; here they stay strings).
Kind plain_kind(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Kind::kNull;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE")
    return Kind::kBoolean;
  std::string_view unsigned_part = (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
  if (s.rfind("0o", 0) == 0 && all_of_digits(s.substr(2), 8)) return Kind::kNumber;
  if (s.rfind("0x", 0) == 0 && all_of_digits(s.substr(2), 16)) return Kind::kNumber;
  if (is_core_float(s)) return Kind::kNumber;
  for (std::string_view special : {".inf", ".Inf", ".INF"})
    if (unsigned_part == special) return Kind::kNumber;
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return Kind::kNumber;
  return Kind::kString;
}

Kind tagged_kind(const std::string& tag, const std::string& value) {
  if (tag == "?" || tag.empty()) return plain_kind(value);
  if (tag == "tag:yaml.org,2002:null") return Kind::kNull;
  if (tag == "tag:yaml.org,2002:bool") return Kind::kBoolean;
  if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float") return Kind::kNumber;
  return Kind::kString;  // quoted ("!"), !!str, or an application's tag
}

class YamlEvents : public YAML::EventHandler {
 public:
  explicit YamlEvents(TreeBuilder& builder) : builder_(builder) {}
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    builder_.scalar(Kind::kNull, "", mark_of(mark), anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override { builder_.alias(mark_of(mark), anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    builder_.scalar(tagged_kind(tag, value), value, mark_of(mark), anchor, tag == "?");
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    builder_.start(Kind::kList, mark_of(mark), anchor);
  }
  void OnSequenceEnd() override { builder_.end(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    builder_.start(Kind::kMap, mark_of(mark), anchor);
  }
  void OnMapEnd() override { builder_.end(); }

 private:
  TreeBuilder& builder_;
};

// Stops at the start of a second document: a spec is one (PyYAML's safe_load refuses
// more; yaml-cpp's Load would silently read the first).
class SecondDocument : public YamlEvents {
 public:
  struct Found {
    Mark mark;
  };
  using YamlEvents::YamlEvents;
  void OnDocumentStart(const YAML::Mark& mark) override { throw Found{mark_of(mark)}; }
};

void parse_yaml(const Source& source, TreeBuilder& builder, Diagnostics& diag) {
  try {
    std::istringstream in(source.text);
    YAML::Parser parser(in);
    YamlEvents events(builder);
    parser.HandleNextDocument(events);
    try {
      SecondDocument second(builder);
      parser.HandleNextDocument(second);
    } catch (const SecondDocument::Found& f) {
      diag.add(source.name, "line " + std::to_string(f.mark.line),
               "a second YAML document starts here; a task spec is one document");
    }
  } catch (const TreeBuilder::TooDeep& e) {
    diag.add(source.name, line_column(e.mark), "nesting deeper than " + std::to_string(kMaxNesting) + " levels");
  } catch (const YAML::Exception& e) {
    diag.add(source.name, line_column(mark_of(e.mark)), "invalid YAML: " + printable(e.msg));
  }
}

// ---- JSON ------------------------------------------------------------------------------

// An input iterator that counts what the JSON lexer has read, for the marks of keys.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* at, std::size_t* read) : at_(at), read_(read) {}
  reference operator*() const { return *at_; }
  CountingIterator& operator++() {
    ++at_;
    ++*read_;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator& other) const { return at_ == other.at_; }
  bool operator!=(const CountingIterator& other) const { return at_ != other.at_; }

 private:
  const char* at_;
  std::size_t* read_;
};

class JsonEvents {
 public:
  using json = nlohmann::json;
  JsonEvents(std::string_view text, TreeBuilder& builder) : text_(text), builder_(builder) {
    for (std::size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') newlines_.push_back(i);
  }
  std::size_t read = 0;        // bytes the lexer has read
  std::string error;           // the parser's message, when it failed

  bool null() { return scalar(Kind::kNull, ""); }
  bool boolean(bool b) { return scalar(Kind::kBoolean, b ? "true" : "false"); }
  bool number_integer(json::number_integer_t n) { return scalar(Kind::kNumber, std::to_string(n)); }
  bool number_unsigned(json::number_unsigned_t n) { return scalar(Kind::kNumber, std::to_string(n)); }
  bool number_float(json::number_float_t, const std::string& text) { return scalar(Kind::kNumber, text); }
  bool string(std::string& s) { return scalar(Kind::kString, std::move(s)); }
  bool binary(json::binary_t&) { return false; }
  bool start_object(std::size_t) { return start(Kind::kMap); }
  bool key(std::string& k) { return scalar(Kind::kString, std::move(k)); }
  bool end_object() { return end(); }
  bool start_array(std::size_t) { return start(Kind::kList); }
  bool end_array() { return end(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." minus the tag.
    error = e.what();
    if (auto close = error.find("] "); error.rfind("[json.", 0) == 0 && close != std::string::npos)
      error = error.substr(close + 2);
    return false;
  }

 private:
  // The last byte read that is no blank: the end of the token just read (a number's
  // lexer reads one byte past it).
  Mark here() const {
    std::size_t at = read == 0 ? 0 : read - 1;
    while (at > 0 && std::strchr(" \t\r\n", text_[at])) --at;
    auto line = std::upper_bound(newlines_.begin(), newlines_.end(), at) - newlines_.begin();
    std::size_t line_start = line == 0 ? 0 : newlines_[static_cast<std::size_t>(line) - 1] + 1;
    return {static_cast<std::size_t>(line) + 1, at - line_start + 1};
  }
  bool scalar(Kind kind, std::string text) {
    builder_.scalar(kind, std::move(text), here());
    return true;
  }
  bool start(Kind kind) {
    builder_.start(kind, here());
    return true;
  }
  bool end() {
    builder_.end();
    return true;
  }

  std::string_view text_;
  TreeBuilder& builder_;
  std::vector<std::size_t> newlines_;
};

void parse_json(const Source& source, TreeBuilder& builder, Diagnostics& diag) {
  JsonEvents events(source.text, builder);
  const char* begin = source.text.data();
  try {
    if (!nlohmann::json::sax_parse(CountingIterator(begin, &events.read),
                                   CountingIterator(begin + source.text.size(), &events.read), &events))
      diag.add(source.name, "", "invalid JSON: " + printable(events.error));
  } catch (const TreeBuilder::TooDeep& e) {
    diag.add(source.name, line_column(e.mark), "nesting deeper than " + std::to_string(kMaxNesting) + " levels");
  }
}

}  // namespace

std::optional<NodePtr> parse_tree(const Source& source, Diagnostics& diag) {
  if (source.text.size() > kMaxSpecBytes) {
    diag.add(source.name, "", "the file is larger than 16 MiB; no task spec is that big");
    return std::nullopt;
  }
  if (std::size_t bad = invalid_utf8_at(source.text); bad != std::string_view::npos) {
    // YAML and JSON are both UTF-8 text here; a stray byte would reach the command line
    // or the status as something else than what the file says.
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < bad; ++i) {
      if (source.text[i] == '\n') ++line, column = 1;
      else if ((static_cast<unsigned char>(source.text[i]) & 0xC0) != 0x80) ++column;
    }
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(source.text[bad]));
    diag.add(source.name, line_column({line, column}),
             std::string("invalid UTF-8 (byte ") + byte + "); a task spec must be UTF-8 text");
    return std::nullopt;
  }
  std::size_t before = diag.items().size();
  TreeBuilder builder(source.name, diag);
  if (looks_like_json(source.text)) parse_json(source, builder, diag);
  else parse_yaml(source, builder, diag);
  if (diag.items().size() != before) return std::nullopt;
  if (!builder.root() || builder.root()->kind == Kind::kNull) {
    diag.add(source.name, "", "the file holds no task");
    return std::nullopt;
  }
  return builder.root();
}

Source read_source(const std::string& path) {
  auto fail = [&](const std::string& what) {
    Diagnostics diag;
    diag.add(path, "", what);
    throw InputError(std::move(diag));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(std::string("cannot read: ") + std::strerror(errno));
  Source source{path, {}};
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      fail(std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    source.text.append(buf, static_cast<std::size_t>(n));
    if (source.text.size() > kMaxSpecBytes) {
      ::close(fd);
      fail("the file is larger than 16 MiB; no task spec is that big");
    }
  }
  ::close(fd);
  return source;
}

}  // namespace supervise::spec
