// One checkpoint round, run on a worker thread: snapshot the path, store what changed
// (in parallel, each file retried with exponential backoff and full jitter), then the
// manifest, last. It keeps the manifest protocol: before a file that the stored
// manifest vouches for is replaced, that manifest is stored again with the file marked
// in progress, so no stored manifest ever vouches for an object it does not describe.
// It never throws and never touches the event loop.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "supervise/checkpoint/control.hpp"
#include "supervise/checkpoint/manifest.hpp"
#include "supervise/checkpoint/snapshot.hpp"
#include "supervise/checkpoint/store.hpp"
#include "supervise/spec/task.hpp"

namespace supervise::checkpoint {

struct RetryPolicy {
  int attempts = 4;  // per file and round, the first included
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds cap{5000};
};

// What the engine keeps for an entry from one round to the next (the running round
// owns it).
struct EntryState {
  StoredFiles stored;  // what this supervisor stored (and the store still holds), by key
  // What the manifest in the store says: unknown until read, and again after a write
  // whose outcome is not known; none when there is no manifest.
  enum class Manifest { kUnknown, kNone, kKnown };
  Manifest manifest_state = Manifest::kUnknown;
  checkpoint::Manifest manifest;  // kKnown: as stored
  bool leftovers_cleaned = false;  // what a killed run left behind was removed
  // `stored` started from the first manifest read (SPEC.md "Restore"): a local file with
  // the size and modification time a manifest line gives counts as stored.
  bool seeded = false;
};

// What a round has done so far, for a reader that cannot wait for its end (the grace
// period is over) and for progress lines.
struct Progress {
  std::atomic<std::size_t> stored{0};
  std::atomic<std::size_t> failed{0};
  std::atomic<std::uint64_t> bytes{0};  // of the files stored
  // For progress lines: what the round has to store, and the bytes moved so far (parts
  // of files not yet stored included), as Control::moved counts them.
  std::atomic<std::size_t> total_files{0};
  std::atomic<std::uint64_t> total_bytes{0};
  std::atomic<std::uint64_t> moved{0};
  void reset() {
    stored = 0;
    failed = 0;
    bytes = 0;
    total_files = 0;
    total_bytes = 0;
    moved = 0;
  }
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
  std::size_t skipped = 0;    // links out of the path, special files, vanished, names the store cannot hold
  std::size_t failed = 0;     // could not be stored
  std::size_t changing = 0;   // changed while being stored: stored again next round
  std::uint64_t bytes = 0;
  double seconds = 0;
  bool manifest_ok = true;
  bool cancelled = false;
  std::string store_down;  // the down-store error, when the store was declared down
  std::vector<std::string> errors;  // the first few, each naming its file
  // A file still changing is normal in a periodic round (the next one stores it); only
  // the final round, which has no next, fails for it.
  bool ok() const {
    return failed == 0 && (changing == 0 || !final) && manifest_ok && !cancelled && store_down.empty();
  }
  std::string error_summary() const;  // "2 files not stored: ...", or empty
};

// "12.3 MB", as the summary lines of rounds and restores give sizes.
std::string megabytes(std::uint64_t bytes);

// Runs one round. `state` is brought up to date. `cancel` stops the round between
// files and requests (the grace period ended); `progress` is updated as files land.
RoundResult run_round(const RoundRequest& request, Store& store, EntryState& state, Progress& progress,
                      const Cancel& cancel);

// Pure: the manifest of a round's end: every file of the snapshot that is stored (with
// the stored version's stamp and checksum), and those that are not, or not in their
// current version; `fresh` are the keys stored by this round.
Manifest round_manifest(const RoundRequest& request, const Snapshot& snapshot, const StoredFiles& stored,
                        const std::unordered_set<std::string>& fresh, bool round_ok);

}  // namespace supervise::checkpoint
