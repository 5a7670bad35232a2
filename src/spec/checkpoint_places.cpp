#include "supervise/spec/checkpoint_places.hpp"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <utility>

#include "supervise/diagnostics.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::spec {
namespace {

using Resolve = std::function<std::string(const std::string&)>;

// `inner` lies strictly below `outer`, component-wise ("/a/bc" is not below "/a/b").
bool below(const std::string& inner, const std::string& outer) {
  if (outer == "/") return inner.size() > 1 && inner.front() == '/';
  return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
         inner[outer.size()] == '/';
}

std::string join_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string basename_of(const Checkpoint& cp) {
  return std::filesystem::path(cp.path).filename().string();
}

std::string shown_url(const std::string& url) {
  return quote(redact_url(url));
}

// What an entry writes on its store: the keys <key> and <key>/..., and <manifest>.
struct Target {
  std::string store;      // the key space: "file" (one file system) or the bucket's URL
  std::string url_root;   // what a key is shown after: "file://", "s3://bucket/"
  std::string key;        // <root>/<basename>
  std::string manifest;   // <root>/<basename>.manifest.json
  bool resolved = false;  // the key differs from the lexical one (a link on the way)

  std::string shown(const std::string& k) const { return shown_url(url_root + k); }
};

Target target_of(const Checkpoint& cp, const Resolve& resolve) {
  Target t;
  std::string base = basename_of(cp);
  if (cp.url.scheme == StoreUrl::Scheme::kFile) {
    t.store = "file";
    t.url_root = "file://";
    t.key = join_path(resolve(cp.url.dir), base);
    t.resolved = t.key != join_path(cp.url.dir, base);
  } else {
    t.store = cp.url.root();
    t.url_root = cp.url.root() + "/";
    t.key = cp.url.prefix.empty() ? base : cp.url.prefix + "/" + base;
  }
  t.manifest = t.key + ".manifest.json";
  return t;
}

// Why `a` and `b` write the same keys, or nothing when they do not.
std::optional<std::string> clash(const Target& a, const Target& b) {
  if (a.store != b.store) return std::nullopt;
  if (a.key == b.key) return a.shown(a.key);
  if (below(a.key, b.key)) return a.shown(a.key) + " is inside " + b.shown(b.key);
  if (below(b.key, a.key)) return b.shown(b.key) + " is inside " + a.shown(a.key);
  for (const auto& [manifest, key] : {std::pair(a.manifest, b.key), std::pair(b.manifest, a.key)}) {
    if (manifest == key)
      return a.shown(manifest) + " is the manifest of one and the files of the other";
    if (below(key, manifest))
      return a.shown(key) + " is inside " + a.shown(manifest) + ", a manifest";
  }
  return std::nullopt;
}

bool from_command_line(const Checkpoint& cp) {
  return cp.place.rfind("--", 0) == 0;
}

// `other` as a message about `reported` names it.
std::string name_of(const Checkpoint& other, std::size_t index, const Checkpoint& reported) {
  if (other.place.empty()) return "checkpoint entry " + std::to_string(index);
  if (from_command_line(reported) && !from_command_line(other)) return "the spec's " + other.place;
  return other.place;
}

// A file:// entry whose store lies in its path, or whose path lies where it is stored.
std::optional<std::string> self_clash(const Checkpoint& cp, const Resolve& resolve) {
  if (cp.url.scheme != StoreUrl::Scheme::kFile) return std::nullopt;
  const std::string dest_lexical = join_path(cp.url.dir, basename_of(cp));
  const std::string dir = resolve(cp.url.dir);
  const std::string path = resolve(cp.path);
  const std::string dest = resolve(dest_lexical);
  const std::string url = shown_url(cp.url.text);
  const std::string shown_path = quote(cp.path);
  // Real paths that are not the written ones are shown too.
  auto note = [](const std::string& real1, const std::string& written1, const std::string& real2,
                 const std::string& written2) -> std::string {
    if (real1 == written1 && real2 == written2) return "";
    return " (symbolic links resolved: " + quote(real1) + " and " + quote(real2) + ")";
  };
  if (dir == path || below(dir, path))
    return "url " + url +
           (dir == path ? " is path " + shown_path + " itself" : " is inside path " + shown_path) +
           note(dir, cp.url.dir, path, cp.path) + ": each round would copy the store into itself";
  if (path == dest)
    return "path " + shown_path + " is where url " + url + " stores it" +
           note(path, cp.path, dest, dest_lexical) +
           ": each round would copy its files onto themselves";
  if (below(path, dest))
    return "path " + shown_path + " is inside " + shown_url("file://" + dest) + ", where url " +
           url + " stores it" + note(path, cp.path, dest, dest_lexical) +
           ": each round would copy its files among themselves";
  return std::nullopt;
}

std::vector<PlaceProblem> problems_of(const std::vector<Checkpoint>& entries,
                                      const Resolve& resolve) {
  std::vector<Target> targets;
  targets.reserve(entries.size());
  for (const auto& cp : entries) targets.push_back(target_of(cp, resolve));
  std::vector<PlaceProblem> out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (auto why = self_clash(entries[i], resolve)) out.push_back({i, std::move(*why)});
    for (std::size_t j = 0; j < i; ++j) {
      auto why = clash(targets[i], targets[j]);
      if (!why) continue;
      bool resolved = targets[i].resolved || targets[j].resolved;
      out.push_back({i, "stores to the same place as " + name_of(entries[j], j, entries[i]) + " (" +
                            *why + (resolved ? ", symbolic links resolved" : "") +
                            "): both would overwrite each other's files"});
      break;
    }
  }
  return out;
}

}  // namespace

std::vector<PlaceProblem> place_problems(const std::vector<Checkpoint>& entries) {
  return problems_of(entries, [](const std::string& path) { return path; });
}

std::vector<PlaceProblem> real_place_problems(const std::vector<Checkpoint>& entries) {
  return problems_of(entries, real_path_of_existing);
}

std::string real_path_of_existing(const std::string& path) {
  std::string head = path;
  std::string tail;
  for (;;) {
    if (char* real = ::realpath(head.c_str(), nullptr)) {
      std::string out(real);
      std::free(real);
      return tail.empty() ? out : join_path(out, tail);
    }
    std::size_t slash = head.rfind('/');
    if (head == "/" || slash == std::string::npos) return path;
    tail = head.substr(slash + 1) + (tail.empty() ? "" : "/" + tail);
    head = slash == 0 ? "/" : head.substr(0, slash);
  }
}

}  // namespace supervise::spec
