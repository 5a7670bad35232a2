#include "supervise/checkpoint/control.hpp"

#include <algorithm>
#include <thread>

namespace supervise::checkpoint {

void Cancel::request(Clock::time_point cleanup_until) {
  cleanup_until_.store(cleanup_until.time_since_epoch().count(), std::memory_order_relaxed);
  requested_.store(true, std::memory_order_release);
}

Clock::time_point Cancel::cleanup_deadline() const {
  if (!requested()) return Clock::time_point::max();
  return Clock::time_point(Clock::duration(cleanup_until_.load(std::memory_order_relaxed)));
}

void StoreHealth::new_round() {
  std::lock_guard lock(mutex_);
  failed_this_round_ = false;
}

void StoreHealth::answered() {
  std::lock_guard lock(mutex_);
  failing_since_.reset();
  failures_ = 0;
}

void StoreHealth::failed(std::string_view error) {
  std::lock_guard lock(mutex_);
  if (!failing_since_) failing_since_ = Clock::now();
  failed_this_round_ = true;
  ++failures_;
  last_error_ = error;
}

bool StoreHealth::down() const {
  std::lock_guard lock(mutex_);
  return failed_this_round_ && failures_ >= kDownFailures && failing_since_ &&
         Clock::now() - *failing_since_ >= window_;
}

std::string StoreHealth::down_error() const {
  std::lock_guard lock(mutex_);
  auto seconds = failing_since_
                     ? std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *failing_since_).count()
                     : 0;
  return "the store is down: " + std::to_string(failures_) + " requests in a row failed over " +
         std::to_string(seconds) + " s" +
         (last_error_.empty() ? "" : " (last error: " + last_error_ + ")");
}

std::string Control::give_up_reason() const {
  if (cancelled()) return "cancelled: the grace period ended";
  if (store_down()) return health->down_error();
  return "";
}

bool sleep_unless(const Control& control, Clock::duration total) {
  auto until = Clock::now() + total;
  while (Clock::now() < until) {
    if (control.give_up()) return false;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(20), until - Clock::now()));
  }
  return !control.give_up();
}

}  // namespace supervise::checkpoint
