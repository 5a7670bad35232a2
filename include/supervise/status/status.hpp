// The exit-status document (SPEC.md "Exit-status JSON"): built from what happened,
// rendered as JSON (pure), and written atomically. schema_version 1.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "supervise/spec/exit_actions.hpp"

namespace supervise::status {

using TimePoint = std::chrono::system_clock::time_point;

struct CheckpointFinal {
  bool ok = false;
  std::size_t files_stored = 0;
  std::size_t files_unchanged = 0;
  std::size_t files_skipped = 0;
  std::uint64_t bytes_stored = 0;
  double seconds = 0;
  std::optional<std::string> error;
  std::size_t files_failed = 0;  // beyond SPEC.md: files that could not be stored
};

// A multipart upload left open in the store (it could not be aborted: the store was
// down), for an operator to abort by hand or a lifecycle rule to remove.
struct OpenUpload {
  std::string object;  // "s3://bucket/prefix/ck/big.bin"
  std::string upload_id;
};

// What a restore brought back (SPEC.md "Restore").
struct Restore {
  bool ok = false;
  std::optional<std::size_t> round;  // of the manifest restored; null when there was none
  bool complete = false;             // that manifest's
  std::size_t files_restored = 0;
  std::size_t files_kept = 0;        // already there, same size and CRC-32C
  std::size_t files_mismatched = 0;  // stored objects that no longer match their manifest line
  std::size_t files_failed = 0;
  std::uint64_t bytes_restored = 0;
  double seconds = 0;
  std::optional<std::string> error;
};

struct Checkpoint {
  std::string path;
  std::string url;  // redacted
  std::size_t rounds = 0;
  std::size_t failed_rounds = 0;
  std::optional<CheckpointFinal> final;  // null until a final round has run
  std::optional<Restore> restore;        // null when no restore was asked
  std::vector<OpenUpload> open_uploads;  // beyond SPEC.md: uploads left open in the store
};

struct Stop {
  std::string requested_by;
  TimePoint at;
};

// What the command's processes used (SPEC.md "Exit-status JSON" `resources`): the
// kernel's accounting of the reaped descendants (wait4's rusage, summed by the Reaper).
struct Resources {
  std::uint64_t max_rss_kib = 0;  // the largest peak resident set of any one process
  double user_cpu_seconds = 0;
  double system_cpu_seconds = 0;
};

struct Status {
  std::optional<std::string> task;
  spec::Action action = spec::Action::kFail;
  int exit_code = 125;
  std::optional<int> signal;
  bool core_dumped = false;
  std::optional<std::string> matched_rule;
  std::optional<std::string> error;
  std::vector<std::string> command;
  std::optional<TimePoint> started_at;  // null when the command never started
  TimePoint finished_at{};
  // started_at to finished_at on the steady clock, so a wall-clock step during the run
  // cannot make duration_seconds negative; without it, finished_at - started_at.
  std::optional<std::chrono::steady_clock::duration> elapsed;
  std::optional<Stop> stop;
  std::vector<Checkpoint> checkpoints;
  int supervisor_exit_code = 125;  // what the supervisor itself exits with
  // Written at a stop request, as the outcome would be if the command died of the stop
  // signal; the final document replaces it (SPEC.md "The stop budget").
  bool provisional = false;
  std::optional<Resources> resources;  // null when the command never started
  // OOM kills in the supervisor's cgroup during the run; null when the kernel does not say.
  std::optional<std::uint64_t> oom_kills;
  bool oom_killed = false;  // the main process died of SIGKILL while oom_kills rose
};

// Fields in the order SPEC.md lists them.
nlohmann::ordered_json to_json(const Status& status);

// "2026-11-22T10:00:00.123Z"
std::string format_time(TimePoint t);

// The whole document, pretty-printed, with a final newline.
std::string render(const Status& status);

// One line of at most max_bytes (Kubernetes terminationMessagePath reads 4096): the
// document compacted, shortened field by field when it does not fit; always valid JSON.
std::string render_compact(const Status& status, std::size_t max_bytes = 4096);

// Writes render() to `path` atomically (temp file, fsync, rename; in place where the path
// is a single-file bind mount that rename cannot replace). Throws fs::FileError.
void write(const std::string& path, const Status& status);
void write_compact(const std::string& path, const Status& status);

}  // namespace supervise::status
