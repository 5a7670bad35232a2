// What a store call consults while it works: the entry's cancellation (the grace period
// is ending: stop now, but clean up until a deadline) and the store's health (the
// down-store rule: a store that failed every request for kDownWindow is down).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace supervise::checkpoint {

using Clock = std::chrono::steady_clock;

// A store that has answered no request (and refused, dropped or failed every one with a
// transient error) for this long, and at least kDownFailures of them in a row, is
// declared down: the rest of the round fails at once. (The count keeps a few slow
// failures, such as stalls cut by the low-speed limit, from condemning a store that
// answers the next request.)
inline constexpr std::chrono::seconds kDownWindow{30};
inline constexpr int kDownFailures = 5;

// Set once, by the engine, when the grace period is ending. Work stops at once; what
// must not be left behind (an open multipart upload) may be cleaned up until the
// deadline.
class Cancel {
 public:
  void request(Clock::time_point cleanup_until);
  bool requested() const { return requested_.load(std::memory_order_acquire); }
  // When requested: the end of the cleanup budget; else far in the future.
  Clock::time_point cleanup_deadline() const;

 private:
  std::atomic<bool> requested_{false};
  std::atomic<Clock::rep> cleanup_until_{0};
};

// The down-store rule. Thread-safe; one per store, kept across rounds.
class StoreHealth {
 public:
  explicit StoreHealth(Clock::duration window = kDownWindow) : window_(window) {}
  // A new round: it gets a request of its own before it can find the store down.
  void new_round();
  // The store answered (whatever it said: a 403 or a 404 is an answer).
  void answered();
  // No answer (refused, cut, timed out) or a transient server error (5xx, throttling).
  void failed(std::string_view error);
  bool down() const;
  // "the store is down: 212 requests in a row failed over 31 s (last error: ...)"
  std::string down_error() const;

 private:
  mutable std::mutex mutex_;
  Clock::duration window_;
  std::optional<Clock::time_point> failing_since_;  // first failure after the last answer
  int failures_ = 0;                                 // since the last answer
  bool failed_this_round_ = false;
  std::string last_error_;
};

// Handed to every store call of a round.
struct Control {
  const Cancel* cancel = nullptr;
  StoreHealth* health = nullptr;
  // Bytes moved so far (parts and files as each lands), for progress lines; null: not counted.
  std::atomic<std::uint64_t>* moved = nullptr;

  bool cancelled() const { return cancel != nullptr && cancel->requested(); }
  bool store_down() const { return health != nullptr && health->down(); }
  bool give_up() const { return cancelled() || store_down(); }
  // Why a call gave up without trying: "cancelled: the grace period ended" or the
  // down-store error.
  std::string give_up_reason() const;
  void add_moved(std::uint64_t bytes) const {
    if (moved) moved->fetch_add(bytes, std::memory_order_relaxed);
  }
  void answered() const {
    if (health) health->answered();
  }
  void failed(std::string_view error) const {
    if (health) health->failed(error);
  }
};

// Sleeps in short slices; false (at once) when the work must stop.
bool sleep_unless(const Control& control, Clock::duration total);

}  // namespace supervise::checkpoint
