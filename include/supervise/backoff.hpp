// Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): the
// wait before retry `attempt` is uniform in [0, min(cap, base * 2^attempt)]. One
// definition for every retry loop (checkpoint rounds, the S3 client).
#pragma once

#include <chrono>

namespace supervise {

std::chrono::milliseconds full_jitter(std::chrono::milliseconds base, std::chrono::milliseconds cap, int attempt);

}  // namespace supervise
