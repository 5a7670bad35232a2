// The restore before the command starts (SPEC.md "Restore"), with the supervisor's stop
// signals: a SIGTERM, SIGINT or SIGQUIT during a long restore ends it within the grace
// period. Runs before the event loop exists; never throws.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "supervise/checkpoint/engine.hpp"
#include "supervise/process/signals.hpp"
#include "supervise/spec/duration.hpp"
#include "supervise/status/status.hpp"

namespace supervise {

struct StartupRestore {
  bool ok = true;          // every entry that asked restored (or found nothing to restore)
  bool transient = false;  // !ok: worth another try (RESCHEDULE), else FAIL
  std::string error;       // !ok: the first entry's error, naming it
  std::optional<status::Stop> stop;  // a stop request came during the restore
  bool abandoned = false;  // a restore still ran when the grace period ended: exit without cleanup
};

// Restores each entry whose `restore` is set (one entry after the other, the files of
// each at once) and records what it did in the entry's `restore`. The signals the
// supervisor catches stay blocked from here on (the event loop reads them later).
StartupRestore restore_before_start(std::vector<checkpoint::Configured>& entries,
                                    const process::InheritedSignals& inherited, spec::Duration grace_period,
                                    const checkpoint::RetryPolicy& retry);

}  // namespace supervise
