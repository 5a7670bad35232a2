// The spec's tree and how it is built from a parser's events: merge keys resolved by the
// YAML 1.1 rules, duplicate keys rejected with both lines, nesting bounded.
#include "supervise/spec/tree.hpp"

#include <algorithm>
#include <cstdio>

#include "tree_builder.hpp"

namespace supervise::spec {

const Entry* Node::find(std::string_view key) const {
  if (kind != Kind::kMap) return nullptr;
  for (const auto& e : items)
    if (e.key == key) return &e;
  return nullptr;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kString: return "a string";
    case Kind::kNumber: return "a number";
    case Kind::kBoolean: return "a boolean";
    case Kind::kList: return "a list";
    case Kind::kMap: return "a map";
  }
  return "?";
}

Value Value::operator[](std::string_view key) const {
  const Entry* e = node ? node->find(key) : nullptr;
  if (!e) return {};
  return {e->value.get(), borrowed || e->borrowed};
}

Value Value::operator[](std::size_t i) const {
  if (!node || node->is_scalar() || i >= node->items.size()) return {};
  const Entry& e = node->items[i];
  return {e.value.get(), borrowed || e.borrowed};
}

std::string Value::origin() const {
  if (!borrowed || !node || node->mark.line == 0) return "";
  return " (from line " + std::to_string(node->mark.line) + ")";
}

std::string Value::key_origin(std::size_t i) const {
  const Entry& e = node->items[i];
  if (!(borrowed || e.borrowed) || e.key_mark.line == 0) return "";
  return " (from line " + std::to_string(e.key_mark.line) + ")";
}

// ---- message helpers ---------------------------------------------------------------------

std::string plain_or_quoted(std::string_view text) {
  bool plain = !text.empty() && text.size() <= 80 && std::all_of(text.begin(), text.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\\';
  });
  return plain ? std::string(text) : quote(text);
}

std::string printable(std::string_view message) {
  constexpr std::size_t kMaxBytes = 200;
  std::string out;
  for (std::size_t i = 0; i < message.size(); ++i) {
    auto c = static_cast<unsigned char>(message[i]);
    if (out.size() >= kMaxBytes && (c & 0xc0) != 0x80) return out + "...";
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? plain_or_quoted(key) : prefix + "." + plain_or_quoted(key);
}

std::string index(const std::string& prefix, std::size_t i) {
  return prefix + "[" + std::to_string(i) + "]";
}

// ---- building ------------------------------------------------------------------------------

std::string TreeBuilder::child_path() const {
  if (frames_.empty()) return "";
  const Frame& top = frames_.back();
  if (top.node->kind == Kind::kList) return index(top.path, top.node->items.size());
  return top.has_key ? join(top.path, top.key) : top.path;
}

void TreeBuilder::start(Kind kind, Mark mark, std::size_t anchor) {
  if (frames_.size() >= kMaxNesting) throw TooDeep{mark};
  Frame frame;
  frame.node = std::make_shared<Node>();
  frame.node->kind = kind;
  frame.node->mark = mark;
  frame.anchor = anchor;
  frame.path = child_path();
  frames_.push_back(std::move(frame));
}

void TreeBuilder::end() {
  Frame frame = std::move(frames_.back());
  frames_.pop_back();
  if (frame.node->kind == Kind::kMap) merge(frame);
  NodePtr done = std::move(frame.node);
  if (frame.anchor != 0) anchors_[frame.anchor] = done;
  attach(done, false, false);
}

void TreeBuilder::scalar(Kind kind, std::string text, Mark mark, std::size_t anchor, bool plain) {
  auto node = std::make_shared<Node>();
  node->kind = kind;
  node->text = std::move(text);
  node->mark = mark;
  NodePtr done = std::move(node);
  if (anchor != 0) anchors_[anchor] = done;
  attach(done, false, plain);
}

void TreeBuilder::alias(Mark mark, std::size_t anchor) {
  auto it = anchors_.find(anchor);
  if (it == anchors_.end()) {  // the parser rejects an unknown alias first; never trust it
    problem(child_path(), "line " + std::to_string(mark.line) + ": an alias of no anchor");
    return attach(std::make_shared<Node>(), false, false);
  }
  // The anchored node is shared, not copied (a "billion laughs" costs nothing), but it
  // counts where it is used: every walk of the tree stays within kMaxNesting.
  if (frames_.size() + it->second->height > kMaxNesting) throw TooDeep{mark};
  attach(it->second, true, false);
}

void TreeBuilder::attach(const NodePtr& node, bool borrowed, bool plain) {
  if (frames_.empty()) {
    root_ = node;
    return;
  }
  Frame& top = frames_.back();
  Node& parent = *top.node;
  parent.height = std::max(parent.height, node->height + 1);
  if (parent.kind == Kind::kList) {
    parent.items.push_back({"", node->mark, node, borrowed});
    return;
  }
  if (!top.has_key) {
    top.has_key = true;
    top.key_mark = node->mark;
    top.key_is_merge = plain && node->kind == Kind::kString && node->text == "<<";
    if (node->is_scalar()) {
      top.key = node->text;
    } else {
      top.key = "?";
      problem(top.path, "line " + std::to_string(node->mark.line) + ": a key must be a scalar, not " +
                            kind_name(node->kind));
    }
    return;
  }
  top.has_key = false;
  if (top.key_is_merge) {
    top.merges.emplace_back(node, top.key_mark);
    return;
  }
  auto [it, fresh] = top.key_lines.emplace(top.key, top.key_mark.line);
  if (!fresh) {
    // YAML readers keep the first, JSON readers the last: either way a typo would pass.
    std::string lines = it->second == top.key_mark.line
                            ? "twice on line " + std::to_string(it->second)
                            : "lines " + std::to_string(it->second) + " and " + std::to_string(top.key_mark.line);
    problem(top.path, "key " + quote(top.key) + " given twice (" + lines + ")");
    return;
  }
  parent.items.push_back({top.key, top.key_mark, node, borrowed});
}

// YAML 1.1 merge keys (https://yaml.org/type/merge.html): the map's own keys win over
// merged ones wherever they are written, and of several merged maps the earlier wins.
void TreeBuilder::merge(Frame& frame) {
  for (const auto& [value, mark] : frame.merges) {
    std::string at = join(frame.path, "<<");
    if (value->kind == Kind::kMap) {
      merge_map(frame, *value);
    } else if (value->kind == Kind::kList) {
      for (const auto& item : value->items) {
        if (item.value->kind == Kind::kMap) merge_map(frame, *item.value);
        else problem(at, "line " + std::to_string(item.value->mark.line) +
                             ": a merge key takes maps (an alias like *defaults), not " +
                             kind_name(item.value->kind));
      }
    } else {
      problem(at, "line " + std::to_string(mark.line) +
                      ": a merge key takes a map or a list of maps (an alias like *defaults), not " +
                      kind_name(value->kind));
    }
  }
}

void TreeBuilder::merge_map(Frame& frame, const Node& from) {
  for (const auto& e : from.items) {
    if (!frame.key_lines.emplace(e.key, e.key_mark.line).second) continue;
    if (++merged_ > kMaxMergedEntries) {
      if (!merge_limit_reported_)
        problem(join(frame.path, "<<"), "merge keys bring in more than " + std::to_string(kMaxMergedEntries) +
                                            " entries in all; no task spec needs that many");
      merge_limit_reported_ = true;
      return;
    }
    frame.node->items.push_back({e.key, e.key_mark, e.value, true});
    frame.node->height = std::max(frame.node->height, e.value->height + 1);
  }
}

}  // namespace supervise::spec
