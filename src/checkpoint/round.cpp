#include "supervise/checkpoint/round.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "supervise/backoff.hpp"
#include "supervise/checkpoint/crc32c.hpp"
#include "supervise/status/status.hpp"

namespace supervise::checkpoint {
namespace {

constexpr std::size_t kErrorsKept = 5;
// How often the final round goes back to files that changed while being stored.
constexpr int kFinalPasses = 3;

// Sleeps in short slices so that a cancel is seen quickly. Returns false if cancelled.
bool sleep_unless_cancelled(std::chrono::milliseconds total, const std::atomic<bool>& cancel) {
  auto until = std::chrono::steady_clock::now() + total;
  while (std::chrono::steady_clock::now() < until) {
    if (cancel.load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
  }
  return !cancel.load();
}

std::string format_mtime(std::int64_t ns) {
  // Whole seconds rounded down (an mtime before 1970 is negative), then the nanoseconds.
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t nanos = ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --secs;
  }
  auto seconds = status::format_time(status::TimePoint(std::chrono::seconds(secs)));
  // "....000Z" -> "....123456789Z".
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09lld", static_cast<long long>(nanos));
  return seconds.substr(0, seconds.size() - 4) + frac + "Z";
}

// What one request came to, after its retries (`put` is one attempt).
template <typename Put>
PutResult with_retries(const std::string& key, const RetryPolicy& policy, const std::atomic<bool>& cancel,
                       Put put) {
  PutResult result;
  for (int attempt = 0; attempt < policy.attempts; ++attempt) {
    if (attempt > 0 && !sleep_unless_cancelled(full_jitter(policy.base, policy.cap, attempt), cancel)) break;
    result = put();
    if (result.ok || result.vanished || !result.retryable) break;
    spdlog::warn("storing {} failed (attempt {} of {}): {}", key, attempt + 1, policy.attempts, result.error);
  }
  return result;
}

PutResult store_with_retries(Store& store, const SnapshotFile& file, const RetryPolicy& policy,
                             const std::atomic<bool>& cancel) {
  return with_retries(file.key, policy, cancel, [&] { return store.put_file(file.key, file.source); });
}

}  // namespace

std::string RoundResult::error_summary() const {
  std::string out;
  if (failed > 0) out = std::to_string(failed) + (failed == 1 ? " file" : " files") + " not stored";
  if (changing > 0)
    out += (out.empty() ? "" : "; ") + std::to_string(changing) +
           (changing == 1 ? " file" : " files") + " kept changing while being stored";
  if (!manifest_ok) out += (out.empty() ? "" : "; ") + std::string("manifest not stored");
  if (cancelled) out += (out.empty() ? "" : "; ") + std::string("stopped: the grace period ended");
  for (std::size_t i = 0; i < errors.size(); ++i) out += (i == 0 ? ": " : "; ") + errors[i];
  return out;
}

std::string manifest_key(const spec::Checkpoint& entry) {
  return std::filesystem::path(entry.path).filename().string() + ".manifest.json";
}

std::string render_manifest(const RoundRequest& request, const Snapshot& snapshot, const StoredFiles& stored,
                            bool complete) {
  using json = nlohmann::ordered_json;
  json files = json::array();
  json missing = json::array();
  for (const auto& f : snapshot.files) {
    auto it = stored.find(f.key);
    if (it == stored.end() || !(it->second.stamp == f.stamp)) {
      missing.push_back(f.key);
      continue;
    }
    files.push_back({{"key", f.key},
                     {"size", f.stamp.size},
                     {"mtime", format_mtime(f.stamp.mtime_ns)},
                     {"crc32c", crc32c_hex(it->second.crc32c)}});
  }
  json doc = {{"schema_version", 1},
              {"path", request.entry->path},
              {"url", request.entry->url.text},
              {"round", request.number},
              {"final", request.final},
              {"complete", complete && missing.empty()},
              {"created_at", status::format_time(std::chrono::system_clock::now())},
              {"files", files},
              {"missing", missing}};
  // Compact: for 100,000 files the indented form is half as big again, every round.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

RoundResult run_round(const RoundRequest& request, Store& store, StoredFiles& stored,
                      const std::atomic<bool>& cancel) {
  auto started = std::chrono::steady_clock::now();
  RoundResult r;
  r.number = request.number;
  r.final = request.final;
  Snapshot snapshot = take_snapshot(request.entry->path, request.regex);
  r.path_exists = snapshot.exists;
  r.skipped = snapshot.skipped;
  if (!snapshot.skipped_examples.empty())
    spdlog::debug("skipped in {}: {}", request.entry->path, snapshot.skipped_examples.front());

  std::mutex mutex;  // guards r and stored while workers run
  Plan plan = plan_round(snapshot, stored);
  r.unchanged = plan.unchanged;
  std::vector<const SnapshotFile*> pending = std::move(plan.upload);
  for (int pass = 0; pass < (request.final ? kFinalPasses : 1) && !pending.empty(); ++pass) {
    std::vector<const SnapshotFile*> again;  // changed while being stored
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t i; (i = next.fetch_add(1)) < pending.size();) {
        if (cancel.load()) break;
        const SnapshotFile& file = *pending[i];
        PutResult result = store_with_retries(store, file, request.retry, cancel);
        std::lock_guard lock(mutex);
        if (result.vanished) {
          ++r.skipped;
        } else if (!result.ok) {
          ++r.failed;
          if (r.errors.size() < kErrorsKept) r.errors.push_back(result.error);
        } else if (result.changed) {
          again.push_back(&file);
          r.bytes += result.bytes;
          // What the store holds now is neither the version recorded before nor a whole
          // new one: the manifest must not list it by the old stamp and checksum.
          stored.erase(file.key);
        } else {
          ++r.stored;
          r.bytes += result.bytes;
          stored[file.key] = {result.stamp, result.crc32c};
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
  r.changing = pending.size();
  r.cancelled = cancel.load();
  // A snapshot's stamp may be older than what was stored (the file changed between the
  // walk and the upload): the manifest lists what is stored, by the stored stamps.
  for (auto& f : snapshot.files)
    if (auto it = stored.find(f.key); it != stored.end()) f.stamp = it->second.stamp;

  if (request.manifest && snapshot.exists && !r.cancelled) {
    bool complete = r.failed == 0 && r.changing == 0;
    std::string key = manifest_key(*request.entry);
    std::string manifest = render_manifest(request, snapshot, stored, complete);
    PutResult m = with_retries(key, request.retry, cancel, [&] { return store.put_bytes(key, manifest); });
    r.manifest_ok = m.ok;
    if (!m.ok && r.errors.size() < kErrorsKept) r.errors.push_back(m.error);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

}  // namespace supervise::checkpoint
