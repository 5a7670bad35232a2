#include "supervise/backoff.hpp"

#include <gtest/gtest.h>

namespace supervise {
namespace {

using std::chrono::milliseconds;

TEST(FullJitter, StaysWithinTheExponentialCeilingAndTheCap) {
  struct Row {
    int attempt;
    long long ceiling;  // min(cap, base * 2^attempt) for base 100 ms, cap 5 s
  };
  for (Row row : {Row{0, 100}, Row{1, 200}, Row{3, 800}, Row{6, 5000}, Row{40, 5000}}) {
    long long highest = 0;
    for (int i = 0; i < 2000; ++i) {
      long long w = full_jitter(milliseconds(100), milliseconds(5000), row.attempt).count();
      ASSERT_GE(w, 0) << row.attempt;
      ASSERT_LE(w, row.ceiling) << row.attempt;
      highest = std::max(highest, w);
    }
    // Full jitter spreads over the whole range, not just near zero.
    EXPECT_GT(highest, row.ceiling / 2) << row.attempt;
  }
}

}  // namespace
}  // namespace supervise
