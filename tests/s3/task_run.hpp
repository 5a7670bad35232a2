// What the S3 fault tests share (tests/s3/faults_test.cpp, store_faults_test.cpp): the
// task they run (a command that exits 3 under `--exit-action RESCHEDULE=3`, one s3://
// checkpoint of <dir>/data), in the foreground or in the background with its log
// readable while it runs; its status; the fault proxy's request log; and moto read
// directly (plain HTTP: moto takes unsigned requests), so that a test judges the store
// by what it holds: its objects, its listing, its open multipart uploads.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "moto.hpp"
#include "store_check.hpp"

namespace test_support {

// Deterministic bytes that do not compress and differ by seed.
std::string pseudo_random(std::size_t size, std::uint64_t seed);

bool contains(const std::string& text, const std::string& part);

// ---- the task ------------------------------------------------------------------------

// Environment for supervise to reach moto through `endpoint` (a fault proxy), with the
// session token `token` ("" for none).
std::vector<std::string> client_env(const MotoServer& moto, const std::string& endpoint,
                                    const std::string& token = "");

struct TaskRun {
  Run run;
  nlohmann::json status;  // null when no status file was written
};

struct TaskOptions {
  std::string command = "exit 3";  // run by /bin/sh -c
  std::string frequency = "60s";
  std::vector<std::string> extra_args = {};  // more supervise options (before "--")
  std::chrono::milliseconds timeout{100'000};
  std::string url = "";  // the checkpoint's url; empty: s3://<bucket>/run
};

// The arguments of
//   supervise --status-file <dir>/status.json --exit-action RESCHEDULE=3 --log-level debug
//     --checkpoint path=<dir>/data,url=s3://<bucket>/run,frequency=F <extra> -- /bin/sh -c C
// (options.url, when given, instead of s3://<bucket>/run)
std::vector<std::string> task_args(const TempDir& dir, const std::string& bucket,
                                   const TaskOptions& options);

// Runs the task to its end (killed by pid at options.timeout).
TaskRun run_task(const TempDir& dir, const std::vector<std::string>& env, const std::string& bucket,
                 const TaskOptions& options);
TaskRun run_task(const TempDir& dir, const std::vector<std::string>& env, const std::string& bucket,
                 const std::string& command = "exit 3", const std::string& frequency = "60s",
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(100'000));

// The task started in the background; its log (stderr) goes to <dir>/supervise.log and
// can be read while it runs. Killed by pid (SIGKILL) if still running when destroyed.
class BackgroundTask {
 public:
  BackgroundTask(const TempDir& dir, const std::vector<std::string>& env, const std::string& bucket,
                 const TaskOptions& options);
  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }
  void signal(int sig) { process_->signal(sig); }
  // The log so far.
  std::string log() const;
  // Waits for the end (kills by pid after `timeout`), reads the log and the status.
  TaskRun wait(std::chrono::milliseconds timeout);

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Started> process_;
};

// The task's own outcome (exit code 3, RESCHEDULE), untouched by whatever the store did.
void expect_task_outcome_unchanged(const TaskRun& t);

// The status of the one checkpoint entry (null fields, and a test failure, when none).
nlohmann::json checkpoint_status(const TaskRun& t);

// ---- the fault proxy's log -----------------------------------------------------------

std::vector<nlohmann::json> where(const std::vector<nlohmann::json>& requests,
                                  const std::function<bool(const nlohmann::json&)>& pred);
bool is_part(const nlohmann::json& r);      // PUT ?partNumber=N&uploadId=X
bool is_create(const nlohmann::json& r);    // POST ?uploads=
bool is_complete(const nlohmann::json& r);  // POST ?uploadId=X
bool is_abort(const nlohmann::json& r);     // DELETE ?uploadId=X
bool injected(const nlohmann::json& r);     // a fault, not forwarded as it came
std::string describe(const nlohmann::json& request);
std::string summary(const std::vector<nlohmann::json>& requests);
// The value of the query parameter `name` of a logged request ("" when absent).
std::string query_param(const nlohmann::json& request, const std::string& name);

// ---- moto, read directly -------------------------------------------------------------

// An Authorization header of the tests' access key with a signature that is not one:
// moto (without INITIAL_NO_AUTH_ACTION_COUNT) checks no signature, but answers a request
// with no Authorization at all as anonymous, and denies anonymous reads of an object
// stored by PutObject (403, empty body; objects of a multipart upload it lets through).
std::string moto_authorization();

// A multipart upload moto holds open.
struct MotoUpload {
  std::string key;
  std::string upload_id;
  bool operator==(const MotoUpload&) const = default;
};
std::ostream& operator<<(std::ostream& out, const MotoUpload& u);

// The multipart uploads moto holds open under `prefix` (fails the test when it cannot
// list them).
std::vector<MotoUpload> open_uploads(const MotoServer& moto, const std::string& bucket,
                                     const std::string& prefix);

// The bytes of an object; nullopt when there is none; throws std::runtime_error for any
// other answer.
std::optional<std::string> moto_object(const MotoServer& moto, const std::string& bucket,
                                       const std::string& key);

// The keys of every object under `prefix`, sorted.
std::vector<std::string> moto_keys(const MotoServer& moto, const std::string& bucket,
                                   const std::string& prefix);

// A FetchObject (store_check.hpp) for the checkpoint at s3://<bucket>/<prefix>: keys
// relative to it.
FetchObject moto_fetch(const MotoServer& moto, const std::string& bucket,
                       const std::string& prefix);

// ---- the suites ----------------------------------------------------------------------

// One moto server per suite (each test uses its own bucket, named after the test, and
// its own proxy).
class S3Env : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  static const MotoServer& moto() { return *moto_; }
  // A fresh bucket named after the test.
  std::string bucket();

 private:
  static inline MotoServer* moto_ = nullptr;
  std::set<std::string> made_;
};

}  // namespace test_support
