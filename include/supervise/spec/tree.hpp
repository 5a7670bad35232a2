// The document tree a spec is read into: typed scalars, lists and maps, each with its
// line and column, YAML merge keys resolved and duplicate keys rejected (src/spec/tree.cpp).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervise/diagnostics.hpp"

namespace supervise::spec {

struct Source;

// Where a node starts in the source; 1-based, 0 when unknown.
struct Mark {
  std::size_t line = 0, column = 0;
};

// A scalar's kind as YAML's core schema (YAML 1.2) or JSON reads it: a plain `5` is a
// number, `"5"` a string, `true` a boolean, `~` null.
enum class Kind { kNull, kString, kNumber, kBoolean, kList, kMap };

class Node;
using NodePtr = std::shared_ptr<const Node>;  // shared: an alias is the anchored node itself

// An item of a list (key empty) or an entry of a map.
struct Entry {
  std::string key;
  Mark key_mark;
  NodePtr value;
  bool borrowed = false;  // an alias, or an entry a merge key (<<) brought in
};

class Node {
 public:
  Kind kind = Kind::kNull;
  std::string text;  // a scalar as written; empty for collections and null
  Mark mark;
  std::vector<Entry> items;  // list items or map entries, in the source's order
  std::size_t height = 1;    // 1 for a scalar, 1 + the highest child for a collection

  bool is_scalar() const { return kind != Kind::kList && kind != Kind::kMap; }
  const Entry* find(std::string_view key) const;  // a map's entry, or null
};

// "a string", "a number", "a list", ...: as messages name a node's kind.
const char* kind_name(Kind kind);

// A node as the task reader walks it: `borrowed` once the path to it went through an
// alias or a merge key, so that a message about it can say on which line it is written.
struct Value {
  const Node* node = nullptr;
  bool borrowed = false;

  bool absent() const { return node == nullptr || node->kind == Kind::kNull; }
  Kind kind() const { return node ? node->kind : Kind::kNull; }
  bool is(Kind k) const { return node && node->kind == k; }
  std::size_t size() const { return node ? node->items.size() : 0; }
  Value operator[](std::string_view key) const;  // a map's value, or an absent Value
  Value operator[](std::size_t i) const;  // a list's item or a map's i-th value
  const std::string& key(std::size_t i) const { return node->items[i].key; }
  // " (from line N)" for a borrowed node, else nothing: appended to a message's location.
  std::string origin() const;
  std::string key_origin(std::size_t i) const;  // the same for a map's key

};

// Nesting deeper than this is no task spec; refusing it early keeps every walk of the
// tree (and its destruction) far from the stack's end. Aliases count at their depth.
inline constexpr std::size_t kMaxNesting = 64;
inline constexpr std::size_t kMaxSpecBytes = 16 * 1024 * 1024;

// The tree of a spec (YAML, or JSON when its first non-blank character is { or [): null
// after adding every problem found (size, UTF-8, syntax, nesting, a second YAML document,
// duplicate keys, a malformed merge key) to `diag`.
std::optional<NodePtr> parse_tree(const Source& source, Diagnostics& diag);

// For messages: a key or value as written when it is plain printable text, quoted
// otherwise; a parser's message with control bytes escaped and cut at 200 bytes.
std::string plain_or_quoted(std::string_view text);
std::string printable(std::string_view message);
std::string join(const std::string& prefix, std::string_view key);  // "a.b"
std::string index(const std::string& prefix, std::size_t i);        // "a[3]"

}  // namespace supervise::spec
