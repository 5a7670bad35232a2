// The transfer pool (include/supervise/checkpoint/transfer_pool.hpp): every task of a
// batch runs once, batches from several threads share the pool, slots bound what is in
// flight, and a cancel ends a wait for a slot.
#include "supervise/checkpoint/transfer_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace supervise::checkpoint {
namespace {

TEST(TransferPool, EveryTaskRunsOnceAndSlotsBoundWhatIsInFlight) {
  TransferPool pool(4);
  Control none;
  std::atomic<int> in_flight{0}, most{0};
  std::vector<std::atomic<int>> runs(200);
  auto task = [&](std::size_t i) {
    TransferPool::Slot slot(pool, none);
    ASSERT_TRUE(slot.held());
    int now = ++in_flight;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // work, not a wait for anything
    --in_flight;
    ++runs[i];
  };
  // Three files at once, as a round's workers submit their parts.
  std::vector<std::thread> files;
  for (int f = 0; f < 3; ++f) files.emplace_back([&] { pool.run(runs.size(), task); });
  for (auto& t : files) t.join();
  for (auto& r : runs) EXPECT_EQ(r.load(), 3);
  EXPECT_LE(most.load(), 4);
  EXPECT_GE(most.load(), 2) << "nothing ran in parallel";
}

TEST(TransferPool, EmptyAndSingleBatchesAndAThrowingTask) {
  TransferPool pool(2);
  int ran = 0;
  pool.run(0, [&](std::size_t) { ++ran; });
  EXPECT_EQ(ran, 0);
  pool.run(1, [&](std::size_t) { ++ran; });
  EXPECT_EQ(ran, 1);
  std::atomic<int> after{0};
  pool.run(5, [&](std::size_t i) {
    if (i == 2) throw std::runtime_error("boom");
    ++after;
  });
  EXPECT_EQ(after.load(), 4);
}

TEST(TransferPool, ACancelEndsTheWaitForASlot) {
  TransferPool pool(1);
  Control none;
  TransferPool::Slot taken(pool, none);
  ASSERT_TRUE(taken.held());
  Cancel cancel;
  Control control{&cancel, nullptr};
  std::thread canceller([&] { cancel.request(Clock::now()); });
  TransferPool::Slot waiting(pool, control);  // returns once the cancel is seen
  canceller.join();
  EXPECT_FALSE(waiting.held());
}

}  // namespace
}  // namespace supervise::checkpoint
