// process::accumulate: how the Reaper sums the rusage of the children it reaps
// (SPEC.md "Exit-status JSON": resources).
#include <gtest/gtest.h>

#include "supervise/process/reaper.hpp"

namespace supervise::process {
namespace {

struct rusage usage_of(long user_us, long system_us, long maxrss_kib) {
  struct rusage r {};
  r.ru_utime.tv_sec = user_us / 1'000'000;
  r.ru_utime.tv_usec = user_us % 1'000'000;
  r.ru_stime.tv_sec = system_us / 1'000'000;
  r.ru_stime.tv_usec = system_us % 1'000'000;
  r.ru_maxrss = maxrss_kib;
  return r;
}

TEST(ReaperUsage, CpuTimesAddUpThePeakIsTheLargest) {
  Usage sum;
  accumulate(sum, usage_of(1'500'000, 250'000, 1000));
  accumulate(sum, usage_of(700'000, 900'000, 262144));
  accumulate(sum, usage_of(1, 2, 5000));
  EXPECT_EQ(sum.user_usec, 2'200'001);
  EXPECT_EQ(sum.system_usec, 1'150'002);
  EXPECT_EQ(sum.max_rss_kib, 262144u);  // one process's peak, not a sum
}

TEST(ReaperUsage, NothingReapedIsZero) {
  Usage sum;
  EXPECT_EQ(sum.user_usec, 0);
  EXPECT_EQ(sum.system_usec, 0);
  EXPECT_EQ(sum.max_rss_kib, 0u);
  accumulate(sum, usage_of(0, 0, -1));  // a nonsense peak is ignored
  EXPECT_EQ(sum.max_rss_kib, 0u);
}

}  // namespace
}  // namespace supervise::process
