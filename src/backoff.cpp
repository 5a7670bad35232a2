#include "supervise/backoff.hpp"

#include <algorithm>
#include <random>

namespace supervise {

std::chrono::milliseconds full_jitter(std::chrono::milliseconds base, std::chrono::milliseconds cap, int attempt) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  auto ceiling = std::min<long long>(cap.count(), base.count() << std::clamp(attempt, 0, 20));
  return std::chrono::milliseconds(std::uniform_int_distribution<long long>(0, ceiling)(random));
}

}  // namespace supervise
