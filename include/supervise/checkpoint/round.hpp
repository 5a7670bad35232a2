// One checkpoint round, run on a worker thread: snapshot the path, store what changed
// (in parallel, each file retried with exponential backoff and full jitter), then the
// manifest, last. It never throws and never touches the event loop.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "supervise/checkpoint/snapshot.hpp"
#include "supervise/checkpoint/store.hpp"
#include "supervise/spec/task.hpp"

namespace supervise::checkpoint {

struct RetryPolicy {
  int attempts = 4;  // per file and round, the first included
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds cap{5000};
};

struct RoundRequest {
  const spec::Checkpoint* entry = nullptr;
  const re2::RE2* regex = nullptr;  // compiled entry->regex, or null
  std::size_t number = 0;           // 1, 2, ...
  bool final = false;
  bool manifest = true;
  RetryPolicy retry;
};

struct RoundResult {
  std::size_t number = 0;
  bool final = false;
  bool path_exists = false;
  std::size_t stored = 0;     // files stored this round
  std::size_t unchanged = 0;  // already stored as they are
  std::size_t skipped = 0;    // links out of the path, special files, vanished
  std::size_t failed = 0;     // could not be stored
  std::size_t changing = 0;   // changed while being stored: stored again next round
  std::uint64_t bytes = 0;
  double seconds = 0;
  bool manifest_ok = true;
  bool cancelled = false;
  std::vector<std::string> errors;  // the first few, each naming its file
  // A file still changing is normal in a periodic round (the next one stores it); only
  // the final round, which has no next, fails for it.
  bool ok() const { return failed == 0 && (changing == 0 || !final) && manifest_ok && !cancelled; }
  std::string error_summary() const;  // "2 files failed: ...", or empty
};

// The key of a checkpoint's manifest, relative to its URL: "<basename>.manifest.json".
std::string manifest_key(const spec::Checkpoint& entry);

// Runs one round. `stored` is what this supervisor has stored for the entry; it is
// brought up to date. `cancel` stops the round between files (the grace period ended).
RoundResult run_round(const RoundRequest& request, Store& store, StoredFiles& stored,
                      const std::atomic<bool>& cancel);

// Pure: the manifest document for a round.
std::string render_manifest(const RoundRequest& request, const Snapshot& snapshot, const StoredFiles& stored,
                            bool complete);

}  // namespace supervise::checkpoint
