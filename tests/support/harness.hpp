// Test support: run the built supervise binary as a user would (arguments, extra
// environment, captured stdout/stderr, a deadline), temporary directories, file helpers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace test_support {

struct Run {
  int exit_code = -1;  // 128 + N when killed by signal N
  std::string out;
  std::string err;
  bool timed_out = false;
  std::chrono::milliseconds elapsed{0};  // from fork to reap
};

struct RunOptions {
  std::vector<std::string> env;  // "KEY=value" added to (or replacing in) the test's environment
  std::vector<std::string> unset_env;  // names removed
  std::string cwd;
  std::chrono::milliseconds timeout{60'000};
  std::string program;          // default: the built supervise binary
  std::optional<mode_t> umask;  // the child's umask; default: the test's own
  // The program starts with these signals ignored (SIG_IGN) and these blocked, on top
  // of the defaults below (as `nohup` or a runtime that blocks signals would start it).
  std::vector<int> ignored_signals;
  std::vector<int> blocked_signals;
};

class TempDir;

// A program started in the background (see start()). Destroying it while the program
// still runs kills it (SIGKILL, by its pid) and reaps it: no test leaves it behind.
class Started {
 public:
  Started(pid_t pid, std::unique_ptr<TempDir> capture);
  ~Started();
  Started(const Started&) = delete;
  Started& operator=(const Started&) = delete;

  pid_t pid() const { return pid_; }
  // True until the process has ended (reaps it without blocking when it has).
  bool running();
  // Sends sig to the process (by pid) while it has not been reaped.
  void signal(int sig);
  // Waits for the end; kills by pid after timeout. Captured output is read here.
  Run wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(60'000));

 private:
  pid_t pid_;
  std::unique_ptr<TempDir> capture_;
  std::chrono::steady_clock::time_point started_;
  std::optional<int> status_;  // raw wait status once reaped
  std::chrono::milliseconds elapsed_{0};
};

// Runs supervise (or options.program) with args; kills it by pid after the timeout.
// The program starts with stdin from /dev/null, default signal dispositions and an
// empty signal mask (whatever the test runner inherited), but for
// options.ignored_signals and options.blocked_signals.
Run run(const std::vector<std::string>& args, const RunOptions& options = {});

// Starts supervise (or options.program) with args and returns at once; stdout and
// stderr go to files read by Started::wait. options.timeout is not used here.
std::unique_ptr<Started> start(const std::vector<std::string>& args,
                               const RunOptions& options = {});

// Polls `done` until it is true or the deadline passes; returns its last value.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds deadline = std::chrono::milliseconds(10'000));

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// read_file and read_json (which reads through read_file) also archive what they read
// when it is an exit-status document and SUPERVISE_STATUS_ARCHIVE names a directory: a
// copy goes there as <suite>.<test>-<pid>-<n>.status.json (pretty-printed, as
// --status-file writes it) or .compact.json (one line, as --termination-log writes it),
// for tests/schema/validate.py to check against schemas/.
std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& contents);
nlohmann::json read_json(const std::filesystem::path& path);
std::string testdata(const std::string& name);
// "2026-11-22T10:00:00.123Z" (the status and log format) -> seconds since the epoch.
double parse_timestamp(const std::string& text);
// The full path of `name` found in PATH, or `name` itself.
std::string find_in_path(const std::string& name);
std::string supervise_bin();

// The lines of text (split at '\n'; a last line without '\n' counts, an empty tail not).
std::vector<std::string> lines(const std::string& text);

}  // namespace test_support
