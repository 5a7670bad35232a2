// The stop budget (SPEC.md "The stop budget"): SIGKILL no later than half the grace period.
#include <gtest/gtest.h>

#include "supervise/supervisor.hpp"

namespace {

using namespace std::chrono_literals;
using supervise::stop_budget;

TEST(StopBudget, AStopTimeoutWithinHalfTheGracePeriodStands) {
  EXPECT_EQ(stop_budget(10s, 5min), 10s);
  EXPECT_EQ(stop_budget(2s, 4s), 2s);
}

TEST(StopBudget, ALongerOneIsShortenedToHalf) {
  EXPECT_EQ(stop_budget(10s, 3s), 1500ms);
  EXPECT_EQ(stop_budget(10s, 4s), 2s);
  EXPECT_EQ(stop_budget(1h, 0s), 0s);
}

}  // namespace
