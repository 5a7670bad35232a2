// Builds a spec's tree from a parser's events (YAML's or JSON's): resolves YAML merge keys
// (<<) by the YAML 1.1 rules and rejects duplicate keys, naming both lines.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "supervise/spec/tree.hpp"

namespace supervise::spec {

class TreeBuilder {
 public:
  // Thrown when collections nest deeper than kMaxNesting (aliases counted where used).
  struct TooDeep {
    Mark mark;
  };

  TreeBuilder(std::string source, Diagnostics& diag) : source_(std::move(source)), diag_(diag) {}

  // Events in document order; `anchor` 0 when the node has none. A plain (unquoted,
  // untagged) scalar "<<" in a key's place is a merge key.
  void start(Kind kind, Mark mark, std::size_t anchor = 0);  // kList or kMap
  void end();
  void scalar(Kind kind, std::string text, Mark mark, std::size_t anchor = 0, bool plain = false);
  void alias(Mark mark, std::size_t anchor);

  NodePtr root() const { return root_; }  // null until the document's node is complete

 private:
  struct Frame {
    std::shared_ptr<Node> node;
    std::size_t anchor = 0;
    std::string path;  // "tasks[0].checkpoint[0]", as messages name places
    // a map's state: a key read, waiting for its value
    bool has_key = false;
    bool key_is_merge = false;
    std::string key;
    Mark key_mark;
    std::unordered_map<std::string, std::size_t> key_lines;  // explicit and merged keys
    std::vector<std::pair<NodePtr, Mark>> merges;            // values of << keys, in order
  };

  void attach(const NodePtr& node, bool borrowed, bool plain);
  void merge(Frame& frame);
  void merge_map(Frame& frame, const Node& from);
  void problem(const std::string& where, std::string message) { diag_.add(source_, where, std::move(message)); }
  std::string child_path() const;

  std::string source_;
  Diagnostics& diag_;
  std::vector<Frame> frames_;
  std::unordered_map<std::size_t, NodePtr> anchors_;
  NodePtr root_;
  // Entries merge keys brought in, in all: anchors are shared, but a merged map's entries
  // are its own, so a hostile file could multiply them (a map of a million keys merged a
  // million times).
  std::size_t merged_ = 0;
  bool merge_limit_reported_ = false;
};

inline constexpr std::size_t kMaxMergedEntries = 1'000'000;

}  // namespace supervise::spec
