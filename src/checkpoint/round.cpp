#include "supervise/checkpoint/round.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "supervise/backoff.hpp"
#include "supervise/checkpoint/progress.hpp"
#include "supervise/spec/store_url.hpp"
#include "retries.hpp"

namespace supervise::checkpoint {
namespace {

constexpr std::size_t kErrorsKept = 5;
// How often the final round goes back to files that changed while being stored.
constexpr int kFinalPasses = 3;

class Errors {
 public:
  explicit Errors(std::vector<std::string>& out) : out_(out) {}
  void add(const std::string& error) {
    if (out_.size() < kErrorsKept) out_.push_back(error);
  }

 private:
  std::vector<std::string>& out_;
};

// Reads the manifest in the store (a first round, or after a write whose outcome is not
// known), so that this round knows which stored objects it vouches for.
void read_stored_manifest(Store& store, const std::string& key, EntryState& state, const RetryPolicy& retry,
                          const Control& control) {
  GetResult got = with_retries<GetResult>("reading", key, retry, control, [&] { return store.get_bytes(key, control); });
  switch (got.state) {
    case GetResult::State::kNotFound:
      state.manifest_state = EntryState::Manifest::kNone;
      return;
    case GetResult::State::kFound: {
      auto parsed = parse_manifest(got.data);
      if (parsed) {
        state.manifest = std::move(parsed).value();
        state.manifest_state = EntryState::Manifest::kKnown;
      } else {
        // Not ours to read: it is replaced by one that vouches for nothing before any
        // file is (a reader may trust what it says).
        spdlog::warn("the stored {} is {}; it is replaced", key, parsed.error());
        state.manifest_state = EntryState::Manifest::kUnknown;
      }
      return;
    }
    case GetResult::State::kFailed:
      spdlog::warn("cannot read the stored {}: {}", key, got.error);
      state.manifest_state = EntryState::Manifest::kUnknown;
      return;
  }
}

// The manifest stored before a round replaces objects that the stored one vouches for:
// the same entries, those about to be replaced marked in progress, not complete. When
// the stored manifest is unknown, one that vouches for nothing.
Manifest marking_in_progress(const RoundRequest& request, const EntryState& state,
                             const std::unordered_set<std::string>& replacing) {
  Manifest m;
  if (state.manifest_state == EntryState::Manifest::kKnown) m = state.manifest;
  m.path = request.entry->path;
  m.url = spec::redact_url(request.entry->url.text);
  m.round = request.number;
  m.final = request.final;
  m.complete = false;
  m.in_progress = true;
  for (auto& e : m.files)
    if (replacing.count(e.key)) e.in_progress = true;
  return m;
}

// Sets the round's totals (the files it stores, their sizes as the snapshot saw them) and
// names the round in its progress lines: "Checkpointing /data to s3://b/p, round 3".
std::string start_progress(const RoundRequest& request, const std::vector<const SnapshotFile*>& pending,
                           Progress& progress) {
  std::uint64_t bytes = 0;
  for (const SnapshotFile* f : pending) bytes += f->stamp.size;
  progress.total_files = pending.size();
  progress.total_bytes = bytes;
  return "Checkpointing " + request.entry->path + " to " + spec::redact_url(request.entry->url.text) + ", round " +
         std::to_string(request.number);
}

// Done: the files stored, and of the bytes whichever count is ahead (a store that counts
// parts as they land is ahead of the files stored; one that counts nothing is not).
ProgressFigures round_figures(const Progress& p) {
  ProgressFigures f;
  f.files_done = p.stored;
  f.files_failed = p.failed;
  f.files_total = p.total_files;
  f.bytes_done = std::max<std::uint64_t>(p.moved, p.bytes);
  f.bytes_total = p.total_bytes;
  f.bytes_moved = f.bytes_done;
  return f;
}

}  // namespace

std::string megabytes(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

std::string RoundResult::error_summary() const {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
  if (failed > 0) add(std::to_string(failed) + (failed == 1 ? " file" : " files") + " not stored");
  if (changing > 0)
    add(std::to_string(changing) + (changing == 1 ? " file" : " files") + " kept changing while being stored");
  if (!manifest_ok) add("manifest not stored");
  if (cancelled) add("stopped: the grace period ended");
  if (!store_down.empty()) add(store_down);
  for (std::size_t i = 0; i < errors.size(); ++i) out += (i == 0 ? ": " : "; ") + errors[i];
  return out;
}

Manifest round_manifest(const RoundRequest& request, const Snapshot& snapshot, const StoredFiles& stored,
                        const std::unordered_set<std::string>& fresh, bool round_ok) {
  Manifest m;
  m.path = request.entry->path;
  m.url = spec::redact_url(request.entry->url.text);
  m.round = request.number;
  m.final = request.final;
  m.files.reserve(snapshot.files.size());
  for (const auto& f : snapshot.files) {
    auto it = stored.find(f.key);
    if (it != stored.end()) m.files.push_back({f.key, it->second.stamp, it->second.crc32c, false});
    // Stored by this round, the stored stamp may be newer than the walk's: still current.
    if (it == stored.end() || !(fresh.count(f.key) || it->second.stamp == f.stamp)) m.missing.push_back(f.key);
  }
  m.complete = round_ok && m.missing.empty();
  return m;
}

RoundResult run_round(const RoundRequest& request, Store& store, EntryState& state, Progress& progress,
                      const Cancel& cancel) {
  auto started = Clock::now();
  RoundResult r;
  r.number = request.number;
  r.final = request.final;
  Errors errors(r.errors);
  const Control control{&cancel, &store.health()};
  store.health().new_round();
  store.retry_aborts(control);

  Snapshot snapshot = take_snapshot(request.entry->path, request.regex);
  r.path_exists = snapshot.exists;
  r.skipped = snapshot.skipped;
  if (!snapshot.skipped_examples.empty())
    spdlog::debug("skipped in {}: {}", request.entry->path, snapshot.skipped_examples.front());

  const std::string manifest = manifest_key(*request.entry);
  if (request.manifest && state.manifest_state == EntryState::Manifest::kUnknown)
    read_stored_manifest(store, manifest, state, request.retry, control);
  if (!state.seeded && state.manifest_state != EntryState::Manifest::kUnknown) {
    // A resumed task (restored, or its files still there) uploads nothing the store holds.
    std::size_t seeded = 0;
    for (const auto& [key, e] : vouched_entries(state.manifest))
      if (state.stored.emplace(key, StoredFile{e->stamp, e->crc32c}).second) ++seeded;
    if (seeded > 0) spdlog::debug("{} files of {} counted as stored, as the stored manifest lists them", seeded, manifest);
    state.seeded = true;
  }
  if (!state.leftovers_cleaned) {
    std::unordered_set<std::string> real;  // files that only look like temporaries
    for (const auto& f : snapshot.files) real.insert(f.key);
    for (const auto& e : state.manifest.files) real.insert(e.key);
    std::string root = std::filesystem::path(request.entry->path).filename().string();
    state.leftovers_cleaned =
        store.clean_leftovers(root, [&](const std::string& key) { return real.count(key) > 0; }, control);
  }

  Plan plan = plan_round(snapshot, state.stored);
  r.unchanged = plan.unchanged;
  std::vector<const SnapshotFile*> pending;
  pending.reserve(plan.upload.size());
  for (const SnapshotFile* f : plan.upload) {
    std::string why = store.key_problem(f->key);
    if (why.empty()) {
      pending.push_back(f);
      continue;
    }
    ++r.skipped;  // it can never be stored there: not missing, not a failure
    spdlog::warn("{} of {} is not stored: {}", f->key, request.entry->path, why);
  }

  // The manifest protocol: objects the stored manifest vouches for are marked in
  // progress (in a manifest stored again) before any of them is replaced.
  if (request.manifest && !pending.empty() && state.manifest_state != EntryState::Manifest::kNone) {
    std::unordered_set<std::string> replacing;
    bool unknown = state.manifest_state == EntryState::Manifest::kUnknown;
    if (!unknown) {
      auto vouched = vouched_entries(state.manifest);
      for (const SnapshotFile* f : pending)
        if (vouched.count(f->key)) replacing.insert(f->key);
    }
    if (unknown || !replacing.empty()) {
      Manifest marked = marking_in_progress(request, state, replacing);
      std::string text = render_manifest(marked, std::chrono::system_clock::now());
      PutResult m = with_retries<PutResult>("storing", manifest, request.retry, control,
                                            [&] { return store.put_bytes(manifest, text, control); });
      if (m.ok) {
        state.manifest = std::move(marked);
        state.manifest_state = EntryState::Manifest::kKnown;
      } else {
        if (!m.previous_kept) state.manifest_state = EntryState::Manifest::kUnknown;
        // What it vouches for stays as it is: those files wait for a later round.
        std::vector<const SnapshotFile*> allowed;
        std::vector<std::string> held;
        for (const SnapshotFile* f : pending) {
          if (unknown || replacing.count(f->key)) held.push_back(f->key);
          else allowed.push_back(f);
        }
        r.failed += held.size();
        progress.failed += held.size();
        // Named like any failed file (the URL and the key), the first few of them.
        std::string url = spec::redact_url(request.entry->url.text);
        std::string names;
        for (std::size_t i = 0; i < held.size() && i < kErrorsKept; ++i) names += (i ? ", " : "") + url + "/" + held[i];
        if (held.size() > kErrorsKept) names += " and " + std::to_string(held.size() - kErrorsKept) + " more";
        errors.add("not replaced, as the manifest could not first mark them in progress (" + m.error + "): " + names);
        pending = std::move(allowed);
      }
    }
  }

  // Progress lines while the files go (SPEC.md "Progress"), of what this round stores.
  // The files' own control counts the bytes they move; the manifest's are not theirs.
  const Control files{&cancel, &store.health(), &progress.moved};
  std::optional<ProgressReporter> reporter;
  if (!pending.empty())
    reporter.emplace(start_progress(request, pending, progress), [&progress] { return round_figures(progress); },
                     started);

  std::mutex mutex;  // guards r, errors, fresh and state.stored while workers run
  std::unordered_set<std::string> fresh;
  bool down_reported = false;
  for (int pass = 0; pass < (request.final ? kFinalPasses : 1) && !pending.empty(); ++pass) {
    std::vector<const SnapshotFile*> again;  // changed while being stored
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t i; (i = next.fetch_add(1)) < pending.size();) {
        if (control.cancelled()) break;
        const SnapshotFile& file = *pending[i];
        if (control.store_down()) {  // the rest fails at once, with one error for all
          std::lock_guard lock(mutex);
          ++r.failed;
          ++progress.failed;
          if (!down_reported) r.store_down = control.give_up_reason();
          down_reported = true;
          continue;
        }
        PutResult result = with_retries<PutResult>("storing", file.key, request.retry, files,
                                                   [&] { return store.put_file(file.key, file.source, files); });
        std::lock_guard lock(mutex);
        if (result.vanished) {
          ++r.skipped;
        } else if (!result.ok) {
          if (control.cancelled()) continue;  // cut by the end of the grace period: not a failure of its own
          ++r.failed;
          ++progress.failed;
          errors.add(result.error);
          // A failure after the object may have been committed: what the store holds at
          // the key is no longer known, and no manifest may vouch for it.
          if (!result.previous_kept) state.stored.erase(file.key);
        } else if (result.changed) {
          // Nothing was committed: the store keeps the version stored before (and the
          // manifest keeps describing it); the file goes again.
          spdlog::debug("{} changed while being stored: nothing committed, it goes again", file.key);
          again.push_back(&file);
        } else {
          ++r.stored;
          r.bytes += result.bytes;
          ++progress.stored;
          progress.bytes += result.bytes;
          state.stored[file.key] = {result.stamp, result.crc32c};
          fresh.insert(file.key);
        }
      }
    };
    unsigned workers = std::min<unsigned>(store.parallelism(), static_cast<unsigned>(pending.size()));
    std::vector<std::thread> threads;
    for (unsigned w = 1; w < workers; ++w) {
      try {
        threads.emplace_back(work);
      } catch (const std::system_error& e) {  // no thread to be had (a pids limit): fewer workers
        spdlog::debug("checkpoint worker not started: {}", e.what());
        break;
      }
    }
    work();
    for (auto& t : threads) t.join();
    pending = std::move(again);
  }
  reporter.reset();  // the files are done: no line while the manifest is stored
  r.changing = pending.size();
  r.cancelled = cancel.requested();
  if (r.store_down.empty() && control.store_down()) r.store_down = control.give_up_reason();

  if (request.manifest && snapshot.exists && !r.cancelled && r.store_down.empty()) {
    Manifest m = round_manifest(request, snapshot, state.stored, fresh, r.failed == 0 && r.changing == 0);
    std::string text = render_manifest(m, std::chrono::system_clock::now());
    PutResult put = with_retries<PutResult>("storing", manifest, request.retry, control,
                                            [&] { return store.put_bytes(manifest, text, control); });
    r.manifest_ok = put.ok;
    if (put.ok) {
      state.manifest = std::move(m);
      state.manifest_state = EntryState::Manifest::kKnown;
    } else {
      if (!put.previous_kept) state.manifest_state = EntryState::Manifest::kUnknown;
      errors.add(put.error);
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return r;
}

}  // namespace supervise::checkpoint
