// The checkpoint manifest (README "Manifest"): the document stored beside a checkpoint's
// files saying what is stored, rendered and parsed here (pure). The protocol that keeps
// every stored manifest true is run_round's (round.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "supervise/checkpoint/snapshot.hpp"
#include "supervise/result.hpp"
#include "supervise/spec/task.hpp"

namespace supervise::checkpoint {

struct ManifestEntry {
  std::string key;  // relative to the URL, exact bytes (written as key_base64 when not UTF-8)
  Stamp stamp;
  std::uint32_t crc32c = 0;
  // Being replaced: the manifest makes no promise about this object. Every other entry
  // is exactly what the store holds at its key.
  bool in_progress = false;
};

struct Manifest {
  std::string path;
  std::string url;  // redacted
  std::size_t round = 0;
  bool final = false;
  bool complete = false;     // every local file is stored as listed; nothing in progress
  bool in_progress = false;  // written before a round's files: that round has not ended
  std::vector<ManifestEntry> files;
  std::vector<std::string> missing;  // local files not stored in their current version
};

// The key of a checkpoint's manifest, relative to its URL: "<basename>.manifest.json".
std::string manifest_key(const spec::Checkpoint& entry);

// One line of JSON and a newline. Keys that are not UTF-8 are written with U+FFFD in
// `key` and exactly, in base64, in `key_base64`.
std::string render_manifest(const Manifest& manifest, std::chrono::system_clock::time_point created_at);

// A stored manifest, or why it is not one.
Result<Manifest> parse_manifest(std::string_view text);

// The entries a manifest vouches for (not in progress), by key.
std::unordered_map<std::string, const ManifestEntry*> vouched_entries(const Manifest& manifest);

// "2026-11-22T03:37:20.812345678Z" for a modification time in ns since the epoch, and back.
std::string format_mtime(std::int64_t ns);
std::optional<std::int64_t> parse_mtime(std::string_view text);

}  // namespace supervise::checkpoint
