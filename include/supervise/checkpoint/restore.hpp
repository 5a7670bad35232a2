// Restore (SPEC.md "Restore"): brings a checkpoint entry's last stored checkpoint back
// into its path before the command starts: the files its manifest lists, each verified
// against the manifest's size and CRC-32C and renamed into place whole, several at once.
// Runs on the calling thread and its own workers; never throws.
#pragma once

#include "supervise/checkpoint/control.hpp"
#include "supervise/checkpoint/round.hpp"
#include "supervise/checkpoint/store.hpp"
#include "supervise/spec/task.hpp"
#include "supervise/status/status.hpp"

namespace supervise::checkpoint {

struct RestoreResult {
  status::Restore status;
  // When the restore did not complete: worth trying again later (the store unreachable
  // or throttling after the retries, a stop request), so RESCHEDULE; else (access
  // denied, no such bucket, a manifest that is not one, a local disk error) FAIL.
  bool transient = false;
};

// `cancel` ends the restore between requests (a stop request); what was not restored
// then is counted failed, transient.
RestoreResult restore(const spec::Checkpoint& entry, Store& store, const RetryPolicy& retry, const Cancel& cancel);

}  // namespace supervise::checkpoint
