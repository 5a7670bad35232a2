// One store request with its retries (exponential backoff, full jitter), shared by the
// rounds (round.cpp) and the restore (restore.cpp).
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "supervise/backoff.hpp"
#include "supervise/checkpoint/control.hpp"
#include "supervise/checkpoint/round.hpp"
#include "supervise/checkpoint/store.hpp"

namespace supervise::checkpoint {


inline bool finished(const PutResult& r) { return r.ok || r.vanished || !r.retryable; }
inline bool finished(const GetResult& r) { return r.state != GetResult::State::kFailed || !r.retryable; }

// What one request came to, after its retries (`attempt` is one try; `doing` names it in
// the warning: "storing", "reading"). Gives up at once when the work is cancelled or the
// store is down, saying so.
template <typename Result, typename Attempt>
Result with_retries(const char* doing, const std::string& key, const RetryPolicy& policy, const Control& control,
                    Attempt attempt) {
  Result result;
  for (int n = 0; n < policy.attempts; ++n) {
    if (n == 0 ? control.give_up() : !sleep_unless(control, full_jitter(policy.base, policy.cap, n))) {
      if (n == 0) result.error = key + ": not tried: " + control.give_up_reason();
      break;
    }
    result = attempt();
    if (finished(result)) break;
    spdlog::warn("{} {} failed (attempt {} of {}): {}", doing, key, n + 1, policy.attempts, result.error);
  }
  return result;
}

}  // namespace supervise::checkpoint
