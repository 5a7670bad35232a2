// Progress lines (SPEC.md "Progress"): a round or a restore that runs longer than
// kProgressInterval logs, every kProgressInterval, the files and bytes done of its total,
// the throughput and the time left, as rclone's --stats does. The line is built by a pure
// function; ProgressReporter is the thread that samples the figures and logs it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "supervise/checkpoint/control.hpp"

namespace supervise::checkpoint {

inline constexpr std::chrono::seconds kProgressInterval{10};

// What a round or a restore has done so far, of its total.
struct ProgressFigures {
  std::size_t files_done = 0;
  std::size_t files_failed = 0;
  std::size_t files_total = 0;
  std::uint64_t bytes_done = 0;   // of bytes_total: files finished and parts landed
  std::uint64_t bytes_total = 0;
  std::uint64_t bytes_moved = 0;  // to or from the store so far: the throughput
  double seconds = 0;             // since the transfers began
};

// Pure: "<what>: 12 of 40 files, 1200.0 MB of 4000.0 MB (30%), 120.0 MB/s, about 24 s
// left"; ", 1 failed" after the files when some failed; "time left unknown" while
// nothing has moved. Done figures above the total (a part sent twice) count as the total.
std::string progress_line(const std::string& what, const ProgressFigures& figures);

// Pure: "24 s", "7 min", "2 h 5 min": a time left, rounded up (an estimate, not a promise).
std::string time_left(double seconds);

// Logs a progress line every `interval` from `since` (the start of the round or restore:
// one shorter than that logs none) until destroyed. The first line comes at since +
// interval, or at the next multiple of it when that is already past. Throughput is
// measured from construction (when the transfers begin). Destruction wakes the thread
// and joins it at once. Never throws: with no thread to be had, no progress lines.
class ProgressReporter {
 public:
  using Sample = std::function<ProgressFigures()>;  // figures so far (`seconds` is filled in)
  using Sink = std::function<void(const std::string&)>;

  // `sink`: where lines go (default: spdlog::info).
  ProgressReporter(std::string what, Sample sample, Clock::time_point since,
                   Clock::duration interval = kProgressInterval, Sink sink = {});
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

 private:
  void run() noexcept;
  void report() noexcept;

  const std::string what_;
  const Sample sample_;
  const Sink sink_;
  const Clock::time_point since_;
  const Clock::time_point started_;
  const Clock::duration interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // under mutex_
  std::thread thread_;
};

}  // namespace supervise::checkpoint
