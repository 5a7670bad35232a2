// Test support: run the built supervise binary as a user would (arguments, extra
// environment, captured stdout/stderr, a deadline), temporary directories, file helpers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
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
};

struct RunOptions {
  std::vector<std::string> env;  // "KEY=value" added to (or replacing in) the test's environment
  std::vector<std::string> unset_env;  // names removed
  std::string cwd;
  std::chrono::milliseconds timeout{60'000};
  std::string program;  // default: the built supervise binary
};

// Runs supervise (or options.program) with args; kills it by pid after the timeout.
Run run(const std::vector<std::string>& args, const RunOptions& options = {});

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

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& contents);
nlohmann::json read_json(const std::filesystem::path& path);
std::string testdata(const std::string& name);
std::string supervise_bin();

}  // namespace test_support
