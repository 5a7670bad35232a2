// Restore: the manifest read, each file it lists brought back whole (fetched into a
// temporary file beside its place, verified, dated, renamed), several at once.
#include "supervise/checkpoint/restore.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "retries.hpp"
#include "supervise/checkpoint/crc32c.hpp"
#include "supervise/checkpoint/manifest.hpp"
#include "supervise/checkpoint/progress.hpp"
#include "supervise/diagnostics.hpp"
#include "supervise/fs.hpp"
#include "supervise/spec/store_url.hpp"

namespace supervise::checkpoint {
namespace {

// A stored object that does not match its manifest line is fetched again: the same
// bytes twice are what the store holds (a newer version stored after the manifest);
// different bytes each time were damaged on the way.
constexpr int kFetches = 4;

// Why `key` cannot be restored below the entry's place, or "": a manifest must not write
// outside the entry's path.
std::string key_problem(const std::string& key, const std::string& root) {
  if (key != root && key.rfind(root + "/", 0) != 0) return "is not under " + root;
  if (key.find('\0') != std::string::npos) return "holds a NUL byte";
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string_view part(key.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return "has an empty, \".\" or \"..\" component";
    start = end + 1;
  }
  return "";
}

// The size and CRC-32C of a local regular file, if it is one (a link is not followed).
std::optional<std::pair<std::uint64_t, std::uint32_t>> local_file(const std::string& path, std::uint64_t want_size) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  if (static_cast<std::uint64_t>(st.st_size) != want_size) return std::pair{static_cast<std::uint64_t>(st.st_size), 0u};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::vector<char> buffer(1 << 20);
  std::uint32_t crc = 0;
  std::uint64_t size = 0;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      if (n < 0) return std::nullopt;
      break;
    }
    crc = crc32c(crc, buffer.data(), static_cast<std::size_t>(n));
    size += static_cast<std::uint64_t>(n);
  }
  return std::pair{size, crc};
}

timespec to_timespec(std::int64_t ns) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  t.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  if (t.tv_nsec < 0) t.tv_nsec += 1'000'000'000, --t.tv_sec;
  return t;
}

// kGone: an entry the manifest marks in progress whose object is not there (a round was
// replacing it when it was cut): it promised nothing, so nothing is missing.
enum class Outcome { kRestored, kKept, kMismatched, kGone, kFailed };

struct FileOutcome {
  Outcome outcome = Outcome::kFailed;
  std::uint64_t bytes = 0;
  bool transient = false;
  std::string error;
};

// Thrown out of write_atomically_with's fill to give the file up (its temporary file is
// removed); the reason is in the FileOutcome.
struct GiveUp : fs::FileError {
  GiveUp() : fs::FileError(ECANCELED, "restore") {}
};

FileOutcome restore_file(const ManifestEntry& e, const std::string& local, Store& store, const RetryPolicy& retry,
                         const Control& control) {
  FileOutcome out;
  if (auto have = local_file(local, e.stamp.size); have && have->first == e.stamp.size && have->second == e.crc32c) {
    // Already there: dated as the manifest says, so the first round counts it as stored.
    timespec times[2] = {{0, UTIME_OMIT}, to_timespec(e.stamp.mtime_ns)};
    if (::utimensat(AT_FDCWD, local.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      spdlog::debug("cannot date {}: {}", local, std::strerror(errno));
    out.outcome = Outcome::kKept;
    return out;
  }
  try {
    fs::write_atomically_with(local, 0644, /*make_parents=*/true, [&](int fd) {
      std::optional<std::pair<std::uint64_t, std::uint32_t>> previous;
      for (int fetch = 0; fetch < kFetches; ++fetch) {
        SinkFile sink(fd);
        sink.expect(e.stamp.size);  // a large object may come in ranges, in parallel
        GetResult got = with_retries<GetResult>("reading", e.key, retry, control,
                                                [&] { return store.get_file(e.key, sink, control); });
        if (got.state == GetResult::State::kNotFound) {
          out.error = e.key + ": listed in the manifest, not in the store";
          if (e.in_progress) out.outcome = Outcome::kGone;
          throw GiveUp();
        }
        if (got.state == GetResult::State::kFailed) {
          out.error = got.error;
          out.transient = got.retryable || control.give_up();
          throw GiveUp();
        }
        std::pair now{sink.bytes(), sink.crc32c()};
        bool matches = now.first == e.stamp.size && now.second == e.crc32c;
        if (matches || (previous && *previous == now)) {
          if (matches) {
            timespec times[2] = {{0, UTIME_OMIT}, to_timespec(e.stamp.mtime_ns)};
            if (::futimens(fd, times) != 0) throw fs::FileError(errno, "cannot set the modification time of " + local);
            out.outcome = Outcome::kRestored;
          } else {
            // Left dated now: the first round stores it again, with a manifest line true to it.
            spdlog::warn("{} does not match its manifest line (stored {} bytes, CRC-32C {}; listed {} bytes, {}): a "
                         "newer version was stored after the manifest; restored as stored",
                         e.key, now.first, crc32c_hex(now.second), e.stamp.size, crc32c_hex(e.crc32c));
            out.outcome = Outcome::kMismatched;
          }
          out.bytes = now.first;
          return;
        }
        if (previous)
          spdlog::warn("{}: damaged on the way (two reads differ); fetched again", e.key);
        else
          spdlog::warn("{}: read {} bytes with CRC-32C {}, not the manifest's; fetched again to tell bytes damaged "
                       "on the way from a newer version", e.key, now.first, crc32c_hex(now.second));
        previous = now;
      }
      out.error = e.key + ": the bytes read differ each time (damaged on the way " + std::to_string(kFetches) + " times)";
      out.transient = true;
      throw GiveUp();
    });
  } catch (const GiveUp&) {
    if (out.outcome != Outcome::kGone) out.outcome = Outcome::kFailed;
  } catch (const fs::FileError& ex) {
    out.outcome = Outcome::kFailed;
    out.error = ex.what();  // the local disk: trying again elsewhere may help
    out.transient = true;
  }
  return out;
}

// What a killed restore left: its temporary files (".name.tmp-XXXXXX") in the directories
// it writes, which the next round would otherwise store as checkpoint files. A file of
// the checkpoint that merely looks so (it is listed) is kept.
void remove_leftovers(const std::filesystem::path& base, const Manifest& manifest) {
  namespace sfs = std::filesystem;
  std::set<std::string> listed, dirs;
  for (const auto& e : manifest.files) {
    std::string local = (base / e.key).string();
    listed.insert(local);
    dirs.insert(sfs::path(local).parent_path().string());
  }
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (sfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (!fs::is_temporary_name(name) || listed.count(it->path().string()) || !it->is_regular_file(ec)) continue;
      std::error_code removed;
      if (sfs::remove(it->path(), removed)) spdlog::info("removed {}, left by a restore that was cut", it->path().string());
    }
  }
}

// A file's end, for the progress lines.
void count(Progress& progress, std::atomic<std::uint64_t>& settled, const FileOutcome& o, const ManifestEntry& e) {
  switch (o.outcome) {
    case Outcome::kRestored:
    case Outcome::kMismatched: progress.bytes += o.bytes; break;
    case Outcome::kKept:
    case Outcome::kGone: settled += e.stamp.size; break;
    case Outcome::kFailed: ++progress.failed; return;
  }
  ++progress.stored;
}

// Done: the files ended, the bytes fetched (whichever count is ahead: a store may count
// parts as they land) and the bytes of files that needed no transfer.
ProgressFigures restore_figures(const Progress& p, const std::atomic<std::uint64_t>& settled) {
  ProgressFigures f;
  f.files_done = p.stored;
  f.files_failed = p.failed;
  f.files_total = p.total_files;
  f.bytes_moved = std::max<std::uint64_t>(p.moved, p.bytes);
  f.bytes_done = f.bytes_moved + settled;
  f.bytes_total = p.total_bytes;
  return f;
}

}  // namespace

RestoreResult restore(const spec::Checkpoint& entry, Store& store, const RetryPolicy& retry, const Cancel& cancel) {
  const auto started = std::chrono::steady_clock::now();
  const std::string url = spec::redact_url(entry.url.text);
  spdlog::info("Restoring data from {} to {}...", url, entry.path);
  RestoreResult result;
  status::Restore& s = result.status;
  auto finish = [&] {
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    s.ok = !s.error.has_value();
    return result;
  };
  store.health().new_round();
  Control control{&cancel, &store.health()};

  const std::string key = manifest_key(entry);
  GetResult got = with_retries<GetResult>("reading", key, retry, control, [&] { return store.get_bytes(key, control); });
  if (got.state == GetResult::State::kNotFound) {
    spdlog::info("No checkpoint at {} ({} not found): nothing to restore", url, key);
    spdlog::info("Restoring data from {} to {} finished", url, entry.path);
    return finish();
  }
  if (got.state == GetResult::State::kFailed) {
    s.error = "reading the manifest: " + got.error;
    result.transient = got.retryable || control.give_up();
    return finish();
  }
  auto parsed = parse_manifest(got.data);
  if (!parsed) {
    s.error = key + " is " + parsed.error();
    return finish();
  }
  const Manifest& manifest = *parsed;
  s.round = manifest.round;
  s.complete = manifest.complete;
  const std::filesystem::path place(entry.path);
  const std::string root = place.filename().string();
  for (const auto& e : manifest.files) {
    if (std::string why = key_problem(e.key, root); !why.empty()) {
      s.error = key + " is not a manifest of " + entry.path + ": its key " + quote(e.key) + " " + why;
      return finish();
    }
  }

  remove_leftovers(place.parent_path(), manifest);

  // Progress lines (SPEC.md "Progress"), of every file the manifest lists. A file kept
  // (already there) or gone is done without a transfer: its size counts as done, never
  // toward the throughput.
  Progress progress;
  std::atomic<std::uint64_t> settled{0};
  progress.total_files = manifest.files.size();
  for (const auto& e : manifest.files) progress.total_bytes += e.stamp.size;
  control.moved = &progress.moved;
  std::optional<ProgressReporter> reporter;
  reporter.emplace("Restoring " + entry.path + " from " + url, [&] { return restore_figures(progress, settled); },
                   started);

  // Files at once, as many as the store takes; each worker takes the next file.
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < manifest.files.size(); i = next++) {
      const ManifestEntry& e = manifest.files[i];
      FileOutcome o;
      try {
        o = restore_file(e, (place.parent_path() / e.key).string(), store, retry, control);
      } catch (const std::exception& ex) {  // a worker thread: nothing may escape it
        o.error = e.key + ": " + ex.what();
        o.transient = true;
      }
      count(progress, settled, o, e);
      std::lock_guard lock(mutex);
      s.bytes_restored += o.bytes;
      switch (o.outcome) {
        case Outcome::kRestored: ++s.files_restored; break;
        case Outcome::kKept: ++s.files_kept; break;
        case Outcome::kMismatched: ++s.files_mismatched; break;
        case Outcome::kGone: spdlog::warn("not restored: {} (it was being replaced when its round was cut)", o.error); break;
        case Outcome::kFailed:
          ++s.files_failed;
          spdlog::warn("not restored: {}", o.error);
          // The first failure names the file; a transient one wins over a permanent one
          // only when it came first (either way the command does not run).
          if (!s.error) {
            s.error = o.error;
            result.transient = o.transient;
          }
          break;
      }
    }
  };
  unsigned workers = std::max(1u, std::min<unsigned>(store.parallelism(), static_cast<unsigned>(manifest.files.size())));
  std::vector<std::thread> threads;
  try {
    for (unsigned w = 1; w < workers; ++w) threads.emplace_back(work);
  } catch (const std::system_error& ex) {
    spdlog::debug("restore with fewer workers: {}", ex.what());  // a pids limit: this thread works alone
  }
  work();
  for (auto& t : threads) t.join();
  reporter.reset();  // before the summary line

  if (s.error && s.files_failed > 1) *s.error += " (and " + std::to_string(s.files_failed - 1) + " more files)";
  finish();
  double mbps = s.seconds > 0 ? static_cast<double>(s.bytes_restored) / 1e6 / s.seconds : 0;
  spdlog::info("Restore of {} from {} (round {}{}): {} restored, {} kept, {} mismatched, {} failed, {} in {:.2f} s ({:.1f} MB/s)",
               entry.path, url, manifest.round, manifest.complete ? "" : ", incomplete", s.files_restored, s.files_kept,
               s.files_mismatched, s.files_failed, megabytes(s.bytes_restored), s.seconds, mbps);
  if (s.ok) spdlog::info("Restoring data from {} to {} finished", url, entry.path);
  return result;
}

}  // namespace supervise::checkpoint
