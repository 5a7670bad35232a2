// Progress lines (SPEC.md "Progress"): the pure line and time-left formatting, and the
// reporter thread (with a short interval and a sink of its own): lines at each interval
// from its start and none before, a prompt stop, and no exception out of it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "supervise/checkpoint/progress.hpp"

namespace {

using namespace supervise::checkpoint;
using namespace std::chrono_literals;

ProgressFigures figures(std::size_t done, std::size_t total, std::uint64_t bytes_done, std::uint64_t bytes_total,
                        double seconds) {
  ProgressFigures f;
  f.files_done = done;
  f.files_total = total;
  f.bytes_done = bytes_done;
  f.bytes_total = bytes_total;
  f.bytes_moved = bytes_done;
  f.seconds = seconds;
  return f;
}

TEST(ProgressLine, GivesFilesBytesShareThroughputAndTimeLeft) {
  EXPECT_EQ(progress_line("Checkpointing /data/ckpt to s3://b/p, round 3",
                          figures(12, 40, 1'200'000'000, 4'000'000'000, 10)),
            "Checkpointing /data/ckpt to s3://b/p, round 3: 12 of 40 files, 1200.0 MB of 4000.0 MB (30%), "
            "120.0 MB/s, about 24 s left");
}

TEST(ProgressLine, NothingMovedYetLeavesTheTimeLeftUnknown) {
  EXPECT_EQ(progress_line("Restoring /ckpt from s3://b/run", figures(0, 3, 0, 2'000'000, 10)),
            "Restoring /ckpt from s3://b/run: 0 of 3 files, 0.0 MB of 2.0 MB (0%), 0.0 MB/s, time left unknown");
  EXPECT_EQ(progress_line("x", figures(0, 1, 0, 5, 0)), "x: 0 of 1 file, 0.0 MB of 0.0 MB (0%), 0.0 MB/s, time left unknown");
}

TEST(ProgressLine, NamesFailedFiles) {
  ProgressFigures f = figures(2, 5, 500'000, 1'000'000, 5);
  f.files_failed = 1;
  EXPECT_EQ(progress_line("x", f), "x: 2 of 5 files, 1 failed, 0.5 MB of 1.0 MB (50%), 0.10 MB/s, about 5 s left");
}

TEST(ProgressLine, NeverMoreThanAll) {
  // Parts sent twice (a retry, a file that changed while read) count toward the moved bytes.
  ProgressFigures f = figures(4, 3, 3'000'000, 2'000'000, 1);
  EXPECT_EQ(progress_line("x", f), "x: 3 of 3 files, 2.0 MB of 2.0 MB (100%), 3.0 MB/s, about 0 s left");
}

TEST(ProgressLine, EmptyFilesOnlyShareByFiles) {
  EXPECT_EQ(progress_line("x", figures(1, 4, 0, 0, 10)), "x: 1 of 4 files, 0.0 MB of 0.0 MB (25%), 0.0 MB/s, time left unknown");
}

TEST(ProgressLine, ThroughputIsOfTheBytesMoved) {
  // A restore whose files were mostly there already: done is ahead of what moved.
  ProgressFigures f = figures(9, 10, 900'000'000, 1'000'000'000, 10);
  f.bytes_moved = 10'000'000;
  EXPECT_EQ(progress_line("x", f), "x: 9 of 10 files, 900.0 MB of 1000.0 MB (90%), 1.0 MB/s, about 100 s left");
}

TEST(TimeLeft, RoundsUpInSecondsMinutesAndHours) {
  EXPECT_EQ(time_left(0), "0 s");
  EXPECT_EQ(time_left(-3), "0 s");
  EXPECT_EQ(time_left(0.2), "1 s");
  EXPECT_EQ(time_left(23.3), "24 s");
  EXPECT_EQ(time_left(119), "119 s");
  EXPECT_EQ(time_left(121), "3 min");
  EXPECT_EQ(time_left(3600), "60 min");
  EXPECT_EQ(time_left(7199), "2 h 0 min");
  EXPECT_EQ(time_left(7200), "2 h 0 min");
  EXPECT_EQ(time_left(3 * 3600 + 301), "3 h 6 min");
}

// Lines a reporter logged, readable while it runs.
class Lines {
 public:
  ProgressReporter::Sink sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      lines_.push_back(line);
    };
  }
  std::vector<std::string> get() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds deadline = 10s) {
  auto until = Clock::now() + deadline;
  while (!done()) {
    if (Clock::now() >= until) return done();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST(ProgressReporter, LogsALineEachInterval) {
  Lines lines;
  std::atomic<std::uint64_t> moved{0};
  {
    ProgressReporter reporter(
        "Checkpointing /d to file:///s, round 1",
        [&] {
          moved += 1'000'000;
          return figures(1, 2, moved, 10'000'000, 0);
        },
        Clock::now(), 20ms, lines.sink());
    ASSERT_TRUE(eventually([&] { return lines.get().size() >= 3; }));
  }
  auto got = lines.get();
  EXPECT_EQ(got[0].rfind("Checkpointing /d to file:///s, round 1: 1 of 2 files, 1.0 MB of 10.0 MB (10%), ", 0), 0u)
      << got[0];
  // The reporter fills in the time since it began: something moved, so a throughput and
  // a time left.
  EXPECT_EQ(got[0].find("time left unknown"), std::string::npos) << got[0];
  EXPECT_NE(got[0].find(" left"), std::string::npos) << got[0];
}

TEST(ProgressReporter, ShortWorkLogsNothingAndStopsAtOnce) {
  Lines lines;
  auto begun = Clock::now();
  {
    ProgressReporter reporter("x", [] { return ProgressFigures{}; }, Clock::now(), 1h, lines.sink());
  }
  EXPECT_LT(Clock::now() - begun, 5s) << "the stop waited for the interval";
  EXPECT_TRUE(lines.get().empty());
}

TEST(ProgressReporter, TheFirstLineComesAnIntervalAfterTheStartOfTheWork) {
  // The transfers began 250 ms into a round of 300 ms intervals: the first line is due
  // 300 ms from the start of the round (not of the transfers), and never before.
  Lines lines;
  auto since = Clock::now() - 250ms;
  ProgressReporter reporter("x", [] { return ProgressFigures{}; }, since, 300ms, lines.sink());
  ASSERT_TRUE(eventually([&] { return !lines.get().empty(); }));
  EXPECT_GE(Clock::now() - since, 300ms);
}

TEST(ProgressReporter, AThrowingSampleOrSinkLosesALineNotTheProcess) {
  Lines lines;
  std::atomic<int> calls{0};
  auto sink = lines.sink();
  {
    ProgressReporter reporter(
        "x",
        [&]() -> ProgressFigures {
          if (++calls % 2 == 1) throw std::runtime_error("sample failed");
          return ProgressFigures{};
        },
        Clock::now(), 5ms,
        [&](const std::string& line) {
          if (calls == 2) throw std::runtime_error("sink failed");
          sink(line);
        });
    ASSERT_TRUE(eventually([&] { return !lines.get().empty(); }));
  }
  EXPECT_GE(calls.load(), 4);
}

}  // namespace
