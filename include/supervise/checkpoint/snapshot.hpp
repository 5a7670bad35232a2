// Snapshot and diff: what a checkpoint `path` holds right now (walked without ever
// following a link out of it), filtered by the entry's regex, and which of those files
// differ from what this supervisor last stored. The diff is pure.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace re2 {
class RE2;
}

namespace supervise::checkpoint {

// What identifies a version of a file: its size and modification time.
struct Stamp {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const Stamp&) const = default;
};

struct SnapshotFile {
  std::string key;     // OSMO's layout: "<basename of path>/<relative path>", or "<basename>"
  std::string source;  // where to read it (a link inside `path` is read through)
  Stamp stamp;
};

struct Snapshot {
  bool exists = false;  // `path` is there at all
  std::vector<SnapshotFile> files;
  std::size_t skipped = 0;  // links out of `path` (or to directories), sockets, fifos, unreadable
  std::vector<std::string> skipped_examples;  // a few of them, for the log
};

// Walks `path` (a directory or a single file). `regex` (may be null) is matched anchored
// at the start against each key; a single-file path ignores it.
Snapshot take_snapshot(const std::string& path, const re2::RE2* regex);

// What this supervisor stored: key -> the stamp and checksum of the stored version.
struct StoredFile {
  Stamp stamp;
  std::uint32_t crc32c = 0;
};
using StoredFiles = std::unordered_map<std::string, StoredFile>;

struct Plan {
  std::vector<const SnapshotFile*> upload;  // new or changed since stored
  std::size_t unchanged = 0;
};

// Pure: the files whose stamp differs from what was stored (or that never were).
Plan plan_round(const Snapshot& snapshot, const StoredFiles& stored);

}  // namespace supervise::checkpoint
