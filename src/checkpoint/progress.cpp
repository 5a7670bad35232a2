// Progress lines: the pure formatting of one line, and the reporter thread that logs one
// every interval while a round or a restore runs.
#include "supervise/checkpoint/progress.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "supervise/checkpoint/round.hpp"

namespace supervise::checkpoint {

std::string time_left(double seconds) {
  auto whole = static_cast<std::uint64_t>(std::ceil(std::max(0.0, seconds)));
  if (whole < 120) return std::to_string(whole) + " s";
  std::uint64_t minutes = (whole + 59) / 60;
  if (minutes < 120) return std::to_string(minutes) + " min";
  return std::to_string(minutes / 60) + " h " + std::to_string(minutes % 60) + " min";
}

std::string progress_line(const std::string& what, const ProgressFigures& f) {
  // A part sent again (a retry, a file that changed while read) may count twice: never
  // more than all, never a negative time left.
  std::size_t files = std::min(f.files_done, f.files_total);
  std::uint64_t done = std::min(f.bytes_done, f.bytes_total);
  std::string line = what + ": " + std::to_string(files) + " of " + std::to_string(f.files_total) +
                     (f.files_total == 1 ? " file" : " files");
  if (f.files_failed > 0) line += ", " + std::to_string(f.files_failed) + " failed";
  // The share of bytes; of files when there are no bytes (empty files only).
  double share = f.bytes_total > 0 ? static_cast<double>(done) / static_cast<double>(f.bytes_total)
                 : f.files_total > 0 ? static_cast<double>(files) / static_cast<double>(f.files_total)
                                     : 1.0;
  char buf[96];
  std::snprintf(buf, sizeof buf, " (%d%%)", static_cast<int>(std::floor(share * 100)));
  line += ", " + megabytes(done) + " of " + megabytes(f.bytes_total) + buf;
  double rate = f.seconds > 0 ? static_cast<double>(f.bytes_moved) / f.seconds : 0;
  // A slow link gets a second decimal: "0.0 MB/s, about 5 min left" would say nothing.
  std::snprintf(buf, sizeof buf, rate > 0 && rate < 1e6 ? ", %.2f MB/s" : ", %.1f MB/s", rate / 1e6);
  line += buf;
  if (rate > 0) line += ", about " + time_left(static_cast<double>(f.bytes_total - done) / rate) + " left";
  else line += ", time left unknown";
  return line;
}

ProgressReporter::ProgressReporter(std::string what, Sample sample, Clock::time_point since,
                                   Clock::duration interval, Sink sink)
    : what_(std::move(what)),
      sample_(std::move(sample)),
      sink_(std::move(sink)),
      since_(since),
      started_(Clock::now()),
      interval_(std::max<Clock::duration>(interval, std::chrono::milliseconds(1))) {
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {  // a pids limit: the work goes on, without lines
    spdlog::debug("no progress lines for {}: {}", what_, e.what());
  }
}

ProgressReporter::~ProgressReporter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProgressReporter::run() noexcept {
  try {
    std::unique_lock lock(mutex_);
    Clock::time_point next = since_ + interval_;
    for (;;) {
      // A line per interval since the start (transfers that began late in a round,
      // after a long snapshot, wait for the next one): never a burst to catch up.
      for (auto now = Clock::now(); next <= now;) next += interval_;
      if (wake_.wait_until(lock, next, [this] { return stop_; })) return;
      lock.unlock();
      report();
      lock.lock();
    }
  } catch (...) {  // PID 1 must never end for a progress line
  }
}

void ProgressReporter::report() noexcept {
  try {
    ProgressFigures f = sample_();
    f.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    std::string line = progress_line(what_, f);
    if (sink_) sink_(line);
    else spdlog::info("{}", line);
  } catch (...) {  // a line lost, not the reporter
  }
}

}  // namespace supervise::checkpoint
