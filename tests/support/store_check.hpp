// Test support: checks a checkpoint STORE against the manifest stored in it (README
// "Manifest"), for fault tests that judge what is stored rather than what was logged.
//
// The protocol's promise, which check_store checks:
//   - every entry of "files" that is not "in_progress" describes its stored object
//     exactly: the object exists, has that "size", and its bytes have that "crc32c";
//   - a manifest that says "complete": true has no entry in progress, an empty
//     "missing" and no top-level "in_progress": true.
// An entry in progress promises nothing (its object may be being replaced): it is
// counted, not fetched. Keys are relative to the checkpoint's URL; "key_base64" (for
// keys that are not UTF-8) holds the exact bytes and wins over "key".
//
// The store is reached through a FetchObject, so nothing here knows file:// from s3://:
// file_store_fetch reads a directory; an S3 test wraps MotoServer::get (keys there are
// "<prefix>/<key>").
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace test_support {

// The bytes of the object at `key` (relative to the URL); nullopt: there is no such
// object. May throw for an error that is not "no such object" (check_store reports it).
using FetchObject = std::function<std::optional<std::string>(const std::string& key)>;

struct StoreCheck {
  std::string manifest_key;
  bool manifest_found = false;
  nlohmann::json manifest;  // null when not found or not JSON
  std::size_t entries = 0;          // entries of "files"
  std::size_t vouched = 0;          // entries not in progress
  std::size_t in_progress = 0;      // entries in progress
  std::size_t objects_checked = 0;  // vouched objects fetched and compared
  // Each names the key (printable: bytes that are not printable ASCII as \xHH) and what
  // differs: "size", "crc32c", "no object", "complete ... in progress", ...
  std::vector<std::string> problems;

  bool ok() const { return manifest_found && problems.empty(); }
  // Multi-line: the manifest's round/final/complete, the counts, each problem.
  std::string report() const;
};

// Fetches the manifest at `manifest_key` and checks every object it vouches for.
StoreCheck check_store(const std::string& manifest_key, const FetchObject& fetch);

// A FetchObject for a file:// store: the regular file <store_dir>/<key> (nullopt when
// there is none, or it is not a regular file; throws std::runtime_error on a read error).
FetchObject file_store_fetch(const std::filesystem::path& store_dir);

// Every file or link below `store_dir` (at any depth) named like a file:// store's
// temporary ".<name>.tmp-XXXXXX" (XXXXXX: mkostemp's 6 letters or digits), as paths
// relative to store_dir, sorted.
std::vector<std::string> file_store_temporaries(const std::filesystem::path& store_dir);

// `key` with every byte that is not printable ASCII written as \xHH (for messages).
std::string printable_key(const std::string& key);

}  // namespace test_support
