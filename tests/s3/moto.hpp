// A real S3 server for the tests: moto_server (installed with the machine's Python),
// started on a free loopback port, ready when it answers, stopped by its pid.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace test_support {

// A free TCP port on 127.0.0.1 (bound and released: good enough for a test server).
int free_port();

class MotoServer {
 public:
  // `env`: extra "KEY=value" for the server (INITIAL_NO_AUTH_ACTION_COUNT,
  // S3_UPLOAD_PART_MIN_SIZE, ...).
  explicit MotoServer(std::vector<std::string> env = {});
  ~MotoServer();
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  // Environment for supervise or the AWS CLI to reach this server with the given keys.
  std::vector<std::string> client_env(const std::string& key = "AKIDMOTOTEST",
                                      const std::string& secret = "moto/secret+key") const;
  // Runs the AWS CLI against this server (e.g. {"s3", "mb", "s3://b"}).
  Run aws(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const;
  // Creates a bucket (through the AWS CLI); fails the test if it cannot.
  void make_bucket(const std::string& bucket) const;
  // The bytes of an object, read back through the AWS CLI; nullopt if there is none.
  std::optional<std::string> get(const std::string& bucket, const std::string& key) const;

 private:
  int port_ = 0;
  pid_t pid_ = -1;
  TempDir log_dir_;
};

}  // namespace test_support
